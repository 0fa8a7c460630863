// SPDX-License-Identifier: MIT
// ByteStream: the host's view of a byte link (serial port, in-process simulator, pty).
// Transports know nothing of the protocol: no opcodes, no ACKs.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "mp1boot/bytes.hpp"

namespace mp1boot::transport {

/// A bidirectional byte link. Distinct objects are safe to use concurrently; a shared object is not.
class ByteStream {
 public:
  virtual ~ByteStream() = default;

  /// Writes every byte, in one OS write where the OS allows it.
  /// @throws TransportError (errc::io or errc::disconnected) on failure.
  virtual void write(ByteView bytes) = 0;

  /// Reads at least one and at most out.size() bytes. Returns 0 when nothing arrived within
  /// `timeout`. @throws TransportError on failure (never for a plain timeout).
  virtual std::size_t read_some(std::span<std::uint8_t> out, std::chrono::milliseconds timeout) = 0;

  /// Discards every byte received and not yet read.
  virtual void flush_input() = 0;

  /// "serial:/dev/ttyUSB0@115200 8E1", "sim:stm32mp135".
  virtual std::string describe() const = 0;

  /// True when a read_some() that returns 0 has already consumed its whole timeout in virtual
  /// time (in-process simulators): the driver then does not wait out the timeout in real time.
  virtual bool instant_timeouts() const { return false; }

  /// Payload bytes per second the line carries (baud / bits per byte); 0 when not a real line.
  virtual double line_rate() const { return 0; }
};

}  // namespace mp1boot::transport
