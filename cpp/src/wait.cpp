// SPDX-License-Identifier: MIT
// Precise, cancellable waits.
#include "mp1boot/wait.hpp"

#include <algorithm>
#include <thread>

namespace mp1boot {

void wait_until(std::chrono::steady_clock::time_point deadline, const std::function<void()>& check) {
  using Clock = std::chrono::steady_clock;
  constexpr auto margin = std::chrono::microseconds(1000);  // covers a late timer wake-up on a VM
  constexpr auto slice = std::chrono::milliseconds(50);
  for (;;) {
    if (check) check();
    const auto now = Clock::now();
    if (now >= deadline) return;
    const auto left = deadline - now;
    if (left <= margin) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(left - margin, slice));
  }
  while (Clock::now() < deadline) std::this_thread::yield();
}

}  // namespace mp1boot
