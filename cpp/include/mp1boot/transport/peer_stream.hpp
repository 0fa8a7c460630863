// SPDX-License-Identifier: MIT
// PeerStream: an in-process ByteStream whose far end is a BytePeer (a simulated board). No OS
// I/O and no threads: writes are handed to the peer at once, reads collect what the peer has
// produced. A silent peer times out instantly, so timeout paths cost no real time in tests.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/transport/byte_peer.hpp"
#include "mp1boot/transport/byte_stream.hpp"

namespace mp1boot::transport {

/// Adapts a BytePeer to the ByteStream interface, in the caller's thread.
///
/// read_some() semantics: bytes already produced are returned at once; otherwise, when the peer
/// has a deadline (a stage that boots after a delay), the call sleeps until that deadline, bounded
/// by `timeout`, and asks again; when the peer has nothing scheduled it returns 0 immediately.
/// Only scheduled deadlines cost real time.
///
/// Thread safety: distinct objects are safe to use concurrently; a shared object is not, and the
/// peer must not be driven from another thread at the same time.
class PeerStream : public ByteStream {
 public:
  /// @param description what describe() returns, e.g. "sim:stm32mp135".
  /// @throws UsageError when `peer` is null.
  PeerStream(std::shared_ptr<BytePeer> peer, std::string description);

  /// Delivers every byte to peer.on_receive(bytes, now). An empty write does nothing.
  void write(ByteView bytes) override;
  /// See the class comment. Never throws for a timeout; peer exceptions propagate.
  std::size_t read_some(std::span<std::uint8_t> out, std::chrono::milliseconds timeout) override;
  /// Drops the output the peer has produced and the stream has not returned yet.
  void flush_input() override;
  std::string describe() const override;
  /// True: a read_some() that returns 0 either had nothing scheduled (virtual time, returns at
  /// once) or already slept its whole timeout, so the caller need not wait any longer.
  bool instant_timeouts() const override { return true; }

  /// The device end.
  const std::shared_ptr<BytePeer>& peer() const { return peer_; }
  /// Bytes produced by the peer and not yet returned by read_some().
  std::size_t pending() const { return pending_.size() - pending_pos_; }

 private:
  void collect(BytePeer::Clock::time_point now);

  std::shared_ptr<BytePeer> peer_;
  std::string description_;
  Bytes pending_;
  std::size_t pending_pos_ = 0;
};

}  // namespace mp1boot::transport
