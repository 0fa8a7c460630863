// SPDX-License-Identifier: MIT
// Waiting for a deadline, cancellably, in one of two ways:
//  - precise: bwPollTimeout must be waited exactly, "and no longer", but an OS sleep on a VM
//    overshoots by tens to hundreds of microseconds. Sleep until shortly before the deadline,
//    then spin until it (without yielding the core, which on a busy machine would come back a
//    time slice late): on time, at the price of a busy CPU for the last 250 us.
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
  precise,  ///< sleeps until 250 us before the deadline, then spins until it
  sleep,    ///< sleeps until the deadline, never spins
};

/// Waits until `deadline`, with the calling thread's timer slack at 1 ns meanwhile. Calls `check`
/// (which may throw to cancel) at least every 50 ms.
void wait_until(std::chrono::steady_clock::time_point deadline, const std::function<void()>& check = {},
                WaitMode mode = WaitMode::precise);

}  // namespace mp1boot
