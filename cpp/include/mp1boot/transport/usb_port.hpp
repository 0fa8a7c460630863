// SPDX-License-Identifier: MIT
// UsbControlPort: the host's view of one opened USB DFU device (libusb, or the in-process
// simulated device). Control transfers on interface 0 only; no DFU knowledge here.
#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mp1boot/bytes.hpp"

namespace mp1boot::transport {

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
struct UsbIdentity {
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

class UsbControlPort {
 public:
  using ms = std::chrono::milliseconds;
  virtual ~UsbControlPort() = default;

  /// Device-to-host control transfer. Returns the number of bytes received (may be short).
  /// @throws TransportError: errc::stall when the device stalls, errc::disconnected when it is
  ///         gone, errc::timeout when `timeout` expires, errc::io otherwise.
  virtual std::size_t control_in(const SetupPacket& setup, std::span<std::uint8_t> data, ms timeout) = 0;

  /// Host-to-device control transfer with `data` as the data stage (may be empty). Same errors.
  virtual void control_out(const SetupPacket& setup, ByteView data, ms timeout) = 0;

  /// Alternate settings of interface 0, read from the current descriptors.
  virtual std::vector<AltSetting> alt_settings() = 0;

  /// SET_INTERFACE on interface 0. @throws TransportError as above.
  virtual void set_alt_setting(std::uint8_t alt) = 0;

  /// Identity of the device as enumerated now.
  virtual UsbIdentity identity() const = 0;

  /// USB port reset. May make the device disconnect. @throws TransportError.
  virtual void reset() = 0;

  /// "usb:1-1 (0483:df11 002800423232511538303631)".
  virtual std::string describe() const = 0;
};

}  // namespace mp1boot::transport
