// SPDX-License-Identifier: MIT
// Waiting for a deadline precisely and cancellably: bwPollTimeout must be waited exactly, "and no
// longer", but an OS sleep on a VM overshoots by tens to hundreds of microseconds. Sleep until
// shortly before the deadline, then yield until it.
#pragma once
#include <chrono>
#include <functional>

namespace mp1boot {

/// Waits until `deadline`. Calls `check` (which may throw to cancel) at least every 50 ms.
void wait_until(std::chrono::steady_clock::time_point deadline, const std::function<void()>& check = {});

}  // namespace mp1boot
