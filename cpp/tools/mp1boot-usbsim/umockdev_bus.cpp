// SPDX-License-Identifier: MIT
// UmockdevBus: the testbed, the sysfs tree (root hub usb1, device 1-N, interface 1-N:1.0), FIFO
// device nodes and re-enumeration, on the main thread. The usbdevfs ioctls are in usbdevfs.cpp;
// pitfalls and the list of ioctls are in spec/USB-EMULATION.md.
#include "umockdev_bus.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
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

// udev's encoding of strings in ID_VENDOR/ID_MODEL/ID_SERIAL: blanks become '_', and so does
// every character outside its safe set.
std::string udev_safe(const std::string& v) {
  std::string out;
  for (char c : v) {
    bool keep = c && (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("#+-.:=@_", c));
    out += keep ? c : '_';
  }
  return out;
}

// The properties udev's rules (usb_id, path_id) give a USB device and its interface on a real
// host; under umockdev no rules run, so the bus writes them itself. labgrid's exporter matches on
// them (DFUDevice: ":fe0102:" in ID_USB_INTERFACES; ID_PATH follows the port across stages).
std::string udev_properties(const usb::Identity& id, const std::string& vid, const std::string& pid,
                            unsigned port, bool interface) {
  std::string path = "platform-mp1boot-usbsim-usb-0:" + std::to_string(port) + (interface ? ":1.0" : "");
  std::string tag;
  for (char c : path) tag += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  std::string vendor = udev_safe(id.manufacturer), model = udev_safe(id.product), serial = udev_safe(id.serial);
  std::string s = "E: ID_BUS=usb\nE: ID_VENDOR_ID=" + vid + "\nE: ID_MODEL_ID=" + pid + "\nE: ID_REVISION=0200\n" +
                  "E: ID_VENDOR=" + vendor + "\nE: ID_MODEL=" + model + "\nE: ID_SERIAL_SHORT=" + serial +
                  "\nE: ID_SERIAL=" + vendor + "_" + model + "_" + serial + "\nE: ID_USB_INTERFACES=:fe0102:\n" +
                  "E: ID_PATH=" + path + "\nE: ID_PATH_TAG=" + tag + "\n";
  if (interface) s += "E: ID_USB_INTERFACE_NUM=00\nE: ID_USB_DRIVER=usbfs\n";
  return s;
}

}  // namespace

Bytes UmockdevBus::Impl::hub_descriptors() {
  return from_hex("12 01 00 02 09 00 01 40 6b 1d 02 00 00 01 00 00 00 01 "
                  "09 02 19 00 01 01 00 e0 00 09 04 00 00 01 09 00 00 00 07 05 81 03 04 00 0c");
}

sim::UsbBoard::Reply UmockdevBus::Impl::hub_control(const usb::SetupPacket& s, std::uint16_t in_length) {
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
      "A: bConfigurationValue=1\\n\nA: bDeviceClass=09\\n\nA: maxchild=" + std::to_string(slots.size()) +
      "\\n\nA: product=mp1boot simulated root hub\\n\nH: descriptors=" +
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

Slot* UmockdevBus::Impl::slot_of(const std::string& devnode) {
  auto it = owner.find(devnode);
  return it == owner.end() ? nullptr : it->second;
}

void UmockdevBus::Impl::add_device(Slot& slot) {
  std::unique_lock lock(mutex);
  auto& board = slot.board;
  if (!board.attached()) return;
  auto id = board.identity();
  // The bus, not the board, numbers devices: boards share it. With one board this is the
  // board's own 2 + generation.
  id.address = static_cast<std::uint8_t>(next_address);
  next_address = next_address >= 127 ? 2 : next_address + 1;
  Bytes descriptors = board.descriptors();
  auto alts = board.alt_settings();
  char devnode[40], busnum[8], devnum[8];
  std::snprintf(devnode, sizeof devnode, "/dev/bus/usb/%03u/%03u", id.bus, id.address);
  std::snprintf(busnum, sizeof busnum, "%03u", id.bus);
  std::snprintf(devnum, sizeof devnum, "%03u", id.address);
  add_node(devnode);
  slot.current = devnode;
  owner[devnode] = &slot;
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
  std::string s = "P: " + device_syspath(slot.port, false) + "\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n" +
                  "E: DEVNAME=" + devnode + "\nE: BUSNUM=" + busnum + "\nE: DEVNUM=" + devnum +
                  "\nE: PRODUCT=" + product_env + "\nE: TYPE=0/0/0\n" + udev_properties(id, vid, pid, slot.port, false) +
                  "A: idVendor=" + escape_attr(vid) + "\nA: idProduct=" + escape_attr(pid) +
                  "\nA: bcdDevice=0200\\n\nA: busnum=" + std::to_string(id.bus) + "\\n\nA: devnum=" +
                  std::to_string(id.address) + "\\n\nA: speed=" + (id.speed == "full" ? "12" : "480") +
                  "\\n\nA: bConfigurationValue=1\\n\nA: bNumConfigurations=1\\n\nA: bNumInterfaces= 1\\n\n"
                  "A: bDeviceClass=00\\n\nA: bMaxPacketSize0=64\\n\nA: version= 2.00\\n\nA: maxchild=0\\n\n"
                  "A: manufacturer=" + escape_attr(id.manufacturer) + "\nA: product=" + escape_attr(id.product) +
                  "\nA: serial=" + escape_attr(id.serial) + "\nH: descriptors=" + hex_upper(descriptors) +
                  "\n\nP: " + interface_syspath(slot.port, false) + "\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\n"
                  "E: INTERFACE=254/1/2\nE: PRODUCT=" + product_env + "\nE: TYPE=0/0/0\n" +
                  udev_properties(id, vid, pid, slot.port, true) +
                  "A: bInterfaceClass=fe\\n\nA: bInterfaceSubClass=01\\n\nA: bInterfaceProtocol=02\\n\n"
                  "A: bInterfaceNumber=00\\n\nA: bAlternateSetting= 0\\n\nA: bNumEndpoints=00\\n\n"
                  "A: interface=" + escape_attr(alts.empty() ? std::string() : alts[0].name) + "\n";
  add_from_string(s);
  if (opts.verbose)
    std::fprintf(stderr, "usbsim: enumerated %s on 1-%u: %s (%s)\n", devnode, slot.port, id.product.c_str(),
                 board.stage().c_str());
}

void UmockdevBus::Impl::remove_device(Slot& slot, const std::string& devnode) {
  std::string dev = device_syspath(slot.port), intf = interface_syspath(slot.port);
  umockdev_testbed_uevent(testbed, intf.c_str(), "remove");
  umockdev_testbed_uevent(testbed, dev.c_str(), "remove");
  GError* err = nullptr;
  if (!umockdev_testbed_detach_ioctl(testbed, devnode.c_str(), &err) && err) g_error_free(err);
  // The interface first: remove_device() drops only the given device's /sys/bus symlink.
  umockdev_testbed_remove_device(testbed, intf.c_str());
  umockdev_testbed_remove_device(testbed, dev.c_str());
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

void UmockdevBus::Impl::on_board_left(Slot& slot) {
  std::string old;
  std::optional<std::chrono::microseconds> delay;
  {
    std::lock_guard lock(mutex);
    slot.leave_posted = false;
    old = std::exchange(slot.current, std::string());
    delay = slot.board.pending_reattach();
  }
  if (!old.empty()) remove_device(slot, old);
  if (delay) {
    auto ms = static_cast<guint>((delay->count() + 999) / 1000);
    g_timeout_add(ms, &Impl::reattach_cb, &slot);
  }
}

gboolean UmockdevBus::Impl::left_cb(gpointer slot) {
  auto* s = static_cast<Slot*>(slot);
  s->bus->on_board_left(*s);
  return G_SOURCE_REMOVE;
}

gboolean UmockdevBus::Impl::reattach_cb(gpointer slot) {
  auto* s = static_cast<Slot*>(slot);
  bool added;
  {
    std::lock_guard lock(s->bus->mutex);
    added = s->board.reattach();
  }
  if (added) s->bus->add_device(*s);
  return G_SOURCE_REMOVE;
}

UmockdevBus::UmockdevBus(sim::UsbBoardOptions board_options, BusOptions options)
    : UmockdevBus(std::vector<sim::UsbBoardOptions>{std::move(board_options)}, options) {}

UmockdevBus::UmockdevBus(std::vector<sim::UsbBoardOptions> boards, BusOptions options)
    : impl_(boards.empty() ? throw std::runtime_error("mp1boot-usbsim: no board to serve")
                           : std::make_unique<Impl>(std::move(boards), options)) {
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
  for (auto& slot : impl_->slots) impl_->add_device(*slot);
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
  for (auto& slot : impl_->slots) {
    std::string old;
    {
      std::lock_guard lock(impl_->mutex);
      slot->board.power_cycle();
      old = std::exchange(slot->current, std::string());
    }
    if (!old.empty()) impl_->remove_device(*slot, old);
    impl_->add_device(*slot);
  }
}

void UmockdevBus::unplug() {
  for (auto& slot : impl_->slots) {
    {
      std::lock_guard lock(impl_->mutex);
      slot->board.unplug();
    }
    impl_->on_board_left(*slot);
  }
}

std::string UmockdevBus::status() {
  std::lock_guard lock(impl_->mutex);
  std::string out;
  for (auto& slot : impl_->slots) {
    auto& b = slot->board;
    if (!out.empty()) out += "\n";
    if (impl_->slots.size() > 1) out += "1-" + std::to_string(slot->port) + " " + b.options().serial + ": ";
    const auto& cur = slot->current;
    out += "stage " + b.stage() + " generation " + std::to_string(b.generation()) +
           (b.attached() && !cur.empty() ? " attached devnum " + std::to_string(std::stoi(cur.substr(cur.size() - 3)))
                                         : std::string(" detached"));
  }
  return out;
}

void UmockdevBus::write_records() {
  std::lock_guard lock(impl_->mutex);
  for (auto& slot : impl_->slots) slot->board.write_records();
}

}  // namespace mp1boot::usbsim
