// SPDX-License-Identifier: MIT
// UsbPeer: the device end of a USB link as an in-process transport serves it (PeerUsbPort).
// Simulated boards implement it (sim::UsbBoard); the transport only carries control transfers and
// applies the device's modelled time. The USB counterpart of BytePeer.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/usb.hpp"

namespace mp1boot::transport {

class UsbPeer {
 public:
  /// The device's answer to one control request.
  struct Reply {
    enum class Kind {
      ok,            ///< request completed; `data` is the IN data stage (at most in_length bytes)
      stall,         ///< EP0 STALL (libusb: LIBUSB_ERROR_PIPE)
      disconnected,  ///< the device is not on the bus
    };
    Kind kind = Kind::ok;
    Bytes data;
    /// How long the device holds the transfer before completing it (flash writes, busy stages).
    std::chrono::microseconds busy{0};
  };

  virtual ~UsbPeer() = default;

  /// One control request: `out_data` is the OUT data stage, `in_length` wLength of an IN request.
  virtual Reply control(const usb::SetupPacket& setup, ByteView out_data, std::uint16_t in_length) = 0;
  /// USB port reset of the current enumeration.
  virtual Reply port_reset() = 0;
  /// Alternate settings of interface 0 of the current enumeration.
  virtual std::vector<usb::AltSetting> alt_settings() const = 0;
  /// Identity of the current enumeration.
  virtual usb::Identity identity() const = 0;
  /// Increments at every enumeration after the first.
  virtual std::uint32_t generation() const = 0;
  /// false between a disconnect and the next enumeration.
  virtual bool attached() const = 0;
  /// While detached with a next enumeration pending: its delay from the disconnect; else nullopt.
  virtual std::optional<std::chrono::microseconds> pending_reattach() const = 0;
  /// Lets the pending enumeration happen now. false when none is pending.
  virtual bool reattach() = 0;
  /// What the peer is, for error messages: "sim:stm32mp135".
  virtual std::string name() const = 0;
};

}  // namespace mp1boot::transport
