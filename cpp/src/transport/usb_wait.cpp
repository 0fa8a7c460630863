// SPDX-License-Identifier: MIT
// wait_for_device(): waits for the same board (serial number, optionally port path) to enumerate
// again after a stage hand-over. libusb hot-plug events where available, polling otherwise. It
// keeps apart "nothing appeared" (TimeoutError) from "a matching device appeared but could not
// be opened" (TransportError with the cause and the fix), FIELD.md failure mode 1.
//
// Hot-plug events alone are not enough: hosts lose them (containers without udev, some VMs, a
// udev monitor whose socket another process took over), and libusb's device list only changes on
// those events. So the wait also rescans the bus in a fresh libusb context (which enumerates
// sysfs anew) every rescan_interval.
#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "mp1boot/transport/usb.hpp"
#include "usb_internal.hpp"

namespace mp1boot::transport {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct DeviceRef {
  libusb_device* dev = nullptr;
  explicit DeviceRef(libusb_device* d) : dev(libusb_ref_device(d)) {}
  DeviceRef(DeviceRef&& o) noexcept : dev(std::exchange(o.dev, nullptr)) {}
  DeviceRef& operator=(DeviceRef&& o) noexcept {
    std::swap(dev, o.dev);
    return *this;
  }
  ~DeviceRef() {
    if (dev) libusb_unref_device(dev);
  }
};

// Everything one wait needs; the hot-plug callback appends to `arrived`.
class Waiter {
 public:
  explicit Waiter(const UsbWaitOptions& o) : o_(o), ctx_(usb_detail::make_context()) {}

  std::unique_ptr<UsbPort> run() {
    const auto start = Clock::now();
    const auto deadline = start + o_.timeout;
    bool hotplug = !o_.force_polling && libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) != 0;
    libusb_hotplug_callback_handle cb_handle{};
    if (hotplug) {
      int rc = libusb_hotplug_register_callback(
          ctx_.get(), LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, LIBUSB_HOTPLUG_ENUMERATE, o_.vendor_id, o_.product_id,
          LIBUSB_HOTPLUG_MATCH_ANY, &Waiter::on_hotplug, this, &cb_handle);
      hotplug = rc == LIBUSB_SUCCESS;
    }
    struct Deregister {
      libusb_context* ctx;
      libusb_hotplug_callback_handle h;
      bool active;
      ~Deregister() {
        if (active) libusb_hotplug_deregister_callback(ctx, h);
      }
    } dereg{ctx_.get(), cb_handle, hotplug};

    auto next_poll = start;
    auto next_rescan = start + o_.rescan_interval;
    for (;;) {
      if (o_.cancel && o_.cancel->cancelled())
        throw CancelledError(errc::cancelled, "cancelled while waiting for the device with serial " + o_.serial,
                             usb_detail::where("wait_for_device"));
      auto now = Clock::now();
      if (hotplug) {
        while (!arrived_.empty()) {
          DeviceRef d = std::move(arrived_.back());
          arrived_.pop_back();
          if (auto port = consider(d.dev, ctx_)) return port;
        }
      }
      if (now >= next_poll) {
        // Polling mode: scan the bus. Hot-plug mode: retry devices that could not be opened yet.
        if (!hotplug) {
          if (auto port = scan()) return port;
        } else {
          if (auto port = retry_blocked()) return port;
        }
        next_poll = now + o_.poll_interval;
      }
      if (hotplug && now >= next_rescan) {
        if (auto port = scan()) return port;
        next_rescan = Clock::now() + o_.rescan_interval;
      }
      now = Clock::now();
      if (problem_ && now >= std::min(deadline, first_problem_ + o_.access_grace)) throw_problem();
      if (now >= deadline) throw_timeout();
      auto slice = std::min<Clock::duration>({deadline - now, next_poll - now, milliseconds(50)});
      if (hotplug) slice = std::min<Clock::duration>(slice, next_rescan - now);
      if (slice < Clock::duration::zero()) slice = Clock::duration::zero();
      if (hotplug) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(slice).count();
        timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
        libusb_handle_events_timeout_completed(ctx_.get(), &tv, nullptr);
      } else {
        std::this_thread::sleep_for(slice);
      }
    }
  }

 private:
  static int LIBUSB_CALL on_hotplug(libusb_context*, libusb_device* dev, libusb_hotplug_event, void* self) {
    // Opening inside the callback is not allowed: queue the device and handle it in run().
    static_cast<Waiter*>(self)->arrived_.emplace_back(dev);
    return 0;
  }

  // The port path is the board's identity when known; the serial number is a cross-check that a
  // blank or all-zero serial (some boot ROMs) cannot fail.
  bool same_serial(const std::string& serial) const {
    if (serial == o_.serial) return true;
    auto blank = [](const std::string& s) { return s.find_first_not_of("0 ") == std::string::npos; };
    return !o_.port_path.empty() && (blank(serial) || blank(o_.serial));
  }

  bool skipped(const UsbDeviceInfo& info) const {
    return o_.skip_address && info.address == *o_.skip_address && (!o_.skip_bus || info.bus == *o_.skip_bus);
  }

  // Enumerates the bus from sysfs in a fresh context: libusb's list in ctx_ only follows hot-plug
  // events, which may have been lost.
  std::unique_ptr<UsbPort> scan() {
    UsbContextPtr fresh;
    try {
      fresh = usb_detail::make_context();
    } catch (const TransportError&) {
      return nullptr;
    }
    libusb_device** list = nullptr;
    ssize_t n = libusb_get_device_list(fresh.get(), &list);
    if (n < 0) return nullptr;
    std::unique_ptr<UsbPort> found;
    for (ssize_t i = 0; i < n && !found; ++i) {
      libusb_device_descriptor dd{};
      if (libusb_get_device_descriptor(list[i], &dd) != 0 || dd.idVendor != o_.vendor_id ||
          dd.idProduct != o_.product_id)
        continue;
      found = consider(list[i], fresh);
    }
    libusb_free_device_list(list, 1);
    return found;
  }

  std::unique_ptr<UsbPort> retry_blocked() {
    std::vector<Blocked> again = std::move(blocked_);
    blocked_.clear();
    for (auto& d : again)
      if (auto port = consider(d.ref.dev, d.ctx)) return port;
    return nullptr;
  }

  // Opens `dev` (of context `ctx`) if it may be the board; returns the port when it is.
  std::unique_ptr<UsbPort> consider(libusb_device* dev, const UsbContextPtr& ctx) {
    UsbDeviceInfo info = usb_detail::describe_unopened(dev);
    auto key = std::make_pair(info.bus, info.address);
    if (rejected_.count(key) || skipped(info)) return nullptr;
    if (!o_.port_path.empty() && info.port_path != o_.port_path) {
      rejected_.insert(key);
      return nullptr;
    }
    std::unique_ptr<UsbPort::Impl> impl;
    try {
      impl = usb_detail::open_device(ctx, dev, false);
    } catch (const TransportError& e) {
      if (e.code() == errc::disconnected) return nullptr;  // gone again (the old enumeration)
      // It may be our board; we cannot tell without opening it. Keep trying until the grace ends.
      if (!problem_) first_problem_ = Clock::now();
      problem_ = e;
      problem_where_ = info.port_path;
      blocked_.emplace_back(dev, ctx);
      return nullptr;
    }
    if (!same_serial(impl->id.serial)) {
      rejected_.insert(key);
      return nullptr;
    }
    impl.reset();  // reopen with the interface claimed (claim errors are "could not be opened" too)
    try {
      return std::make_unique<UsbPort>(usb_detail::open_device(ctx, dev, true));
    } catch (const TransportError& e) {
      if (e.code() == errc::disconnected) return nullptr;
      if (!problem_) first_problem_ = Clock::now();
      problem_ = e;
      problem_where_ = info.port_path;
      blocked_.emplace_back(dev, ctx);
      return nullptr;
    }
  }

  [[noreturn]] void throw_problem() const {
    const TransportError& e = *problem_;
    throw TransportError(e.code(),
                         "a USB device " + ids() + " appeared at " + problem_where_ +
                             " while waiting for the board with serial " + o_.serial +
                             ", but it could not be opened: " + e.message(),
                         usb_detail::where("wait_for_device", e.context().transport));
  }

  [[noreturn]] void throw_timeout() const {
    auto s = std::chrono::duration_cast<milliseconds>(o_.timeout).count();
    std::string where = o_.port_path.empty() ? "" : " on port " + o_.port_path;
    throw TimeoutError(errc::timeout,
                       "no USB device " + ids() + " with serial " + o_.serial + where + " appeared within " +
                           std::to_string(s) + " ms",
                       usb_detail::where("wait_for_device"));
  }

  std::string ids() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04x:%04x", o_.vendor_id, o_.product_id);
    return buf;
  }

  const UsbWaitOptions& o_;
  UsbContextPtr ctx_;
  struct Blocked {
    Blocked(libusb_device* d, UsbContextPtr c) : ctx(std::move(c)), ref(d) {}
    UsbContextPtr ctx;  // the device's context, released after the device (declared first)
    DeviceRef ref;
  };
  std::vector<DeviceRef> arrived_;
  std::vector<Blocked> blocked_;
  std::set<std::pair<std::uint8_t, std::uint8_t>> rejected_;
  std::optional<TransportError> problem_;
  std::string problem_where_;
  Clock::time_point first_problem_{};
};

}  // namespace

std::unique_ptr<UsbPort> wait_for_device(const UsbWaitOptions& options) {
  if (options.serial.empty() && options.port_path.empty())
    throw UsageError(errc::usage, "wait_for_device needs the port path or the serial number of the board");
  Waiter w(options);
  return w.run();
}

std::unique_ptr<UsbPort> wait_for_device(const std::string& serial, const std::string& port_path,
                                         std::chrono::milliseconds timeout, const CancelToken* cancel) {
  UsbWaitOptions o;
  o.serial = serial;
  o.port_path = port_path;
  o.timeout = timeout;
  o.cancel = cancel;
  return wait_for_device(o);
}

}  // namespace mp1boot::transport
