// SPDX-License-Identifier: MIT
// UmockdevBus: the testbed, the sysfs tree (root hub usb1, device 1-1, interface 1-1:1.0), FIFO
// device nodes and re-enumeration, on the main thread. The usbdevfs ioctls are in usbdevfs.cpp;
// pitfalls and the list of ioctls are in spec/USB-EMULATION.md.
#include "umockdev_bus.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

#include "umockdev_bus_impl.hpp"

namespace mp1boot::usbsim {

namespace {

std::string hex_upper(ByteView b) {
  static const char* digits = "0123456789ABCDEF";
  std::string s;
  for (auto v : b) {
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

std::string escape_attr(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out + "\\n";  // sysfs text attributes end with a newline
}

}  // namespace

Bytes UmockdevBus::Impl::hub_descriptors() {
  return from_hex("12 01 00 02 09 00 01 40 6b 1d 02 00 00 01 00 00 00 01 "
                  "09 02 19 00 01 01 00 e0 00 09 04 00 00 01 09 00 00 00 07 05 81 03 04 00 0c");
}

sim::UsbBoard::Reply UmockdevBus::Impl::hub_control(const transport::SetupPacket& s, std::uint16_t in_length) {
  sim::UsbBoard::Reply r;
  Bytes d = hub_descriptors();
  if (s.request_type == 0x80 && s.request == 6 && (s.value >> 8) == 1) r.data.assign(d.begin(), d.begin() + 18);
  else if (s.request_type == 0x80 && s.request == 6 && s.value == 0x0200) r.data.assign(d.begin() + 18, d.end());
  else if (s.request_type == 0x80 && s.request == 0) r.data = {0x01, 0x00};
  else if (s.request_type == 0x00 && (s.request == 9 || s.request == 1 || s.request == 3)) r.data = {};
  else r.kind = sim::UsbBoard::Reply::Kind::stall;
  if (r.data.size() > in_length) r.data.resize(in_length);
  return r;
}

void UmockdevBus::Impl::add_hub() {
  Bytes desc = hub_descriptors();
  add_node(hub_devnode);
  GError* err = nullptr;
  if (!umockdev_testbed_attach_ioctl(testbed, hub_devnode, handler, &err)) {
    std::string msg = err ? err->message : "unknown error";
    if (err) g_error_free(err);
    throw std::runtime_error("umockdev: cannot attach the hub's ioctl handler: " + msg);
  }
  open_socket_to_all(hub_devnode);
  std::string s =
      "P: /devices/usb1\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
      "E: DEVNAME=/dev/bus/usb/001/001\nE: BUSNUM=001\nE: DEVNUM=001\nE: PRODUCT=1d6b/2/100\n"
      "A: idVendor=1d6b\\n\nA: idProduct=0002\\n\nA: busnum=1\\n\nA: devnum=1\\n\nA: speed=480\\n\n"
      "A: bConfigurationValue=1\\n\nA: bDeviceClass=09\\n\nA: maxchild=1\\n\n"
      "A: product=mp1boot simulated root hub\\n\nH: descriptors=" +
      hex_upper(desc) + "\n";
  add_from_string(s);
}

void UmockdevBus::Impl::add_from_string(const std::string& s) {
  GError* err = nullptr;
  if (!umockdev_testbed_add_from_string(testbed, s.c_str(), &err)) {
    std::string msg = err ? err->message : "unknown error";
    if (err) g_error_free(err);
    throw std::runtime_error("umockdev: cannot add device: " + msg);
  }
}

void UmockdevBus::Impl::open_socket_to_all(const std::string& devnode) {
  if (opts.node_mode != 0666) ::chmod((root + "/ioctl" + devnode).c_str(), 0777);
}

void UmockdevBus::Impl::add_node(const std::string& devnode) {
  Node node;
  node.path = root + devnode;
  g_mkdir_with_parents((root + "/dev/bus/usb/001").c_str(), 0755);
  ::unlink(node.path.c_str());
  if (::mkfifo(node.path.c_str(), 0666) != 0)
    throw std::runtime_error("cannot create FIFO " + node.path + ": " + std::strerror(errno));
  ::chmod(node.path.c_str(), opts.node_mode);
  node.fifo = ::open(node.path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (node.fifo < 0) throw std::runtime_error("cannot open FIFO " + node.path + ": " + std::strerror(errno));
  ::fcntl(node.fifo, F_SETPIPE_SZ, 4096);
  nodes[devnode] = node;
  fill(nodes[devnode]);
}

void UmockdevBus::Impl::add_device() {
  std::unique_lock lock(mutex);
  if (!board.attached()) return;
  auto id = board.identity();
  Bytes descriptors = board.descriptors();
  auto alts = board.alt_settings();
  char devnode[40], busnum[8], devnum[8];
  std::snprintf(devnode, sizeof devnode, "/dev/bus/usb/%03u/%03u", id.bus, id.address);
  std::snprintf(busnum, sizeof busnum, "%03u", id.bus);
  std::snprintf(devnum, sizeof devnum, "%03u", id.address);
  add_node(devnode);
  current = devnode;
  lock.unlock();

  GError* err = nullptr;
  if (!umockdev_testbed_attach_ioctl(testbed, devnode, handler, &err)) {
    std::string msg = err ? err->message : "unknown error";
    if (err) g_error_free(err);
    throw std::runtime_error("umockdev: cannot attach the ioctl handler: " + msg);
  }
  open_socket_to_all(devnode);
  char product_env[32];
  std::snprintf(product_env, sizeof product_env, "%x/%x/200", id.vendor_id, id.product_id);
  char ids[16];
  std::snprintf(ids, sizeof ids, "%04x", id.vendor_id);
  std::string vid = ids;
  std::snprintf(ids, sizeof ids, "%04x", id.product_id);
  std::string pid = ids;
  std::string s = std::string("P: /devices/usb1/1-1\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n") +
                  "E: DEVNAME=" + devnode + "\nE: BUSNUM=" + busnum + "\nE: DEVNUM=" + devnum +
                  "\nE: PRODUCT=" + product_env + "\nE: TYPE=0/0/0\n" +
                  "A: idVendor=" + escape_attr(vid) + "\nA: idProduct=" + escape_attr(pid) +
                  "\nA: bcdDevice=0200\\n\nA: busnum=" + std::to_string(id.bus) + "\\n\nA: devnum=" +
                  std::to_string(id.address) + "\\n\nA: speed=" + (id.speed == "full" ? "12" : "480") +
                  "\\n\nA: bConfigurationValue=1\\n\nA: bNumConfigurations=1\\n\nA: bNumInterfaces= 1\\n\n"
                  "A: bDeviceClass=00\\n\nA: bMaxPacketSize0=64\\n\nA: version= 2.00\\n\nA: maxchild=0\\n\n"
                  "A: manufacturer=" + escape_attr(id.manufacturer) + "\nA: product=" + escape_attr(id.product) +
                  "\nA: serial=" + escape_attr(id.serial) + "\nH: descriptors=" + hex_upper(descriptors) +
                  "\n\nP: /devices/usb1/1-1/1-1:1.0\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\n"
                  "E: INTERFACE=254/1/2\nE: PRODUCT=" + product_env + "\nE: TYPE=0/0/0\n"
                  "A: bInterfaceClass=fe\\n\nA: bInterfaceSubClass=01\\n\nA: bInterfaceProtocol=02\\n\n"
                  "A: bInterfaceNumber=00\\n\nA: bAlternateSetting= 0\\n\nA: bNumEndpoints=00\\n\n"
                  "A: interface=" + escape_attr(alts.empty() ? std::string() : alts[0].name) + "\n";
  add_from_string(s);
  if (opts.verbose)
    std::fprintf(stderr, "usbsim: enumerated %s: %s (%s)\n", devnode, id.product.c_str(), board.stage().c_str());
}

void UmockdevBus::Impl::remove_device(const std::string& devnode) {
  umockdev_testbed_uevent(testbed, interface_syspath, "remove");
  umockdev_testbed_uevent(testbed, device_syspath, "remove");
  GError* err = nullptr;
  if (!umockdev_testbed_detach_ioctl(testbed, devnode.c_str(), &err) && err) g_error_free(err);
  // The interface first: remove_device() drops only the given device's /sys/bus symlink.
  umockdev_testbed_remove_device(testbed, interface_syspath);
  umockdev_testbed_remove_device(testbed, device_syspath);
  std::lock_guard lock(mutex);
  auto it = nodes.find(devnode);
  if (it != nodes.end()) {
    // Wake every client still polling the old node: its next reap answers ENODEV.
    drain(it->second);
    ::close(it->second.fifo);
    ::unlink(it->second.path.c_str());
    nodes.erase(it);
  }
  if (opts.verbose) std::fprintf(stderr, "usbsim: %s left the bus\n", devnode.c_str());
}

void UmockdevBus::Impl::on_board_left() {
  std::string old;
  std::optional<std::chrono::microseconds> delay;
  {
    std::lock_guard lock(mutex);
    leave_posted = false;
    old = std::exchange(current, std::string());
    delay = board.pending_reattach();
  }
  if (!old.empty()) remove_device(old);
  if (delay) {
    auto ms = static_cast<guint>((delay->count() + 999) / 1000);
    g_timeout_add(ms, &Impl::reattach_cb, this);
  }
}

gboolean UmockdevBus::Impl::left_cb(gpointer self) {
  static_cast<Impl*>(self)->on_board_left();
  return G_SOURCE_REMOVE;
}

gboolean UmockdevBus::Impl::reattach_cb(gpointer self) {
  auto* impl = static_cast<Impl*>(self);
  bool added;
  {
    std::lock_guard lock(impl->mutex);
    added = impl->board.reattach();
  }
  if (added) impl->add_device();
  return G_SOURCE_REMOVE;
}

UmockdevBus::UmockdevBus(sim::UsbBoardOptions board_options, BusOptions options)
    : impl_(std::make_unique<Impl>(std::move(board_options), options)) {
  impl_->testbed = umockdev_testbed_new();
  gchar* root = umockdev_testbed_get_root_dir(impl_->testbed);
  impl_->root = root;
  g_free(root);
  // Other users need to read sysfs and bind their udev monitor socket ($UMOCKDEV_DIR/event*).
  if (options.node_mode != 0666) ::chmod(impl_->root.c_str(), 01777);
  impl_->handler = umockdev_ioctl_base_new();
  g_signal_connect(impl_->handler, "handle-ioctl", G_CALLBACK(&Impl::on_ioctl), nullptr);
  g_signal_connect(impl_->handler, "handle-read", G_CALLBACK(&Impl::on_read), nullptr);
  {
    std::lock_guard g(g_handler_mutex);
    g_bus = impl_.get();
  }
  impl_->add_hub();
  impl_->add_device();
}

UmockdevBus::~UmockdevBus() {
  {
    std::lock_guard g(g_handler_mutex);
    g_bus = nullptr;
  }
  {
    std::lock_guard lock(impl_->mutex);
    for (auto& [devnode, node] : impl_->nodes)
      if (node.fifo >= 0) ::close(node.fifo);
    impl_->nodes.clear();
  }
  // Removes $UMOCKDEV_DIR and stops umockdev's worker loop. The handler object stays alive until
  // exit: client objects on the worker thread may still reference it.
  g_object_unref(impl_->testbed);
}

std::string UmockdevBus::root_dir() const { return impl_->root; }

void UmockdevBus::power_cycle() {
  std::string old;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->board.power_cycle();
    old = std::exchange(impl_->current, std::string());
  }
  if (!old.empty()) impl_->remove_device(old);
  impl_->add_device();
}

void UmockdevBus::unplug() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->board.unplug();
  }
  impl_->on_board_left();
}

std::string UmockdevBus::status() {
  std::lock_guard lock(impl_->mutex);
  auto& b = impl_->board;
  return "stage " + b.stage() + " generation " + std::to_string(b.generation()) +
         (b.attached() ? " attached devnum " + std::to_string(b.identity().address) : std::string(" detached"));
}

void UmockdevBus::write_records() {
  std::lock_guard lock(impl_->mutex);
  impl_->board.write_records();
}

}  // namespace mp1boot::usbsim
