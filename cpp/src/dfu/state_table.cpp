// SPDX-License-Identifier: MIT
// The DFU 1.1 state machine as the host sees it (the spec the engine checks replies against),
// the per-SoC start rules, and alt-setting lookup.
#include <array>

#include "mp1boot/dfu/engine.hpp"

namespace mp1boot::dfu {

// Theory of operation
// -------------------
// A DFU device is a state machine the host can only observe through DFU_GETSTATUS. The host keeps
// a belief about the device state and updates it with every request it sends (DNLOAD with data
// always leads to dfuDNLOAD-SYNC, ABORT to dfuIDLE, ...) and with the passing of bwPollTimeout
// (dfuDNBUSY becomes dfuDNLOAD-SYNC again). The table below lists, for every state, the events
// that DFU 1.1 (appendix A, "DFU state transition diagram") or the ST stages allow, and the states
// that may follow. For DFU_GETSTATUS "may follow" means "may be reported": after a data block the
// device may say dfuDNBUSY (ROM: 4, then 5 after 1 ms), dfuDNLOAD-IDLE (U-Boot: 5 directly), or, as
// TF-A does, the current dfuDNLOAD-SYNC before it advances; a reply outside that set is a protocol
// violation (for example dfuIDLE after a block: the device dropped the transfer). dfuERROR or a
// status other than OK is always the device reporting a failure.
//
// Pairs that are not listed are illegal: in DFU mode the device stalls the request and enters
// dfuERROR (errSTALLEDPKT); in dfuDNBUSY and dfuMANIFEST it is busy and the host must wait
// bwPollTimeout first; dfuMANIFEST-WAIT-RESET only leaves on a USB reset; in run-time mode
// (appIDLE/appDETACH, which no ST stage implements) the device stalls and stays or returns to
// appIDLE.
//
// ST conventions on top of DFU 1.1 (PROTOCOL.md 3.4): DFU_DETACH in dfuIDLE starts the next stage
// (the device leaves the bus); TF-A reports MANIFEST-SYNC as dfuMANIFEST with bwPollTimeout 1 ms
// and then dfuIDLE; U-Boot reports dfuMANIFEST then dfuIDLE once its deferred flush is done.

namespace {

using S = State;
using E = HostEvent;

constexpr std::array<Transition, 40> table{{
    // from              event             legal to                                                note
    {S::app_idle,        E::detach,        true, {S::app_detach},                                  "DFU 1.1 run-time DETACH; a USB reset then enters DFU mode"},
    {S::app_idle,        E::getstatus,     true, {S::app_idle},                                    "DFU 1.1"},
    {S::app_idle,        E::getstate,      true, {S::app_idle},                                    "DFU 1.1"},
    {S::app_idle,        E::poll_elapsed,  true, {S::app_idle},                                    ""},
    {S::app_detach,      E::getstatus,     true, {S::app_detach},                                  "DFU 1.1"},
    {S::app_detach,      E::getstate,      true, {S::app_detach},                                  "DFU 1.1"},
    {S::app_detach,      E::poll_elapsed,  true, {S::app_idle},                                    "wDetachTimeOut passed without a USB reset"},

    {S::dfu_idle,        E::dnload_block,  true, {S::dnload_sync},                                 "DFU 1.1 (bitCanDnload)"},
    {S::dfu_idle,        E::upload_full,   true, {S::upload_idle},                                 "DFU 1.1 (bitCanUpload)"},
    {S::dfu_idle,        E::upload_short,  true, {S::dfu_idle},                                    "a short block ends the upload"},
    {S::dfu_idle,        E::getstatus,     true, {S::dfu_idle},                                    "DFU 1.1"},
    {S::dfu_idle,        E::getstate,      true, {S::dfu_idle},                                    "DFU 1.1"},
    {S::dfu_idle,        E::abort,         true, {S::dfu_idle},                                    "DFU 1.1"},
    {S::dfu_idle,        E::detach,        true, {S::dfu_idle},                                    "ST: starts the next stage, the device leaves the bus (not DFU 1.1)"},
    {S::dfu_idle,        E::poll_elapsed,  true, {S::dfu_idle},                                    ""},

    {S::dnload_sync,     E::getstatus,     true, {S::dnload_sync, S::dnbusy, S::dnload_idle, S::error}, "DFU 1.1: DNBUSY while writing, DNLOAD-IDLE when done; TF-A first reports DNLOAD-SYNC"},
    {S::dnload_sync,     E::getstate,      true, {S::dnload_sync},                                 "DFU 1.1"},
    {S::dnload_sync,     E::poll_elapsed,  true, {S::dnload_sync},                                 ""},

    {S::dnbusy,          E::poll_elapsed,  true, {S::dnload_sync},                                 "DFU 1.1: no request before bwPollTimeout has passed"},

    {S::dnload_idle,     E::dnload_block,  true, {S::dnload_sync},                                 "DFU 1.1"},
    {S::dnload_idle,     E::dnload_zero,   true, {S::manifest_sync},                               "DFU 1.1: end of the download"},
    {S::dnload_idle,     E::getstatus,     true, {S::dnload_idle},                                 "DFU 1.1"},
    {S::dnload_idle,     E::getstate,      true, {S::dnload_idle},                                 "DFU 1.1"},
    {S::dnload_idle,     E::abort,         true, {S::dfu_idle},                                    "DFU 1.1"},
    {S::dnload_idle,     E::poll_elapsed,  true, {S::dnload_idle},                                 ""},

    {S::manifest_sync,   E::getstatus,     true, {S::manifest_sync, S::manifest, S::dfu_idle, S::error}, "DFU 1.1: MANIFEST while in progress, IDLE when done; ROM/TF-A/U-Boot say MANIFEST first; MANIFEST-SYNC tolerated like TF-A's DNLOAD-SYNC [INF]"},
    {S::manifest_sync,   E::getstate,      true, {S::manifest_sync},                               "DFU 1.1"},
    {S::manifest_sync,   E::poll_elapsed,  true, {S::manifest_sync},                               ""},

    {S::manifest,        E::poll_elapsed,  true, {S::manifest_sync, S::manifest_wait_reset},       "DFU 1.1: MANIFEST-SYNC if manifestation tolerant, else MANIFEST-WAIT-RESET"},

    {S::manifest_wait_reset, E::poll_elapsed, true, {S::manifest_wait_reset},                      "DFU 1.1: only a USB reset leaves this state"},

    {S::upload_idle,     E::upload_full,   true, {S::upload_idle},                                 "DFU 1.1"},
    {S::upload_idle,     E::upload_short,  true, {S::dfu_idle},                                    "DFU 1.1: a short block ends the upload"},
    {S::upload_idle,     E::getstatus,     true, {S::upload_idle},                                 "DFU 1.1"},
    {S::upload_idle,     E::getstate,      true, {S::upload_idle},                                 "DFU 1.1"},
    {S::upload_idle,     E::abort,         true, {S::dfu_idle},                                    "DFU 1.1"},
    {S::upload_idle,     E::poll_elapsed,  true, {S::upload_idle},                                 ""},

    {S::error,           E::getstatus,     true, {S::error},                                       "DFU 1.1"},
    {S::error,           E::getstate,      true, {S::error},                                       "DFU 1.1"},
    {S::error,           E::clrstatus,     true, {S::dfu_idle},                                    "DFU 1.1"},
    {S::error,           E::poll_elapsed,  true, {S::error},                                       ""},
}};

constexpr std::array<StartRules, 3> start_table{{
    // MP15 ROM: manifestation jumps to TF-A, which keeps the ROM's USB configuration [SRC][LOG].
    {SocFamily::stm32mp15, true, false},
    // MP13/MP25 ROM: back to dfuIDLE, DFU_DETACH starts the FSBL, TF-A re-enumerates [DOC][LOG][HOST].
    {SocFamily::stm32mp13, false, true},
    {SocFamily::stm32mp25, false, true},
}};

}  // namespace

std::string_view host_event_name(HostEvent e) {
  switch (e) {
    case E::dnload_block: return "DFU_DNLOAD";
    case E::dnload_zero: return "DFU_DNLOAD(0)";
    case E::upload_full: return "DFU_UPLOAD(full)";
    case E::upload_short: return "DFU_UPLOAD(short)";
    case E::getstatus: return "DFU_GETSTATUS";
    case E::getstate: return "DFU_GETSTATE";
    case E::clrstatus: return "DFU_CLRSTATUS";
    case E::abort: return "DFU_ABORT";
    case E::detach: return "DFU_DETACH";
    case E::poll_elapsed: return "poll timeout";
  }
  return "unknown";
}

std::string StateSet::describe() const {
  std::string out;
  std::size_t n = 0, total = 0;
  for (unsigned i = 0; i < 16; ++i)
    if (bits_ & (1U << i)) ++total;
  for (unsigned i = 0; i < 16; ++i) {
    if (!(bits_ & (1U << i))) continue;
    ++n;
    if (n > 1) out += n == total ? " or " : ", ";
    out += state_name(static_cast<State>(i));
  }
  return out.empty() ? "nothing" : out;
}

std::span<const Transition> transition_table() { return table; }

Transition transition(State from, HostEvent event) {
  for (const auto& t : table)
    if (t.from == from && t.event == event) return t;
  switch (from) {
    case S::app_idle: return {from, event, false, {S::app_idle}, "DFU 1.1: stalled, stays in appIDLE"};
    case S::app_detach: return {from, event, false, {S::app_idle}, "DFU 1.1: stalled, back to appIDLE"};
    case S::dnbusy:
    case S::manifest: return {from, event, false, {S::error}, "DFU 1.1: the device is busy; wait bwPollTimeout"};
    case S::manifest_wait_reset:
      return {from, event, false, {S::manifest_wait_reset}, "DFU 1.1: only a USB reset is answered"};
    default: return {from, event, false, {S::error}, "DFU 1.1: stalled, dfuERROR/errSTALLEDPKT"};
  }
}

std::string transition_table_dot() {
  std::string out = "digraph dfu {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const auto& t : table)
    for (unsigned i = 0; i < state_count; ++i) {
      const auto to = static_cast<State>(i);
      if (!t.to.contains(to) || (to == t.from && t.event != E::detach)) continue;  // self-loops clutter
      out += "  \"" + std::string(state_name(t.from)) + "\" -> \"" + std::string(state_name(to)) + "\" [label=\"" +
             std::string(host_event_name(t.event)) + "\"];\n";
    }
  out += "}\n";
  return out;
}

const StartRules& start_rules(SocFamily family) {
  for (const auto& r : start_table)
    if (r.family == family) return r;
  return start_table[0];  // unreachable: every family has a row (checked by a test)
}

bool needs_detach_after_fsbl(SocFamily family) { return start_rules(family).fsbl_needs_detach; }

std::string list_alts(std::span<const usb::AltSetting> alts) {
  std::string out;
  for (const auto& a : alts) out += (out.empty() ? "" : ", ") + std::to_string(a.number) + " \"" + a.name + "\"";
  return out.empty() ? "none" : out;
}

const usb::AltSetting* find_alt(std::span<const usb::AltSetting> alts, std::uint8_t phase) {
  for (const auto& a : alts)
    if (auto n = parse_alt_name(a.name); n && n->phase == phase) return &a;
  return nullptr;
}

}  // namespace mp1boot::dfu
