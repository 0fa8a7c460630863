// SPDX-License-Identifier: MIT
// U-Boot service model, part 4: the USB side of stm32prog (see uboot_uart_service.hpp). The
// gadget's alternate settings (dfu_init_entities), U-Boot's generic DFU back-end calls as the
// f_dfu gadget makes them (dfu_write / dfu_flush / dfu_read per entity transaction), the virtual
// alternate settings (stm32prog_cmd_read / stm32prog_cmd_write, OTP, PMIC) and the end of each
// gadget run (stm32prog_usb_loop). Behaviour after stm32prog_usb.c, stm32prog.c and
// drivers/dfu/dfu.c; written anew.
#include <algorithm>
#include <cerrno>

#include "mp1boot/sim/uboot_uart_service.hpp"
#include "uboot_uart_service_impl.hpp"

namespace mp1boot::sim {

using namespace uboot_detail;

namespace {

// U-Boot's alt size field: /1G, /1M, /1K when strictly larger, else bytes.
std::string size_field(std::uint64_t size) {
  constexpr std::uint64_t k = 1024, m = k * k, g = m * k;
  if (size > g) return std::to_string(size / g) + "G";
  if (size > m) return std::to_string(size / m) + "M";
  if (size > k) return std::to_string(size / k) + "K";
  return std::to_string(size) + "B";
}

}  // namespace

std::uint32_t UbootProgrammer::virtual_of(int alt) const {
  if (alt < 0 || static_cast<std::size_t>(alt) < alt_parts_.size()) return 0;
  std::size_t k = static_cast<std::size_t>(alt) - alt_parts_.size();
  if (k == 0) return phase::command;
  --k;
  if (options_.otp_supported) {
    if (k == 0) return phase::otp;
    --k;
  }
  if (options_.pmic_supported && k == 0) return phase::pmic;
  return 0;
}

bool UbootProgrammer::valid_alt(int alt) const {
  const std::size_t count = alt_parts_.size() + 1 + (options_.otp_supported ? 1 : 0) + (options_.pmic_supported ? 1 : 0);
  return alt >= 0 && static_cast<std::size_t>(alt) < count;
}

std::vector<UbootDfuAlt> UbootProgrammer::dfu_alts() const {
  std::vector<UbootDfuAlt> out;
  for (int index : alt_parts_) {
    if (index < 0) {
      out.push_back({"@FlashLayout/0x00/1*256Ke", static_cast<std::uint8_t>(phase::flash_layout)});
      continue;
    }
    const UbootPart& part = layout_->parts[static_cast<std::size_t>(index)];
    const char type = part.select && !part.empty ? 'e' : 'a';
    out.push_back({fmt("@%s/0x%02x/1*%s%c", part.name.c_str(), part.id, size_field(part.size).c_str(), type),
                   static_cast<std::uint8_t>(part.id)});
  }
  out.push_back({fmt("@virtual/0x%02x/1*%lluBe", phase::command, ull(cmd_size)), static_cast<std::uint8_t>(phase::command)});
  if (options_.otp_supported)
    out.push_back({fmt("@OTP/0x%02x/1*%zuBe", phase::otp, uboot_otp_image_size), static_cast<std::uint8_t>(phase::otp)});
  if (options_.pmic_supported)
    out.push_back({fmt("@PMIC/0x%02x/1*%zuBe", phase::pmic, uboot_pmic_size), static_cast<std::uint8_t>(phase::pmic)});
  return out;
}

int UbootProgrammer::dfu_download(int alt, std::uint16_t block, ByteView data) {
  if (!valid_alt(alt)) return -ENODEV;
  return dfu_write(alt, data, block);
}

int UbootProgrammer::dfu_manifest(int alt) {
  if (!valid_alt(alt)) return -ENODEV;
  return dfu_flush(alt);
}

int UbootProgrammer::dfu_upload(int alt, std::uint16_t block, std::size_t n, Bytes& out) {
  out.clear();
  if (!valid_alt(alt)) return -ENODEV;
  return dfu_read(alt, n, block, out);
}

int UbootProgrammer::dfu_read(int alt, std::size_t n, int seq, Bytes& out) {
  initiate(alt, true);
  Txn& t = txn(alt);
  if (t.blk_seq != static_cast<std::uint32_t>(seq)) return -1;  // "Wrong sequence number", no phase error
  t.blk_seq = (t.blk_seq + 1) & 0xFFFF;
  // dfu_read_buffer_fill: the DFU buffer is refilled from the medium, dfu_buffer_size at a time.
  while (out.size() < n) {
    const std::size_t chunk = std::min(n - out.size(), t.buffer.size() - t.buffer_pos);
    out.insert(out.end(), t.buffer.begin() + static_cast<std::ptrdiff_t>(t.buffer_pos),
               t.buffer.begin() + static_cast<std::ptrdiff_t>(t.buffer_pos + chunk));
    t.buffer_pos += chunk;
    if (out.size() == n || t.r_left == 0) break;
    std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(options_.dfu_buffer_size, t.r_left));
    Bytes data;
    if (medium_read(alt, t.offset, len, data) != 0) return -1;  // "Failed to fill buffer"
    if (len == 0) break;
    data.resize(len, 0);
    t.buffer = std::move(data);
    t.buffer_pos = 0;
    t.offset += len;
    t.r_left -= len;
  }
  const auto got = static_cast<int>(out.size());
  if (out.size() < n) cleanup(alt);  // "UPLOAD ... done"
  return got;
}

int UbootProgrammer::cmd_read(std::uint32_t offset, std::size_t& len, Bytes& out) {
  // stm32prog_cmd_read: phase, LE32 destination, LE32 offset, then flag or error text.
  constexpr std::size_t header = 9;
  out.clear();
  if (len < header) return -EINVAL;  // "request exceeds allowed area"
  if (offset != 0) {
    len = 0;  // EOF for a second request
    return 0;
  }
  out.assign(header, 0);
  out[0] = static_cast<std::uint8_t>(phase_ & 0xFF);
  store_le32(&out[1], phase_address());
  store_le32(&out[5], data_offset_);
  if (phase_ == phase::reset || phase_ == uboot_phase_do_reset) {
    std::string message = phase_message();
    if (message.size() + header > len) message.resize(len - header);
    out.insert(out.end(), message.begin(), message.end());
    phase_reported();  // stm32prog_do_reset
  } else if (phase_ == phase::flash_layout) {
    out.push_back(layout_ && !layout_->parts.empty() ? 1 : 0);  // 1: detach to get the partition alts
  }
  len = out.size();
  return 0;
}

int UbootProgrammer::cmd_write(std::uint32_t offset, ByteView data) {
  // stm32prog_cmd_write: byte 0 phase, bytes 1..4 BE32 value.
  if (data.size() < 5 || offset != 0) return -EINVAL;  // "size not allowed" / "invalid offset"
  const std::uint32_t phase = data[0];
  const std::uint32_t value = std::uint32_t{data[1]} << 24 | std::uint32_t{data[2]} << 16 |
                              std::uint32_t{data[3]} << 8 | data[4];
  if (phase == phase::reset) {
    // The code at that address runs and returns ("## Application terminated").
    event(UbootEvent::Kind::jump, phase_, fmt("Starting application at 0x%08x", value));
    return 0;
  }
  return set_phase(phase, value);
}

int UbootProgrammer::set_phase(std::uint32_t phase, std::uint32_t offset) {
  if (phase != phase_) {
    if (!layout_) return -EINVAL;
    const auto& parts = layout_->parts;
    auto it = std::find_if(parts.begin(), parts.end(), [&](const UbootPart& p) { return p.id == phase; });
    if (it == parts.end()) return -EINVAL;
    cur_part_ = static_cast<int>(it - parts.begin());
    phase_ = phase;
  }
  data_offset_ = offset;
  dfu_seq_ = 0;
  return 0;
}

UbootUsbDetach UbootProgrammer::usb_detach() {
  const std::uint32_t phase = phase_;
  if (!usb_partitions_run_) {
    // End of the flash-layout gadget run: a layout (or none yet) in phase 0x00 goes on with
    // stm32prog_dfu_init and a second run; any other phase ends stm32prog without a reset.
    usb_partitions_run_ = true;
    if (phase == phase::flash_layout) {
      dfu_init();
      return UbootUsbDetach::reenumerate;
    }
    event(UbootEvent::Kind::console, phase & 0xFF,
          fmt("stm32prog ended after the flash-layout run in phase 0x%02x: U-Boot console, no reset",
              static_cast<unsigned>(phase & 0xFF)));
    return UbootUsbDetach::leave;
  }
  if (phase == uboot_phase_do_reset) {
    event(UbootEvent::Kind::reset, phase::reset, reset_reason_.empty() ? std::string("reset") : reset_reason_);
    return UbootUsbDetach::reset;
  }
  if (uimage_ != 0) {
    finish();  // records the kernel boot
    return UbootUsbDetach::leave;
  }
  std::string text = fmt("stm32prog ended in phase 0x%02x: U-Boot console, no reset", static_cast<unsigned>(phase & 0xFF));
  if (script_ != 0) text += fmt(" (after running the script at 0x%llx)", ull(script_));
  event(UbootEvent::Kind::console, phase & 0xFF, std::move(text));
  return UbootUsbDetach::leave;
}

}  // namespace mp1boot::sim
