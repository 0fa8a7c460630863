// SPDX-License-Identifier: MIT
// UsbDevice and the DFU driver loop.
#include "mp1boot/session/usb_device.hpp"

#include <array>
#include <thread>

#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/wait.hpp"

namespace mp1boot::session {

namespace {
using Clock = std::chrono::steady_clock;

void check_cancel(const DriveHooks& hooks) {
  if (hooks.poll) hooks.poll();
  if (hooks.cancel && hooks.cancel->cancelled()) throw CancelledError(errc::cancelled, "cancelled by the caller");
}

// Waits exactly the poll timeout (no longer), seeing cancellation within 50 ms.
void sleep_for(std::chrono::milliseconds d, const DriveHooks& hooks) {
  wait_until(Clock::now() + d, [&] { check_cancel(hooks); });
}

// Runs one transfer; a transport failure becomes the engine's input (which throws with context).
// Only the port call is guarded: errors the engine raises itself pass through untouched.
template <class F>
bool transfer(dfu::Engine& engine, F&& port_call) {
  try {
    port_call();
    return true;
  } catch (const TransportError& e) {
    switch (e.code()) {
      case errc::stall: engine.on_stall(); return false;
      case errc::disconnected: engine.on_disconnect(); return false;
      case errc::timeout: engine.on_timeout(); return false;
      default: throw;
    }
  } catch (const TimeoutError&) {
    engine.on_timeout();
    return false;
  }
}
}  // namespace

dfu::Done drive_dfu(dfu::Engine& engine, transport::UsbControlPort& port, const DriveHooks& hooks,
                    const std::function<void(const dfu::Event&)>& on_event) {
  std::array<std::uint8_t, 65536> buf;
  try {
    for (;;) {
      dfu::Action a = engine.next_action();
      if (auto* d = std::get_if<dfu::Done>(&a)) return *d;
      check_cancel(hooks);
      if (auto* o = std::get_if<dfu::ControlOut>(&a)) {
        if (transfer(engine, [&] { port.control_out(o->setup, o->data, o->timeout); })) engine.on_control_out_done();
      } else if (auto* in = std::get_if<dfu::ControlIn>(&a)) {
        std::size_t n = 0;
        if (transfer(engine, [&] { n = port.control_in(in->setup, std::span(buf.data(), in->length), in->timeout); }))
          engine.on_control_in(ByteView(buf.data(), n));
      } else if (auto* s = std::get_if<dfu::SetAlt>(&a)) {
        if (transfer(engine, [&] { port.set_alt_setting(s->alt); })) engine.on_control_out_done();
      } else if (auto* sl = std::get_if<dfu::Sleep>(&a)) {
        sleep_for(sl->duration, hooks);
        engine.on_sleep_done();
      }
      while (auto ev = engine.next_event())
        if (on_event) on_event(*ev);
    }
  } catch (Error& e) {
    ErrorContext c = engine.context();
    c.transport = port.describe();
    e.add_context(c);
    throw;
  }
}

UsbDevice::UsbDevice(std::unique_ptr<transport::UsbControlPort> port, Reopen reopen, Options options)
    : port_(std::move(port)), reopen_(std::move(reopen)), options_(options), engine_(options.dfu) {
  soc_ = soc_by_device_id(dfu::parse_product(port_->identity().product).device_id);
}

std::string UsbDevice::stage() const { return dfu::parse_product(port_->identity().product).stage; }

std::uint16_t UsbDevice::get_id() {
  const auto info = dfu::parse_product(port_->identity().product);
  if (info.device_id == 0)
    throw ProtocolError(errc::unexpected_byte,
                        "the product string \"" + port_->identity().product + "\" carries no device id",
                        ErrorContext{.operation = "get_id", .transport = describe()});
  soc_ = soc_by_device_id(info.device_id);
  return info.device_id;
}

PhaseInfo UsbDevice::get_phase() {
  if (left_) reconnect();
  if (engine_.failed() || engine_.busy()) engine_ = dfu::Engine(options_.dfu);
  const auto alts = port_->alt_settings();
  engine_.get_phase(alts);
  try {
    drive_dfu(engine_, *port_, hooks_);
  } catch (...) {
    engine_ = dfu::Engine(options_.dfu);
    throw;
  }
  const dfu::PhaseInfo& p = *engine_.phase_info();
  last_phase_ = p.phase;
  PhaseInfo out;
  out.phase = p.phase;
  out.address = p.address;
  out.offset = p.offset;
  out.detach_requested = p.detach_requested;
  out.message = p.message;
  return out;
}

void UsbDevice::download(ByteView data, const DownloadOptions& options) {
  if (left_) reconnect();
  if (engine_.failed() || engine_.busy()) engine_ = dfu::Engine(options_.dfu);
  ProgressThrottle progress(options.progress, Progress{"download", options.phase, options.name, 0, data.size()});
  progress.update(0, data.size());
  const auto id = port_->identity();
  dfu::DownloadOptions dl;
  // MP15 ROM: the manifestation starts TF-A, which may take the bus over (PROTOCOL.md 3.8).
  dl.handover_on_manifest = options.phase == 0x01 && soc_ && dfu::start_rules(soc_->family).fsbl_starts_on_manifest;
  const auto alts = port_->alt_settings();
  engine_.download(options.phase, alts, data, id.transfer_size ? id.transfer_size : 1024, dl);
  try {
    dfu::Done d = drive_dfu(engine_, *port_, hooks_, [&](const dfu::Event& ev) {
      if (auto* b = std::get_if<dfu::BlockAcked>(&ev)) progress.update(b->bytes_done, b->bytes_total);
    });
    left_ = d.device_left;
  } catch (Error& e) {
    ErrorContext c;
    c.phase = options.phase;
    c.partition = options.name;
    e.add_context(c);
    engine_ = dfu::Engine(options_.dfu);
    throw;
  }
  last_phase_ = options.phase;
}

void UsbDevice::detach_and_reconnect() {
  if (engine_.failed() || engine_.busy()) engine_ = dfu::Engine(options_.dfu);
  engine_.detach();
  drive_dfu(engine_, *port_, hooks_);
  reconnect();
}

void UsbDevice::reconnect() {
  const transport::UsbIdentity previous = port_->identity();
  if (hooks_.trace) hooks_.trace('#', {}, "waiting for " + previous.serial + " to re-enumerate");
  auto next = reopen_(previous, options_.reconnect_timeout, hooks_.cancel);
  port_ = std::move(next);
  left_ = false;
  engine_ = dfu::Engine(options_.dfu);
  if (hooks_.trace) hooks_.trace('#', {}, "reconnected: " + port_->identity().product);
}

void UsbDevice::start(std::uint32_t address) {
  if (address != 0xFFFFFFFF)
    throw UsageError(errc::unsupported, "start at " + hex32(address) + " is not available over USB DFU here",
                     ErrorContext{.operation = "start", .transport = describe()});
  if (left_) {
    reconnect();
    return;
  }
  if (last_phase_ == 0x01 && stage() == "rom") return start_fsbl();
  const PhaseInfo p = get_phase();
  if (p.detach_requested) detach_and_reconnect();
}

void UsbDevice::start_fsbl() {
  if (left_) return reconnect();  // MP15: TF-A took the bus over during the manifestation
  if (soc_ && dfu::start_rules(soc_->family).fsbl_needs_detach) return detach_and_reconnect();
  // MP15 without a disconnect: TF-A keeps the ROM's enumeration; nothing to do.
}

}  // namespace mp1boot::session
