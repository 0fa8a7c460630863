// SPDX-License-Identifier: MIT
// session::drive and session::drive_dfu: the UART byte loop and the DFU transfer loop, sharing
// the cancel check, the clock, tracing and error-context merging.
#include "mp1boot/session/drive.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include "mp1boot/wait.hpp"

namespace mp1boot::session {

namespace {
constexpr std::chrono::milliseconds slice{50};

class RealClock final : public DriveClock {
 public:
  time_point now() override { return std::chrono::steady_clock::now(); }
  void sleep_until(time_point deadline, const std::function<void()>& check) override { wait_until(deadline, check); }
};

// What both loops share: cancellation, the clock and the context merge.
struct LoopBase {
  const DriveHooks& hooks;
  DriveClock& clock;

  explicit LoopBase(const DriveHooks& h) : hooks(h), clock(h.clock ? *h.clock : real_clock()) {}

  void check_cancel() const {
    if (hooks.poll) hooks.poll();
    if (hooks.cancel && hooks.cancel->cancelled())
      throw CancelledError(errc::cancelled, "cancelled by the caller");
  }
  void note(const std::string& text) const {
    if (hooks.trace) hooks.trace('#', {}, text);
    if (hooks.record) hooks.record->note(text);
  }
};

// The one place where protocol context (`context()`, the engine's) and the transport's name join
// an error.
template <class Context, class Body>
auto merging_context(Context&& context, const std::string& transport, Body&& body) {
  try {
    return body();
  } catch (Error& e) {
    ErrorContext c = context();
    c.transport = transport;
    e.add_context(c);
    throw;
  }
}

// The DFU engine's context; when the request does not name a phase (an upload takes an alt
// number), the phase id the selected alt's name carries (PROTOCOL.md 3.3). Not the virtual alt's
// 0xF1: a Get Phase request is about the board's phase, which only the session knows.
ErrorContext dfu_context(const dfu::Engine& engine, transport::UsbControlPort& port) {
  ErrorContext c = engine.context();
  if (c.phase || !engine.selected_alt()) return c;
  try {
    for (const auto& alt : port.alt_settings())
      if (alt.number == *engine.selected_alt())
        if (auto name = dfu::parse_alt_name(alt.name); name && name->phase != phase::command) c.phase = name->phase;
  } catch (const Error&) {
    // The device is gone (or the handle closed): the session names the phase.
  }
  return c;
}

struct Loop : LoopBase {
  uart::Engine& engine;
  transport::ByteStream& stream;

  Loop(uart::Engine& e, transport::ByteStream& s, const DriveHooks& h) : LoopBase(h), engine(e), stream(s) {}

  void emit_events() {
    while (auto ev = engine.next_event()) {
      if (auto* r = std::get_if<uart::Retrying>(&*ev))
        note("retry " + std::to_string(r->attempt) + " of " + r->operation + ": " + r->reason);
      if (hooks.on_event) hooks.on_event(*ev);
    }
  }

  // Reads up to `max` bytes within `timeout`; returns 0 on timeout. Waits in slices so that
  // cancellation is seen quickly.
  std::size_t read(std::span<std::uint8_t> out, std::chrono::milliseconds timeout) {
    if (stream.instant_timeouts()) {
      check_cancel();
      return stream.read_some(out, timeout);
    }
    const auto deadline = clock.now() + timeout;
    for (;;) {
      check_cancel();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.now());
      if (left.count() <= 0) return 0;
      if (std::size_t n = stream.read_some(out, std::min(left, slice))) return n;
    }
  }

  void drain(const uart::Drain& d) {
    std::array<std::uint8_t, 512> buf{};
    const auto limit = clock.now() + d.limit;
    stream.flush_input();
    while (clock.now() < limit) {
      std::size_t n = read(buf, d.quiet);
      if (n == 0) break;
      if (hooks.trace) hooks.trace('<', ByteView(buf.data(), n), "discarded");
      if (hooks.record) hooks.record->read(ByteView(buf.data(), n), false);
      if (stream.instant_timeouts() && n < buf.size()) {
        stream.flush_input();
        break;
      }
    }
  }

  void run() {
    std::array<std::uint8_t, 512> buf{};
    // Bytes that arrived outside any command (a banner, a stage's unsolicited NACK) would be
    // read as this command's reply: drop them first (PROTOCOL.md 2.1, 2.3).
    stream.flush_input();
    for (;;) {
      uart::Action action = engine.next_action();
      if (std::holds_alternative<uart::Done>(action)) break;
      if (auto* w = std::get_if<uart::Write>(&action)) {
        check_cancel();
        if (hooks.trace) hooks.trace('>', w->bytes, {});
        if (hooks.record) hooks.record->write(w->bytes, w->payload);
        stream.write(w->bytes);
      } else if (auto* r = std::get_if<uart::Read>(&action)) {
        const std::size_t want = std::min(r->max, buf.size());
        std::size_t n = read(std::span(buf.data(), want), r->timeout);
        if (n) {
          if (hooks.trace) hooks.trace('<', ByteView(buf.data(), n), {});
          if (hooks.record) hooks.record->read(ByteView(buf.data(), n), r->payload);
          engine.on_bytes(ByteView(buf.data(), n));
        } else {
          if (hooks.trace) hooks.trace('#', {}, "timeout after " + std::to_string(r->timeout.count()) + " ms");
          if (hooks.record) hooks.record->timeout(static_cast<std::uint32_t>(r->timeout.count()));
          engine.on_timeout();
        }
      } else if (auto* d = std::get_if<uart::Drain>(&action)) {
        drain(*d);
      }
      emit_events();
    }
    emit_events();
  }
};

// The DFU loop: control transfers, alt selection, the engine's sleeps and streamed data.
struct DfuLoop : LoopBase {
  static constexpr std::uint64_t window = 1u << 20;  // bounded memory for streamed downloads
  dfu::Engine& engine;
  transport::UsbControlPort& port;
  const std::function<void(const dfu::Event&)>& on_event;
  const DataReader* reader;
  std::array<std::uint8_t, 65536> buf{};
  Bytes own_window;  // used when the caller keeps no window across calls
  Bytes& data;       // the window of a streamed download supplied last

  DfuLoop(dfu::Engine& e, transport::UsbControlPort& p, const DriveHooks& h,
          const std::function<void(const dfu::Event&)>& ev, const DataReader* r, Bytes* window)
      : LoopBase(h), engine(e), port(p), on_event(ev), reader(r), data(window ? *window : own_window) {}

  // The next window of a streamed image: from the requested offset, up to 1 MiB (never less than
  // the block asked for, never past the image's end).
  void supply(const dfu::NeedData& need) {
    if (!reader) throw UsageError(errc::usage, "a streamed download without a data reader");
    const std::uint64_t total = engine.context().bytes_total.value_or(need.offset + need.length);
    const auto n = static_cast<std::size_t>(
        std::max<std::uint64_t>(need.length, std::min(window, total - need.offset)));
    data.resize(n);  // a kept window already has the capacity: no allocation, no page faults
    (*reader)(need.offset, data);
    engine.supply(data);
  }

  static std::uint32_t ms_of(std::chrono::milliseconds t) { return static_cast<std::uint32_t>(t.count()); }

  static std::string setup_text(const usb::SetupPacket& s, std::size_t length) {
    char b[48];
    std::snprintf(b, sizeof b, "setup %02x %02x %04x %04x %04zx", s.request_type, s.request, s.value, s.index, length);
    return b;
  }

  // One transfer; a transport failure becomes the engine's input (which throws with context).
  // Only the port call is guarded: errors the engine raises itself pass through untouched.
  // Returns how the transfer ended; `record` writes it to the field trace first.
  template <class F, class R>
  bool transfer(F&& port_call, R&& record) {
    try {
      port_call();
      record(trace::Result::ok);
      return true;
    } catch (const TransportError& e) {
      note(std::string("transfer failed: ") + e.message());
      switch (e.code()) {
        case errc::stall: record(trace::Result::stall); engine.on_stall(); return false;
        case errc::disconnected: record(trace::Result::disconnected); engine.on_disconnect(); return false;
        case errc::timeout: record(trace::Result::timeout); engine.on_timeout(); return false;
        default: record(trace::Result::error); throw;
      }
    } catch (const TimeoutError&) {
      record(trace::Result::timeout);
      note("transfer timed out");
      engine.on_timeout();
      return false;
    }
  }

  dfu::Done run() {
    for (;;) {
      dfu::Action a = engine.next_action();
      if (auto* d = std::get_if<dfu::Done>(&a)) return *d;
      if (auto* need = std::get_if<dfu::NeedData>(&a)) {
        supply(*need);
        continue;
      }
      check_cancel();
      if (auto* o = std::get_if<dfu::ControlOut>(&a)) {
        if (hooks.trace) hooks.trace('>', o->data, setup_text(o->setup, o->data.size()));
        auto rec = [&](trace::Result r) {
          if (!hooks.record) return;
          usb::SetupPacket s = o->setup;
          s.request_type = static_cast<std::uint8_t>(s.request_type & 0x7F);
          hooks.record->control(s, static_cast<std::uint16_t>(o->data.size()), ms_of(o->timeout), o->data, o->payload, r);
        };
        if (transfer([&] { port.control_out(o->setup, o->data, o->timeout); }, rec)) engine.on_control_out_done();
      } else if (auto* in = std::get_if<dfu::ControlIn>(&a)) {
        std::size_t n = 0;
        if (hooks.trace) hooks.trace('>', {}, setup_text(in->setup, in->length));
        auto rec = [&](trace::Result r) {
          if (!hooks.record) return;
          usb::SetupPacket s = in->setup;
          s.request_type = static_cast<std::uint8_t>(s.request_type | 0x80);
          hooks.record->control(s, in->length, ms_of(in->timeout), ByteView(buf.data(), n), in->payload, r);
        };
        if (transfer([&] { n = port.control_in(in->setup, std::span(buf.data(), in->length), in->timeout); }, rec)) {
          if (hooks.trace) hooks.trace('<', ByteView(buf.data(), n), {});
          engine.on_control_in(ByteView(buf.data(), n));
        }
      } else if (auto* s = std::get_if<dfu::SetAlt>(&a)) {
        if (hooks.trace) hooks.trace('#', {}, "SET_INTERFACE alt " + std::to_string(s->alt));
        auto rec = [&](trace::Result r) {
          if (hooks.record) hooks.record->set_alt(s->alt, r);
        };
        if (transfer([&] { port.set_alt_setting(s->alt); }, rec)) engine.on_control_out_done();
      } else if (auto* sl = std::get_if<dfu::Sleep>(&a)) {
        // bwPollTimeout: exactly, and no longer (PROTOCOL.md 3.11); virtual on a virtual clock.
        clock.sleep_until(clock.now() + sl->duration, [this] { check_cancel(); });
        engine.on_sleep_done();
      }
      while (auto ev = engine.next_event())
        if (on_event) on_event(*ev);
    }
  }
};
}  // namespace

DriveClock& real_clock() {
  static RealClock clock;
  return clock;
}

void drive(uart::Engine& engine, transport::ByteStream& stream, const DriveHooks& hooks) {
  merging_context([&] { return engine.context(); }, stream.describe(), [&] { Loop(engine, stream, hooks).run(); });
}

dfu::Done drive_dfu(dfu::Engine& engine, transport::UsbControlPort& port, const DriveHooks& hooks,
                    const std::function<void(const dfu::Event&)>& on_event, const DataReader* reader,
                    Bytes* window) {
  return merging_context([&] { return dfu_context(engine, port); }, port.describe(),
                         [&] { return DfuLoop(engine, port, hooks, on_event, reader, window).run(); });
}

std::string trace_line(char dir, ByteView bytes, std::string_view note) {
  // Appended piece by piece: `" " + to_hex(...)` trips GCC 12's -Wrestrict (a false positive in
  // the inlined operator+(const char*, string&&)).
  std::string s(1, dir);
  if (!bytes.empty()) {
    s += ' ';
    s += to_hex(bytes);
  }
  if (!note.empty()) {
    s += dir == '#' ? " " : "    # ";
    s += note;
  }
  return s;
}

}  // namespace mp1boot::session
