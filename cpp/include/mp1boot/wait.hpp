// SPDX-License-Identifier: MIT
// Waiting for a deadline, cancellably, in one of two ways:
//  - precise: bwPollTimeout must be waited exactly, "and no longer", but an OS sleep on a VM
//    overshoots by tens to hundreds of microseconds. Sleep until shortly before the deadline,
//    then yield until it: on time, at the price of a busy CPU for the last millisecond.
//  - sleep: sleep only, with the calling thread's timer slack at 1 ns for the wait. No CPU is
//    spent; the wait ends when the kernel wakes the thread (a little late). For the modelled
//    device times of a simulated board, where a spin would take the CPU from the host it
//    simulates for (and from every other board of a parallel run).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>

namespace mp1boot {

enum class WaitMode : std::uint8_t {
  precise,  ///< sleeps until 1 ms before the deadline, then yields until it
  sleep,    ///< sleeps until the deadline (timer slack 1 ns during the wait), never spins
};

/// Waits until `deadline`. Calls `check` (which may throw to cancel) at least every 50 ms.
void wait_until(std::chrono::steady_clock::time_point deadline, const std::function<void()>& check = {},
                WaitMode mode = WaitMode::precise);

}  // namespace mp1boot
