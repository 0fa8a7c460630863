// SPDX-License-Identifier: MIT
// The DFU host engine: each request is a short program of steps (select the alt, settle the device
// in dfuIDLE, transfer blocks, manifest) driven by inputs; the device state it believes in is
// checked against the transition table (state_table.cpp) on every GETSTATUS reply.
#include "mp1boot/dfu/engine.hpp"

#include <algorithm>

namespace mp1boot::dfu {

namespace {
using ms = std::chrono::milliseconds;

// Blocks are multiples of bMaxPacketSize0 except the last (snagboot does the same) and must fit
// wLength.
constexpr std::uint32_t packet_multiple = 64;
constexpr std::uint32_t max_block = 0xFFC0;
// dfuERROR -> CLRSTATUS and DNLOAD-/UPLOAD-IDLE -> ABORT are tried this often before giving up.
constexpr int max_settle_rounds = 2;

std::uint32_t block_size_for(std::uint32_t transfer_size) {
  std::uint32_t bs = transfer_size >= packet_multiple ? transfer_size - transfer_size % packet_multiple : transfer_size;
  return std::min(bs, max_block);
}

// Every legal origin of `event` leads to the same state: the host knows the state even when it did
// not know the origin (ABORT -> dfuIDLE, DNLOAD -> dfuDNLOAD-SYNC, ...).
std::optional<State> sole_destination(HostEvent event) {
  std::uint16_t bits = 0;
  for (const auto& t : transition_table())
    if (t.event == event && t.from >= State::dfu_idle) bits = static_cast<std::uint16_t>(bits | t.to.bits());
  if (bits == 0 || (bits & (bits - 1)) != 0) return std::nullopt;
  for (unsigned i = 0; i < state_count; ++i)
    if (bits == (1U << i)) return static_cast<State>(i);
  return std::nullopt;
}
}  // namespace

Engine::Engine(Options options) : options_(options) {}

template <class F>
void Engine::guarded(F&& body) {
  if (mode_ == Mode::failed)
    throw UsageError(errc::usage, "the DFU engine has failed earlier (" + failure_ + "); use a new engine", context());
  try {
    body();
  } catch (const std::exception& e) {
    failure_ = e.what();
    mode_ = Mode::failed;
    throw;
  }
}

// ---- requests -----------------------------------------------------------------------------------

void Engine::require_ready() const {
  if (busy()) fail_usage(errc::usage, "a DFU request is already in progress (" + doing() + ")");
}

void Engine::fail_usage(errc code, const std::string& message) const { throw UsageError(code, message, context()); }

void Engine::begin(Mode mode) {
  mode_ = mode;
  kind_ = mode;
  busy_ = true;
  in_blocks_ = false;
  phase_.reset();
  data_ = {};
  download_options_ = {};
  block_ = 0;
  acked_ = 0;
  total_ = 0;
  settle_rounds_ = 0;
  lost_status_ = 0;
  reset_polls();
}

void Engine::select_alt(std::uint8_t alt) {
  alt_ = alt;
  alt_in_flight_ = true;
  action_ = SetAlt{alt};
  step_ = Step::set_alt;
}

void Engine::get_phase(std::span<const usb::AltSetting> alts) {
  guarded([&] {
    require_ready();
    const auto* alt = find_alt(alts, phase::command);
    if (!alt)
      fail_usage(errc::unsupported, "no alternate setting for the virtual phase 0xf1 used by Get Phase (alts: " +
                                        list_alts(alts) + ")");
    begin(Mode::get_phase);
    phase_info_.reset();
    select_alt(alt->number);
  });
}

void Engine::download(std::uint8_t phase, std::span<const usb::AltSetting> alts, ByteView data,
                      std::uint32_t transfer_size, DownloadOptions options) {
  guarded([&] {
    begin_download(phase, alts, data.size(), transfer_size, options);
    data_ = data;
  });
}

void Engine::download_streamed(std::uint8_t phase, std::span<const usb::AltSetting> alts, std::uint64_t total,
                               std::uint32_t transfer_size, DownloadOptions options) {
  guarded([&] { begin_download(phase, alts, total, transfer_size, options); });
}

void Engine::begin_download(std::uint8_t phase, std::span<const usb::AltSetting> alts, std::uint64_t total,
                            std::uint32_t transfer_size, const DownloadOptions& options) {
  require_ready();
  const auto* alt = find_alt(alts, phase);
  if (!alt)
    fail_usage(errc::unsupported, "no alternate setting for phase " + hex8(phase) + " (alts: " + list_alts(alts) + ")");
  if (total == 0) fail_usage(errc::usage, "nothing to download for phase " + hex8(phase) + " (empty image)");
  if (transfer_size == 0) fail_usage(errc::usage, "transfer size 0 for phase " + hex8(phase));
  begin(Mode::download);
  phase_ = phase;
  window_offset_ = 0;
  total_ = total;
  download_options_ = options;
  block_size_ = block_size_for(transfer_size);
  select_alt(alt->number);
}

void Engine::supply(ByteView window) {
  guarded([&] {
    const auto* need = std::get_if<NeedData>(&action_);
    if (!busy_ || !need) fail_usage(errc::usage, "supply() while no NeedData is pending");
    if (window.size() < need->length)
      fail_usage(errc::usage, "supply() gave " + std::to_string(window.size()) + " bytes, " +
                                  std::to_string(need->length) + " needed");
    data_ = window;
    window_offset_ = need->offset;
    send_block();
  });
}

void Engine::upload(std::uint8_t alt, std::uint32_t transfer_size, std::uint64_t max_length, UploadKeep keep) {
  guarded([&] {
    require_ready();
    if (transfer_size == 0) fail_usage(errc::usage, "transfer size 0 for the upload of alt " + std::to_string(alt));
    if (max_length == 0) fail_usage(errc::usage, "upload of alt " + std::to_string(alt) + " with max_length 0");
    begin(Mode::upload);
    uploaded_.clear();
    keep_ = keep;
    block_size_ = block_size_for(transfer_size);
    max_length_ = max_length;
    total_ = max_length == UINT64_MAX ? 0 : max_length;
    select_alt(alt);
  });
}

void Engine::detach(std::uint16_t timeout_ms) {
  guarded([&] {
    require_ready();
    begin(Mode::detach);
    detach_timeout_ = timeout_ms;
    if (device_state_ == State::dfu_idle) {
      after_settled();
    } else {
      device_state_.reset();  // find out, do not assume
      start_settle();
    }
  });
}

void Engine::abort() {
  guarded([&] {
    require_ready();
    begin(Mode::abort);
    request_out(Request::abort, 0, {}, options_.request_timeout, Step::single_out);
  });
}

void Engine::clear_status() {
  guarded([&] {
    require_ready();
    begin(Mode::clear_status);
    request_out(Request::clrstatus, 0, {}, options_.request_timeout, Step::single_out);
  });
}

void Engine::get_status() {
  guarded([&] {
    require_ready();
    begin(Mode::get_status);
    request_status(Step::single_status, options_.request_timeout);
  });
}

void Engine::ensure_idle() {
  guarded([&] {
    require_ready();
    begin(Mode::ensure_idle);
    device_state_.reset();  // the device may have moved since the last request: find out, do not assume
    start_settle();
  });
}

// ---- actions ------------------------------------------------------------------------------------

void Engine::request_out(Request r, std::uint16_t value, Bytes data, ms timeout, Step next) {
  request_ = r;
  alt_in_flight_ = false;
  // The phase 0xF1 command alt carries protocol (the offset command), every other DNLOAD the
  // caller's data.
  const bool payload = r == Request::dnload && !data.empty() && phase_ != std::optional<std::uint8_t>(0xF1);
  action_ = ControlOut{make_setup(r, value), std::move(data), timeout, payload};
  step_ = next;
}

void Engine::request_in(Request r, std::uint16_t value, std::uint16_t length, ms timeout, Step next) {
  request_ = r;
  alt_in_flight_ = false;
  action_ = ControlIn{make_setup(r, value), length, timeout, r == Request::upload && mode_ == Mode::upload};
  step_ = next;
}

void Engine::request_status(Step next, ms timeout) {
  request_in(Request::getstatus, 0, static_cast<std::uint16_t>(status_reply_size), timeout, next);
}

void Engine::finish(Done done) {
  busy_ = false;
  alt_in_flight_ = false;
  step_ = Step::none;
  action_ = done;
}

void Engine::reset_polls() {
  polls_ = 0;
  poll_wait_ms_ = 0;
}

void Engine::count_poll(std::uint32_t poll_ms) {
  ++polls_;
  poll_wait_ms_ += poll_ms;
  if (polls_ > options_.max_status_polls || poll_wait_ms_ > static_cast<std::uint64_t>(options_.max_poll_wait.count()))
    throw TimeoutError(errc::timeout,
                       "device still reports " + std::string(state_name(device_state_.value_or(State::error))) +
                           " after " + std::to_string(polls_) + " DFU_GETSTATUS polls (" +
                           std::to_string(poll_wait_ms_) + " ms of bwPollTimeout) " + waiting_for(),
                       context());
}

// Wait bwPollTimeout (a Sleep action, skipped when 0), then ask again.
void Engine::poll_again(std::uint32_t poll_ms, Step sleep_step) {
  count_poll(poll_ms);
  if (poll_ms > 0) {
    action_ = Sleep{ms(poll_ms)};
    step_ = sleep_step;
  } else {
    step_ = sleep_step;
    after_poll();
  }
}

void Engine::after_poll() {
  apply(HostEvent::poll_elapsed);
  switch (step_) {
    case Step::settle_sleep: request_status(Step::settle_status, options_.request_timeout); break;
    case Step::block_sleep: request_status(Step::block_status, options_.request_timeout); break;
    case Step::manifest_sleep:
      if (device_state_ == State::manifest_wait_reset)
        manifest_done(false, true);
      else
        request_status(Step::manifest_status, manifest_timeout());
      break;
    default: fail_usage(errc::usage, "internal: poll in an unexpected step");
  }
}

// ---- believed device state ----------------------------------------------------------------------

void Engine::apply(HostEvent event) {
  if (!device_state_) {
    device_state_ = sole_destination(event);
    return;
  }
  const Transition t = transition(*device_state_, event);
  if (!t.legal) {
    device_state_.reset();  // the device accepted what DFU 1.1 forbids: stop guessing
  } else if (event == HostEvent::poll_elapsed && *device_state_ == State::manifest) {
    device_state_ = download_options_.manifestation_tolerant ? State::manifest_sync : State::manifest_wait_reset;
  } else {
    device_state_.reset();
    for (unsigned i = 0; i < state_count; ++i)
      if (t.to == StateSet{static_cast<State>(i)}) device_state_ = static_cast<State>(i);
  }
}

StatusReply Engine::take_status(ByteView data) {
  lost_status_ = 0;
  auto reply = parse_status_reply(data);
  if (!reply)
    throw ProtocolError(errc::unexpected_byte,
                        "DFU_GETSTATUS reply has " + std::to_string(data.size()) + " bytes, expected 6", context());
  last_status_ = *reply;
  events_.push_back(StatusReported{*reply});
  return *reply;
}

void Engine::throw_device_error(const StatusReply& reply, const std::string& when) {
  device_state_ = reply.state;
  std::string msg = "device reported " + std::string(status_name(reply.status)) + " (" +
                    std::string(status_description(reply.status)) + ") in " + std::string(state_name(reply.state)) +
                    " " + when;
  if (reply.string_index) msg += " (iString " + std::to_string(reply.string_index) + ")";
  throw DeviceError(errc::dfu_status, msg, context());
}

// A reply in the middle of a transfer: errors are the device's; a state outside the table's set is
// a protocol violation.
void Engine::check_status(const StatusReply& reply) {
  if (reply.state == State::error || reply.status != Status::ok) throw_device_error(reply, waiting_for());
  if (device_state_) {
    const Transition t = transition(*device_state_, HostEvent::getstatus);
    if (!t.to.contains(reply.state))
      throw ProtocolError(errc::unexpected_byte,
                          "device reported " + describe_state(reply.state) + " " + waiting_for() + "; from " +
                              std::string(state_name(*device_state_)) + " DFU_GETSTATUS may only report " +
                              t.to.describe(),
                          context());
  }
  device_state_ = reply.state;
}

// ---- settling in dfuIDLE ------------------------------------------------------------------------

void Engine::start_settle() { request_status(Step::settle_status, options_.request_timeout); }

void Engine::on_settle_status(const StatusReply& reply) {
  if (reply.state == State::error) {
    if (settle_rounds_ >= max_settle_rounds) throw_device_error(reply, "after DFU_CLRSTATUS");
    ++settle_rounds_;
    device_state_ = State::error;
    events_.push_back(StatusCleared{reply});
    request_out(Request::clrstatus, 0, {}, options_.request_timeout, Step::settle_clear);
    return;
  }
  check_status(reply);
  switch (reply.state) {
    case State::dfu_idle:
      reset_polls();
      after_settled();
      return;
    case State::dnload_idle:
    case State::upload_idle:
      if (settle_rounds_ >= max_settle_rounds)
        throw ProtocolError(errc::unexpected_byte,
                            "device stays in " + std::string(state_name(reply.state)) + " after DFU_ABORT", context());
      ++settle_rounds_;
      request_out(Request::abort, 0, {}, options_.request_timeout, Step::settle_abort);
      return;
    case State::dnload_sync:
    case State::dnbusy:
    case State::manifest_sync:
    case State::manifest:
      poll_again(reply.poll_timeout_ms, Step::settle_sleep);
      return;
    case State::manifest_wait_reset:
      throw DeviceError(errc::dfu_status, "device is in dfuMANIFEST-WAIT-RESET and needs a USB reset", context());
    case State::app_idle:
    case State::app_detach:
      throw DeviceError(errc::unsupported,
                        "device is in run-time mode (" + std::string(state_name(reply.state)) +
                            "); ST stages only implement DFU mode",
                        context());
    default:
      throw ProtocolError(errc::unexpected_byte, "device reported unknown DFU state " + describe_state(reply.state),
                          context());
  }
}

void Engine::after_settled() {
  switch (mode_) {
    case Mode::get_phase:
      request_in(Request::upload, 0, options_.phase_reply_length, options_.request_timeout, Step::phase_in);
      return;
    case Mode::download:
      in_blocks_ = true;
      send_block();
      return;
    case Mode::upload:
      in_blocks_ = true;
      send_upload();
      return;
    case Mode::detach:
      request_out(Request::detach, detach_timeout_, {}, options_.request_timeout, Step::detach_out);
      return;
    default: finish(); return;
  }
}

// ---- download -----------------------------------------------------------------------------------

void Engine::send_block() {
  const std::uint64_t offset = std::uint64_t{block_} * block_size_;
  const auto value = static_cast<std::uint16_t>(block_ & 0xFFFF);  // U-Boot counts modulo 65536
  if (offset >= total_) {
    request_out(Request::dnload, value, {}, options_.busy_timeout, Step::zero_out);
    return;
  }
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(block_size_, total_ - offset));
  if (offset < window_offset_ || offset + n > window_offset_ + data_.size()) {
    step_ = Step::need_data;
    action_ = NeedData{offset, static_cast<std::uint32_t>(n)};
    return;
  }
  const auto first = data_.begin() + static_cast<std::ptrdiff_t>(offset - window_offset_);
  request_out(Request::dnload, value, Bytes(first, first + static_cast<std::ptrdiff_t>(n)), options_.busy_timeout,
              Step::block_out);
}

void Engine::on_block_status(const StatusReply& reply) {
  check_status(reply);
  switch (reply.state) {
    case State::dnload_idle: {
      reset_polls();
      const std::uint64_t offset = std::uint64_t{block_} * block_size_;
      acked_ += std::min<std::uint64_t>(block_size_, total_ - offset);
      events_.push_back(BlockAcked{block_, acked_, total_});
      ++block_;
      send_block();
      return;
    }
    case State::dnbusy:
    case State::dnload_sync: poll_again(reply.poll_timeout_ms, Step::block_sleep); return;
    default:
      throw ProtocolError(errc::unexpected_byte,
                          "device reported " + describe_state(reply.state) + " " + waiting_for(), context());
  }
}

void Engine::on_manifest_status(const StatusReply& reply) {
  check_status(reply);
  switch (reply.state) {
    case State::dfu_idle: manifest_done(false, false); return;
    case State::manifest:
    case State::manifest_sync: poll_again(reply.poll_timeout_ms, Step::manifest_sleep); return;
    default:
      throw ProtocolError(errc::unexpected_byte,
                          "device reported " + describe_state(reply.state) + " " + waiting_for(), context());
  }
}

void Engine::manifest_done(bool device_left, bool reset_required) {
  events_.push_back(Manifested{phase_.value_or(0), device_left, reset_required});
  if (device_left) device_state_.reset();
  finish(Done{device_left, reset_required});
}

// ---- upload and Get Phase -----------------------------------------------------------------------

void Engine::send_upload() {
  const std::uint64_t remaining = max_length_ - acked_;
  requested_ = static_cast<std::uint16_t>(std::min<std::uint64_t>(block_size_, remaining));
  request_in(Request::upload, static_cast<std::uint16_t>(block_ & 0xFFFF), requested_, options_.request_timeout,
             Step::upload_in);
}

void Engine::on_upload_data(ByteView data) {
  if (keep_ == UploadKeep::last_block) uploaded_.clear();
  const std::size_t at = uploaded_.size();
  uploaded_.insert(uploaded_.end(), data.begin(), data.end());
  acked_ += data.size();
  events_.push_back(BlockUploaded{block_, acked_, ByteView(uploaded_).subspan(at)});
  ++block_;
  if (data.size() < requested_) {
    apply(HostEvent::upload_short);
    finish();
  } else {
    apply(HostEvent::upload_full);
    if (acked_ >= max_length_)
      request_out(Request::abort, 0, {}, options_.request_timeout, Step::upload_abort);
    else
      send_upload();
  }
}

void Engine::on_phase_data(ByteView data) {
  auto info = parse_phase_reply(data);
  if (!info)
    throw ProtocolError(errc::unexpected_byte,
                        "Get Phase reply has " + std::to_string(data.size()) + " bytes, at least 9 expected", context());
  phase_info_ = *info;
  events_.push_back(PhaseReported{*info});
  if (data.size() < options_.phase_reply_length) {
    apply(HostEvent::upload_short);
    finish();
  } else {
    apply(HostEvent::upload_full);  // a full block leaves dfuUPLOAD-IDLE: end the transfer
    request_out(Request::abort, 0, {}, options_.request_timeout, Step::upload_abort);
  }
}

// ---- inputs -------------------------------------------------------------------------------------

void Engine::on_control_in(ByteView data) {
  guarded([&] {
    const auto* in = std::get_if<ControlIn>(&action_);
    if (!busy_ || !in) fail_usage(errc::usage, "on_control_in() while no ControlIn is pending");
    if (data.size() > in->length)
      throw ProtocolError(errc::unexpected_byte,
                          doing() + " returned " + std::to_string(data.size()) + " bytes for wLength " +
                              std::to_string(in->length),
                          context());
    switch (step_) {
      case Step::settle_status: on_settle_status(take_status(data)); break;
      case Step::block_status: on_block_status(take_status(data)); break;
      case Step::manifest_status: on_manifest_status(take_status(data)); break;
      case Step::single_status:
        device_state_ = take_status(data).state;
        finish();
        break;
      case Step::upload_in: on_upload_data(data); break;
      case Step::phase_in: on_phase_data(data); break;
      default: fail_usage(errc::usage, "internal: control-in data in an unexpected step");
    }
  });
}

void Engine::on_control_out_done() {
  guarded([&] {
    if (!busy_ || !(std::holds_alternative<ControlOut>(action_) || std::holds_alternative<SetAlt>(action_)))
      fail_usage(errc::usage, "on_control_out_done() while no ControlOut or SetAlt is pending");
    switch (step_) {
      case Step::set_alt:
        alt_in_flight_ = false;
        device_state_.reset();  // U-Boot resets to dfuIDLE on SET_INTERFACE, TF-A keeps its state
        if (mode_ == Mode::get_phase && !options_.status_before_get_phase)
          after_settled();
        else
          start_settle();
        break;
      case Step::settle_clear:
        apply(HostEvent::clrstatus);
        start_settle();
        break;
      case Step::settle_abort:
        apply(HostEvent::abort);
        start_settle();
        break;
      case Step::block_out:
        apply(HostEvent::dnload_block);
        request_status(Step::block_status, options_.request_timeout);
        break;
      case Step::zero_out:
        apply(HostEvent::dnload_zero);
        request_status(Step::manifest_status, manifest_timeout());
        break;
      case Step::upload_abort:
        apply(HostEvent::abort);
        finish();
        break;
      case Step::detach_out:
        apply(HostEvent::detach);
        detached();
        break;
      case Step::single_out:
        apply(request_ == Request::abort ? HostEvent::abort : HostEvent::clrstatus);
        finish();
        break;
      default: fail_usage(errc::usage, "internal: control-out completion in an unexpected step");
    }
  });
}

void Engine::on_sleep_done() {
  guarded([&] {
    if (!busy_ || !std::holds_alternative<Sleep>(action_))
      fail_usage(errc::usage, "on_sleep_done() while no Sleep is pending");
    after_poll();
  });
}

void Engine::detached() {
  events_.push_back(Detached{});
  device_state_.reset();
  finish(Done{true, false});
}

bool Engine::handover_step() const {
  return mode_ == Mode::download && download_options_.handover_on_manifest &&
         (step_ == Step::zero_out || step_ == Step::manifest_status || step_ == Step::manifest_sleep);
}

void Engine::on_stall() {
  guarded([&] {
    if (!busy_) fail_usage(errc::usage, "on_stall() while no transfer is pending");
    std::string msg = doing() + " stalled by device";
    switch (step_) {
      case Step::zero_out: msg += "; it refused the end of the download (manifestation failed), Get Phase may say why"; break;
      case Step::block_out: msg += "; wrong alternate setting or image too large? Get Phase may say why"; break;
      case Step::detach_out: msg += "; U-Boot accepts DFU_DETACH only in dfuIDLE"; break;
      case Step::manifest_status:
        if (handover_step()) msg += "; the next stage did not answer after the ROM started it (crashed, or built without USB programmer support)";
        break;
      default: break;
    }
    if (device_state_ && *device_state_ >= State::dfu_idle) device_state_ = State::error;
    throw TransportError(errc::stall, msg, context());
  });
}

void Engine::on_disconnect() {
  guarded([&] {
    if (!busy_) fail_usage(errc::usage, "on_disconnect() while no transfer is pending");
    if (step_ == Step::detach_out) {
      detached();
      return;
    }
    if (handover_step()) {
      manifest_done(true, false);
      return;
    }
    device_state_.reset();
    throw TransportError(errc::disconnected, "device disconnected during " + doing(), context());
  });
}

std::chrono::milliseconds Engine::manifest_timeout() const {
  return download_options_.manifest_timeout.count() ? download_options_.manifest_timeout : options_.busy_timeout;
}

// A GETSTATUS reply lost on the wire: the device may have acted on the request (DNLOAD-SYNC ->
// DNBUSY/DNLOAD-IDLE, MANIFEST-SYNC -> IDLE), so the believed state is dropped and the same
// request is sent again. The transfer timeout that passed covers any bwPollTimeout the lost reply
// asked for. Returns false when the retries are spent or the step is not a plain status request.
bool Engine::ask_status_again() {
  const bool status_step = step_ == Step::settle_status || step_ == Step::block_status || step_ == Step::single_status;
  if (!status_step || request_ != Request::getstatus || alt_in_flight_) return false;
  if (lost_status_ >= options_.status_retries) return false;
  ++lost_status_;
  device_state_.reset();
  const auto* in = std::get_if<ControlIn>(&action_);
  request_status(step_, in ? in->timeout : options_.request_timeout);
  return true;
}

void Engine::on_timeout() {
  guarded([&] {
    if (!busy_) fail_usage(errc::usage, "on_timeout() while no transfer is pending");
    if (ask_status_again()) return;
    std::string msg = doing() + " timed out";
    if (lost_status_ > 0) {
      msg += ' ';
      msg += std::to_string(lost_status_ + 1);
      msg += " times in a row (its reply lost, or the device stopped answering)";
    }
    if (step_ == Step::manifest_status) {
      msg += " after ";
      msg += std::to_string(manifest_timeout().count() / 1000);
      msg += " s: the device was still writing (flush) past the bound allowed for this download";
    }
    if (handover_step()) msg += " (the next stage may not have started)";
    throw TimeoutError(errc::timeout, msg, context());
  });
}

// ---- outputs and state --------------------------------------------------------------------------

Action Engine::next_action() const {
  if (mode_ == Mode::failed)
    throw UsageError(errc::usage, "the DFU engine has failed earlier (" + failure_ + "); use a new engine", context());
  return action_;
}

std::optional<Event> Engine::next_event() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool Engine::busy() const noexcept { return busy_ && mode_ != Mode::failed; }
bool Engine::failed() const noexcept { return mode_ == Mode::failed; }

ErrorContext Engine::context() const {
  ErrorContext c;
  c.operation = alt_in_flight_ ? "SET_INTERFACE" : request_name(request_);
  c.phase = phase_;
  if (kind_ == Mode::download) {
    c.bytes_sent = acked_;
    c.bytes_total = total_;
  }
  // Every request names its block: the one in progress, 0 before the first (SET_INTERFACE,
  // settling) and for requests that carry none.
  if (kind_ != Mode::idle) c.packet = block_;
  if (in_blocks_ && (kind_ == Mode::download || kind_ == Mode::upload)) {
    c.bytes_sent = acked_;
    if (total_) c.bytes_total = total_;
  }
  return c;
}

std::string Engine::doing() const {
  if (alt_in_flight_) return "SET_INTERFACE alt " + std::to_string(alt_.value_or(0));
  const std::string block = std::to_string(block_);
  switch (step_) {
    case Step::block_out: return "DFU_DNLOAD block " + block;
    case Step::zero_out: return "DFU_DNLOAD block " + block + " (zero-length, end of download)";
    case Step::block_status:
    case Step::block_sleep: return "DFU_GETSTATUS after DFU_DNLOAD block " + block;
    case Step::manifest_status:
    case Step::manifest_sleep: return "DFU_GETSTATUS during manifestation";
    case Step::upload_in: return "DFU_UPLOAD block " + block;
    case Step::phase_in: return "DFU_UPLOAD (Get Phase)";
    default: return request_name(request_);
  }
}

std::string Engine::waiting_for() const {
  switch (step_) {
    case Step::block_status:
    case Step::block_sleep: return "after DFU_DNLOAD block " + std::to_string(block_);
    case Step::manifest_status:
    case Step::manifest_sleep: return "during manifestation (after the zero-length DFU_DNLOAD)";
    default: return "while bringing the device to dfuIDLE";
  }
}

}  // namespace mp1boot::dfu
