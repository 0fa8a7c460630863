// SPDX-License-Identifier: MIT
// Tiny BytePeers for the transport tests (thread-safe: PtyServer calls them from its thread),
// and a bounded read helper.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "mp1boot/transport/byte_peer.hpp"
#include "mp1boot/transport/byte_stream.hpp"

namespace mp1boot::test {

using transport::BytePeer;

/// Echo mode (ack_every == 0): answers 0x7F with 0x79 and echoes every other byte.
/// Ack mode: sends `reply` once every `ack_every` received bytes.
class TestPeer : public BytePeer {
 public:
  explicit TestPeer(std::size_t ack_every = 0, Bytes reply = {0x79})
      : ack_every_(ack_every), reply_(std::move(reply)) {}

  void on_receive(ByteView bytes, Clock::time_point now) override {
    std::lock_guard lock(mutex_);
    if (throw_on_receive_) throw std::runtime_error("test peer failure");
    received_.insert(received_.end(), bytes.begin(), bytes.end());
    last_receive_ = now;
    deliveries_.emplace_back(now, bytes.size());
    for (std::uint8_t b : bytes) {
      if (ack_every_ == 0) {
        out_.push_back(b == 0x7F ? std::uint8_t{0x79} : b);
      } else if (++count_ % ack_every_ == 0) {
        out_.insert(out_.end(), reply_.begin(), reply_.end());
      }
    }
  }
  Bytes take_output(Clock::time_point now) override {
    std::lock_guard lock(mutex_);
    if (scheduled_ && now >= scheduled_->first) {
      out_.insert(out_.end(), scheduled_->second.begin(), scheduled_->second.end());
      scheduled_.reset();
    }
    return std::exchange(out_, {});
  }
  std::optional<Clock::time_point> next_deadline() const override {
    std::lock_guard lock(mutex_);
    if (scheduled_) return scheduled_->first;
    return std::nullopt;
  }

  /// Sends `bytes` on its own at `when` (a stage that boots after a delay).
  void schedule(Clock::time_point when, Bytes bytes) {
    std::lock_guard lock(mutex_);
    scheduled_.emplace(when, std::move(bytes));
  }
  void fail_on_receive() {
    std::lock_guard lock(mutex_);
    throw_on_receive_ = true;
  }
  Bytes received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  Clock::time_point last_receive() const {
    std::lock_guard lock(mutex_);
    return last_receive_;
  }
  /// Every on_receive: its time and how many bytes it gave.
  std::vector<std::pair<Clock::time_point, std::size_t>> deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }

 private:
  mutable std::mutex mutex_;
  std::size_t ack_every_;
  Bytes reply_;
  std::size_t count_ = 0;
  Bytes received_, out_;
  std::vector<std::pair<Clock::time_point, std::size_t>> deliveries_;
  Clock::time_point last_receive_{};
  std::optional<std::pair<Clock::time_point, Bytes>> scheduled_;
  bool throw_on_receive_ = false;
};

/// Reads until `n` bytes arrived or `limit` passed; returns what arrived.
inline Bytes read_bytes(transport::ByteStream& s, std::size_t n,
                        std::chrono::milliseconds limit = std::chrono::milliseconds(1000)) {
  Bytes got;
  const auto end = std::chrono::steady_clock::now() + limit;
  std::uint8_t buf[512];
  while (got.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const std::size_t want = std::min(sizeof buf, n - got.size());
    const std::size_t k = s.read_some(std::span(buf, want), left);
    got.insert(got.end(), buf, buf + k);
  }
  return got;
}

/// Polls `cond` every millisecond for at most `limit`.
template <class Cond>
bool wait_for(Cond cond, std::chrono::milliseconds limit = std::chrono::milliseconds(1000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace mp1boot::test
