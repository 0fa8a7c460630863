// SPDX-License-Identifier: MIT
// DigestCache: the digests of a run's binaries, shared by the Flashers of several boards.
#pragma once
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace mp1boot::session {

/// Digests shared by the Flashers of one flash_many (every board flashes the same files: each
/// file, or each block map's ranges, is read and hashed once, not once per board). Keys name the
/// file by its identity at open (device, inode, size, modification time: a file replaced or
/// rewritten between two runs is another key) and what was hashed. Thread-safe.
class DigestCache {
 public:
  /// Computes something at most once: stops early with std::nullopt (its Flasher is ending).
  using Compute = std::function<std::optional<std::string>()>;

  /// The value for `key`: computed by `compute` on this thread when no caller has it or is computing
  /// it; otherwise the other caller's result, waited for. A computation that stopped early
  /// (nullopt) or threw keeps nothing: the exception goes to its own caller, and a caller that
  /// waited for it computes the value itself (and meets its own error). Returns nullopt only when
  /// this caller's own `compute` stopped.
  std::optional<std::string> get(const std::string& key, const Compute& compute);

  /// Values held or being computed, for tests and diagnostics.
  std::size_t size() const;
  /// How many values were computed (a value taken from another caller is not counted).
  std::size_t computed() const;

 private:
  void drop(const std::string& key, std::promise<std::optional<std::string>>& mine);
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_future<std::optional<std::string>>> values_;
  std::size_t computed_ = 0;
};

}  // namespace mp1boot::session
