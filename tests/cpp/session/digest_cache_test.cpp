// SPDX-License-Identifier: MIT
// DigestCache: one computation per key however many threads ask at once; a computation that
// stopped early or threw keeps nothing, and a caller that waited for it computes for itself.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mp1boot/session/digest_cache.hpp"

using namespace mp1boot;
using namespace std::chrono_literals;

namespace {

// A computation that signals it began and waits for its release, to hold a key in flight.
struct Held {
  std::promise<void> began, release;
  std::shared_future<void> released = release.get_future().share();
};

// A caller of key "k" whose computation holds the key in flight until `held` is released and then
// ends with `end()`; returns once the computation began.
template <class End>
std::future<std::optional<std::string>> hold(session::DigestCache& cache, Held& held, End end) {
  auto caller = std::async(std::launch::async, [&cache, &held, end] {
    return cache.get("k", [&]() -> std::optional<std::string> {
      held.began.set_value();
      held.released.wait();
      return end();
    });
  });
  held.began.get_future().wait();
  return caller;
}

// Gives a second caller time to reach its wait on the key a Held computation keeps in flight. The
// outcome the tests assert is the same if it arrives after that computation ended.
void let_waiter_reach_its_wait() { std::this_thread::sleep_for(50ms); }

}  // namespace

TEST(DigestCache, ConcurrentCallersOfOneKeyShareOneComputation) {
  session::DigestCache cache;
  std::atomic<int> runs{0};
  std::vector<std::future<std::optional<std::string>>> callers;
  for (int i = 0; i < 8; ++i)
    callers.push_back(std::async(std::launch::async, [&] {
      return cache.get("file-sha256:a", [&]() -> std::optional<std::string> {
        ++runs;
        std::this_thread::sleep_for(100ms);
        return std::string("aa");
      });
    }));
  for (auto& c : callers) EXPECT_EQ(c.get(), std::optional<std::string>("aa"));
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(cache.computed(), 1u);
  EXPECT_EQ(cache.get("file-sha256:b", [] { return std::optional<std::string>("bb"); }), "bb") << "keys are separate";
  EXPECT_EQ(cache.get("file-sha256:a", [] { return std::optional<std::string>("not asked"); }), "aa");
  EXPECT_EQ(cache.computed(), 2u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(DigestCache, AStoppedComputationKeepsNothingAndItsWaiterComputesForItself) {
  session::DigestCache cache;
  Held held;
  auto stopping = hold(cache, held, [] { return std::optional<std::string>(); });  // its Flasher is ending
  auto waiter = std::async(std::launch::async, [&] { return cache.get("k", [] { return std::optional<std::string>("v"); }); });
  let_waiter_reach_its_wait();
  held.release.set_value();
  EXPECT_EQ(stopping.get(), std::nullopt);
  EXPECT_EQ(waiter.get(), std::optional<std::string>("v"));
  EXPECT_EQ(cache.computed(), 1u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(DigestCache, AnErrorGoesToItsOwnCallerAndIsNotKept) {
  session::DigestCache cache;
  Held held;
  auto failing = hold(cache, held, []() -> std::optional<std::string> { throw std::runtime_error("range 3 differs"); });
  std::atomic<int> waiter_runs{0};
  auto waiter = std::async(std::launch::async, [&] {
    return cache.get("k", [&]() -> std::optional<std::string> {
      ++waiter_runs;
      throw std::runtime_error("the waiter's own error");
    });
  });
  let_waiter_reach_its_wait();
  held.release.set_value();
  EXPECT_THROW(failing.get(), std::runtime_error);
  try {
    waiter.get();
    ADD_FAILURE() << "the waiter got a value";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "the waiter's own error");
  }
  EXPECT_EQ(waiter_runs.load(), 1);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.computed(), 0u);
  EXPECT_EQ(cache.get("k", [] { return std::optional<std::string>("fixed"); }), "fixed") << "nothing kept";
}
