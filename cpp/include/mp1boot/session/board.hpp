// SPDX-License-Identifier: MIT
// session::BoardIdentity: which board a run talks to. Over USB a board is its port path
// (bus-port.port...), stable across the ROM -> TF-A -> U-Boot enumerations, with the serial number
// as a cross-check only: real ROM serial numbers can be all zeros and identical boards on one hub
// share them (FIELD.md). Over UART the board is the serial port. Reports are keyed by key().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mp1boot/session/device.hpp"
#include "mp1boot/usb.hpp"
#include "mp1boot/vocabulary.hpp"

namespace mp1boot::session {

struct BoardIdentity {
  Link link = Link::unknown;
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

/// A board on the USB bus in DFU mode, with what its product string says (stage, SoC).
struct BoardListing {
  BoardIdentity identity;          ///< link "usb", port path, serial
  usb::Identity usb;               ///< bus, address, speed, strings, transfer size
  Stage stage = Stage::unknown;    ///< rom, tf-a, u-boot (from the product string) or unknown
  std::uint16_t device_id = 0;     ///< from "@Device ID /0x500" (0 when absent)
  std::uint16_t revision = 0;      ///< from "@Revision ID /0x..."
  std::string soc;                 ///< "STM32MP15x" (empty when the id is unknown)
  std::string soc_name;            ///< "STM32MP157C Rev.B" when the stage names it
  bool accessible = true;          ///< false when the device could not be opened
  std::string problem;             ///< why not ("permission denied", ...)
};

/// What a USB identity says about the board (no I/O).
BoardListing describe_board(const usb::Identity& id);

/// Every STM32MP board in USB DFU mode (0483:df11), by bus and port; empty in a build without USB.
std::vector<BoardListing> list_boards();

}  // namespace mp1boot::session
