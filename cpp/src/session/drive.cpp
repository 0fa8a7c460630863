// SPDX-License-Identifier: MIT
// session::drive: the UART driver loop.
#include "mp1boot/session/drive.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>

namespace mp1boot::session {

namespace {
using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds slice{50};

struct Loop {
  uart::Engine& engine;
  transport::ByteStream& stream;
  const DriveHooks& hooks;

  void check_cancel() {
    if (hooks.poll) hooks.poll();
    if (hooks.cancel && hooks.cancel->cancelled())
      throw CancelledError(errc::cancelled, "cancelled by the caller");
  }

  void emit_events() {
    while (auto ev = engine.next_event()) {
      if (hooks.trace) {
        if (auto* r = std::get_if<uart::Retrying>(&*ev))
          hooks.trace('#', {}, "retry " + std::to_string(r->attempt) + " of " + r->operation + ": " + r->reason);
      }
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
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      check_cancel();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return 0;
      if (std::size_t n = stream.read_some(out, std::min(left, slice))) return n;
    }
  }

  void drain(const uart::Drain& d) {
    std::array<std::uint8_t, 512> buf{};
    const auto limit = Clock::now() + d.limit;
    stream.flush_input();
    while (Clock::now() < limit) {
      std::size_t n = read(buf, d.quiet);
      if (n == 0) break;
      if (hooks.trace) hooks.trace('<', ByteView(buf.data(), n), "discarded");
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
        stream.write(w->bytes);
      } else if (auto* r = std::get_if<uart::Read>(&action)) {
        const std::size_t want = std::min(r->max, buf.size());
        std::size_t n = read(std::span(buf.data(), want), r->timeout);
        if (n) {
          if (hooks.trace) hooks.trace('<', ByteView(buf.data(), n), {});
          engine.on_bytes(ByteView(buf.data(), n));
        } else {
          if (hooks.trace) hooks.trace('#', {}, "timeout after " + std::to_string(r->timeout.count()) + " ms");
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
}  // namespace

void drive(uart::Engine& engine, transport::ByteStream& stream, const DriveHooks& hooks) {
  try {
    Loop{engine, stream, hooks}.run();
  } catch (Error& e) {
    ErrorContext c = engine.context();
    c.transport = stream.describe();
    e.add_context(c);
    throw;
  }
}

std::string trace_line(char dir, ByteView bytes, std::string_view note) {
  std::string s(1, dir);
  if (!bytes.empty()) s += " " + to_hex(bytes);
  if (!note.empty()) s += (dir == '#' ? " " : "    # ") + std::string(note);
  return s;
}

}  // namespace mp1boot::session
