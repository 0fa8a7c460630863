// SPDX-License-Identifier: MIT
// The libusb-1.0 implementation of UsbControlPort: listing ST DFU devices (with their bus, port
// path, speed and strings), opening one by serial number, port path or VID:PID, control transfers
// with a timeout on every call, and waiting for the same board to come back after a
// re-enumeration (hot-plug where libusb supports it, polling otherwise). Maps libusb errors to
// TransportError codes: EACCES -> permission_denied (with the udev rule in the message),
// BUSY -> port_busy, PIPE -> stall, NO_DEVICE -> disconnected, TIMEOUT -> timeout, others -> io.
// No DFU knowledge beyond reading the functional descriptor into usb::Identity.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mp1boot/progress.hpp"
#include "mp1boot/transport/usb_port.hpp"

namespace mp1boot::transport {

/// ST's vendor id and the DFU product id used by the ROM, TF-A and U-Boot stm32prog.
inline constexpr std::uint16_t st_usb_vendor_id = 0x0483;
inline constexpr std::uint16_t st_usb_dfu_product_id = 0xDF11;

/// One listed device: its identity, plus whether it could be opened to read its strings.
struct UsbDeviceInfo : usb::Identity {
  /// false when opening failed; product/serial/manufacturer/transfer_size are then empty/0.
  bool accessible = true;
  /// Why it could not be opened: "permission denied", "busy", ... (empty when accessible).
  std::string problem;
};

/// The udev rules file shipped as packaging/udev/60-mp1boot.rules (same text, comments included).
std::string_view udev_rules();
/// The single rule line of udev_rules() (0483:df11, MODE 0660, GROUP plugdev, TAG uaccess).
std::string_view udev_rule_line();

/// Lists the devices with `vendor_id`:`product_id`, ordered by bus and port path. Each one is
/// opened briefly to read its strings and DFU functional descriptor; a device that cannot be
/// opened is still listed with accessible = false.
/// @throws TransportError(errc::io) when libusb cannot be initialised.
std::vector<UsbDeviceInfo> list_usb_devices(std::uint16_t vendor_id = st_usb_vendor_id,
                                            std::uint16_t product_id = st_usb_dfu_product_id);

/// An opened DFU device: interface 0 claimed (kernel driver detached if one was bound).
/// Not thread-safe: use one UsbPort from one thread at a time. Distinct ports are independent
/// (each owns its libusb context).
class UsbPort final : public UsbControlPort {
 public:
  struct Impl;
  explicit UsbPort(std::unique_ptr<Impl> impl);
  ~UsbPort() override;
  UsbPort(const UsbPort&) = delete;
  UsbPort& operator=(const UsbPort&) = delete;

  std::size_t control_in(const usb::SetupPacket& setup, std::span<std::uint8_t> data, ms timeout) override;
  void control_out(const usb::SetupPacket& setup, ByteView data, ms timeout) override;
  /// The alternate settings of interface 0 as read when the port was opened (the descriptors of
  /// one enumeration never change; a new stage means a new enumeration and a new port).
  std::vector<usb::AltSetting> alt_settings() override;
  void set_alt_setting(std::uint8_t alt) override;
  usb::Identity identity() const override;
  /// libusb_reset_device. When the device re-enumerates during the reset (the usual case after a
  /// DETACH), throws TransportError(errc::disconnected): reopen it with wait_for_device().
  void reset() override;
  std::string describe() const override;

  /// Reads string descriptor `index` (language 0x0409) with `timeout`; "" for index 0.
  /// @throws TransportError as control_in.
  std::string read_string(std::uint8_t index, ms timeout = ms(1000));

 private:
  std::unique_ptr<Impl> impl_;
};

/// Opens one device. `selector`, optionally prefixed with "usb:":
/// * "" - the only 0483:df11 device;
/// * "VVVV:PPPP" (4 hex digits each) - the only device with that VID:PID;
/// * "B-P[.P...]" (bus and port path, e.g. "1-1.4") - the 0483:df11 device on that port;
/// * anything else - the 0483:df11 device whose serial number is `selector` (case-insensitive).
/// @throws TransportError: errc::no_device (nothing matches; the message lists what was seen),
///         errc::multiple_devices (several match; the message lists them with serials and ports),
///         errc::permission_denied (with the udev rule and `mp1boot udev --install`),
///         errc::port_busy (another process claimed the interface), errc::io.
std::unique_ptr<UsbPort> open_usb(std::string_view selector = {});

/// How wait_for_device() recognises the board; timeout and cancel come from EnumerationWait.
struct UsbWaitOptions : EnumerationWait {
  std::string serial;        ///< iSerialNumber of the board: a cross-check when port_path is set
                             ///< (a blank or all-zero serial on either side passes), else the match
  std::string port_path;     ///< the board's identity: its port ("1-1.4"), stable across stages
  std::uint16_t vendor_id = st_usb_vendor_id;
  std::uint16_t product_id = st_usb_dfu_product_id;
  /// The enumeration that must NOT be taken (the old one, still listed for a moment after a
  /// DETACH): a device on this bus with this address is ignored.
  std::optional<std::uint8_t> skip_bus;
  std::optional<std::uint8_t> skip_address;
  /// Polling period when hot-plug is not available (or force_polling is set).
  std::chrono::milliseconds poll_interval{100};
  bool force_polling = false;
  /// With hot-plug events too, the bus is rescanned this often: events get lost.
  std::chrono::milliseconds rescan_interval{250};
  /// After a matching device appeared but could not be opened, keep retrying this long (udev
  /// may still be applying the rule) before reporting it.
  std::chrono::milliseconds access_grace{1500};
};

/// Waits until the board with `options.serial` (and port path) enumerates, and opens it. Uses
/// libusb hot-plug events where libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG), polling every
/// poll_interval otherwise. Checks the cancel token at least every 50 ms.
/// @throws TimeoutError(errc::timeout) when nothing matching appeared ("no device with serial
///         ... appeared within 30 s"); TransportError(errc::permission_denied / errc::port_busy /
///         errc::io) when it appeared but could not be opened (the message says that it appeared,
///         where, and the fix); CancelledError when cancelled.
std::unique_ptr<UsbPort> wait_for_device(const UsbWaitOptions& options);
/// Shorthand for the options form. It does not skip the old enumeration: call it once the old
/// device is gone, or use the options form with skip_bus/skip_address.
std::unique_ptr<UsbPort> wait_for_device(const std::string& serial, const std::string& port_path,
                                         std::chrono::milliseconds timeout,
                                         const CancelToken* cancel = nullptr);

}  // namespace mp1boot::transport
