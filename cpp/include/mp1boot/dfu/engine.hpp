// SPDX-License-Identifier: MIT
// The USB DFU 1.1 host engine with ST's conventions (PROTOCOL.md sections 3 and 4.2), sans I/O:
// requests (get_phase, download, upload, detach, ...) become a sequence of actions (control
// transfers, SET_INTERFACE, sleeps) that the session's driver performs on a
// transport::UsbControlPort, feeding the results back as inputs. The DFU 1.1 state machine as the
// host sees it is one data table (transition_table()); the engine checks every GETSTATUS reply
// against it. Per-SoC start rules (who needs DFU_DETACH after the FSBL) are data too.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "mp1boot/bytes.hpp"
#include "mp1boot/temporary_buffer.hpp"
#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/soc.hpp"
#include "mp1boot/usb.hpp"

namespace mp1boot::dfu {

// ---------------------------------------------------------------------------------------------
// The DFU 1.1 state machine as the host sees it
// ---------------------------------------------------------------------------------------------

/// What the host does (or lets happen) to a device in a given state.
enum class HostEvent : std::uint8_t {
  dnload_block,  ///< DFU_DNLOAD with data
  dnload_zero,   ///< DFU_DNLOAD with wLength 0 (end of the download, starts manifestation)
  upload_full,   ///< DFU_UPLOAD answered with wLength bytes
  upload_short,  ///< DFU_UPLOAD answered with fewer bytes (end of the upload)
  getstatus,     ///< DFU_GETSTATUS (the reply carries the new state)
  getstate,      ///< DFU_GETSTATE
  clrstatus,     ///< DFU_CLRSTATUS
  abort,         ///< DFU_ABORT
  detach,        ///< DFU_DETACH
  poll_elapsed,  ///< bwPollTimeout (or wDetachTimeOut in appDETACH) has passed
};
inline constexpr std::size_t host_event_count = 10;

/// "DFU_DNLOAD", "DFU_DNLOAD(0)", "DFU_UPLOAD(full)", ..., "poll timeout".
std::string_view host_event_name(HostEvent e);

/// A small set of states (bit i = State i).
class StateSet {
 public:
  constexpr StateSet() = default;
  constexpr StateSet(std::initializer_list<State> states) {
    for (State s : states) bits_ = static_cast<std::uint16_t>(bits_ | bit(s));
  }
  constexpr bool contains(State s) const { return (bits_ & bit(s)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr std::uint16_t bits() const { return bits_; }
  /// "dfuDNBUSY, dfuDNLOAD-IDLE or dfuERROR".
  std::string describe() const;
  constexpr bool operator==(const StateSet&) const = default;

 private:
  static constexpr std::uint16_t bit(State s) {
    if (static_cast<unsigned>(s) >= 16) return 0;
    return static_cast<std::uint16_t>(1U << static_cast<unsigned>(s));
  }
  std::uint16_t bits_ = 0;
};

/// One row of the table: in state `from`, event `event` is allowed (`legal`) and leaves the device
/// in one of the states `to` (for DFU_GETSTATUS: the states the reply may report). For illegal
/// pairs the device stalls the request: `to` is {dfuERROR} in DFU mode, per DFU 1.1 appendix A.
struct Transition {
  State from;
  HostEvent event;
  bool legal;
  StateSet to;
  std::string_view note;  ///< why, citing DFU 1.1 or the ST stage that behaves so
};

/// The legal transitions, the spec of this engine (illegal pairs are not listed).
std::span<const Transition> transition_table();
/// The row for (from, event); pairs missing from the table yield an illegal row.
Transition transition(State from, HostEvent event);
/// The table as a Graphviz digraph (for docs and notebooks).
std::string transition_table_dot();

// ---------------------------------------------------------------------------------------------
// Per-SoC start rules
// ---------------------------------------------------------------------------------------------

/// How a ROM starts the FSBL once it has been downloaded over DFU (PROTOCOL.md 3.4.1, 3.8, 4.2).
struct StartRules {
  SocFamily family;
  /// MP15: the zero-length DNLOAD's manifestation jumps to the FSBL; TF-A keeps the ROM's USB
  /// configuration, so there is no detach and normally no re-enumeration. A device that drops off
  /// the bus during that manifestation is a hand-over, not a failure (pass
  /// DownloadOptions::handover_on_manifest).
  bool fsbl_starts_on_manifest;
  /// MP13/MP25: the ROM returns to dfuIDLE and waits for DFU_DETACH; the device then
  /// re-enumerates as TF-A.
  bool fsbl_needs_detach;
};
/// The rules for `family`.
const StartRules& start_rules(SocFamily family);
/// True when the ROM needs DFU_DETACH to start the FSBL (MP13, MP25).
bool needs_detach_after_fsbl(SocFamily family);
/// TF-A and U-Boot ask for DFU_DETACH through the Get Phase flag (PROTOCOL.md 3.5).
inline bool needs_detach(const PhaseInfo& info) { return info.detach_requested; }
/// Alternate setting whose name carries `phase` ("/0x03/"), or nullptr.
const usb::AltSetting* find_alt(std::span<const usb::AltSetting> alts, std::uint8_t phase);
/// The alternate settings for messages: `0 "@FSBL /0x01/1*1Me", 1 "@virtual /0xF1/1*512Ba"`, or "none".
std::string list_alts(std::span<const usb::AltSetting> alts);

// ---------------------------------------------------------------------------------------------
// Actions (engine -> driver)
// ---------------------------------------------------------------------------------------------

/// Field-wise equality of setup packets (usb::SetupPacket has no operator==).
constexpr bool same_setup(const usb::SetupPacket& a, const usb::SetupPacket& b) {
  return a.request_type == b.request_type && a.request == b.request && a.value == b.value && a.index == b.index;
}

/// Host-to-device control transfer; answer with on_control_out_done() (or a failure input).
struct ControlOut {
  usb::SetupPacket setup;
  Bytes data;                         ///< data stage; wLength = data.size()
  std::chrono::milliseconds timeout;  ///< suggested transfer timeout
  /// The data stage carries the caller's data (a DNLOAD block), which a field trace keeps as
  /// size and hash only. Not part of ==.
  bool payload = false;
  bool operator==(const ControlOut& o) const {
    return same_setup(setup, o.setup) && data == o.data && timeout == o.timeout;
  }
};
/// Device-to-host control transfer of at most `length` bytes; answer with on_control_in(bytes).
struct ControlIn {
  usb::SetupPacket setup;
  std::uint16_t length;
  std::chrono::milliseconds timeout;
  /// The reply is partition content (an UPLOAD block of a read-back). Not part of ==.
  bool payload = false;
  bool operator==(const ControlIn& o) const {
    return same_setup(setup, o.setup) && length == o.length && timeout == o.timeout;
  }
};
/// SET_INTERFACE(alt) on interface 0 (UsbControlPort::set_alt_setting); answer with
/// on_control_out_done().
struct SetAlt {
  std::uint8_t alt;
  bool operator==(const SetAlt&) const = default;
};
/// Wait this long (bwPollTimeout, never 0) before the next action; answer with on_sleep_done().
struct Sleep {
  std::chrono::milliseconds duration;
  bool operator==(const Sleep&) const = default;
};
/// Nothing left to do for the last request (also what an engine that has had no request says).
struct Done {
  /// The device left the bus, or was told to (DFU_DETACH, or a disconnect during an MP15
  /// manifestation hand-over): close the handle and reconnect by serial number before the next
  /// request.
  bool device_left = false;
  /// The device ended in dfuMANIFEST-WAIT-RESET (not manifestation tolerant): it needs a USB reset.
  bool reset_required = false;
  bool operator==(const Done&) const = default;
};
/// A streamed download needs image bytes [offset, offset + length) before it can send the next
/// block; answer with supply() (a window that starts at `offset` and holds at least `length`).
struct NeedData {
  std::uint64_t offset;
  std::uint32_t length;
  bool operator==(const NeedData&) const = default;
};
using Action = std::variant<ControlOut, ControlIn, SetAlt, Sleep, Done, NeedData>;

// ---------------------------------------------------------------------------------------------
// Events (engine -> session, informational)
// ---------------------------------------------------------------------------------------------

/// Every GETSTATUS reply.
struct StatusReported {
  StatusReply reply;
};
/// A download block reached dfuDNLOAD-IDLE. Blocks count from 0 in each download.
struct BlockAcked {
  std::uint32_t block;
  std::uint64_t bytes_done;
  std::uint64_t bytes_total;
};
/// The device was in dfuERROR before a request and DFU_CLRSTATUS was sent.
struct StatusCleared {
  StatusReply previous;
};
/// The download ended: the device is back in dfuIDLE, or left the bus (MP15 hand-over), or waits
/// for a USB reset.
struct Manifested {
  std::uint8_t phase;
  bool device_left;
  bool reset_required;
};
/// A Get Phase reply.
struct PhaseReported {
  PhaseInfo info;
};
/// What upload() keeps in uploaded().
enum class UploadKeep : std::uint8_t { all, last_block };

/// An upload block arrived.
struct BlockUploaded {
  std::uint32_t block;
  std::uint64_t bytes_done;
  ByteView data;  ///< this block's bytes; valid until the next input to the engine
};
/// DFU_DETACH was accepted (or the device left while receiving it).
struct Detached {};
using Event = std::variant<StatusReported, BlockAcked, StatusCleared, Manifested, PhaseReported, BlockUploaded, Detached>;

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

/// Engine-wide settings.
struct Options {
  /// Suggested timeout for ordinary requests (SET_INTERFACE, GETSTATUS, UPLOAD, ...).
  std::chrono::milliseconds request_timeout{5000};
  /// For requests the device may hold while it works: DNLOAD blocks (U-Boot flushes its 8 MiB
  /// buffer in the status stage), the zero-length DNLOAD (TF-A manifests inside it) and the
  /// GETSTATUS after it (U-Boot's deferred flush). PROTOCOL.md 3.11.
  std::chrono::milliseconds busy_timeout{30000};
  /// wLength of the Get Phase UPLOAD (TF-A ignores it; U-Boot truncates to it; >= 64).
  std::uint16_t phase_reply_length = 512;
  /// Read the status (and clear dfuERROR) before the Get Phase UPLOAD.
  bool status_before_get_phase = true;
  /// Bounds one wait for a busy state (dfuDNBUSY, dfuMANIFEST, ...): at most this many GETSTATUS
  /// polls, and at most this much accumulated bwPollTimeout. Exceeding either is a TimeoutError.
  std::uint32_t max_status_polls = 100000;
  std::chrono::milliseconds max_poll_wait{120000};
  /// A DFU_GETSTATUS that times out (its reply lost on the wire, or the device slow to answer) is
  /// asked again this many times in a row before the timeout is an error. The device may have
  /// acted on the lost one, so the state the next reply reports is not checked against the table
  /// (the step's own checks still apply). Not during manifestation, whose GETSTATUS U-Boot holds
  /// for its flush: there the timeout is the flush bound (DownloadOptions::manifest_timeout).
  std::uint32_t status_retries = 3;
};

/// Per-download settings.
struct DownloadOptions {
  /// The stage hands over to the next one at manifestation (MP15 ROM -> TF-A): a disconnect after
  /// the zero-length DNLOAD ends the download with Done{device_left = true} instead of an error.
  bool handover_on_manifest = false;
  /// bitManifestationTolerant of the functional descriptor (all ST stages set it). When false,
  /// dfuMANIFEST is followed by dfuMANIFEST-WAIT-RESET and Done{reset_required = true}.
  bool manifestation_tolerant = true;
  /// Timeout of the GETSTATUS requests during manifestation (U-Boot holds them while its
  /// deferred flush writes the medium); 0: Options::busy_timeout. A timeout names this bound.
  std::chrono::milliseconds manifest_timeout{0};
};

/// The DFU host engine. Usage (the driver loop):
///
///     engine.download(0x03, port.alt_settings(), fip, identity.transfer_size);
///     for (;;) {
///       Action a = engine.next_action();
///       if (auto* d = std::get_if<Done>(&a)) break;                     // reconnect if d->device_left
///       ... perform the action; call on_control_in / on_control_out_done / on_sleep_done,
///       ... or, when the transport throws, on_stall / on_disconnect / on_timeout;
///       while (auto e = engine.next_event()) { ... }
///     }
///
/// next_action() is idempotent: it returns the same action until an input arrives. Requests may
/// only be made when the engine is idle (no request, or the last one is Done). Inputs and
/// requests throw mp1boot errors carrying an ErrorContext (operation = the DFU request, phase,
/// packet = block number, bytes_sent = bytes acknowledged, bytes_total); after any error the engine
/// is failed and every further call throws UsageError.
///
/// Thread safety: distinct engines are independent; one engine must not be used concurrently.
class Engine {
 public:
  explicit Engine(Options options = {});

  // -- requests ---------------------------------------------------------------------------------

  /// Get Phase: SET_INTERFACE(virtual alt, phase 0xF1), [GETSTATUS, CLRSTATUS if dfuERROR],
  /// DFU_UPLOAD(wValue 0, wLength 512). Result: phase_info() and a PhaseReported event.
  /// @throws UsageError(errc::unsupported) when no alt carries phase 0xF1.
  void get_phase(std::span<const usb::AltSetting> alts);

  /// Downloads `data` to the alt whose name carries `phase`: SET_INTERFACE, GETSTATUS (CLRSTATUS
  /// only in dfuERROR), DNLOAD blocks 0, 1, ... (wValue modulo 65536) of `transfer_size` rounded
  /// down to a multiple of 64 and capped at 65472 (the last block may be shorter), each followed by GETSTATUS polls (sleeping bwPollTimeout)
  /// until dfuDNLOAD-IDLE, then a zero-length DNLOAD and GETSTATUS until dfuIDLE.
  /// `data` must stay alive until Done. Events: BlockAcked per block, Manifested at the end.
  /// @throws UsageError(errc::unsupported) when no alt carries `phase` (the message lists the
  ///         alts); UsageError(errc::usage) for empty data or transfer_size 0.
  void download(std::uint8_t phase, std::span<const usb::AltSetting> alts, ByteView data,
                std::uint32_t transfer_size, DownloadOptions options = {});
  /// Refused: the engine keeps a view of `data`, a temporary would be gone before the first block.
  template <class C>
    requires TemporaryBuffer<C>
  void download(std::uint8_t phase, std::span<const usb::AltSetting> alts, C&& data,
                std::uint32_t transfer_size, DownloadOptions options = {}) = delete;

  /// Reads an alt back (U-Boot partitions, OTP, PMIC): SET_INTERFACE, GETSTATUS (CLRSTATUS in
  /// dfuERROR), DFU_UPLOAD blocks 0, 1, ... of `transfer_size` until a short block. If
  /// `max_length` bytes arrive before a short block the engine sends DFU_ABORT (U-Boot then keeps
  /// its back-end transaction open, PROTOCOL.md 3.10: pass the partition size or more).
  /// Result: uploaded() (with UploadKeep::all) and events BlockUploaded carrying each block.
  /// UploadKeep::last_block keeps only the latest block, so memory stays bounded whatever the
  /// length: the caller consumes BlockUploaded::data as it arrives.
  void upload(std::uint8_t alt, std::uint32_t transfer_size, std::uint64_t max_length = UINT64_MAX,
              UploadKeep keep = UploadKeep::all);

  /// As download(), for an image of `total` bytes that the engine does not hold: before each
  /// block outside the last supplied window it asks for data with NeedData (memory stays bounded
  /// whatever the image size). Block numbers wrap at 65536 as U-Boot counts them.
  void download_streamed(std::uint8_t phase, std::span<const usb::AltSetting> alts, std::uint64_t total,
                         std::uint32_t transfer_size, DownloadOptions options = {});

  /// DFU_DETACH (bmRequestType 0x21, wValue = timeout_ms). When the device is not known to be in
  /// dfuIDLE, the status is read and settled first (U-Boot only accepts DETACH in dfuIDLE). Ends
  /// with Done{device_left = true}; a disconnect during the request counts as success.
  void detach(std::uint16_t timeout_ms = 1000);
  /// DFU_ABORT (device back to dfuIDLE from dfuDNLOAD-IDLE / dfuUPLOAD-IDLE).
  void abort();
  /// DFU_CLRSTATUS. Note: TF-A turns a CLRSTATUS outside dfuERROR into dfuERROR/errUNKNOWN; prefer
  /// ensure_idle(), which clears only when needed.
  void clear_status();
  /// One DFU_GETSTATUS; the reply (even dfuERROR) is last_status(), not an error.
  void get_status();
  /// GETSTATUS, then CLRSTATUS (dfuERROR), ABORT (dfuDNLOAD-IDLE, dfuUPLOAD-IDLE) or polling
  /// (busy states) until the device reports dfuIDLE.
  void ensure_idle();

  // -- inputs -----------------------------------------------------------------------------------

  /// Data stage of the pending ControlIn (may be shorter than requested).
  void on_control_in(ByteView data);
  /// The pending ControlOut or SetAlt completed.
  void on_control_out_done();
  /// The pending Sleep elapsed.
  void on_sleep_done();
  /// Answers NeedData: `window` holds image bytes from the requested offset (at least the
  /// requested length); it must stay alive until the next NeedData or Done.
  void supply(ByteView window);
  /// The pending transfer was stalled. @throws TransportError(errc::stall) naming the request.
  void on_stall();
  /// The device disconnected during the pending transfer. A hand-over during manifestation (when
  /// allowed) or during DFU_DETACH ends the request normally; otherwise
  /// @throws TransportError(errc::disconnected).
  void on_disconnect();
  /// The pending transfer timed out. @throws TimeoutError(errc::timeout).
  void on_timeout();

  // -- outputs ----------------------------------------------------------------------------------

  /// What the driver must do next. @throws UsageError once the engine has failed.
  Action next_action() const;
  /// Next informational event, oldest first.
  std::optional<Event> next_event();

  // -- state ------------------------------------------------------------------------------------

  /// True while a request is in progress (next_action() is not Done).
  bool busy() const noexcept;
  bool failed() const noexcept;
  /// The device state the host believes in (std::nullopt until a GETSTATUS after SET_INTERFACE).
  std::optional<State> device_state() const noexcept { return device_state_; }
  const std::optional<StatusReply>& last_status() const noexcept { return last_status_; }
  /// The last Get Phase reply.
  const std::optional<PhaseInfo>& phase_info() const noexcept { return phase_info_; }
  /// Bytes read by the last upload() (only its last block with UploadKeep::last_block).
  const Bytes& uploaded() const noexcept { return uploaded_; }
  /// The alt selected by the last get_phase()/download()/upload().
  std::optional<std::uint8_t> selected_alt() const noexcept { return alt_; }
  /// Where the engine is now: operation, phase, packet (block), bytes acknowledged and total.
  ErrorContext context() const;

 private:
  enum class Mode : std::uint8_t { idle, get_phase, download, upload, detach, abort, clear_status, get_status, ensure_idle, failed };
  enum class Step : std::uint8_t {
    none, set_alt, settle_status, settle_clear, settle_abort, settle_sleep,
    block_out, block_status, block_sleep, zero_out, manifest_status, manifest_sleep,
    upload_in, upload_abort, phase_in, detach_out, single_out, single_status, need_data,
  };

  template <class F> void guarded(F&& body);
  void require_ready() const;
  [[noreturn]] void fail_usage(errc code, const std::string& message) const;
  void begin(Mode mode);
  void select_alt(std::uint8_t alt);
  std::chrono::milliseconds manifest_timeout() const;
  void begin_download(std::uint8_t phase, std::span<const usb::AltSetting> alts, std::uint64_t total,
                      std::uint32_t transfer_size, const DownloadOptions& options);

  void request_out(Request r, std::uint16_t value, Bytes data, std::chrono::milliseconds timeout, Step next);
  void request_in(Request r, std::uint16_t value, std::uint16_t length, std::chrono::milliseconds timeout, Step next);
  void request_status(Step next, std::chrono::milliseconds timeout);
  void finish(Done done = {});
  void reset_polls();
  void count_poll(std::uint32_t poll_ms);
  void poll_again(std::uint32_t poll_ms, Step sleep_step);
  void after_poll();

  void apply(HostEvent event);
  StatusReply take_status(ByteView data);
  void check_status(const StatusReply& reply);
  [[noreturn]] void throw_device_error(const StatusReply& reply, const std::string& when);

  void start_settle();
  void on_settle_status(const StatusReply& reply);
  void after_settled();
  void send_block();
  void on_block_status(const StatusReply& reply);
  void on_manifest_status(const StatusReply& reply);
  void manifest_done(bool device_left, bool reset_required);
  void send_upload();
  void on_upload_data(ByteView data);
  void on_phase_data(ByteView data);
  void detached();
  bool handover_step() const;
  bool ask_status_again();

  std::string doing() const;        // "DFU_DNLOAD block 3", "SET_INTERFACE alt 5", ...
  std::string waiting_for() const;  // "after DFU_DNLOAD block 3", "during manifestation ..."

  Options options_;
  Mode mode_ = Mode::idle;  // current request, or failed
  Mode kind_ = Mode::idle;  // last request (kept after failure, for context())
  bool busy_ = false;
  Step step_ = Step::none;
  Action action_ = Done{};
  std::deque<Event> events_;
  std::string failure_;

  // Device and request state.
  std::optional<State> device_state_;
  std::optional<StatusReply> last_status_;
  std::optional<std::uint8_t> alt_;
  Request request_ = Request::getstatus;  // request in flight (or last sent)
  bool alt_in_flight_ = false;            // the pending action is SetAlt
  std::uint32_t polls_ = 0;
  std::uint64_t poll_wait_ms_ = 0;
  std::uint32_t lost_status_ = 0;  // DFU_GETSTATUS timeouts in a row (Options::status_retries)
  int settle_rounds_ = 0;

  // download / upload
  std::optional<std::uint8_t> phase_;
  ByteView data_;                // download: the image, or the last supplied window of it
  std::uint64_t window_offset_ = 0;  // image offset of data_[0]
  DownloadOptions download_options_;
  bool in_blocks_ = false;       // past SET_INTERFACE and settling: block numbers are meaningful
  std::uint32_t block_size_ = 0;
  std::uint32_t block_ = 0;      // current block number (0-based)
  std::uint64_t acked_ = 0;      // download: bytes acknowledged (dfuDNLOAD-IDLE); upload: bytes read
  std::uint64_t total_ = 0;
  std::uint64_t max_length_ = 0;
  std::uint16_t requested_ = 0;  // wLength of the pending UPLOAD
  std::uint16_t detach_timeout_ = 0;

  // results
  std::optional<PhaseInfo> phase_info_;
  Bytes uploaded_;
  UploadKeep keep_ = UploadKeep::all;
};

}  // namespace mp1boot::dfu
