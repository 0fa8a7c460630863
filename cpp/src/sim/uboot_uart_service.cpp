// SPDX-License-Identifier: MIT
// U-Boot stm32prog service model (see uboot_uart_service.hpp). Behaviour and messages follow
// arch/arm/mach-stm32mp/cmd_stm32prog/{stm32prog.c,stm32prog_serial.c} and drivers/dfu/dfu*.c of
// upstream U-Boot; the code is written anew. Theory of operation:
//
//  * Phase 0x00 data goes through the "FlashLayout" DFU alt into the DDR at the load address.
//    Start flushes it, parses it (parse_uboot_layout), then prepares the devices
//    (init_uboot_devices, RawImage 'D' erases, GPT for full MMC updates, other 'D' erases),
//    re-creates one DFU alt per device phase (ascending id) and selects the next phase.
//  * Phase data goes to the current partition's alt: a DFU buffer of dfu_buffer_size bytes that
//    is written to the medium when the next block would not fit, and at Start (flush). Block
//    sequence numbers count from 0 per transaction; a mismatch fails the write.
//  * After the flush of a partition: end-of-phase actions, then the lowest selected ('P' without
//    'E') phase id above the current one, or 0xFE.
//  * Errors keep the first message and force phase 0xFF; Get Phase reports it, then "do reset".
#include "mp1boot/sim/uboot_uart_service.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mp1boot/error.hpp"
#include "mp1boot/uart/wire.hpp"
#include "uboot_uart_service_impl.hpp"

namespace mp1boot::sim {

using namespace uboot_detail;

UbootProgrammer::UbootProgrammer(const SocInfo& soc, UbootOptions options, std::shared_ptr<UbootHardware> hardware)
    : soc_(soc), options_(std::move(options)), hw_(std::move(hardware)), rules_(uboot_layout_rules(options_.uboot_version)) {
  if (!hw_) throw UsageError(errc::usage, "U-Boot model: no hardware given");
  if (options_.layout_address) {
    load_address_ = *options_.layout_address;
  } else if (!options_.uboot_version.empty() && options_.uboot_version < "2022.10") {
    load_address_ = soc_.ddr_base;
  } else {
    load_address_ = soc_.uboot_layout_address;
  }
  if (options_.dfu_buffer_size == 0) options_.dfu_buffer_size = 1;
  if (!options_.preloaded_layout.empty()) {
    // stm32prog_init: only an STM32 v1 image at the load address gives a size to parse.
    const Bytes& pre = options_.preloaded_layout;
    hw_->storage.write("ram", 0, load_address_, pre);
    const bool v1 = pre.size() >= 256 && load_le32(&pre[0]) == 0x324D5453 && load_le32(&pre[0x48]) == 0x00010000 &&
                    load_le32(&pre[0x54]) == 0 && load_le32(&pre[0x5C]) == 0 &&
                    std::all_of(pre.begin() + 0xAC, pre.begin() + 0xFF, [](std::uint8_t b) { return b == 0; });
    if (v1) {
      parse_layout(pre);
      if (layout_) dfu_init();
    }
  }
  make_entities();
  // stm32prog_usb_loop skips the layout gadget run when the layout was already in RAM.
  usb_partitions_run_ = phase_ != phase::flash_layout;
}

UbootProgrammer::~UbootProgrammer() = default;

// --- phase, errors --------------------------------------------------------------------------

void UbootProgrammer::fail(std::string message) {
  if (phase_ == phase::reset) return;  // the first error wins
  if (message.size() > error_size - 1) message.resize(error_size - 1);
  error_ = message;
  phase_ = phase::reset;
  event(UbootEvent::Kind::error, phase::reset, std::move(message));
}

void UbootProgrammer::event(UbootEvent::Kind kind, std::uint32_t phase, std::string text) {
  UbootEvent e;
  e.kind = kind;
  e.phase = phase;
  e.text = std::move(text);
  hw_->events.push_back(std::move(e));
}

std::uint32_t UbootProgrammer::phase_address() const {
  return phase_ == phase::flash_layout ? load_address_ : phase_address_none;
}

std::string UbootProgrammer::phase_message() const {
  if (phase_ != phase::reset && phase_ != uboot_phase_do_reset) return "";
  return error_.empty() ? std::string("Unspecified") : error_;
}

void UbootProgrammer::phase_reported() {
  if (phase_ != phase::reset) return;
  phase_ = uboot_phase_do_reset;
  reset_reason_ = "reset after phase 0xFF: " + phase_message();
}

void UbootProgrammer::next_phase() {
  if (phase_ == phase::reset || phase_ == phase::end || phase_ == uboot_phase_do_reset) return;
  dfu_seq_ = 0;
  cur_part_ = -1;
  const std::uint32_t from = phase_;
  phase_ = phase::end;
  if (!layout_) return;
  const auto& parts = layout_->parts;
  for (std::uint32_t id = from + 1; id <= phase::last_user; ++id) {
    auto it = std::find_if(parts.begin(), parts.end(), [&](const UbootPart& p) { return p.id == id; });
    if (it == parts.end()) continue;
    if (it->select && !it->empty) {  // the first line with this id decides
      cur_part_ = static_cast<int>(it - parts.begin());
      phase_ = id;
      return;
    }
  }
}

// --- DFU entities ---------------------------------------------------------------------------

void UbootProgrammer::make_entities() {
  // dfu_init_entities: one alt per device phase, ordered by phase id; or the FlashLayout alt.
  txns_.clear();
  alt_parts_.clear();
  if (!layout_) {
    alt_parts_.push_back(-1);
    return;
  }
  const auto& parts = layout_->parts;
  for (std::uint32_t id = 1; id <= phase::last_user; ++id) {
    auto it = std::find_if(parts.begin(), parts.end(), [&](const UbootPart& p) { return p.id == id; });
    if (it == parts.end() || it->ip == UbootIp::none) continue;
    alt_parts_.push_back(static_cast<int>(it - parts.begin()));
  }
}

int UbootProgrammer::part_of_entity(int alt) const {
  if (alt < 0 || static_cast<std::size_t>(alt) >= alt_parts_.size()) return -2;
  return alt_parts_[static_cast<std::size_t>(alt)];
}

int UbootProgrammer::current_entity() const {
  // stm32prog_get_entity: the current partition's alt, or alt 0 in phase 0x00; -1: none.
  if (cur_part_ < 0) return phase_ == phase::flash_layout ? 0 : -1;
  for (std::size_t a = 0; a < alt_parts_.size(); ++a)
    if (alt_parts_[a] == cur_part_) return static_cast<int>(a);
  return -1;
}

UbootProgrammer::Txn& UbootProgrammer::txn(int alt) {
  auto& t = txns_[alt];
  if (!t) t = std::make_unique<Txn>();
  return *t;
}

void UbootProgrammer::cleanup(int alt) { txn(alt) = Txn{}; }

void UbootProgrammer::initiate(int alt, bool read) {
  Txn& t = txn(alt);
  if (t.inited) return;
  t = Txn{};
  if (read) t.r_left = medium_size(alt);
  t.inited = true;
  // dfu_initiated_callback: the current partition restarts at stm32prog's saved offset.
  if (alt == current_entity() && cur_part_ >= 0) {
    t.offset = data_offset_;
    dfu_seq_ = 0;
  }
}

void UbootProgrammer::error_callback(int alt, const char* message) {
  if (cur_part_ >= 0 && alt == current_entity()) fail(message);
}

std::uint64_t UbootProgrammer::medium_size(int alt) const {
  switch (virtual_of(alt)) {
    case phase::command: return cmd_size;
    case phase::otp: return uboot_otp_image_size;
    case phase::pmic: return uboot_pmic_size;
    default: break;
  }
  const int index = part_of_entity(alt);
  if (index == -1) return layout_alt_size;
  if (index < 0) return 0;
  const UbootPart& part = layout_->parts[static_cast<std::size_t>(index)];
  if (is_mtd(part.ip)) return hw_->storage.size_of(part.ip_name());  // the whole MTD device
  return part.size;
}

int UbootProgrammer::medium_write(int alt, std::uint64_t offset, ByteView data) {
  switch (virtual_of(alt)) {  // stm32prog_write_medium_virt
    case phase::command: return cmd_write(static_cast<std::uint32_t>(offset), data);
    case phase::otp: return otp_write(static_cast<std::uint32_t>(offset), data);
    case phase::pmic: return pmic_write(static_cast<std::uint32_t>(offset), data);
    default: break;
  }
  const int index = part_of_entity(alt);
  Storage& storage = hw_->storage;
  try {
    if (index == -1) {  // FlashLayout: DDR at the load address
      if (offset > layout_alt_size) return -EINVAL;
      storage.write("ram", 0, load_address_ + offset, data);
      return 0;
    }
    if (index < 0) return -ENODEV;
    const UbootPart& part = layout_->parts[static_cast<std::size_t>(index)];
    if (options_.write_failure && options_.write_failure->phase == part.id &&
        options_.write_failure->offset >= offset && options_.write_failure->offset - offset < data.size())
      return -EIO;
    const std::string ip = part.ip_name();
    if (part.ip == UbootIp::ram) {
      if (offset > part.size) return -EINVAL;
      storage.write("ram", 0, part.addr + offset, data);
      return 0;
    }
    if (part.ip == UbootIp::mmc) {
      // Whole blocks inside the partition (hardware boot partition, RawImage: whole area); only a
      // partial last block is padded (a copy of it, not of the whole buffer).
      const std::size_t whole = data.size() / 512 * 512;
      if (offset + round_up(data.size(), 512) > part.size) return -EINVAL;  // "Request would exceed designated area!"
      if (whole) storage.write(ip, part.hw_partition, part.addr + offset, data.first(whole));
      if (whole < data.size()) {
        Bytes last(data.begin() + static_cast<std::ptrdiff_t>(whole), data.end());
        last.resize(512, 0);
        storage.write(ip, part.hw_partition, part.addr + offset + whole, last);
      }
      return 0;
    }
    // MTD: the request is clipped to the partition, then whole erase blocks are erased first.
    const std::uint64_t erase = storage.erase_size_of(ip);
    const std::uint64_t off = part.addr + offset;
    const std::uint64_t lim = part.addr + part.size;
    if (off >= lim) return -EIO;
    std::size_t len = data.size();
    if (off + len >= lim) len = static_cast<std::size_t>(lim - off);
    if (off % erase != 0) return 0;  // "Offset not aligned with a block": nothing written
    const std::uint64_t erase_len = round_up(len, erase);
    if (off + erase_len > lim) return -EIO;
    storage.erase(ip, 0, off, erase_len);
    storage.write(ip, 0, off, data.first(len));
    return 0;
  } catch (const Error&) {
    return -EIO;
  }
}

int UbootProgrammer::medium_read(int alt, std::uint64_t offset, std::size_t& len, Bytes& out) {
  switch (virtual_of(alt)) {  // stm32prog_read_medium_virt
    case phase::command: return cmd_read(static_cast<std::uint32_t>(offset), len, out);
    case phase::otp: return otp_read(static_cast<std::uint32_t>(offset), len, out);
    case phase::pmic: return pmic_read(static_cast<std::uint32_t>(offset), len, out);
    default: break;
  }
  const int index = part_of_entity(alt);
  const Storage& storage = hw_->storage;
  out.clear();
  try {
    if (index == -1) {
      if (offset > layout_alt_size) return -EINVAL;
      out = storage.read("ram", 0, load_address_ + offset, len);
      return 0;
    }
    if (index < 0) return -ENODEV;
    const UbootPart& part = layout_->parts[static_cast<std::size_t>(index)];
    const std::string ip = part.ip_name();
    if (part.ip == UbootIp::ram) {
      if (offset > part.size) return -EINVAL;
      out = storage.read("ram", 0, part.addr + offset, len);
      return 0;
    }
    if (part.ip == UbootIp::mmc) {
      const std::uint64_t aligned = round_up(len, 512);
      if (offset + aligned > part.size) return -EINVAL;  // "Request would exceed designated area!"
      out = storage.read(ip, part.hw_partition, part.addr + offset, len);
      return 0;
    }
    const std::uint64_t off = part.addr + offset;
    const std::uint64_t lim = part.addr + part.size;
    if (off >= lim) {
      len = 0;
      return 0;
    }
    if (off + len >= lim) len = static_cast<std::size_t>(lim - off);
    if (off % storage.erase_size_of(ip) != 0) {
      out.assign(len, 0);  // U-Boot returns without reading
      return 0;
    }
    out = storage.read(ip, 0, off, len);
    return 0;
  } catch (const Error&) {
    return -EIO;
  }
}

int UbootProgrammer::drain(int alt) {
  Txn& t = txn(alt);
  if (t.pending.empty()) return 0;
  const int ret = medium_write(alt, t.offset, t.pending);
  t.offset += t.pending.size();
  medium_bytes_ += t.pending.size();
  t.pending.clear();  // keeps its capacity: the next buffer fills without reallocations
  return ret;
}

int UbootProgrammer::dfu_write(int alt, ByteView data, int seq) {
  initiate(alt, false);
  Txn& t = txn(alt);
  if (t.blk_seq != static_cast<std::uint32_t>(seq)) {
    cleanup(alt);
    error_callback(alt, "Wrong sequence number");
    return -1;
  }
  t.blk_seq = (t.blk_seq + 1) & 0xFFFF;
  const std::size_t capacity = options_.dfu_buffer_size;
  if (t.pending.size() + data.size() > capacity) {
    if (int ret = drain(alt); ret != 0) {
      cleanup(alt);
      error_callback(alt, "DFU write error");
      return ret;
    }
  }
  if (t.pending.size() + data.size() > capacity) {
    cleanup(alt);
    error_callback(alt, "Buffer overflow");
    return -1;
  }
  t.pending.insert(t.pending.end(), data.begin(), data.end());
  if (data.empty() || t.pending.size() + data.size() > capacity) {
    if (int ret = drain(alt); ret != 0) {
      cleanup(alt);
      error_callback(alt, "DFU write error");
      return ret;
    }
  }
  return 0;
}

int UbootProgrammer::write(ByteView data) {
  // stm32prog_write
  const int alt = current_entity();
  if (alt < 0) return -ENODEV;
  const int ret = dfu_write(alt, data, dfu_seq_);
  if (ret != 0) fail(fmt("DFU write failed [%d] cnt: %d", static_cast<std::uint8_t>(ret), dfu_seq_));
  dfu_seq_ = (dfu_seq_ + 1) & 0xFFFF;
  if (data.empty()) dfu_seq_ = 0;
  return ret;
}

int UbootProgrammer::dfu_flush(int alt) {
  if (int ret = drain(alt); ret != 0) return ret;
  flush_callback(alt);
  cleanup(alt);
  return 0;
}

void UbootProgrammer::flush_callback(int alt) {
  const std::uint32_t virt = virtual_of(alt);
  if (virt == phase::otp) otp_start();
  if (virt == phase::pmic) pmic_start();
  if (virt != 0) return;
  const std::uint64_t size = txn(alt).offset;
  if (part_of_entity(alt) == -1 && phase_ == phase::flash_layout) {
    // The layout received: legacy U-Boot script, or a layout to parse.
    Bytes head = hw_->storage.read("ram", 0, load_address_, 4);
    const std::uint32_t magic = std::uint32_t{head[0]} << 24 | std::uint32_t{head[1]} << 16 |
                                std::uint32_t{head[2]} << 8 | head[3];
    if (size >= 4 && magic == uimage_magic) {  // genimg_get_format: a legacy uImage
      script_ = load_address_;
      phase_ = phase::end;
      event(UbootEvent::Kind::script, phase::flash_layout, "U-Boot script received");
      return;
    }
    parse_layout(hw_->storage.read("ram", 0, load_address_, static_cast<std::size_t>(size)));
    return;
  }
  if (cur_part_ < 0 || alt != current_entity()) return;
  end_phase(size);
  next_phase();
}

// --- Start ------------------------------------------------------------------------------------

int UbootProgrammer::start(std::uint32_t address) {
  if (address < 0x100) {
    if (address == phase::otp) return otp_start();
    if (address == phase::pmic) return pmic_start();
    if (address == phase::reset || address == phase::end) {
      cur_part_ = -1;
      dfu_seq_ = 0;
      phase_ = address;
      return 0;
    }
    if (address != phase_) {
      fail(fmt("invalid received phase id %d, current phase is %d", static_cast<int>(address),
               static_cast<int>(static_cast<std::uint8_t>(phase_))));
      return -EINVAL;
    }
  }
  if (address == start_downloaded_image || address == phase_) {
    if (phase_ == phase::end || phase_ == phase::reset || phase_ == uboot_phase_do_reset) {
      reset_reason_ = phase_ == phase::end ? "reset after END" : "reset after phase 0xFF: " + phase_message();
      cur_part_ = -1;
      phase_ = uboot_phase_do_reset;
      return 0;
    }
    const int alt = current_entity();
    if (alt < 0) return -ENODEV;
    if (int ret = dfu_flush(alt); ret != 0) {
      fail(fmt("DFU flush failed [%d]", static_cast<std::uint8_t>(ret)));
      return ret;
    }
    dfu_seq_ = 0;
    if (phase_ == phase::flash_layout) dfu_init();
    return 0;
  }
  event(UbootEvent::Kind::jump, phase_, fmt("Starting application at 0x%08x", address));
  return -ENOEXEC;
}

StageExit UbootProgrammer::finish() {
  if (uimage_ != 0) {
    std::string text = fmt("booting the kernel at 0x%llx", ull(uimage_));
    if (initrd_ != 0) text += fmt(", initrd 0x%llx:0x%llx", ull(initrd_), ull(initrd_size_));
    if (dtb_ != 0) text += fmt(", dtb 0x%llx", ull(dtb_));
    event(UbootEvent::Kind::kernel_boot, phase::end, text);
    return StageExit{StageExit::Kind::boot_next, text};
  }
  std::string reason = reset_reason_.empty() ? std::string("reset") : reset_reason_;
  if (script_ != 0) reason += fmt(" (after running the script at 0x%llx)", ull(script_));
  event(UbootEvent::Kind::reset, phase::end, reason);
  return StageExit{options_.reset_exit, reason};
}

}  // namespace mp1boot::sim
