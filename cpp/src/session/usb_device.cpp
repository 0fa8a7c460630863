// SPDX-License-Identifier: MIT
// UsbDevice: a board on USB DFU, driven through session::drive_dfu.
#include "mp1boot/session/usb_device.hpp"

#include <utility>

#include "mp1boot/dfu/wire.hpp"
#include "progress_throttle.hpp"

namespace mp1boot::session {

dfu::Done UsbDevice::run(const std::function<void(const dfu::Event&)>& on_event, const DataReader* reader) {
  DriveHooks hooks = drive_hooks(hooks_);
  if (!hooks.clock) hooks.clock = options_.clock.get();
  return drive_dfu(engine_, *port_, hooks, on_event, reader, &stream_window_);
}

UsbDevice::UsbDevice(std::unique_ptr<transport::UsbControlPort> port, Reopen reopen, Options options)
    : port_(std::move(port)), reopen_(std::move(reopen)), options_(options), engine_(options.dfu) {
  soc_ = soc_by_device_id(dfu::parse_product(port_->identity().product).device_id);
}

Stage UsbDevice::stage() const { return dfu::parse_product(port_->identity().product).stage; }

std::uint16_t UsbDevice::get_id() {
  const auto info = dfu::parse_product(port_->identity().product);
  if (info.device_id == 0)
    throw ProtocolError(errc::unexpected_byte,
                        "the product string \"" + port_->identity().product + "\" carries no device id",
                        ErrorContext{.operation = "get_id", .transport = describe()});
  soc_ = soc_by_device_id(info.device_id);
  return info.device_id;
}

namespace {
// The board's phase before its first Get Phase answer: the one phase its alt settings accept
// (MP13/MP25 ROM: only /0x01/; U-Boot before the layout: only /0x00/), or nullopt when they offer
// several (the MP15 ROM and the TF-A that keeps its configuration, TF-A on MP2x) or cannot be read.
std::optional<std::uint8_t> sole_download_phase(transport::UsbControlPort& port) {
  std::optional<std::uint8_t> sole;
  try {
    for (const auto& alt : port.alt_settings()) {
      const auto name = dfu::parse_alt_name(alt.name);
      if (!name || name->phase >= phase::command) continue;  // virtual alts: commands, OTP, PMIC
      if (sole && *sole != name->phase) return std::nullopt;
      sole = name->phase;
    }
  } catch (const Error&) {
    return std::nullopt;
  }
  return sole;
}
}  // namespace

void UsbDevice::run_request(const std::function<void(dfu::Engine&)>& begin) {
  if (engine_.failed() || engine_.busy()) engine_ = dfu::Engine(options_.dfu);
  try {
    begin(engine_);
    run();
  } catch (Error& e) {
    // Which phase the board was in when the request failed: the last one it reported or was sent;
    // before that, the only one its alts accept, or explicitly unknown.
    if (phase_known_) {
      e.add_context(ErrorContext{.phase = last_phase_});
    } else if (!e.context().phase) {
      const auto sole = sole_download_phase(*port_);
      e.add_context(ErrorContext{.phase = sole, .phase_unknown = !sole});
    }
    engine_ = dfu::Engine(options_.dfu);
    throw;
  } catch (...) {
    engine_ = dfu::Engine(options_.dfu);
    throw;
  }
}

PhaseInfo UsbDevice::get_phase() {
  if (left_) reconnect();
  run_request([&](dfu::Engine& engine) { engine.get_phase(port_->alt_settings()); });
  const PhaseInfo& p = *engine_.phase_info();
  last_phase_ = p.phase;
  phase_known_ = true;
  return p;
}

void UsbDevice::run_download(const DownloadOptions& options, const std::function<void(std::uint32_t)>& begin,
                             const DataReader* reader, std::uint64_t base, std::uint64_t total,
                             ProgressThrottle& progress) {
  if (left_) reconnect();
  if (engine_.failed() || engine_.busy()) engine_ = dfu::Engine(options_.dfu);
  const auto id = port_->identity();
  begin(id.transfer_size ? id.transfer_size : 1024);
  try {
    dfu::Done d = run(
        [&](const dfu::Event& ev) {
          if (auto* b = std::get_if<dfu::BlockAcked>(&ev)) progress.update(base + b->bytes_done, total);
        },
        reader);
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
  phase_known_ = true;
  downloaded_phase_ = options.phase;
}

namespace {
// How long the GETSTATUS after a manifestation may be held by U-Boot's deferred flush: the last
// DFU buffer (8 MiB) and the end-of-phase work, at the slowest medium we plan for (1 MB/s, raw
// NAND with erases) plus a minute for a large UBI volume; never below the engine's busy timeout.
dfu::DownloadOptions flush_bound(std::uint64_t size, const dfu::Options& o) {
  dfu::DownloadOptions dl;
  const std::uint64_t buffered = std::min<std::uint64_t>(size, 8u << 20);
  dl.manifest_timeout = std::max(o.busy_timeout, std::chrono::milliseconds(60000 + buffered / 1000));
  return dl;
}
}  // namespace

void UsbDevice::do_download(ByteView data, const DownloadOptions& options) {
  reset_offset_for(options.phase);
  ProgressThrottle progress(options.progress, Progress{"download", options.phase, options.name, 0, data.size()});
  progress.update(0, data.size());
  dfu::DownloadOptions dl = flush_bound(data.size(), options_.dfu);
  // MP15 ROM: the manifestation starts TF-A, which may take the bus over (PROTOCOL.md 3.8).
  dl.handover_on_manifest = options.phase == 0x01 && soc_ && dfu::start_rules(soc_->family).fsbl_starts_on_manifest;
  run_download(
      options,
      [&](std::uint32_t transfer_size) {
        engine_.download(options.phase, port_->alt_settings(), data, transfer_size, dl);
      },
      nullptr, 0, data.size(), progress);
}

void UsbDevice::download_stream(const DataReader& reader, std::uint64_t size, const DownloadOptions& options) {
  if (options.phase <= 0x01 || options.phase >= 0xF1) {  // FSBL hand-over rules, NVM consent: download()
    Device::download_stream(reader, size, options);
    return;
  }
  reset_offset_for(options.phase);
  ProgressThrottle progress(options.progress, Progress{"download", options.phase, options.name, 0, size});
  progress.update(0, size);
  run_download(
      options,
      [&](std::uint32_t transfer_size) {
        engine_.download_streamed(options.phase, port_->alt_settings(), size, transfer_size,
                                  flush_bound(size, options_.dfu));
      },
      &reader, 0, size, progress);
}

bool UsbDevice::can_write_extents() const { return stage() == Stage::uboot; }

void UsbDevice::set_phase_offset(std::uint8_t phase, std::uint32_t offset) {
  const Bytes command{phase, static_cast<std::uint8_t>(offset >> 24), static_cast<std::uint8_t>(offset >> 16),
                      static_cast<std::uint8_t>(offset >> 8), static_cast<std::uint8_t>(offset)};
  DownloadOptions o;
  o.phase = 0xF1;
  o.name = "offset command";
  ProgressThrottle none({}, Progress{});
  run_download(
      o, [&](std::uint32_t transfer_size) { engine_.download(0xF1, port_->alt_settings(), command, transfer_size); },
      nullptr, 0, command.size(), none);
  offset_set_ = offset != 0;
}

void UsbDevice::reset_offset_for(std::uint8_t phase) {
  // Only U-Boot partitions are concerned (the offset applies to the current partition's alt).
  if (offset_set_ && phase >= 0x04 && phase <= 0xF0) set_phase_offset(phase, 0);
}

void UsbDevice::write_extents(const DataReader& reader, const std::vector<Extent>& extents,
                              const DownloadOptions& options) {
  if (!can_write_extents()) return Device::write_extents(reader, extents, options);
  std::uint64_t total = 0;
  for (const auto& e : extents) total += e.length;
  ProgressThrottle progress(options.progress, Progress{"download", options.phase, options.name, 0, total});
  progress.update(0, total);
  std::uint64_t base = 0;
  for (const auto& e : extents) {
    if (e.offset > 0xFFFFFFFFu)
      throw UsageError(errc::usage, "extent at offset " + std::to_string(e.offset) + " is past U-Boot's 32-bit offset",
                       ErrorContext{.operation = "write_extents", .phase = options.phase, .partition = options.name});
    // Each extent's manifestation ended the phase: name the partition again, with its offset.
    set_phase_offset(options.phase, static_cast<std::uint32_t>(e.offset));
    offset_set_ = true;
    const DataReader shifted = [&reader, at = e.offset](std::uint64_t offset, std::span<std::uint8_t> out) {
      reader(at + offset, out);
    };
    run_download(
        options,
        [&](std::uint32_t transfer_size) {
          engine_.download_streamed(options.phase, port_->alt_settings(), e.length, transfer_size,
                                    flush_bound(e.length, options_.dfu));
        },
        &shifted, base, total, progress);
    base += e.length;
  }
}

void UsbDevice::detach_and_reconnect() {
  run_request([](dfu::Engine& engine) { engine.detach(); });
  reconnect();
}

namespace {
// What a user should check when the board does not come back after `stage` left the bus.
std::string likely_causes(Stage stage, std::uint8_t phase) {
  const std::string common =
      " Also possible (FIELD.md 1): a virtual machine or another program (a second mp1boot, "
      "ModemManager) grabbed the new enumeration, or a USB filter/udev rule matches only the ROM's "
      "identity.";
  if (stage == Stage::rom)
    return "The FSBL (TF-A) was accepted by the ROM but its USB programmer never enumerated. Likely "
           "causes: TF-A built without the USB programmer (STM32MP_USB_PROGRAMMER) or for UART boot "
           "only (its console says \"Boot interface N not supported\"), or TF-A crashed (DDR or clock "
           "settings for another board). Check the board's serial console." + common;
  if (stage == Stage::tfa)
    return "TF-A accepted the FIP and left the bus, but U-Boot's \"USB download gadget\" never "
           "enumerated. Likely causes: the FIP's U-Boot lacks CONFIG_CMD_STM32PROG or USB gadget "
           "support, OP-TEE or U-Boot failed to start (DDR size, device tree), or the board booted "
           "from flash instead. Check the board's serial console." + common;
  if (stage == Stage::uboot && phase == 0x00)
    return "U-Boot accepted the flash layout and left the bus to re-enumerate with the partition "
           "alternate settings, but did not come back: preparing the devices may have failed or hung "
           "(a missing or dead eMMC/NAND). Check the board's serial console." + common;
  return "The board left the bus and did not come back." + common;
}
}  // namespace

void UsbDevice::adopt(std::unique_ptr<transport::UsbControlPort> next) {
  port_ = std::move(next);
  left_ = false;
  engine_ = dfu::Engine(options_.dfu);
  if (record_) record_->enumerate(port_->identity(), port_->alt_settings());
}

void UsbDevice::record_to(std::shared_ptr<trace::Writer> writer) {
  Device::record_to(std::move(writer));
  if (record_ && !closed_) record_->enumerate(port_->identity(), port_->alt_settings());
}

void UsbDevice::reconnect() {
  const usb::Identity previous = port_->identity();
  // The stage that left, from the last phase downloaded (the MP15 TF-A keeps the ROM's strings).
  const Stage stage_left = downloaded_phase_ == 0x01                            ? Stage::rom
                           : downloaded_phase_ == 0x02 || downloaded_phase_ == 0x03 ? Stage::tfa
                                                                                  : Stage::uboot;
  // The erases the layout asks for run off the bus before the next enumeration (busy_after).
  const auto busy = std::exchange(busy_after_, std::chrono::milliseconds(0));
  const auto timeout = busy + (stage_left == Stage::rom   ? options_.reconnect.after_rom
                               : stage_left == Stage::tfa ? options_.reconnect.after_tfa
                                                          : options_.reconnect.after_uboot);
  const std::string left_name(to_string(stage_left));
  if (hooks_.trace) hooks_.trace('#', {}, "waiting for " + previous.serial + " to re-enumerate");
  std::unique_ptr<transport::UsbControlPort> next;
  try {
    next = reopen_(previous, timeout, hooks_.cancel);
  } catch (const TimeoutError& e) {
    throw TimeoutError(errc::timeout,
                       "the board (serial " + previous.serial + ") left the bus after the " + left_name +
                           " stage and did not come back: " + e.message() +
                           (busy.count() ? " (" + std::to_string(busy.count()) +
                                               " ms of it allowed for erasing the layout's 'D' partitions)"
                                         : std::string()) +
                           ". " +
                           likely_causes(stage_left, downloaded_phase_),
                       ErrorContext{.operation = "reconnect", .phase = last_phase_, .transport = describe()});
  } catch (TransportError& e) {
    e.add_context(ErrorContext{.operation = "reconnect after the " + left_name + " stage", .phase = last_phase_});
    throw;
  }
  adopt(std::move(next));
  if (hooks_.trace) hooks_.trace('#', {}, "reconnected: " + port_->identity().product);
  if (stage() == Stage::rom && stage_left != Stage::rom)
    throw DeviceError(errc::device_reset,
                      "the board came back as the boot ROM after the " + left_name +
                          " stage: it reset (power, DDR, watchdog) instead of handing over",
                      ErrorContext{.operation = "reconnect", .phase = last_phase_, .transport = describe()});
}

void UsbDevice::start(std::uint32_t address) {
  if (address != start_downloaded_image)
    throw UsageError(errc::unsupported, "start at " + hex32(address) + " is not available over USB DFU here",
                     ErrorContext{.operation = "start", .transport = describe()});
  if (left_) {
    reconnect();
    return;
  }
  if (last_phase_ == 0x01 && stage() == Stage::rom) return start_fsbl();
  const PhaseInfo p = get_phase();
  if (p.detach_requested) detach_and_reconnect();
}

void UsbDevice::read_stream(std::uint8_t phase, std::uint64_t length, const DataSink& sink,
                            const ProgressFn& progress_fn) {
  if (left_) reconnect();
  if (engine_.failed() || engine_.busy()) engine_ = dfu::Engine(options_.dfu);
  const auto alts = port_->alt_settings();
  const usb::AltSetting* alt = dfu::find_alt(alts, phase);
  if (!alt)
    throw UsageError(errc::unsupported,
                     "no alternate setting carries phase " + hex8(phase) + " to read back (alts: " + dfu::list_alts(alts) + ")",
                     ErrorContext{.operation = "read_back", .phase = phase, .transport = describe()});
  ProgressThrottle progress(progress_fn, Progress{"read", phase, "", 0, length});
  progress.update(0, length);
  const auto id = port_->identity();
  engine_.upload(alt->number, id.transfer_size ? id.transfer_size : 1024, length, dfu::UploadKeep::last_block);
  try {
    run([&](const dfu::Event& ev) {
      auto* b = std::get_if<dfu::BlockUploaded>(&ev);
      if (!b) return;
      // The engine never asks past `length` (each UPLOAD's wLength is what is left of it).
      sink(b->bytes_done - b->data.size(), b->data);
      progress.update(b->bytes_done, length);
    });
  } catch (Error& e) {
    e.add_context(ErrorContext{.phase = phase, .bytes_total = length});
    engine_ = dfu::Engine(options_.dfu);
    throw;
  }
}

bool UsbDevice::reset_detected(std::chrono::milliseconds wait) {
  try {
    adopt(reopen_(port_->identity(), wait, hooks_.cancel));
    return stage() == Stage::rom;
  } catch (const CancelledError&) {
    throw;
  } catch (const Error&) {
    return false;
  }
}

namespace {
/// What a closed UsbDevice talks to: every transfer is a UsageError; the identity stays known.
class ClosedUsbPort final : public transport::UsbControlPort {
 public:
  ClosedUsbPort(usb::Identity id, std::string describe) : id_(std::move(id)), describe_(std::move(describe)) {}
  std::size_t control_in(const usb::SetupPacket&, std::span<std::uint8_t>, ms) override {
    throw_closed(describe_, "control_in");
  }
  void control_out(const usb::SetupPacket&, ByteView, ms) override { throw_closed(describe_, "control_out"); }
  std::vector<usb::AltSetting> alt_settings() override { throw_closed(describe_, "alt_settings"); }
  void set_alt_setting(std::uint8_t) override { throw_closed(describe_, "set_alt_setting"); }
  usb::Identity identity() const override { return id_; }
  void reset() override { throw_closed(describe_, "reset"); }
  std::string describe() const override { return describe_; }

 private:
  usb::Identity id_;
  std::string describe_;
};
}  // namespace

void UsbDevice::close() {
  if (closed_) return;
  const std::string d = port_->describe();
  port_ = std::make_unique<ClosedUsbPort>(port_->identity(), d);  // the handle is released here
  reopen_ = [d](const usb::Identity&, std::chrono::milliseconds,
                const CancelToken*) -> std::unique_ptr<transport::UsbControlPort> { throw_closed(d, "reconnect"); };
  left_ = false;
  finish_close();
}

LinkInfo UsbDevice::link_info() const {
  const auto id = port_->identity();
  const auto product = dfu::parse_product(id.product);
  LinkInfo info;
  info.link = Link::usb;
  info.serial = id.serial;
  info.port_path = id.port_path;
  info.speed = id.speed;
  info.stage = product.stage;
  if (!product.soc_name.empty()) info.revision = product.soc_name;
  else if (product.revision) info.revision = hex32(product.revision);
  return info;
}

void UsbDevice::start_fsbl() {
  if (left_) return reconnect();  // MP15: TF-A took the bus over during the manifestation
  if (soc_ && dfu::start_rules(soc_->family).fsbl_needs_detach) return detach_and_reconnect();
  // MP15 without a disconnect: TF-A keeps the ROM's enumeration; nothing to do.
}

}  // namespace mp1boot::session
