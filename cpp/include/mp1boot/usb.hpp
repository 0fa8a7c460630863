// SPDX-License-Identifier: MIT
// USB value types shared by the DFU engine, the transports and the simulated board: a SETUP
// packet, an alternate setting and what identifies a device. Plain data, no I/O: engines may use
// this header (it is a base header, like bytes.hpp), transports implement their ports with it.
#pragma once
#include <cstdint>
#include <string>

namespace mp1boot::usb {

/// A USB SETUP packet. wLength is taken from the buffer size of the call.
struct SetupPacket {
  std::uint8_t request_type = 0;  ///< bmRequestType
  std::uint8_t request = 0;       ///< bRequest
  std::uint16_t value = 0;        ///< wValue
  std::uint16_t index = 0;        ///< wIndex
};

/// One alternate setting of interface 0 with its iInterface string.
struct AltSetting {
  std::uint8_t number = 0;
  std::string name;  ///< e.g. "@FSBL /0x01/1*1Me"
};

/// What identifies a device across re-enumerations and what a listing shows.
struct Identity {
  std::uint16_t vendor_id = 0;
  std::uint16_t product_id = 0;
  std::uint8_t bus = 0;
  std::uint8_t address = 0;
  std::string port_path;     ///< "1-1.4"
  std::string speed;         ///< "high", "full", "super", "unknown"
  std::string manufacturer;
  std::string product;       ///< iProduct string
  std::string serial;        ///< iSerialNumber string
  std::uint16_t transfer_size = 0;  ///< wTransferSize of the DFU functional descriptor
  std::uint8_t dfu_attributes = 0;  ///< bmAttributes of the DFU functional descriptor
};

}  // namespace mp1boot::usb
