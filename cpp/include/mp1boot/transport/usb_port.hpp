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
#include "mp1boot/progress.hpp"
#include "mp1boot/usb.hpp"

namespace mp1boot::transport {

/// What every wait for a board's next enumeration takes, on libusb (UsbWaitOptions, usb.hpp) and
/// in process (wait_for_peer_device, peer_usb_port.hpp): how long, and the token that cancels it.
struct EnumerationWait {
  std::chrono::milliseconds timeout{30000};
  const CancelToken* cancel = nullptr;
};

class UsbControlPort {
 public:
  using ms = std::chrono::milliseconds;
  virtual ~UsbControlPort() = default;

  /// Device-to-host control transfer. Returns the number of bytes received (may be short).
  /// @throws TransportError: errc::stall when the device stalls, errc::disconnected when it is
  ///         gone, errc::timeout when `timeout` expires, errc::io otherwise.
  virtual std::size_t control_in(const usb::SetupPacket& setup, std::span<std::uint8_t> data, ms timeout) = 0;

  /// Host-to-device control transfer with `data` as the data stage (may be empty). Same errors.
  virtual void control_out(const usb::SetupPacket& setup, ByteView data, ms timeout) = 0;

  /// Alternate settings of interface 0, read from the current descriptors.
  virtual std::vector<usb::AltSetting> alt_settings() = 0;

  /// SET_INTERFACE on interface 0. @throws TransportError as above.
  virtual void set_alt_setting(std::uint8_t alt) = 0;

  /// Identity of the device as enumerated now.
  virtual usb::Identity identity() const = 0;

  /// USB port reset. May make the device disconnect. @throws TransportError.
  virtual void reset() = 0;

  /// "usb:1-1 (0483:df11 002800423232511538303631)".
  virtual std::string describe() const = 0;
};

}  // namespace mp1boot::transport
