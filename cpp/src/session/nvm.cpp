// SPDX-License-Identifier: MIT
// OTP / PMIC access through U-Boot stm32prog (see nvm.hpp). Writes: UART sends the data with the
// Download operation byte 0xF2/0xF4 and Start 0xF2/0xF4 programs it; USB downloads to the alt and
// U-Boot programs it at the manifestation (its flush callback).
#include "mp1boot/session/nvm.hpp"

#include "mp1boot/dfu/engine.hpp"
#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/uart/wire.hpp"

namespace mp1boot::session {

namespace {
constexpr std::uint32_t status_update = 1u << 31;
constexpr std::uint32_t status_lock = 1u << 30;

void require_consent(PermanentWrite consent, const char* what) {
  if (!consent.i_understand_this_is_permanent)
    throw UsageError(errc::usage,
                     std::string(what) +
                         " cannot be undone: it needs the explicit opt-in (PermanentWrite{true}, "
                         "i_understand_this_is_permanent=True, --i-understand-this-is-permanent); nothing was sent",
                     ErrorContext{.operation = what});
}

// OTP and PMIC are served by U-Boot stm32prog only: a board still at the boot ROM or in TF-A gets a
// message saying how to get there rather than the stage's own refusal ("no alternate setting
// carries phase 0xf2", a NACK).
void require_uboot(Device& device, std::uint8_t phase, const char* what) {
  const PhaseInfo info = device.get_phase();
  if (info.phase != 0x01 && info.phase != 0x02 && info.phase != 0x03) return;
  const std::string stage = info.phase == 0x01 ? "the boot ROM (it asks for the FSBL, phase 0x01)"
                                               : "TF-A (it asks for the FIP, phase 0x03)";
  throw UsageError(errc::usage,
                   std::string(what) + " is served by U-Boot stm32prog, and the board is at " + stage +
                       ": boot TF-A and U-Boot first with a flash layout's '-' lines (mp1boot otp/pmic --layout "
                       "FlashLayout.tsv, or Device.flash(layout, boot_only=True)); nothing was sent",
                   ErrorContext{.operation = what, .phase = phase});
}

void write_virtual(Device& device, std::uint8_t phase, ByteView data, const char* name, const ProgressFn& progress) {
  DownloadOptions o;
  o.consent.i_understand_this_is_permanent = true;  // checked by the caller
  o.phase = phase;
  o.name = name;
  o.progress = progress;
  if (device.link() == Link::uart) {
    o.op = phase == phase::otp ? uart::DownloadOp::otp : uart::DownloadOp::pmic;
    device.download(data, o);
    device.start(phase);
  } else {
    device.download(data, o);
  }
}
}  // namespace

OtpImage OtpImage::parse(ByteView bytes) {
  if (bytes.size() < 8 || bytes.size() % 8 != 0)
    throw ProtocolError(errc::unexpected_byte,
                        "an OTP image is (words * 2 + 2) * 4 bytes; got " + std::to_string(bytes.size()),
                        ErrorContext{.operation = "otp", .phase = phase::otp});
  OtpImage img;
  img.version = load_le32(&bytes[0]);
  img.bsec_state = load_le32(&bytes[4]);
  for (std::size_t at = 8; at + 8 <= bytes.size(); at += 8) {
    const std::uint32_t status = load_le32(&bytes[at + 4]);
    img.words.push_back(OtpWord{load_le32(&bytes[at]), (status & status_lock) != 0, (status & status_update) != 0});
  }
  return img;
}

Bytes OtpImage::encode() const {
  Bytes b(8 + 8 * words.size(), 0);
  store_le32(&b[0], version);
  store_le32(&b[4], bsec_state);
  for (std::size_t i = 0; i < words.size(); ++i) {
    store_le32(&b[8 + 8 * i], words[i].value);
    store_le32(&b[12 + 8 * i], (words[i].update ? status_update : 0u) | (words[i].locked ? status_lock : 0u));
  }
  return b;
}

Bytes otp_request(ByteView current, const std::map<std::uint32_t, std::uint32_t>& values,
                  const std::set<std::uint32_t>& lock) {
  OtpImage img = OtpImage::parse(current);
  auto word = [&](std::uint32_t n) -> OtpWord& {
    if (n >= img.words.size())
      throw UsageError(errc::usage, "OTP word " + std::to_string(n) + " does not exist (the image has " +
                                        std::to_string(img.words.size()) + " words)",
                       ErrorContext{.operation = "otp", .phase = phase::otp});
    return img.words[n];
  };
  for (auto& w : img.words) w.update = false;
  for (const auto& [n, value] : values) {
    word(n).value = value;
    word(n).update = true;
  }
  for (std::uint32_t n : lock) {
    word(n).update = true;
    word(n).locked = true;
  }
  return img.encode();
}

Bytes read_otp(Device& device, std::size_t size, const ProgressFn& progress) {
  require_uboot(device, phase::otp, "OTP");
  if (size == 0) {
    size = otp_image_size_mp1;
    if (auto* usb = dynamic_cast<UsbDevice*>(&device)) {
      const auto alts = usb->port().alt_settings();
      if (const auto* alt = dfu::find_alt(alts, phase::otp))
        if (auto n = dfu::parse_alt_name(alt->name); n && n->size) size = n->size;
    }
  }
  return device.read_back(phase::otp, size, progress);
}

Bytes read_pmic(Device& device, const ProgressFn& progress) {
  require_uboot(device, phase::pmic, "The PMIC NVM");
  return device.read_back(phase::pmic, pmic_nvm_size, progress);
}

void write_otp(Device& device, ByteView image, PermanentWrite consent, const ProgressFn& progress) {
  require_consent(consent, "OTP programming");
  OtpImage::parse(image);  // well-formed before anything goes out
  require_uboot(device, phase::otp, "OTP");
  write_virtual(device, phase::otp, image, "OTP", progress);
}

void write_pmic(Device& device, ByteView nvm, PermanentWrite consent, const ProgressFn& progress) {
  require_consent(consent, "PMIC NVM programming");
  if (nvm.size() != pmic_nvm_size)
    throw UsageError(errc::usage, "the PMIC NVM is " + std::to_string(pmic_nvm_size) + " bytes; got " +
                                      std::to_string(nvm.size()),
                     ErrorContext{.operation = "PMIC NVM programming", .phase = phase::pmic});
  require_uboot(device, phase::pmic, "The PMIC NVM");
  write_virtual(device, phase::pmic, nvm, "PMIC", progress);
}

}  // namespace mp1boot::session
