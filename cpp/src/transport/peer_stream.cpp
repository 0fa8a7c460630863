// SPDX-License-Identifier: MIT
// PeerStream: hands writes to a BytePeer and returns its output, sleeping only for its deadlines.
#include "mp1boot/transport/peer_stream.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

#include "mp1boot/error.hpp"

namespace mp1boot::transport {

PeerStream::PeerStream(std::shared_ptr<BytePeer> peer, std::string description)
    : peer_(std::move(peer)), description_(std::move(description)) {
  if (!peer_) throw UsageError(errc::usage, "PeerStream needs a peer (got null)");
}

void PeerStream::write(ByteView bytes) {
  if (bytes.empty()) return;
  peer_->on_receive(bytes, BytePeer::Clock::now());
}

void PeerStream::collect(BytePeer::Clock::time_point now) {
  Bytes more = peer_->take_output(now);
  if (more.empty()) return;
  if (pending_pos_ == pending_.size()) {
    pending_ = std::move(more);
    pending_pos_ = 0;
  } else {
    pending_.insert(pending_.end(), more.begin(), more.end());
  }
}

std::size_t PeerStream::read_some(std::span<std::uint8_t> out, std::chrono::milliseconds timeout) {
  if (out.empty()) return 0;
  using Clock = BytePeer::Clock;
  const Clock::time_point end = Clock::now() + std::max(timeout, std::chrono::milliseconds::zero());
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (pending() == 0) collect(now);
    if (pending() > 0) {
      const std::size_t n = std::min(out.size(), pending());
      std::memcpy(out.data(), pending_.data() + pending_pos_, n);
      pending_pos_ += n;
      if (pending_pos_ == pending_.size()) {
        pending_.clear();
        pending_pos_ = 0;
      }
      return n;
    }
    const auto deadline = peer_->next_deadline();
    if (!deadline || now >= end) return 0;
    // A deadline still due after take_output(now) means the peer did not advance it: wait a
    // little rather than spin until `end`.
    const Clock::time_point wake = *deadline > now ? *deadline : now + std::chrono::milliseconds(1);
    std::this_thread::sleep_until(std::min(wake, end));
  }
}

void PeerStream::flush_input() {
  collect(BytePeer::Clock::now());
  pending_.clear();
  pending_pos_ = 0;
}

std::string PeerStream::describe() const { return description_; }

}  // namespace mp1boot::transport
