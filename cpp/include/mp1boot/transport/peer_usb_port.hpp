// SPDX-License-Identifier: MIT
// PeerUsbPort: the in-process USB transport over a UsbPeer (a simulated board, sim::UsbBoard), for
// the "sim:" transport and for fast tests. It behaves like a libusb handle on one enumeration: once
// the peer re-enumerates (DETACH, power cycle) every call throws errc::disconnected and the host
// opens the new enumeration with wait_for_peer_device(), as it would with wait_for_device().
// Knows nothing of the simulator: it sees only the UsbPeer interface.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "mp1boot/progress.hpp"
#include "mp1boot/transport/usb_peer.hpp"
#include "mp1boot/transport/usb_port.hpp"

namespace mp1boot::transport {

/// How a PeerUsbPort spends the device's modelled time.
struct PeerUsbOptions {
  /// true: sleep for the board's busy times and re-enumeration delays (notebooks, demos, GIL
  /// tests, benchmarks). A busy time counts from the request's arrival; the sleeps never spin (a
  /// simulated board costs no CPU while busy) and a late wake-up (up to 5 ms) is made up for on
  /// the next busy times, so a run of transfers lasts the sum of their busy times. false
  /// (default): virtual time, nothing sleeps; a busy time longer than the transfer timeout still
  /// gives errc::timeout.
  bool real_time = false;
};

/// One opened enumeration of a simulated board. The board is shared (other ports, the caller);
/// a PeerUsbPort and its board must be used from one thread at a time.
class PeerUsbPort final : public UsbControlPort {
 public:
  /// Opens the board's current enumeration.
  /// @throws TransportError(errc::no_device) when the board is detached; UsageError when null.
  explicit PeerUsbPort(std::shared_ptr<UsbPeer> board, PeerUsbOptions options = {});

  /// @throws TransportError: errc::stall, errc::disconnected (board detached or re-enumerated
  ///         since this port was opened), errc::timeout (busy time above `timeout`).
  std::size_t control_in(const usb::SetupPacket& setup, std::span<std::uint8_t> data, ms timeout) override;
  void control_out(const usb::SetupPacket& setup, ByteView data, ms timeout) override;
  std::vector<usb::AltSetting> alt_settings() override;
  void set_alt_setting(std::uint8_t alt) override;
  /// Identity of the enumeration this port opened.
  usb::Identity identity() const override;
  /// The board's port reset (state back to dfuIDLE, alt 0). @throws as control_in.
  void reset() override;
  /// "sim:stm32mp135 usb:1-1 (0483:df11 002800423232511538303631)".
  std::string describe() const override;

  const std::shared_ptr<UsbPeer>& board() const { return board_; }
  /// Board generation this port belongs to.
  std::uint32_t generation() const { return generation_; }

 private:
  UsbPeer::Reply transfer(const usb::SetupPacket& setup, ByteView out, std::uint16_t in_length, ms timeout,
                                const char* operation);
  void check_current(const char* operation) const;

  std::shared_ptr<UsbPeer> board_;
  PeerUsbOptions options_;
  std::uint32_t generation_;
  usb::Identity identity_;
  std::chrono::nanoseconds overshoot_{0};  ///< real_time: slept beyond the busy times so far (at most 5 ms)
};

/// Opens the board's next enumeration: when the board is detached with a stage pending, waits
/// for its re-enumeration delay (only with real_time) and lets it enumerate; when it is attached,
/// opens the current enumeration. `wait` is the common part of wait_for_device()'s options.
/// @throws TimeoutError(errc::timeout) when the board is gone for good (after `wait.timeout` with
///         real_time, at once in virtual time) or its delay exceeds `wait.timeout`;
///         CancelledError when `wait.cancel` trips.
std::unique_ptr<PeerUsbPort> wait_for_peer_device(const std::shared_ptr<UsbPeer>& board, const EnumerationWait& wait,
                                                PeerUsbOptions options = {});

}  // namespace mp1boot::transport
