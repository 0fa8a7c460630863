// SPDX-License-Identifier: MIT
// SerialPort: a ByteStream over a local serial device (USB-UART bridge, on-board UART, or the
// slave side of a pseudo-terminal), implemented with Boost.Asio. Asio stays inside serial.cpp:
// this header includes no Boost header, so consumers of mp1boot::serial need no Boost include path.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "mp1boot/bytes.hpp"
#include "mp1boot/transport/byte_stream.hpp"

namespace mp1boot::transport {

/// Line settings of a serial port. The defaults are those of the STM32MP ROM UART boot: 115200 8E1.
struct SerialOptions {
  unsigned baud = 115200;
  enum class Parity { none, even, odd } parity = Parity::even;
  unsigned data_bits = 8;  ///< 5..8
  unsigned stop_bits = 1;  ///< 1 or 2
  /// Ask the driver for low latency (ASYNC_LOW_LATENCY, FTDI latency_timer = 1 ms). Best effort:
  /// ignored where the device does not support it (pseudo-terminals, most CDC-ACM devices).
  bool low_latency = false;
  /// Refuse to share the port: flock(LOCK_EX|LOCK_NB) plus TIOCEXCL after open.
  bool exclusive = true;

  bool operator==(const SerialOptions&) const = default;
};

/// Parses the query part of a "serial:" spec: "baud=115200&parity=even&low_latency=1".
/// Keys: baud (positive integer), parity (none|even|odd, or n|e|o), data_bits (5..8),
/// stop_bits (1|2), framing (shortcut such as "8E1" or "8N1"), low_latency and exclusive
/// (1|0|true|false|yes|no|on|off). A leading '?' is ignored; an empty query gives the defaults.
/// @throws UsageError naming the bad key or value.
SerialOptions parse_serial_options(std::string_view query);

/// "8E1", "8N2", ...
std::string framing_string(const SerialOptions& options);

/// Bits on the wire per character for these settings (start + data + parity + stop): 11 for 8E1.
unsigned bits_per_character(const SerialOptions& options);

/// A serial port opened for exclusive, raw, non-canonical byte I/O.
///
/// Every read has its own timeout; no port setting is changed to implement it. On a
/// pseudo-terminal the parity setting is accepted but the driver clears it: that is not an error.
///
/// Thread safety: distinct objects are safe to use concurrently; a shared object is not.
class SerialPort : public ByteStream {
 public:
  /// Opens and configures `path` (e.g. "/dev/ttyUSB0", "/dev/serial/by-id/...", "/dev/pts/3").
  /// @throws TransportError with errc::no_device (path missing or not a terminal),
  ///   errc::permission_denied (hint: the dialout group), errc::port_busy (another process holds
  ///   the port: a terminal, ModemManager?) or errc::io (any other OS failure).
  /// @throws UsageError when the options are invalid (unsupported baud rate, data bits, ...).
  explicit SerialPort(std::string path, SerialOptions options = {});
  ~SerialPort() override;
  SerialPort(const SerialPort&) = delete;
  SerialPort& operator=(const SerialPort&) = delete;

  /// One asio::write of the whole buffer (blocks until the OS took every byte).
  /// @throws TransportError (errc::disconnected on hang-up, errc::io otherwise).
  void write(ByteView bytes) override;

  /// Waits up to `timeout` for at least one byte. Returns 0 on timeout (a zero timeout polls).
  /// @throws TransportError (errc::disconnected on hang-up / EOF, errc::io otherwise).
  std::size_t read_some(std::span<std::uint8_t> out, std::chrono::milliseconds timeout) override;

  /// tcflush(TCIFLUSH): drops every byte received by the driver and not yet read.
  void flush_input() override;

  /// "serial:/dev/ttyUSB0@115200 8E1".
  std::string describe() const override;

  /// baud / bits per character (11 for 8E1): 10472.7 bytes/s at 115200 8E1.
  double line_rate() const override;

  /// The path given to the constructor.
  std::string path() const;
  const SerialOptions& options() const;
  /// True when a low-latency request (ioctl or FTDI latency timer) took effect.
  bool low_latency_active() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp1boot::transport
