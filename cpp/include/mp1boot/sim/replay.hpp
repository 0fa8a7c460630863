// SPDX-License-Identifier: MIT
// Replay: a recorded field trace (trace.hpp) served as a device, for the `sim:replay=FILE` port.
// The peer answers as the recorded device did, step by step, and fails loudly, naming the step,
// the trace line and both sides, when the host does something else: another byte, another request,
// another payload (compared by SHA-256 when only the hash was recorded). The first mismatch is
// sticky: every later call repeats it, so recovery paths of the host cannot hide it.
//
// UART: device bytes are released as soon as the host bytes before them in the trace have arrived;
// bytes the recorded host received only after one of its reads had timed out are released after
// the recorded delay, so the replayed host times out at the same place. USB: each control transfer
// is compared and answered with the recorded reply (data, STALL, disconnect, a timeout as a busy
// device); the device leaves the bus where the recorded host had to open a new enumeration, and
// comes back with the recorded identity and alternate settings.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "mp1boot/trace.hpp"
#include "mp1boot/transport/byte_peer.hpp"
#include "mp1boot/transport/usb_peer.hpp"

namespace mp1boot::sim {

/// What both replay peers share: the trace, the cursor, the sticky failure.
class ReplayCursor {
 public:
  explicit ReplayCursor(trace::Trace trace);
  const trace::Trace& trace() const { return trace_; }
  /// Index of the next record.
  std::size_t position() const { return next_; }
  /// True when no record the host must perform (writes, requests, enumerations) is left.
  bool finished() const;
  /// @throws ProtocolError(errc::replay_mismatch) naming the first step the host did not reach,
  ///         unless a mismatch was already reported (that one is rethrown).
  void check_finished() const;
  /// "step 12 (FILE line 13)".
  std::string where(std::size_t index) const;

 protected:
  [[noreturn]] void fail(std::size_t index, const std::string& what);
  void rethrow_failure() const;
  /// The next record that is not a note or the end.
  std::size_t skip_notes(std::size_t from) const;
  static bool host_action(trace::Kind k);
  std::string expected(std::size_t index) const;

  trace::Trace trace_;
  std::size_t next_ = 0;
  std::shared_ptr<const std::string> failure_;
};

class ReplayUartPeer final : public transport::BytePeer, public ReplayCursor {
 public:
  /// @throws UsageError when the trace is not a UART trace.
  explicit ReplayUartPeer(trace::Trace trace);
  void on_receive(ByteView bytes, Clock::time_point now) override;
  Bytes take_output(Clock::time_point now) override;
  std::optional<Clock::time_point> next_deadline() const override;

 private:
  void advance(Clock::time_point now);

  Bytes out_;
  Bytes partial_;                  // host bytes of the current write record so far
  bool after_timeout_ = false;     // a host read timed out since the last host write
  Clock::time_point last_write_at_{};
  double last_write_t_ = 0;
  std::optional<Clock::time_point> release_at_;
};

class ReplayUsbPeer final : public transport::UsbPeer, public ReplayCursor {
 public:
  /// @throws UsageError when the trace is not a USB trace or does not begin with an enumeration.
  explicit ReplayUsbPeer(trace::Trace trace);
  Reply control(const usb::SetupPacket& setup, ByteView out_data, std::uint16_t in_length) override;
  Reply port_reset() override;
  std::vector<usb::AltSetting> alt_settings() const override;
  usb::Identity identity() const override;
  std::uint32_t generation() const override { return generation_; }
  bool attached() const override { return attached_; }
  std::optional<std::chrono::microseconds> pending_reattach() const override;
  bool reattach() override;
  std::string name() const override;

 private:
  Reply answer(std::size_t index);
  void leave_if_reenumerating(std::size_t after);

  std::size_t current_enum_ = 0;
  std::uint32_t generation_ = 0;
  bool attached_ = true;
  double left_at_t_ = 0;
};

}  // namespace mp1boot::sim
