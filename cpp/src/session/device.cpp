// SPDX-License-Identifier: MIT
// Device::boot and progress throttling, common to both links.
#include "mp1boot/session/device.hpp"

#include <utility>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "progress_throttle.hpp"

namespace mp1boot::session {

void throw_closed(const std::string& describe, const char* operation) {
  throw UsageError(errc::usage, std::string(operation) + ": the device " + describe + " was closed; connect again",
                   ErrorContext{.operation = operation, .transport = describe});
}

void Device::finish_close() {
  closed_ = true;
  if (record_) record_->flush();
  if (auto check = std::exchange(close_check_, nullptr)) check();
}

void Device::download(ByteView data, const DownloadOptions& options) {
  const bool permanent = options.op == uart::DownloadOp::otp || options.op == uart::DownloadOp::pmic ||
                         options.phase == phase::otp || options.phase == phase::pmic;
  if (permanent && !options.consent.i_understand_this_is_permanent) {
    const bool otp = options.op == uart::DownloadOp::otp || options.phase == phase::otp;
    throw UsageError(errc::usage,
                     std::string(otp ? "OTP programming (0xF2)" : "PMIC NVM programming (0xF4)") +
                         " cannot be undone: the download needs the explicit consent (DownloadOptions::consent, "
                         "or write_otp/write_pmic with PermanentWrite{true}); nothing was sent",
                     ErrorContext{.operation = "download", .phase = options.phase, .transport = describe()});
  }
  busy_after_ = options.busy_after;
  do_download(data, options);
}

ProgressThrottle::ProgressThrottle(ProgressFn fn, Progress base) : fn_(std::move(fn)), p_(std::move(base)) {}

void ProgressThrottle::update(std::uint64_t done, std::uint64_t total) {
  if (!fn_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= total;
  if (!first_ && done == last_done_) return;  // never report the same position twice
  const bool step = total && (done - last_done_) * 100 >= total;
  if (!(first_ || last || step || now - last_time_ >= std::chrono::milliseconds(100))) return;
  first_ = false;
  last_done_ = done;
  last_time_ = now;
  p_.bytes_done = done;
  p_.bytes_total = total;
  fn_(p_);
}

void Device::download_stream(const DataReader& reader, std::uint64_t size, const DownloadOptions& options) {
  Bytes data(static_cast<std::size_t>(size));
  reader(0, data);
  download(data, options);
}

void Device::write_extents(const DataReader&, const std::vector<Extent>&, const DownloadOptions& options) {
  throw UsageError(errc::unsupported,
                   "writing a partition extent by extent needs U-Boot's offset command, which only USB has",
                   ErrorContext{.operation = "write_extents", .phase = options.phase, .partition = options.name,
                                .transport = describe()});
}

BootResult Device::boot(ByteView image_bytes, std::string_view name, ProgressFn progress) {
  const std::string file(name.empty() ? "image" : name);
  const std::uint16_t id = get_id();
  const SocInfo* soc = soc_by_device_id(id);
  if (!soc)
    throw DeviceError(errc::unsupported, "device reports id " + hex32(id) + ", not a known STM32MP SoC",
                      ErrorContext{.operation = "boot", .transport = describe()});
  soc_ = soc;
  // Validate before the first byte of the image goes out.
  const image::Stm32Image img = image::parse_image(image_bytes, file);
  image::check_for_rom(img, *soc, file);

  const PhaseInfo phase = get_phase();
  if (phase.phase != phase::fsbl) {
    ErrorContext c{.operation = "boot", .phase = phase.phase, .transport = describe()};
    std::string what = "device is not waiting for an FSBL: it asks for phase " + hex8(phase.phase) + " (" +
                       std::string(phase_name(phase.phase)) + ")";
    if (!phase.message.empty()) what += ": \"" + phase.message + "\"";
    throw DeviceError(errc::unsupported, what, c);
  }
  DownloadOptions opts;
  opts.phase = phase::fsbl;
  opts.name = file;
  opts.progress = std::move(progress);
  const auto t0 = std::chrono::steady_clock::now();
  download(image_bytes, opts);
  start_fsbl();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  BootResult r;
  r.soc = std::string(soc->family_name);
  r.phase = phase::fsbl;
  r.image = file;
  r.transfer.bytes = image_bytes.size();
  r.transfer.seconds = secs;
  r.transfer.bytes_per_second = secs > 0 ? double(image_bytes.size()) / secs : 0;
  if (double rate = line_rate(); rate > 0) r.transfer.line_fraction = r.transfer.bytes_per_second / rate;
  return r;
}

Bytes Device::read_back(std::uint8_t phase, std::uint64_t length, const ProgressFn& progress) {
  Bytes out;
  read_stream(phase, length, [&](std::uint64_t, ByteView data) { out.insert(out.end(), data.begin(), data.end()); },
              progress);
  return out;
}

}  // namespace mp1boot::session
