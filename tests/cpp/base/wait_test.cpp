// SPDX-License-Identifier: MIT
// wait_until: both modes end at or after the deadline and call the cancel check; the sleeping
// mode leaves the thread's timer slack as it found it.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "mp1boot/wait.hpp"

#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace mp1boot {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class WaitModes : public ::testing::TestWithParam<WaitMode> {};

TEST_P(WaitModes, EndAtOrAfterTheDeadlineAndCheckOnTheWay) {
  int checks = 0;
  const auto deadline = Clock::now() + 120ms;
  wait_until(deadline, [&] { ++checks; }, GetParam());
  EXPECT_GE(Clock::now(), deadline);
  EXPECT_GE(checks, 2);  // at least every 50 ms
}

TEST_P(WaitModes, ACheckThatThrowsEndsTheWait) {
  const auto t0 = Clock::now();
  EXPECT_THROW(wait_until(t0 + 10s, [] { throw std::runtime_error("cancelled"); }, GetParam()), std::runtime_error);
  EXPECT_LT(Clock::now() - t0, 5s);
}

INSTANTIATE_TEST_SUITE_P(Wait, WaitModes, ::testing::Values(WaitMode::precise, WaitMode::sleep),
                         [](const auto& info) { return info.param == WaitMode::precise ? "precise" : "sleep"; });

#ifdef __linux__
TEST(Wait, SleepingKeepsTheThreadsTimerSlack) {
  const int before = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  int during = 0;
  wait_until(Clock::now() + 2ms, [&] { during = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0); }, WaitMode::sleep);
  EXPECT_EQ(during, 1);  // 1 ns while it sleeps
  EXPECT_EQ(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), before);
}
#endif

}  // namespace
}  // namespace mp1boot
