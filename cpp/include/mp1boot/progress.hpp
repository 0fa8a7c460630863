// SPDX-License-Identifier: MIT
// Progress reporting and cooperative cancellation, emitted by the session layer only.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace mp1boot {

/// One progress report. The first and last report of each phase are always sent.
struct Progress {
  std::string stage;                   ///< "download", "verify", "reconnect", ...
  std::optional<std::uint8_t> phase;   ///< phase id being transferred
  std::string partition;               ///< its name, when known
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};

/// Called from the thread running the session. May throw to cancel the operation.
using ProgressFn = std::function<void(const Progress&)>;

/// A flag another thread (or a signal check) can trip. Sessions poll it between transfers and
/// while waiting on I/O, at least every 50 ms.
class CancelToken {
 public:
  void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }
  void reset() noexcept { cancelled_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace mp1boot
