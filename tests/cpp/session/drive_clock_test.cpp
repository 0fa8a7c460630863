// SPDX-License-Identifier: MIT
// The driver loops take time from the injected clock: an in-process simulated USB board runs on
// virtual time (bwPollTimeout waits and reconnect timeouts cost nothing), realtime=1 on the real
// clock.
#include <gtest/gtest.h>

#include <chrono>

#include "rig.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/drive.hpp"

namespace mp1boot::test {
namespace {

using std::chrono::steady_clock;

TEST(DriveClock, VirtualClockJumpsToTheDeadlineAndStillChecksCancel) {
  session::VirtualClock clock;
  const auto t0 = clock.now();
  int checks = 0;
  const auto started = steady_clock::now();
  clock.sleep_until(t0 + std::chrono::seconds(30), [&] { ++checks; });
  EXPECT_EQ(clock.now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(checks, 1);
  EXPECT_LT(steady_clock::now() - started, std::chrono::milliseconds(100));
  EXPECT_THROW(clock.sleep_until(t0 + std::chrono::seconds(31), [] { throw CancelledError(errc::cancelled, "x"); }),
               CancelledError);
}

TEST(DriveClock, RomPollTimeoutsAreVirtualInProcess) {
  // A ROM asking for 2 s between GETSTATUS polls: 9 blocks of FSBL are ~36 s of device time.
  auto dev = session::connect("sim:stm32mp157?link=usb&rom_poll_ms=2000");
  const auto started = steady_clock::now();
  dev->boot(fsbl_mp15(), "tf-a.stm32", {});
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(dev->get_phase().phase, 0x03);  // TF-A asks for the FIP
}

TEST(DriveClock, ThirtySecondReconnectTimeoutEndsInMilliseconds) {
  Rig rig("drive-clock-reconnect");
  auto dev = rig.connect("&link=usb&no_reenumerate_after=tf-a&reconnect_ms=10000,30000,15000");
  const auto started = steady_clock::now();
  try {
    session::flash(*dev, rig.dir / "flash.tsv");
    FAIL() << "no error";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("within 30000 ms"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("after the tf-a stage"), std::string::npos) << e.what();
  }
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(DriveClock, RealtimeKeepsTheRomPollTimeoutsReal) {
  // 9 blocks of FSBL, each waiting at least one bwPollTimeout of 40 ms on the real clock.
  auto dev = session::connect("sim:stm32mp157?link=usb&realtime=1&rom_poll_ms=40");
  const auto started = steady_clock::now();
  dev->boot(fsbl_mp15(), "tf-a.stm32", {});
  EXPECT_GE(steady_clock::now() - started, 9 * std::chrono::milliseconds(40));
  EXPECT_EQ(dev->get_phase().phase, 0x03);
}

TEST(DriveClock, RealtimeKeepsTheReconnectTimeoutReal) {
  Rig rig("drive-clock-realtime-reconnect");
  auto dev = rig.connect("&link=usb&realtime=1&no_reenumerate_after=tf-a&reconnect_ms=1000,300,1000");
  std::chrono::steady_clock::time_point started;
  dev->set_hooks(session::DriveHooks{.trace = [&](char, ByteView, std::string_view note) {
    if (note.find("waiting for") != std::string_view::npos) started = steady_clock::now();
  }});
  try {
    session::flash(*dev, rig.dir / "flash.tsv");
    FAIL() << "no error";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("within 300 ms"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("after the tf-a stage"), std::string::npos) << e.what();
  }
  ASSERT_NE(started, std::chrono::steady_clock::time_point{});
  EXPECT_GE(steady_clock::now() - started, std::chrono::milliseconds(300));
}

}  // namespace
}  // namespace mp1boot::test
