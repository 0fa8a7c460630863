// SPDX-License-Identifier: MIT
// Internal to mp1boot-usbsim: the state of UmockdevBus shared by umockdev_bus.cpp (testbed, sysfs,
// device nodes, re-enumeration; main thread) and usbdevfs.cpp (ioctl emulation; umockdev's worker
// thread). The boards (Slot), the node table and the devnode owners are guarded by `mutex`;
// client state and claims are touched by the worker thread only.
#pragma once
#include <gio/gio.h>
#include <glib.h>
#include <umockdev.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "umockdev_bus.hpp"

namespace mp1boot::usbsim {

inline constexpr const char* hub_devnode = "/dev/bus/usb/001/001";

/// "/sys/devices/usb1/1-N" without the "/sys" prefix (umockdev's "P:" lines) when `sys` is false.
inline std::string device_syspath(unsigned port, bool sys = true) {
  return std::string(sys ? "/sys" : "") + "/devices/usb1/1-" + std::to_string(port);
}
inline std::string interface_syspath(unsigned port, bool sys = true) {
  return device_syspath(port, sys) + "/1-" + std::to_string(port) + ":1.0";
}

// One URB the client submitted and has not reaped yet. Results are written into `data` (and its
// resolved buffer) at submit time; the URB becomes reapable at `ready_at`.
struct Urb {
  UMockdevIoctlData* data;  // owned reference
  gint64 ready_at;          // g_get_monotonic_time(), microseconds
};

struct Client {
  std::string devnode;
  std::deque<Urb> urbs;
  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() {
    for (auto& u : urbs) g_object_unref(u.data);
  }
};

struct Node {
  std::string path;  // $UMOCKDEV_DIR/dev/bus/usb/001/NNN (a FIFO)
  int fifo = -1;
  bool full = false;
};

// One board on root hub port 1-`port`. Guarded by Impl::mutex.
struct Slot {
  Slot(UmockdevBus::Impl* b, unsigned p, sim::UsbBoardOptions o) : bus(b), port(p), board(std::move(o)) {}
  UmockdevBus::Impl* bus;
  unsigned port;
  sim::UsbBoard board;
  std::string current;  // devnode of this board's enumeration on the bus, "" when none
  bool leave_posted = false;
};

// Handlers run on umockdev's worker thread and may outlive the bus object at shutdown: they
// take this lock and check `g_bus` first.
extern std::recursive_mutex g_handler_mutex;
extern UmockdevBus::Impl* g_bus;

struct UmockdevBus::Impl {
  Impl(std::vector<sim::UsbBoardOptions> boards, BusOptions o) : opts(o) {
    for (auto& b : boards) slots.push_back(std::make_unique<Slot>(this, static_cast<unsigned>(slots.size() + 1), std::move(b)));
  }

  std::vector<std::unique_ptr<Slot>> slots;
  BusOptions opts;
  UMockdevTestbed* testbed = nullptr;
  UMockdevIoctlBase* handler = nullptr;
  std::string root;
  std::mutex mutex;                   // slots, nodes, owner, next_address (worker and main thread)
  std::map<std::string, Node> nodes;  // by devnode
  std::map<std::string, Slot*> owner;  // board of every devnode handed out (kept after removal)
  unsigned next_address = 2;          // devnum of the next enumeration (1 is the hub)
  std::set<Client*> clients;          // worker thread only
  std::map<std::string, Client*> claim_owner;  // interface 0 claims, worker thread only

  // A root hub, so that libusb finds a parent and reports the port path "1-1". It has a node
  // (libusb 1.0.26 crashes in libusb_exit after an open that failed with ENOENT) that answers
  // GET_DESCRIPTOR for its device and configuration descriptors and stalls everything else.
  static Bytes hub_descriptors();
  static sim::UsbBoard::Reply hub_control(const usb::SetupPacket& s, std::uint16_t in_length);

  void add_hub();
  void add_from_string(const std::string& s);

  // With node_mode != 0666 other users must still reach the ioctl socket: the preload connects
  // to it even when opening the node failed, and exits when it cannot.
  void open_socket_to_all(const std::string& devnode);

  // Creates the FIFO device node, kept full (not writable) while idle so that clients' poll()
  // sleeps (USB-EMULATION.md: plain-file nodes make idle libusb event loops spin).
  void add_node(const std::string& devnode);

  // Adds the board's current enumeration: FIFO node, ioctl handler, sysfs device + interface.
  void add_device(Slot& slot);

  // Removes the enumeration `devnode` of `slot` from the bus (the board already left it).
  void remove_device(Slot& slot, const std::string& devnode);

  // The board left the bus: remove it, and schedule the next enumeration when one is pending.
  void on_board_left(Slot& slot);

  static gboolean left_cb(gpointer slot);
  static gboolean reattach_cb(gpointer slot);

  // The board that owns `devnode` (nullptr for the hub and unknown nodes). Caller holds `mutex`.
  Slot* slot_of(const std::string& devnode);

  // FIFO readiness (worker thread; the mutex is taken inside)
  void fill(Node& n);
  void drain(Node& n);
  // Writable (drained) exactly when some client of `devnode` has a URB ready to reap.
  void update_fifo(const std::string& devnode);

  // usbdevfs emulation (worker thread), in usbdevfs.cpp
  Client* client_state(UMockdevIoctlClient* client);

  static void forget(Client* c);
  static void destroy_client(gpointer p);
  static void client_closed(GObject* obj, GParamSpec*, gpointer);

  bool present(const std::string& devnode);

  sim::UsbBoard::Reply control(const std::string& devnode, const usb::SetupPacket& s, ByteView out,
                               std::uint16_t in_length);

  static int errno_of(sim::UsbBoard::Reply::Kind k);

  UMockdevIoctlData* resolve(UMockdevIoctlData* d, std::size_t offset, std::size_t len);

  void submit_urb(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg);

  static gboolean urb_ready_cb(gpointer p);

  void reap_urb(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg);

  void discard_urb(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg);

  void sync_control(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg);

  // Runs a standard OUT request through the board; 0 or -1 with `stall_errno` / ENODEV.
  void std_out(UMockdevIoctlClient* client, Client* c, usb::SetupPacket s, int stall_errno);

  unsigned read_uint(UMockdevIoctlData* arg, bool& ok);

  void claim(UMockdevIoctlClient* client, Client* c, unsigned ifno);

  void handle_ioctl(UMockdevIoctlClient* client);

  // read() on the node returns the descriptors, as usbfs does.
  void handle_read(UMockdevIoctlClient* client);

  static gboolean on_ioctl(UMockdevIoctlBase*, UMockdevIoctlClient* client, gpointer);
  static gboolean on_read(UMockdevIoctlBase*, UMockdevIoctlClient* client, gpointer);
};

}  // namespace mp1boot::usbsim
