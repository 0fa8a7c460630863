// SPDX-License-Identifier: MIT
// PeerUsbPort: UsbControlPort over an in-process UsbPeer (part of mp1boot_core, not of the libusb
// target).
#include "mp1boot/transport/peer_usb_port.hpp"
#include "mp1boot/wait.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "mp1boot/error.hpp"

namespace mp1boot::transport {

namespace {

ErrorContext where(const char* operation, std::string transport) {
  ErrorContext c;
  c.operation = operation;
  c.transport = std::move(transport);
  return c;
}

using Clock = std::chrono::steady_clock;

// Sleeps until `deadline` (a modelled device time: sleeping, never spinning, so the board costs
// no CPU while it is "busy") and sees a cancel request within 50 ms.
void sleep_until(Clock::time_point deadline, const CancelToken* cancel) {
  wait_until(
      deadline,
      [cancel] {
        if (cancel && cancel->cancelled())
          throw CancelledError(errc::cancelled, "cancelled while waiting for the simulated board");
      },
      WaitMode::sleep);
}

void sleep_for(std::chrono::microseconds d, const CancelToken* cancel) { sleep_until(Clock::now() + d, cancel); }

// How much a late wake-up may be made up for on the next busy times: a timer wake-up's lateness
// on a VM, or a scheduler's time slice on a busy machine (a woken thread waits for the running
// one's slice, beyond 1 ms here with compilers on both cores); not a longer stall of the process.
constexpr std::chrono::nanoseconds max_overshoot = std::chrono::milliseconds(5);

}  // namespace

PeerUsbPort::PeerUsbPort(std::shared_ptr<UsbPeer> board, PeerUsbOptions options)
    : board_(std::move(board)), options_(options), generation_(0) {
  if (!board_) throw UsageError(errc::usage, "PeerUsbPort needs a board");
  if (!board_->attached())
    throw TransportError(errc::no_device, "the simulated board is not on the bus",
                         where("open", board_->name()));
  generation_ = board_->generation();
  identity_ = board_->identity();
}

void PeerUsbPort::check_current(const char* operation) const {
  if (!board_->attached() || board_->generation() != generation_)
    throw TransportError(errc::disconnected,
                         board_->attached() ? "the simulated board re-enumerated; open it again"
                                            : "the simulated board left the bus",
                         where(operation, describe()));
}

UsbPeer::Reply PeerUsbPort::transfer(const usb::SetupPacket& setup, ByteView out, std::uint16_t in_length,
                                          ms timeout, const char* operation) {
  check_current(operation);
  const auto arrived = Clock::now();
  auto reply = board_->control(setup, out, in_length);
  if (reply.kind == UsbPeer::Reply::Kind::disconnected) check_current(operation);
  if (reply.busy > std::chrono::microseconds(0)) {
    auto limit = std::chrono::duration_cast<std::chrono::microseconds>(timeout);
    if (options_.real_time) {
      // Busy from the request's arrival (the model's own work included, as a real device's is),
      // less what earlier wake-ups overshot: a run of transfers lasts the sum of their busy
      // times (at least, and at most one late wake-up more).
      const auto deadline = arrived + std::min(reply.busy, limit);
      sleep_until(deadline - overshoot_, nullptr);
      overshoot_ = std::clamp(overshoot_ + (Clock::now() - deadline), std::chrono::nanoseconds(0), max_overshoot);
    }
    if (reply.busy > limit)
      throw TransportError(errc::timeout, "control transfer timed out (device busy)", where(operation, describe()));
  }
  if (reply.kind == UsbPeer::Reply::Kind::stall) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "control transfer bmRequestType 0x%02x bRequest 0x%02x wValue %u stalled",
                  setup.request_type, setup.request, setup.value);
    throw TransportError(errc::stall, buf, where(operation, describe()));
  }
  return reply;
}

std::size_t PeerUsbPort::control_in(const usb::SetupPacket& setup, std::span<std::uint8_t> data, ms timeout) {
  auto len = static_cast<std::uint16_t>(std::min<std::size_t>(data.size(), 0xFFFF));
  usb::SetupPacket s = setup;
  s.request_type = static_cast<std::uint8_t>(s.request_type | 0x80);
  auto reply = transfer(s, {}, len, timeout, "control_in");
  std::copy(reply.data.begin(), reply.data.end(), data.begin());
  return reply.data.size();
}

void PeerUsbPort::control_out(const usb::SetupPacket& setup, ByteView data, ms timeout) {
  if (data.size() > 0xFFFF) throw UsageError(errc::usage, "control transfer data longer than 65535 bytes");
  usb::SetupPacket s = setup;
  s.request_type = static_cast<std::uint8_t>(s.request_type & 0x7F);
  transfer(s, data, 0, timeout, "control_out");
}

std::vector<usb::AltSetting> PeerUsbPort::alt_settings() {
  check_current("alt_settings");
  return board_->alt_settings();
}

void PeerUsbPort::set_alt_setting(std::uint8_t alt) {
  // SET_INTERFACE, as the kernel sends it for libusb_set_interface_alt_setting.
  transfer(usb::SetupPacket{0x01, 11, alt, 0}, {}, 0, ms(1000), "set_alt_setting");
}

usb::Identity PeerUsbPort::identity() const { return identity_; }

void PeerUsbPort::reset() {
  check_current("reset");
  if (board_->port_reset().kind != UsbPeer::Reply::Kind::ok) check_current("reset");
}

std::string PeerUsbPort::describe() const {
  char ids[16];
  std::snprintf(ids, sizeof ids, "%04x:%04x", identity_.vendor_id, identity_.product_id);
  return board_->name() + " usb:" + identity_.port_path + " (" + ids + " " +
         identity_.serial + ")";
}

std::unique_ptr<PeerUsbPort> wait_for_peer_device(const std::shared_ptr<UsbPeer>& board, const EnumerationWait& wait,
                                                PeerUsbOptions options) {
  const auto timeout = wait.timeout;
  const CancelToken* cancel = wait.cancel;
  if (!board) throw UsageError(errc::usage, "wait_for_peer_device needs a board");
  if (cancel && cancel->cancelled())
    throw CancelledError(errc::cancelled, "cancelled while waiting for the simulated board");
  if (!board->attached()) {
    auto delay = board->pending_reattach();
    auto limit = std::chrono::duration_cast<std::chrono::microseconds>(timeout);
    if (!delay || *delay > limit) {
      if (options.real_time) sleep_for(limit, cancel);
      throw TimeoutError(errc::timeout,
                         "the simulated board did not come back within " + std::to_string(timeout.count()) + " ms",
                         where("wait_for_device", board->name()));
    }
    if (options.real_time) sleep_for(*delay, cancel);
    board->reattach();
  }
  return std::make_unique<PeerUsbPort>(board, options);
}

}  // namespace mp1boot::transport
