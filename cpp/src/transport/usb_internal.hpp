// SPDX-License-Identifier: MIT
// Internal helpers shared by usb.cpp (listing, opening, UsbPort) and usb_wait.cpp
// (wait_for_device): libusb context ownership, device description and error mapping.
#pragma once
#include <libusb.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/usb.hpp"

namespace mp1boot::transport {

using UsbContextPtr = std::shared_ptr<libusb_context>;

struct UsbPort::Impl {
  UsbContextPtr ctx;
  libusb_device_handle* handle = nullptr;
  usb::Identity id;
  std::vector<usb::AltSetting> alts;
  bool claimed = false;
  ~Impl();
};

namespace usb_detail {

/// A fresh libusb context. @throws TransportError(errc::io).
UsbContextPtr make_context();

/// An ErrorContext with the operation and the transport description.
inline ErrorContext where(std::string operation, std::string transport = {}) {
  ErrorContext c;
  c.operation = std::move(operation);
  c.transport = std::move(transport);
  return c;
}

/// errc for a libusb error code.
errc map_error(int rc);
/// "permission denied (LIBUSB_ERROR_ACCESS)".
std::string error_text(int rc);
/// The hint appended to permission errors: the udev rule and `mp1boot udev --install`.
std::string permission_hint();

/// Identity fields known without opening: ids, bus, address, port path, speed, DFU functional
/// descriptor (from the cached configuration descriptor).
UsbDeviceInfo describe_unopened(libusb_device* dev);

/// Opens `dev`, reads its strings and alternate settings, and claims interface 0 when `claim`.
/// @throws TransportError with the mapped code; permission errors carry permission_hint().
std::unique_ptr<UsbPort::Impl> open_device(const UsbContextPtr& ctx, libusb_device* dev, bool claim);

/// "1-1.4 0483:df11 serial 0028... \"DFU in HS Mode ...\"" for listings in messages.
std::string summary(const UsbDeviceInfo& info);

}  // namespace usb_detail
}  // namespace mp1boot::transport
