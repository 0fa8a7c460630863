// SPDX-License-Identifier: MIT
// The progress throttle of the device implementations (private to the library).
#pragma once
#include <chrono>
#include <cstdint>

#include "mp1boot/progress.hpp"

namespace mp1boot::session {

/// Throttles progress: first and last report always, else at most every 1% or 100 ms.
class ProgressThrottle {
 public:
  ProgressThrottle(ProgressFn fn, Progress base);
  void update(std::uint64_t done, std::uint64_t total);

 private:
  ProgressFn fn_;
  Progress p_;
  std::uint64_t last_done_ = 0;
  std::chrono::steady_clock::time_point last_time_{};
  bool first_ = true;
};

}  // namespace mp1boot::session
