// SPDX-License-Identifier: MIT
// BytePeer: the device end of a byte link, as served by a transport adapter (in-process stream
// or pseudo-terminal server). Simulated boards implement it; transports only move bytes and time.
#pragma once
#include <chrono>
#include <optional>

#include "mp1boot/bytes.hpp"

namespace mp1boot::transport {

class BytePeer {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~BytePeer() = default;

  /// Bytes that reached the device at `now` (already paced by the line model, if any).
  virtual void on_receive(ByteView bytes, Clock::time_point now) = 0;

  /// Bytes the device sends, ready at `now`. Also runs timers that are due.
  virtual Bytes take_output(Clock::time_point now) = 0;

  /// When take_output() should be called again although no byte arrived (a stage that boots
  /// after a delay); nullopt when nothing is scheduled.
  virtual std::optional<Clock::time_point> next_deadline() const = 0;
};

}  // namespace mp1boot::transport
