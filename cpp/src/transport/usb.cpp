// SPDX-License-Identifier: MIT
// libusb-1.0 transport: device listing, selector parsing, opening and UsbPort's control
// transfers. Waiting for a re-enumeration lives in usb_wait.cpp.
#include "mp1boot/transport/usb.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "mp1boot/bytes.hpp"
#include "usb_internal.hpp"

namespace mp1boot::transport {

namespace {

constexpr std::string_view rules_text =
    "# SPDX-License-Identifier: MIT\n"
    "# mp1boot: let logged-in users (uaccess) and members of plugdev open STM32MP boards in USB DFU\n"
    "# mode (boot ROM, TF-A and U-Boot stm32prog all enumerate as 0483:df11) without root.\n"
    "# Install with `mp1boot udev --install`, or copy this file to /etc/udev/rules.d/ and run\n"
    "# `udevadm control --reload-rules && udevadm trigger`, then unplug and replug the board.\n"
    "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"df11\", MODE=\"0660\", "
    "GROUP=\"plugdev\", TAG+=\"uaccess\"\n";

constexpr std::uint16_t lang_en_us = 0x0409;

unsigned int timeout_ms(std::chrono::milliseconds t) {
  // libusb treats 0 as "wait forever": every transfer here must be bounded.
  if (t.count() <= 0) return 1;
  return static_cast<unsigned int>(std::min<std::int64_t>(t.count(), 0x7FFFFFFF));
}

std::string hex4(std::uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", v);
  return buf;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string utf16le_to_utf8(const unsigned char* p, std::size_t bytes) {
  std::string out;
  for (std::size_t i = 0; i + 1 < bytes; i += 2) {
    unsigned c = static_cast<unsigned>(p[i] | p[i + 1] << 8);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::string read_string_desc(libusb_device_handle* h, std::uint8_t index, std::chrono::milliseconds timeout,
                             const std::string& where) {
  if (index == 0) return {};
  unsigned char buf[255];
  int rc = libusb_control_transfer(h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
                                   static_cast<std::uint16_t>(LIBUSB_DT_STRING << 8 | index), lang_en_us, buf,
                                   sizeof buf, timeout_ms(timeout));
  if (rc < 0)
    throw TransportError(usb_detail::map_error(rc),
                         "reading string descriptor " + std::to_string(index) + " failed: " +
                             usb_detail::error_text(rc),
                         usb_detail::where("get_string", where));
  if (rc < 2 || buf[1] != LIBUSB_DT_STRING)
    throw TransportError(errc::io, "string descriptor " + std::to_string(index) + " is malformed",
                         usb_detail::where("get_string", where));
  std::size_t len = std::min<std::size_t>(static_cast<std::size_t>(rc), buf[0]);
  return utf16le_to_utf8(buf + 2, len >= 2 ? len - 2 : 0);
}

// Finds the 9-byte DFU functional descriptor (type 0x21) in a block of extra descriptor bytes.
bool scan_functional(const unsigned char* p, int len, usb::Identity& id) {
  for (int i = 0; i + 1 < len && p[i] >= 2; i += p[i]) {
    if (p[i + 1] == 0x21 && p[i] >= 9 && i + 9 <= len) {
      id.dfu_attributes = p[i + 2];
      id.transfer_size = load_le16(p + i + 5);
      return true;
    }
  }
  return false;
}

std::string describe_identity(const usb::Identity& id) {
  std::string s = "usb:" + id.port_path + " (" + hex4(id.vendor_id) + ":" + hex4(id.product_id);
  if (!id.serial.empty()) s += " " + id.serial;
  return s + ")";
}

enum class SelectorKind { any, vid_pid, port_path, serial };

struct Selector {
  SelectorKind kind = SelectorKind::any;
  std::uint16_t vid = st_usb_vendor_id, pid = st_usb_dfu_product_id;
  std::string text;
};

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

Selector parse_selector(std::string_view s) {
  if (s.rfind("usb:", 0) == 0) s.remove_prefix(4);
  Selector sel;
  sel.text = std::string(s);
  if (s.empty()) return sel;
  if (s.size() == 9 && s[4] == ':' && all_hex(s.substr(0, 4)) && all_hex(s.substr(5))) {
    sel.kind = SelectorKind::vid_pid;
    sel.vid = static_cast<std::uint16_t>(std::stoul(std::string(s.substr(0, 4)), nullptr, 16));
    sel.pid = static_cast<std::uint16_t>(std::stoul(std::string(s.substr(5)), nullptr, 16));
    return sel;
  }
  // "B-P[.P...]": digits, one '-', then digits separated by dots.
  auto dash = s.find('-');
  bool path = dash != std::string_view::npos && dash > 0 && dash + 1 < s.size();
  if (path) {
    for (std::size_t i = 0; i < s.size() && path; ++i) {
      char c = s[i];
      if (i == dash) continue;
      if (c == '.') path = i > dash + 1 && i + 1 < s.size() && s[i - 1] != '.';
      else path = std::isdigit(static_cast<unsigned char>(c)) != 0;
    }
  }
  sel.kind = path ? SelectorKind::port_path : SelectorKind::serial;
  return sel;
}

struct DeviceList {
  libusb_device** list = nullptr;
  ssize_t count = 0;
  explicit DeviceList(libusb_context* ctx) {
    count = libusb_get_device_list(ctx, &list);
    if (count < 0)
      throw TransportError(errc::io, "cannot list USB devices: " + usb_detail::error_text(static_cast<int>(count)));
  }
  ~DeviceList() {
    if (list) libusb_free_device_list(list, 1);
  }
  DeviceList(const DeviceList&) = delete;
  DeviceList& operator=(const DeviceList&) = delete;
};

struct Candidate {
  UsbDeviceInfo info;
  libusb_device* dev;  // owned by the DeviceList
};

// Lists vid:pid devices; opens each (without claiming) to read strings when `read_strings`.
std::vector<Candidate> enumerate(const UsbContextPtr& ctx, const DeviceList& devices, std::uint16_t vid,
                                 std::uint16_t pid, bool read_strings) {
  std::vector<Candidate> out;
  for (ssize_t i = 0; i < devices.count; ++i) {
    libusb_device* dev = devices.list[i];
    libusb_device_descriptor dd{};
    if (libusb_get_device_descriptor(dev, &dd) != 0 || dd.idVendor != vid || dd.idProduct != pid) continue;
    Candidate c{usb_detail::describe_unopened(dev), dev};
    if (read_strings) {
      try {
        auto impl = usb_detail::open_device(ctx, dev, false);
        static_cast<usb::Identity&>(c.info) = impl->id;
      } catch (const TransportError& e) {
        c.info.accessible = false;
        c.info.problem = e.code() == errc::permission_denied ? "permission denied" : e.message();
      }
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    return a.info.bus != b.info.bus ? a.info.bus < b.info.bus : a.info.port_path < b.info.port_path;
  });
  return out;
}

std::string list_text(const std::vector<Candidate>& cs) {
  std::string s;
  for (const auto& c : cs) s += "\n  " + usb_detail::summary(c.info);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
namespace usb_detail {

UsbContextPtr make_context() {
  libusb_context* ctx = nullptr;
  int rc = libusb_init(&ctx);
  if (rc != 0) throw TransportError(errc::io, "cannot initialise libusb: " + error_text(rc));
  return UsbContextPtr(ctx, [](libusb_context* c) { libusb_exit(c); });
}

errc map_error(int rc) {
  switch (rc) {
    case LIBUSB_ERROR_ACCESS: return errc::permission_denied;
    case LIBUSB_ERROR_BUSY: return errc::port_busy;
    case LIBUSB_ERROR_PIPE: return errc::stall;
    case LIBUSB_ERROR_NO_DEVICE: return errc::disconnected;
    case LIBUSB_ERROR_TIMEOUT: return errc::timeout;
    case LIBUSB_ERROR_INTERRUPTED: return errc::cancelled;
    case LIBUSB_ERROR_NOT_SUPPORTED: return errc::unsupported;
    default: return errc::io;
  }
}

std::string error_text(int rc) {
  std::string what;
  switch (rc) {
    case LIBUSB_ERROR_ACCESS: what = "permission denied"; break;
    case LIBUSB_ERROR_BUSY: what = "interface claimed by another process"; break;
    case LIBUSB_ERROR_PIPE: what = "stalled by the device"; break;
    case LIBUSB_ERROR_NO_DEVICE: what = "device disconnected"; break;
    case LIBUSB_ERROR_TIMEOUT: what = "timed out"; break;
    default: what = libusb_strerror(static_cast<libusb_error>(rc)); break;
  }
  return what + " (" + libusb_error_name(rc) + ")";
}

std::string permission_hint() {
  return ". Allow access with the udev rule\n  " + std::string(udev_rule_line()) +
         "\nInstall it with `mp1boot udev --install` (or copy packaging/udev/60-mp1boot.rules to "
         "/etc/udev/rules.d/ and run `udevadm control --reload-rules && udevadm trigger`), then "
         "unplug and replug the board";
}

UsbDeviceInfo describe_unopened(libusb_device* dev) {
  UsbDeviceInfo info;
  libusb_device_descriptor dd{};
  if (libusb_get_device_descriptor(dev, &dd) == 0) {
    info.vendor_id = dd.idVendor;
    info.product_id = dd.idProduct;
  }
  info.bus = libusb_get_bus_number(dev);
  info.address = libusb_get_device_address(dev);
  std::uint8_t ports[8];
  int n = libusb_get_port_numbers(dev, ports, sizeof ports);
  info.port_path = std::to_string(info.bus) + "-";
  if (n <= 0) info.port_path += "0";
  for (int i = 0; i < n; ++i) info.port_path.append(i ? "." : "").append(std::to_string(ports[i]));
  switch (libusb_get_device_speed(dev)) {
    case LIBUSB_SPEED_LOW: info.speed = "low"; break;
    case LIBUSB_SPEED_FULL: info.speed = "full"; break;
    case LIBUSB_SPEED_HIGH: info.speed = "high"; break;
    case LIBUSB_SPEED_SUPER: info.speed = "super"; break;
    case LIBUSB_SPEED_SUPER_PLUS: info.speed = "super+"; break;
    default: info.speed = "unknown"; break;
  }
  libusb_config_descriptor* cfg = nullptr;
  if (libusb_get_active_config_descriptor(dev, &cfg) != 0 && libusb_get_config_descriptor(dev, 0, &cfg) != 0)
    cfg = nullptr;
  if (cfg) {
    bool found = scan_functional(cfg->extra, cfg->extra_length, info);
    for (int i = 0; !found && i < cfg->bNumInterfaces; ++i) {
      const libusb_interface& itf = cfg->interface[i];
      for (int a = 0; !found && a < itf.num_altsetting; ++a)
        found = scan_functional(itf.altsetting[a].extra, itf.altsetting[a].extra_length, info);
    }
    libusb_free_config_descriptor(cfg);
  }
  return info;
}

std::unique_ptr<UsbPort::Impl> open_device(const UsbContextPtr& ctx, libusb_device* dev, bool claim) {
  auto impl = std::make_unique<UsbPort::Impl>();
  impl->ctx = ctx;
  UsbDeviceInfo base = describe_unopened(dev);
  impl->id = base;
  std::string where = describe_identity(impl->id);
  int rc = libusb_open(dev, &impl->handle);
  if (rc != 0) {
    impl->handle = nullptr;
    char node[40];
    std::snprintf(node, sizeof node, "/dev/bus/usb/%03u/%03u", base.bus, base.address);
    std::string msg = "cannot open USB device " + hex4(base.vendor_id) + ":" + hex4(base.product_id) + " at " +
                      base.port_path + " (" + node + "): " + error_text(rc);
    if (rc == LIBUSB_ERROR_ACCESS) msg += permission_hint();
    throw TransportError(map_error(rc), msg, usb_detail::where("open", where));
  }
  libusb_device_descriptor dd{};
  libusb_get_device_descriptor(dev, &dd);
  const auto t = std::chrono::milliseconds(1000);
  impl->id.manufacturer = read_string_desc(impl->handle, dd.iManufacturer, t, where);
  impl->id.product = read_string_desc(impl->handle, dd.iProduct, t, where);
  impl->id.serial = read_string_desc(impl->handle, dd.iSerialNumber, t, where);
  where = describe_identity(impl->id);

  libusb_config_descriptor* cfg = nullptr;
  if (libusb_get_active_config_descriptor(dev, &cfg) == 0 && cfg) {
    for (int i = 0; i < cfg->bNumInterfaces; ++i) {
      const libusb_interface& itf = cfg->interface[i];
      for (int a = 0; a < itf.num_altsetting; ++a) {
        const libusb_interface_descriptor& d = itf.altsetting[a];
        if (d.bInterfaceNumber != 0) continue;
        usb::AltSetting alt{d.bAlternateSetting, {}};
        try {
          alt.name = read_string_desc(impl->handle, d.iInterface, t, where);
        } catch (...) {
          libusb_free_config_descriptor(cfg);
          throw;
        }
        impl->alts.push_back(std::move(alt));
      }
    }
    libusb_free_config_descriptor(cfg);
  }
  if (claim) {
    libusb_set_auto_detach_kernel_driver(impl->handle, 1);
    rc = libusb_claim_interface(impl->handle, 0);
    if (rc != 0) {
      std::string msg = "cannot claim interface 0: " + error_text(rc);
      if (rc == LIBUSB_ERROR_BUSY) msg += "; another program (dfu-util, STM32CubeProgrammer, a VM) holds the device";
      if (rc == LIBUSB_ERROR_ACCESS) msg += permission_hint();
      throw TransportError(map_error(rc), msg, usb_detail::where("open", where));
    }
    impl->claimed = true;
  }
  return impl;
}

std::string summary(const UsbDeviceInfo& info) {
  std::string s = info.port_path + " " + hex4(info.vendor_id) + ":" + hex4(info.product_id);
  if (!info.accessible) return s + " (cannot be opened: " + info.problem + ")";
  s += " serial " + (info.serial.empty() ? std::string("(none)") : info.serial);
  if (!info.product.empty()) s += " \"" + info.product + "\"";
  return s;
}

}  // namespace usb_detail

// ---------------------------------------------------------------------------------------------
UsbPort::Impl::~Impl() {
  if (handle) {
    if (claimed) libusb_release_interface(handle, 0);
    libusb_close(handle);
  }
}

std::string_view udev_rules() { return rules_text; }

std::string_view udev_rule_line() {
  auto pos = rules_text.find("SUBSYSTEM==");
  auto end = rules_text.find('\n', pos);
  return rules_text.substr(pos, end - pos);
}

std::vector<UsbDeviceInfo> list_usb_devices(std::uint16_t vendor_id, std::uint16_t product_id) {
  auto ctx = usb_detail::make_context();
  DeviceList devices(ctx.get());
  std::vector<UsbDeviceInfo> out;
  for (auto& c : enumerate(ctx, devices, vendor_id, product_id, true)) out.push_back(std::move(c.info));
  return out;
}

std::unique_ptr<UsbPort> open_usb(std::string_view selector) {
  Selector sel = parse_selector(selector);
  auto ctx = usb_detail::make_context();
  DeviceList devices(ctx.get());
  bool need_strings = sel.kind == SelectorKind::serial;
  auto all = enumerate(ctx, devices, sel.vid, sel.pid, need_strings);
  std::string ids = hex4(sel.vid) + ":" + hex4(sel.pid);

  std::vector<Candidate> matches;
  for (const auto& c : all) {
    bool ok = sel.kind == SelectorKind::any || sel.kind == SelectorKind::vid_pid ||
              (sel.kind == SelectorKind::port_path && c.info.port_path == sel.text) ||
              (sel.kind == SelectorKind::serial && c.info.accessible && lower(c.info.serial) == lower(sel.text));
    if (ok) matches.push_back(c);
  }
  if (matches.empty()) {
    if (all.empty()) throw TransportError(errc::no_device, "no USB device " + ids + " found (is the board in USB boot mode and connected?)");
    std::string msg = "no USB device " + ids + " matches \"" + sel.text + "\"; found:" + list_text(all);
    bool blind = std::any_of(all.begin(), all.end(), [](const Candidate& c) { return !c.info.accessible; });
    if (sel.kind == SelectorKind::serial && blind) {
      msg += "\nSome devices could not be opened to read their serial number" + usb_detail::permission_hint();
      throw TransportError(errc::permission_denied, msg);
    }
    throw TransportError(errc::no_device, msg);
  }
  if (matches.size() > 1) {
    if (!need_strings) matches = enumerate(ctx, devices, sel.vid, sel.pid, true);
    throw TransportError(errc::multiple_devices,
                         std::to_string(matches.size()) + " USB devices " + ids +
                             " found; choose one with usb:SERIAL or usb:BUS-PORT (e.g. usb:" +
                             matches.front().info.port_path + "):" + list_text(matches));
  }
  return std::make_unique<UsbPort>(usb_detail::open_device(ctx, matches.front().dev, true));
}

// ---------------------------------------------------------------------------------------------
UsbPort::UsbPort(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UsbPort::~UsbPort() = default;

namespace {
[[noreturn]] void throw_transfer(int rc, const char* op, const usb::SetupPacket& s, std::size_t len,
                                 const std::string& where) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "control transfer bmRequestType 0x%02x bRequest 0x%02x wValue %u wLength %zu",
                s.request_type, s.request, s.value, len);
  throw TransportError(usb_detail::map_error(rc), std::string(buf) + " failed: " + usb_detail::error_text(rc),
                       usb_detail::where(op, where));
}
}  // namespace

std::size_t UsbPort::control_in(const usb::SetupPacket& setup, std::span<std::uint8_t> data, ms timeout) {
  auto len = static_cast<std::uint16_t>(std::min<std::size_t>(data.size(), 0xFFFF));
  int rc = libusb_control_transfer(impl_->handle, static_cast<std::uint8_t>(setup.request_type | LIBUSB_ENDPOINT_IN),
                                   setup.request, setup.value, setup.index, data.data(), len, timeout_ms(timeout));
  if (rc < 0) throw_transfer(rc, "control_in", setup, len, describe());
  return static_cast<std::size_t>(rc);
}

void UsbPort::control_out(const usb::SetupPacket& setup, ByteView data, ms timeout) {
  if (data.size() > 0xFFFF) throw UsageError(errc::usage, "control transfer data longer than 65535 bytes");
  auto len = static_cast<std::uint16_t>(data.size());
  // libusb does not write to OUT buffers; its API takes a non-const pointer.
  auto* p = const_cast<std::uint8_t*>(data.data());
  int rc = libusb_control_transfer(impl_->handle,
                                   static_cast<std::uint8_t>(setup.request_type & ~LIBUSB_ENDPOINT_IN),
                                   setup.request, setup.value, setup.index, p, len, timeout_ms(timeout));
  if (rc < 0) throw_transfer(rc, "control_out", setup, len, describe());
  if (rc != len)
    throw TransportError(errc::io,
                         "control transfer sent " + std::to_string(rc) + " of " + std::to_string(len) + " bytes",
                         usb_detail::where("control_out", describe()));
}

std::vector<usb::AltSetting> UsbPort::alt_settings() { return impl_->alts; }

void UsbPort::set_alt_setting(std::uint8_t alt) {
  int rc = libusb_set_interface_alt_setting(impl_->handle, 0, alt);
  if (rc != 0)
    throw TransportError(usb_detail::map_error(rc),
                         "SET_INTERFACE to alternate setting " + std::to_string(alt) + " failed: " +
                             usb_detail::error_text(rc),
                         usb_detail::where("set_alt_setting", describe()));
}

usb::Identity UsbPort::identity() const { return impl_->id; }

void UsbPort::reset() {
  int rc = libusb_reset_device(impl_->handle);
  if (rc == 0) return;
  errc code = rc == LIBUSB_ERROR_NOT_FOUND ? errc::disconnected : usb_detail::map_error(rc);
  std::string msg = rc == LIBUSB_ERROR_NOT_FOUND
                        ? "the device re-enumerated during the port reset; reopen it (wait_for_device)"
                        : "USB port reset failed: " + usb_detail::error_text(rc);
  throw TransportError(code, msg, usb_detail::where("reset", describe()));
}

std::string UsbPort::describe() const { return describe_identity(impl_->id); }

std::string UsbPort::read_string(std::uint8_t index, ms timeout) {
  return read_string_desc(impl_->handle, index, timeout, describe());
}

}  // namespace mp1boot::transport
