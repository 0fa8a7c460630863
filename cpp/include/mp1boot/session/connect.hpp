// SPDX-License-Identifier: MIT
// connect(): one vocabulary for every way to reach a board, shared by C++, Python, the CLI and
// notebooks:
//   serial:/dev/ttyUSB0[?baud=115200&parity=even&low_latency=1]   a UART (Boost.Asio)
//   sim:stm32mp135[?record=DIR&...]                                the in-process simulated board
//   usb[:SERIAL | :BUS-PORTPATH | :VID:PID]                        a USB DFU device (libusb)
//   sim:replay=FILE                                                a recorded field trace as the device
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "mp1boot/session/device.hpp"
#include "mp1boot/trace.hpp"
#include "mp1boot/uart/engine.hpp"

namespace mp1boot::sim {
class UartBoard;
class UsbBoard;
}  // namespace mp1boot::sim

namespace mp1boot::session {

struct ConnectOptions {
  uart::EngineOptions uart;   ///< timeouts and retry policy of the UART engine
  bool sync = true;           ///< UART: send 0x7F and wait for the ACK while connecting
  /// Field trace of the whole session (trace.hpp), from the first byte; null: none.
  std::shared_ptr<trace::Writer> record;
};

/// Opens the transport the URL names and returns a connected device.
/// @throws UsageError for a malformed URL (the message lists the accepted forms);
///         TransportError when the port cannot be opened; TimeoutError when a UART device does
///         not answer the sync byte.
std::unique_ptr<Device> connect(std::string_view url, const ConnectOptions& options = {});

/// A device on a simulated board the caller built and keeps: the board's options give any fault
/// plan (packet NACKs, lost ACKs, dropped bytes, stalled transfers, ...), and the caller can read
/// the board's state afterwards. connect("sim:...") goes through these.
std::unique_ptr<Device> connect_board(std::shared_ptr<sim::UartBoard> board, const ConnectOptions& options = {});
/// `real_time`: sleep for the board's modelled busy and re-enumeration times (default: virtual time).
std::unique_ptr<Device> connect_board(std::shared_ptr<sim::UsbBoard> board, bool real_time = false);

/// Checks a URL as connect() does (scheme, target, every option and its range) without opening
/// anything. @throws UsageError as connect() would for the same URL.
void check_connect_url(std::string_view url);

/// The accepted URL forms, for help texts.
std::string connect_url_help();

}  // namespace mp1boot::session
