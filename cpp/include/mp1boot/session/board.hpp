// SPDX-License-Identifier: MIT
// session::BoardIdentity: which board a run talks to. Over USB a board is its port path
// (bus-port.port...), stable across the ROM -> TF-A -> U-Boot enumerations, with the serial number
// as a cross-check only: real ROM serial numbers can be all zeros and identical boards on one hub
// share them (FIELD.md). Over UART the board is the serial port. Reports are keyed by key().
#pragma once
#include <string>

#include "mp1boot/session/device.hpp"

namespace mp1boot::session {

struct BoardIdentity {
  std::string link;       ///< "usb" or "uart"
  std::string port_path;  ///< USB "1-1.4"; UART: the port as Device::describe() names it
  std::string serial;     ///< USB iSerialNumber (cross-check); empty on UART

  /// "usb:1-1.4" over USB, the port otherwise; empty when nothing is known.
  std::string key() const;
  /// "USB port 1-1.4 (serial 0028...)" / "serial:/dev/ttyUSB0".
  std::string describe() const;
  bool empty() const { return port_path.empty() && serial.empty(); }
  /// The same board: same link and port path, and the serial numbers agree (equal, or one of them
  /// blank or all zeros, which real boot ROMs report).
  bool same_board(const BoardIdentity& other) const;
  bool operator==(const BoardIdentity&) const = default;
};

/// The identity of the board behind `link`.
BoardIdentity identity_of(const LinkInfo& link);

}  // namespace mp1boot::session
