// SPDX-License-Identifier: MIT
// usbdevfs emulation for UmockdevBus, on umockdev's worker thread: SUBMITURB/REAPURB(NDELAY)/
// DISCARDURB for control URBs, CONTROL, CLAIM/RELEASE/DISCONNECT_CLAIM, SETINTERFACE,
// SETCONFIGURATION, CONNECTINFO, GET_SPEED, GET_CAPABILITIES, RESET and the no-op ones, each
// answered the way the kernel would (reaping allowed after a disconnect, EBUSY for a second
// claim, EINVAL for an unknown alternate setting, ENODEV once the device left), plus read() of
// the descriptors and the FIFO readiness that wakes libusb's poll().
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

#include "umockdev_bus_impl.hpp"

namespace mp1boot::usbsim {

std::recursive_mutex g_handler_mutex;
UmockdevBus::Impl* g_bus = nullptr;

namespace {

constexpr int usb_speed_full = 2, usb_speed_high = 3;  // enum usb_device_speed

void complete(UMockdevIoctlClient* client, long result, int err) {
  umockdev_ioctl_client_complete(client, result, err);
}

}  // namespace

void UmockdevBus::Impl::fill(Node& n) {
  if (n.full || n.fifo < 0) return;
  char page[4096] = {};
  while (::write(n.fifo, page, sizeof page) > 0) {
  }
  n.full = true;
}

void UmockdevBus::Impl::drain(Node& n) {
  if (!n.full || n.fifo < 0) return;
  char page[4096];
  while (::read(n.fifo, page, sizeof page) > 0) {
  }
  n.full = false;
}

void UmockdevBus::Impl::update_fifo(const std::string& devnode) {
  gint64 now = g_get_monotonic_time();
  bool ready = false;
  for (Client* c : clients)
    if (c->devnode == devnode)
      for (const auto& u : c->urbs) ready = ready || u.ready_at <= now;
  std::lock_guard lock(mutex);
  auto it = nodes.find(devnode);
  if (it == nodes.end()) return;
  if (ready) drain(it->second);
  else fill(it->second);
}

Client* UmockdevBus::Impl::client_state(UMockdevIoctlClient* client) {
  auto* c = static_cast<Client*>(g_object_get_data(G_OBJECT(client), "mp1boot-client"));
  if (c) return c;
  c = new Client;
  c->devnode = umockdev_ioctl_client_get_devnode(client);
  clients.insert(c);
  g_object_set_data_full(G_OBJECT(client), "mp1boot-client", c, &Impl::destroy_client);
  g_signal_connect(client, "notify::connected", G_CALLBACK(&Impl::client_closed), nullptr);
  return c;
}

void UmockdevBus::Impl::forget(Client* c) {
  std::lock_guard g(g_handler_mutex);
  if (!g_bus) return;
  g_bus->clients.erase(c);
  for (auto it = g_bus->claim_owner.begin(); it != g_bus->claim_owner.end();)
    it = it->second == c ? g_bus->claim_owner.erase(it) : std::next(it);
}

void UmockdevBus::Impl::destroy_client(gpointer p) {
  auto* c = static_cast<Client*>(p);
  forget(c);
  delete c;
}

void UmockdevBus::Impl::client_closed(GObject* obj, GParamSpec*, gpointer) {
  auto* client = UMOCKDEV_IOCTL_CLIENT(obj);
  if (umockdev_ioctl_client_get_connected(client)) return;
  auto* c = static_cast<Client*>(g_object_get_data(obj, "mp1boot-client"));
  if (!c) return;
  std::lock_guard g(g_handler_mutex);
  if (!g_bus) return;
  for (auto it = g_bus->claim_owner.begin(); it != g_bus->claim_owner.end();)
    it = it->second == c ? g_bus->claim_owner.erase(it) : std::next(it);
}

bool UmockdevBus::Impl::present(const std::string& devnode) {
  if (devnode == hub_devnode) return true;
  std::lock_guard lock(mutex);
  Slot* slot = slot_of(devnode);
  return slot && devnode == slot->current && slot->board.attached();
}

sim::UsbBoard::Reply UmockdevBus::Impl::control(const std::string& devnode, const usb::SetupPacket& s, ByteView out,
                             std::uint16_t in_length) {
  if (devnode == hub_devnode) return hub_control(s, in_length);
  sim::UsbBoard::Reply r;
  bool left = false;
  Slot* slot = nullptr;
  {
    std::lock_guard lock(mutex);
    slot = slot_of(devnode);
    if (!slot || devnode != slot->current) {
      r.kind = sim::UsbBoard::Reply::Kind::disconnected;
      return r;
    }
    auto& board = slot->board;
    r = board.control(s, out, in_length);
    if (!board.attached() && !slot->leave_posted) left = slot->leave_posted = true;
    if (opts.verbose)
      std::fprintf(stderr, "usbsim: 1-%u %s %02x %02x %04x %04x len %u -> %s%s%s\n", slot->port, board.stage().c_str(),
                   s.request_type, s.request, s.value, s.index,
                   static_cast<unsigned>((s.request_type & 0x80) ? in_length : out.size()),
                   r.kind == sim::UsbBoard::Reply::Kind::ok      ? "ok"
                   : r.kind == sim::UsbBoard::Reply::Kind::stall ? "stall"
                                                                 : "disconnected",
                   r.data.empty() ? "" : " ", r.data.empty() ? "" : to_hex(r.data).c_str());
  }
  // Testbed changes belong on the main thread (the default GMainContext).
  if (left) g_idle_add(&Impl::left_cb, slot);
  return r;
}

int UmockdevBus::Impl::errno_of(sim::UsbBoard::Reply::Kind k) {
  return k == sim::UsbBoard::Reply::Kind::stall ? EPIPE : ENODEV;
}

UMockdevIoctlData* UmockdevBus::Impl::resolve(UMockdevIoctlData* d, std::size_t offset, std::size_t len) {
  GError* err = nullptr;
  auto* r = umockdev_ioctl_data_resolve(d, offset, len, &err);
  if (err) g_error_free(err);
  return r;
}

void UmockdevBus::Impl::submit_urb(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg) {
  auto* urb_d = resolve(arg, 0, sizeof(usbdevfs_urb));
  if (!urb_d) return complete(client, -1, EFAULT);
  auto* urb = reinterpret_cast<usbdevfs_urb*>(urb_d->data);
  if (urb->type != USBDEVFS_URB_TYPE_CONTROL || (urb->endpoint & 0x7F) != 0 || urb->buffer_length < 8) {
    g_object_unref(urb_d);
    return complete(client, -1, urb->type != USBDEVFS_URB_TYPE_CONTROL ? ENOENT : EINVAL);
  }
  auto* buf_d = resolve(urb_d, offsetof(usbdevfs_urb, buffer), static_cast<std::size_t>(urb->buffer_length));
  if (!buf_d) {
    g_object_unref(urb_d);
    return complete(client, -1, EFAULT);
  }
  std::uint8_t* buf = buf_d->data;
  usb::SetupPacket s{buf[0], buf[1], load_le16(buf + 2), load_le16(buf + 4)};
  std::uint16_t wlength = load_le16(buf + 6);
  if (8 + wlength > urb->buffer_length) {
    g_object_unref(buf_d);
    g_object_unref(urb_d);
    return complete(client, -1, EINVAL);
  }
  bool in = (s.request_type & 0x80) != 0;
  auto r = control(c->devnode, s, in ? ByteView{} : ByteView(buf + 8, wlength), in ? wlength : 0);
  urb->status = r.kind == sim::UsbBoard::Reply::Kind::ok ? 0 : -errno_of(r.kind);
  urb->actual_length = r.kind != sim::UsbBoard::Reply::Kind::ok ? 0 : in ? static_cast<int>(r.data.size()) : wlength;
  if (in && !r.data.empty()) std::memcpy(buf + 8, r.data.data(), r.data.size());
  g_object_unref(buf_d);  // still a child of urb_d: flushed with it
  gint64 ready_at = g_get_monotonic_time() + static_cast<gint64>(r.busy.count());
  c->urbs.push_back(Urb{urb_d, ready_at});
  complete(client, 0, 0);
  update_fifo(c->devnode);
  if (r.busy.count() > 0) {
    auto ms = static_cast<guint>((r.busy.count() + 999) / 1000);
    GSource* t = g_timeout_source_new(ms);
    auto* node = new std::string(c->devnode);
    g_source_set_callback(t, &Impl::urb_ready_cb, node, [](gpointer p) { delete static_cast<std::string*>(p); });
    g_source_attach(t, g_main_context_get_thread_default());
    g_source_unref(t);
  }
}

gboolean UmockdevBus::Impl::urb_ready_cb(gpointer p) {
  std::lock_guard g(g_handler_mutex);
  if (g_bus) g_bus->update_fifo(*static_cast<std::string*>(p));
  return G_SOURCE_REMOVE;
}

void UmockdevBus::Impl::reap_urb(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg) {
  gint64 now = g_get_monotonic_time();
  auto it = c->urbs.begin();
  while (it != c->urbs.end() && it->ready_at > now) ++it;
  if (it == c->urbs.end()) return complete(client, -1, present(c->devnode) ? EAGAIN : ENODEV);
  Urb u = *it;
  c->urbs.erase(it);
  auto* ptr_d = resolve(arg, 0, sizeof(void*));
  if (!ptr_d) {
    g_object_unref(u.data);
    return complete(client, -1, EFAULT);
  }
  umockdev_ioctl_data_set_ptr(ptr_d, 0, u.data);  // *arg = the URB's address in the client
  g_object_unref(ptr_d);
  g_object_unref(u.data);
  complete(client, 0, 0);
  update_fifo(c->devnode);
}

void UmockdevBus::Impl::discard_urb(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg) {
  gulong addr = *reinterpret_cast<gulong*>(arg->data);
  gint64 now = g_get_monotonic_time();
  for (auto& u : c->urbs) {
    if (u.data->client_addr != addr || u.ready_at <= now) continue;
    auto* urb = reinterpret_cast<usbdevfs_urb*>(u.data->data);
    urb->status = -ENOENT;
    urb->actual_length = 0;
    u.ready_at = now;
    complete(client, 0, 0);
    return update_fifo(c->devnode);
  }
  complete(client, -1, EINVAL);  // already complete: the caller reaps it normally
}

void UmockdevBus::Impl::sync_control(UMockdevIoctlClient* client, Client* c, UMockdevIoctlData* arg) {
  auto* ct_d = resolve(arg, 0, sizeof(usbdevfs_ctrltransfer));
  if (!ct_d) return complete(client, -1, EFAULT);
  auto* ct = reinterpret_cast<usbdevfs_ctrltransfer*>(ct_d->data);
  UMockdevIoctlData* data_d = ct->wLength ? resolve(ct_d, offsetof(usbdevfs_ctrltransfer, data), ct->wLength) : nullptr;
  usb::SetupPacket s{ct->bRequestType, ct->bRequest, ct->wValue, ct->wIndex};
  bool in = (s.request_type & 0x80) != 0;
  ByteView out = (!in && data_d) ? ByteView(data_d->data, ct->wLength) : ByteView{};
  auto r = control(c->devnode, s, out, in ? ct->wLength : 0);
  long result = -1;
  int err = 0;
  if (r.kind == sim::UsbBoard::Reply::Kind::ok) {
    if (in && data_d && !r.data.empty()) std::memcpy(data_d->data, r.data.data(), r.data.size());
    result = in ? static_cast<long>(r.data.size()) : ct->wLength;
  } else {
    err = errno_of(r.kind);
  }
  if (data_d) g_object_unref(data_d);
  g_object_unref(ct_d);
  complete(client, result, err);
}

void UmockdevBus::Impl::std_out(UMockdevIoctlClient* client, Client* c, usb::SetupPacket s, int stall_errno) {
  auto r = control(c->devnode, s, {}, 0);
  if (r.kind == sim::UsbBoard::Reply::Kind::ok) return complete(client, 0, 0);
  complete(client, -1, r.kind == sim::UsbBoard::Reply::Kind::stall ? stall_errno : ENODEV);
}

unsigned UmockdevBus::Impl::read_uint(UMockdevIoctlData* arg, bool& ok) {
  auto* d = resolve(arg, 0, sizeof(unsigned));
  ok = d != nullptr;
  unsigned v = ok ? *reinterpret_cast<unsigned*>(d->data) : 0;
  if (d) g_object_unref(d);
  return v;
}

void UmockdevBus::Impl::claim(UMockdevIoctlClient* client, Client* c, unsigned ifno) {
  if (ifno != 0) return complete(client, -1, ENOENT);
  auto it = claim_owner.find(c->devnode);
  if (it != claim_owner.end() && it->second != c) return complete(client, -1, EBUSY);
  claim_owner[c->devnode] = c;
  complete(client, 0, 0);
}

void UmockdevBus::Impl::handle_ioctl(UMockdevIoctlClient* client) {
  Client* c = client_state(client);
  auto request = static_cast<unsigned int>(umockdev_ioctl_client_get_request(client));
  UMockdevIoctlData* arg = umockdev_ioctl_client_get_arg(client);
  // The kernel allows reaping after a disconnect; everything else answers ENODEV.
  if (request == USBDEVFS_REAPURB || request == USBDEVFS_REAPURBNDELAY) return reap_urb(client, c, arg);
  if (!present(c->devnode)) return complete(client, -1, ENODEV);
  bool ok = true;
  switch (request) {
    case USBDEVFS_SUBMITURB: return submit_urb(client, c, arg);
    case USBDEVFS_DISCARDURB: return discard_urb(client, c, arg);
    case USBDEVFS_CONTROL: return sync_control(client, c, arg);
    case USBDEVFS_GET_CAPABILITIES: {
      auto* d = resolve(arg, 0, sizeof(std::uint32_t));
      if (!d) return complete(client, -1, EFAULT);
      *reinterpret_cast<std::uint32_t*>(d->data) =
          USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
      g_object_unref(d);
      return complete(client, 0, 0);
    }
    case USBDEVFS_CLAIMINTERFACE: {
      unsigned ifno = read_uint(arg, ok);
      return ok ? claim(client, c, ifno) : complete(client, -1, EFAULT);
    }
    case USBDEVFS_DISCONNECT_CLAIM: {
      auto* d = resolve(arg, 0, sizeof(usbdevfs_disconnect_claim));
      if (!d) return complete(client, -1, EFAULT);
      unsigned ifno = reinterpret_cast<usbdevfs_disconnect_claim*>(d->data)->interface;
      g_object_unref(d);
      return claim(client, c, ifno);
    }
    case USBDEVFS_RELEASEINTERFACE: {
      unsigned ifno = read_uint(arg, ok);
      auto it = claim_owner.find(c->devnode);
      if (!ok || ifno != 0 || it == claim_owner.end() || it->second != c) return complete(client, -1, EINVAL);
      claim_owner.erase(it);
      return complete(client, 0, 0);
    }
    case USBDEVFS_SETINTERFACE: {
      auto* d = resolve(arg, 0, sizeof(usbdevfs_setinterface));
      if (!d) return complete(client, -1, EFAULT);
      auto si = *reinterpret_cast<usbdevfs_setinterface*>(d->data);
      g_object_unref(d);
      return std_out(client, c,
                     usb::SetupPacket{0x01, 11, static_cast<std::uint16_t>(si.altsetting),
                                            static_cast<std::uint16_t>(si.interface)},
                     EINVAL);
    }
    case USBDEVFS_SETCONFIGURATION: {
      unsigned cfg = read_uint(arg, ok);
      if (!ok) return complete(client, -1, EFAULT);
      return std_out(client, c, usb::SetupPacket{0x00, 9, static_cast<std::uint16_t>(cfg), 0}, EINVAL);
    }
    case USBDEVFS_CONNECTINFO: {
      auto* d = resolve(arg, 0, sizeof(usbdevfs_connectinfo));
      if (!d) return complete(client, -1, EFAULT);
      auto* ci = reinterpret_cast<usbdevfs_connectinfo*>(d->data);
      // The devnum is the node's name: /dev/bus/usb/BBB/DDD.
      ci->devnum = static_cast<unsigned>(std::stoul(c->devnode.substr(c->devnode.size() - 3)));
      ci->slow = 0;
      g_object_unref(d);
      return complete(client, 0, 0);
    }
    case USBDEVFS_GET_SPEED: {
      std::lock_guard lock(mutex);
      Slot* slot = slot_of(c->devnode);
      return complete(client, slot && slot->board.options().full_speed ? usb_speed_full : usb_speed_high, 0);
    }
    case USBDEVFS_RESET: {
      if (c->devnode == hub_devnode) return complete(client, 0, 0);
      sim::UsbBoard::Reply r;
      r.kind = sim::UsbBoard::Reply::Kind::disconnected;
      {
        std::lock_guard lock(mutex);
        if (Slot* slot = slot_of(c->devnode)) r = slot->board.port_reset();
      }
      return complete(client, r.kind == sim::UsbBoard::Reply::Kind::ok ? 0 : -1,
                      r.kind == sim::UsbBoard::Reply::Kind::ok ? 0 : ENODEV);
    }
    case USBDEVFS_GETDRIVER:
    case USBDEVFS_IOCTL: return complete(client, -1, ENODATA);  // no kernel driver bound
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
    case USBDEVFS_DROP_PRIVILEGES: return complete(client, 0, 0);
    default: return complete(client, -1, ENOTTY);
  }
}

void UmockdevBus::Impl::handle_read(UMockdevIoctlClient* client) {
  UMockdevIoctlData* arg = umockdev_ioctl_client_get_arg(client);
  Bytes d;
  if (std::string(umockdev_ioctl_client_get_devnode(client)) == hub_devnode) {
    d = hub_descriptors();
  } else {
    std::lock_guard lock(mutex);
    Slot* slot = slot_of(umockdev_ioctl_client_get_devnode(client));
    if (!slot) return complete(client, -1, ENODEV);
    d = slot->board.descriptors();
  }
  auto n = std::min<std::size_t>(d.size(), static_cast<std::size_t>(arg->data_len));
  std::memcpy(arg->data, d.data(), n);
  complete(client, static_cast<long>(n), 0);
}

gboolean UmockdevBus::Impl::on_ioctl(UMockdevIoctlBase*, UMockdevIoctlClient* client, gpointer) {
  std::lock_guard g(g_handler_mutex);
  if (!g_bus) complete(client, -1, ENODEV);
  else g_bus->handle_ioctl(client);
  return TRUE;
}

gboolean UmockdevBus::Impl::on_read(UMockdevIoctlBase*, UMockdevIoctlClient* client, gpointer) {
  std::lock_guard g(g_handler_mutex);
  if (!g_bus) complete(client, -1, ENODEV);
  else g_bus->handle_read(client);
  return TRUE;
}

}  // namespace mp1boot::usbsim
