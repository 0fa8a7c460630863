// SPDX-License-Identifier: MIT
// Replay peers: a recorded field trace answering as the recorded device did.
#include "mp1boot/sim/replay.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "mp1boot/error.hpp"

namespace mp1boot::sim {

using trace::Kind;
using trace::Record;
using trace::Result;

namespace {

std::string setup_text(const usb::SetupPacket& s) {
  char b[64];
  std::snprintf(b, sizeof b, "[%02x %02x %04x %04x]", s.request_type, s.request, s.value, s.index);
  return b;
}

bool same_setup(const usb::SetupPacket& a, const usb::SetupPacket& b) {
  return a.request_type == b.request_type && a.request == b.request && a.value == b.value && a.index == b.index;
}

constexpr usb::SetupPacket set_interface_request(std::uint8_t alt) { return {0x01, 11, alt, 0}; }

}  // namespace

// ---- cursor ---------------------------------------------------------------------------------------

ReplayCursor::ReplayCursor(trace::Trace trace) : trace_(std::move(trace)) {}

bool ReplayCursor::host_action(Kind k) {
  return k == Kind::write || k == Kind::control || k == Kind::set_alt || k == Kind::reset || k == Kind::enumerate;
}

std::size_t ReplayCursor::skip_notes(std::size_t from) const {
  while (from < trace_.records.size() &&
         (trace_.records[from].kind == Kind::note || trace_.records[from].kind == Kind::end))
    ++from;
  return from;
}

bool ReplayCursor::finished() const {
  for (std::size_t i = next_; i < trace_.records.size(); ++i)
    if (host_action(trace_.records[i].kind)) return false;
  return true;
}

std::string ReplayCursor::where(std::size_t index) const {
  if (index >= trace_.records.size())
    return "the end of " + trace_.path.string() + " (" + std::to_string(trace_.records.size()) + " steps)";
  return "step " + std::to_string(index + 1) + " (" + trace_.path.string() + " line " +
         std::to_string(trace_.records[index].line) + ")";
}

std::string ReplayCursor::expected(std::size_t index) const {
  if (index >= trace_.records.size()) return "nothing more (the trace ends there)";
  const Record& r = trace_.records[index];
  switch (r.kind) {
    case Kind::write: return "the host writes " + r.data.describe();
    case Kind::read: return "the device sends " + r.data.describe();
    case Kind::timeout: return "a host read times out";
    case Kind::control:
      return std::string("a control transfer ") + setup_text(r.setup) + " wLength " + std::to_string(r.length) +
             ((r.setup.request_type & 0x80) ? "" : " with " + r.data.describe());
    case Kind::set_alt: return "SET_INTERFACE alt " + std::to_string(r.alt);
    case Kind::reset: return "a USB port reset";
    case Kind::enumerate: return "the host opens the next enumeration (" + r.identity.product + ")";
    case Kind::note: return "a note";
    case Kind::end: return "the end";
  }
  return "?";
}

void ReplayCursor::rethrow_failure() const {
  if (failure_) throw ProtocolError(errc::replay_mismatch, *failure_);
}

void ReplayCursor::fail(std::size_t index, const std::string& what) {
  if (!failure_) {
    std::string text = "replay: at " + where(index) + " the trace has " + expected(index) + "; " + what;
    for (std::size_t i = next_; i < trace_.records.size(); ++i)
      if (trace_.records[i].kind == Kind::end) {
        text += " (the recorded run ended: " + trace_.records[i].text +
                (trace_.records[i].message.empty() ? "" : ", " + trace_.records[i].message) + ")";
        break;
      }
    failure_ = std::make_shared<const std::string>(std::move(text));
  }
  rethrow_failure();
  throw ProtocolError(errc::replay_mismatch, "replay failed");  // not reached
}

void ReplayCursor::check_finished() const {
  rethrow_failure();
  if (finished()) return;
  std::size_t i = next_;
  while (i < trace_.records.size() && !host_action(trace_.records[i].kind)) ++i;
  throw ProtocolError(errc::replay_mismatch, "replay: the host stopped at " + where(i) + ", where the trace has " +
                                                 expected(i) + " (" + std::to_string(trace_.records.size() - i) +
                                                 " steps left)");
}

// ---- UART -----------------------------------------------------------------------------------------

ReplayUartPeer::ReplayUartPeer(trace::Trace trace) : ReplayCursor(std::move(trace)) {
  if (trace_.header.link != "uart")
    throw UsageError(errc::usage, "replay: " + trace_.path.string() + " is a " + trace_.header.link +
                                      " trace; this peer serves UART traces");
  last_write_at_ = Clock::now();
  advance(last_write_at_);
}

void ReplayUartPeer::advance(Clock::time_point now) {
  while (next_ < trace_.records.size()) {
    const Record& r = trace_.records[next_];
    switch (r.kind) {
      case Kind::note:
      case Kind::end: ++next_; break;
      case Kind::timeout:
        after_timeout_ = true;
        ++next_;
        break;
      case Kind::read: {
        if (!r.data.bytes)
          fail(next_, "the trace holds only the size and SHA-256 of these device bytes (recorded without data): "
                      "record with --trace-data to replay this step");
        if (after_timeout_) {
          // The recorded host saw these only after a read timed out: keep that order.
          if (!release_at_) {
            const auto delay = std::chrono::duration<double>(std::max(0.0, r.t - last_write_t_));
            release_at_ = last_write_at_ + std::chrono::duration_cast<Clock::duration>(delay);
          }
          if (now < *release_at_) return;
          release_at_.reset();
        }
        out_.insert(out_.end(), r.data.bytes->begin(), r.data.bytes->end());
        ++next_;
        break;
      }
      case Kind::write: return;
      default: fail(next_, "this is a UART trace and the record is a USB one");
    }
  }
}

void ReplayUartPeer::on_receive(ByteView bytes, Clock::time_point now) {
  rethrow_failure();
  advance(now);
  while (!bytes.empty()) {
    if (next_ >= trace_.records.size() || trace_.records[next_].kind != Kind::write)
      fail(next_, "the host wrote " + trace::Data::full(bytes).describe());
    const Record& r = trace_.records[next_];
    const std::size_t take = std::min<std::size_t>(bytes.size(), r.data.size - partial_.size());
    partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    if (r.data.bytes) {
      // Compare as the bytes come, so the message names the first byte that differs.
      const std::size_t n = partial_.size();
      if (!std::equal(partial_.begin(), partial_.end(), r.data.bytes->begin(),
                      r.data.bytes->begin() + static_cast<std::ptrdiff_t>(n)))
        fail(next_, "the host wrote " + trace::Data::full(partial_).describe());
    }
    if (partial_.size() < r.data.size) continue;
    if (!r.data.bytes && !r.data.matches(partial_))
      fail(next_, "the host wrote " + trace::Data::hashed(partial_).describe() +
                      " (another payload: are the input files the recorded ones?)");
    partial_.clear();
    ++next_;
    after_timeout_ = false;
    release_at_.reset();
    last_write_at_ = now;
    last_write_t_ = r.t;
    advance(now);
  }
}

Bytes ReplayUartPeer::take_output(Clock::time_point now) {
  rethrow_failure();
  advance(now);
  return std::exchange(out_, {});
}

std::optional<ReplayUartPeer::Clock::time_point> ReplayUartPeer::next_deadline() const {
  if (failure_) return std::nullopt;
  return release_at_;
}

// ---- USB ------------------------------------------------------------------------------------------

ReplayUsbPeer::ReplayUsbPeer(trace::Trace trace) : ReplayCursor(std::move(trace)) {
  if (trace_.header.link != "usb")
    throw UsageError(errc::usage, "replay: " + trace_.path.string() + " is a " + trace_.header.link +
                                      " trace; this peer serves USB traces");
  next_ = skip_notes(0);
  if (next_ >= trace_.records.size() || trace_.records[next_].kind != Kind::enumerate)
    throw UsageError(errc::usage, "replay: " + trace_.path.string() +
                                      " does not begin with the enumeration the host opened (an \"enum\" record)");
  current_enum_ = next_++;
}

std::vector<usb::AltSetting> ReplayUsbPeer::alt_settings() const { return trace_.records[current_enum_].alts; }
usb::Identity ReplayUsbPeer::identity() const { return trace_.records[current_enum_].identity; }
std::string ReplayUsbPeer::name() const { return "sim:replay=" + trace_.path.string(); }

// Where the recorded host opened a new enumeration next, the device left the bus after this step.
void ReplayUsbPeer::leave_if_reenumerating(std::size_t after) {
  const std::size_t n = skip_notes(after);
  if (n < trace_.records.size() && trace_.records[n].kind == Kind::enumerate) {
    attached_ = false;
    left_at_t_ = trace_.records[after - 1].t;
  }
}

transport::UsbPeer::Reply ReplayUsbPeer::answer(std::size_t index) {
  const Record& r = trace_.records[index];
  next_ = index + 1;
  Reply reply;
  switch (r.result) {
    case Result::ok:
      if ((r.setup.request_type & 0x80) && r.kind == Kind::control) {
        if (!r.data.bytes)
          fail(index, "the trace holds only the size and SHA-256 of the device's reply (recorded without data): "
                      "record with --trace-data to replay this step");
        reply.data = *r.data.bytes;
      }
      break;
    case Result::stall: reply.kind = Reply::Kind::stall; break;
    case Result::disconnected:
      reply.kind = Reply::Kind::disconnected;
      attached_ = false;
      left_at_t_ = r.t;
      return reply;
    case Result::timeout: reply.busy = std::chrono::milliseconds(r.ms + 1); break;
    case Result::error:
      throw TransportError(errc::io, "replay: the recorded transfer failed with an I/O error at " + where(index));
  }
  leave_if_reenumerating(next_);
  return reply;
}

transport::UsbPeer::Reply ReplayUsbPeer::control(const usb::SetupPacket& setup, ByteView out_data, std::uint16_t in_length) {
  rethrow_failure();
  const std::size_t i = skip_notes(next_);
  const bool set_interface = same_setup(setup, set_interface_request(static_cast<std::uint8_t>(setup.value)));
  const std::string did = set_interface ? "the host selected alt " + std::to_string(setup.value)
                                        : "the host sent " + setup_text(setup) + " wLength " +
                                              std::to_string((setup.request_type & 0x80) ? in_length : out_data.size()) +
                                              ((setup.request_type & 0x80) ? "" : " with " + trace::Data::full(out_data).describe());
  if (!attached_) fail(i, did + " while the device is off the bus");
  if (i >= trace_.records.size()) fail(i, did);
  const Record& r = trace_.records[i];
  if (set_interface) {
    if (r.kind != Kind::set_alt || r.alt != setup.value) fail(i, did);
    return answer(i);
  }
  if (r.kind != Kind::control || !same_setup(r.setup, setup)) fail(i, did);
  if (setup.request_type & 0x80) {
    if (r.length != in_length) fail(i, did);
  } else if (!r.data.matches(out_data)) {
    fail(i, "the host sent " + (r.data.bytes ? trace::Data::full(out_data) : trace::Data::hashed(out_data)).describe() +
                " (another payload: are the input files the recorded ones?)");
  }
  return answer(i);
}

transport::UsbPeer::Reply ReplayUsbPeer::port_reset() {
  rethrow_failure();
  const std::size_t i = skip_notes(next_);
  if (i >= trace_.records.size() || trace_.records[i].kind != Kind::reset) fail(i, "the host reset the port");
  return answer(i);
}

std::optional<std::chrono::microseconds> ReplayUsbPeer::pending_reattach() const {
  if (attached_ || failure_) return std::nullopt;
  const std::size_t i = skip_notes(next_);
  if (i >= trace_.records.size() || trace_.records[i].kind != Kind::enumerate) return std::nullopt;
  const double delay = std::max(0.0, trace_.records[i].t - left_at_t_);
  return std::chrono::microseconds(static_cast<std::int64_t>(delay * 1e6));
}

bool ReplayUsbPeer::reattach() {
  if (attached_) return false;
  const std::size_t i = skip_notes(next_);
  if (i >= trace_.records.size() || trace_.records[i].kind != Kind::enumerate) return false;
  current_enum_ = i;
  next_ = i + 1;
  attached_ = true;
  ++generation_;
  return true;
}

}  // namespace mp1boot::sim
