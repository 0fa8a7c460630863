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
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/storage_gpt.hpp"
#include "mp1boot/uart/wire.hpp"

namespace mp1boot::sim {

namespace {

constexpr std::uint32_t phase_flashlayout = 0x00;
constexpr std::uint32_t phase_last_user = 0xF0;
constexpr std::uint32_t phase_otp = 0xF2;
constexpr std::uint32_t phase_pmic = 0xF4;
constexpr std::uint32_t phase_end = 0xFE;
constexpr std::uint32_t phase_reset = 0xFF;
constexpr std::uint32_t default_address = 0xFFFFFFFF;
constexpr std::uint64_t layout_alt_size = 0x40000;  // "@FlashLayout/0x00/1*256Ke ram <addr> 40000"
constexpr std::size_t error_size = 255;             // stm32prog_data.error[255]
constexpr std::uint32_t uimage_magic = 0x27051956;

__attribute__((format(printf, 1, 2))) std::string fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

bool is_mtd(UbootIp ip) { return ip == UbootIp::nor || ip == UbootIp::nand || ip == UbootIp::spi_nand; }

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return to == 0 ? v : (v + to - 1) / to * to; }

// A deterministic stand-in for U-Boot's random partition GUIDs (version 4 layout).
Guid pseudo_guid(const std::string& seed) {
  Guid g{};
  std::uint32_t h = crc32_of(ByteView(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()));
  for (std::size_t i = 0; i < g.size(); ++i) {
    h = h * 1664525u + 1013904223u;
    g[i] = static_cast<std::uint8_t>(h >> 24);
  }
  g[7] = static_cast<std::uint8_t>((g[7] & 0x0F) | 0x40);
  g[8] = static_cast<std::uint8_t>((g[8] & 0x3F) | 0x80);
  return g;
}

// STM32 header check of U-Boot's stm32prog_header_check (v1, or v2.0 exactly); 0 when none.
std::uint64_t stm32_image_size(ByteView h) {
  if (h.size() < 512 || load_le32(&h[0]) != 0x324D5453) return 0;
  const std::uint32_t version = load_le32(&h[0x48]);
  if (load_le32(&h[0x54]) != 0 || load_le32(&h[0x5C]) != 0) return 0;
  if (version == 0x00010000) {
    if (!std::all_of(h.begin() + 0xAC, h.begin() + 0xFF, [](std::uint8_t b) { return b == 0; })) return 0;
    return std::uint64_t{load_le32(&h[0x4C])} + 256;
  }
  if (version == 0x00020000) {
    if (!std::all_of(h.begin() + 0x70, h.begin() + 0x80, [](std::uint8_t b) { return b == 0; })) return 0;
    return std::uint64_t{load_le32(&h[0x4C])} + 256 + load_le32(&h[0x68]);  // U-Boot's 256 + extensions
  }
  return 0;
}

}  // namespace

/// One DFU entity's transaction (dfu_entity: inited, offset, i_blk_seq_num, buffer, r_left).
struct UbootProgrammer::Txn {
  bool inited = false;
  std::uint64_t offset = 0;   ///< medium offset of the next drain / read
  std::uint32_t blk_seq = 0;
  Bytes pending;              ///< write data not yet on the medium
  Bytes buffer;               ///< read data
  std::size_t buffer_pos = 0;
  std::uint64_t r_left = 0;
};

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
    if (pre.size() >= 256 && load_le32(&pre[0]) == 0x324D5453 && load_le32(&pre[0x48]) == 0x00010000) {
      parse_layout(pre);
      if (layout_) dfu_init();
    }
  }
  make_entities();
}

UbootProgrammer::~UbootProgrammer() = default;

// --- phase, errors --------------------------------------------------------------------------

void UbootProgrammer::fail(std::string message) {
  if (phase_ == phase_reset) return;  // the first error wins
  if (message.size() > error_size - 1) message.resize(error_size - 1);
  error_ = message;
  phase_ = phase_reset;
  event(UbootEvent::Kind::error, phase_reset, std::move(message));
}

void UbootProgrammer::event(UbootEvent::Kind kind, std::uint32_t phase, std::string text) {
  UbootEvent e;
  e.kind = kind;
  e.phase = phase;
  e.text = std::move(text);
  hw_->events.push_back(std::move(e));
}

std::uint32_t UbootProgrammer::phase_address() const {
  return phase_ == phase_flashlayout ? load_address_ : default_address;
}

std::string UbootProgrammer::phase_message() const {
  if (phase_ != phase_reset && phase_ != uboot_phase_do_reset) return "";
  return error_.empty() ? std::string("Unspecified") : error_;
}

void UbootProgrammer::phase_reported() {
  if (phase_ != phase_reset) return;
  phase_ = uboot_phase_do_reset;
  reset_reason_ = "reset after phase 0xFF: " + phase_message();
}

void UbootProgrammer::next_phase() {
  if (phase_ == phase_reset || phase_ == phase_end || phase_ == uboot_phase_do_reset) return;
  dfu_seq_ = 0;
  cur_part_ = -1;
  const std::uint32_t from = phase_;
  phase_ = phase_end;
  if (!layout_) return;
  const auto& parts = layout_->parts;
  for (std::uint32_t id = from + 1; id <= phase_last_user; ++id) {
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
  for (std::uint32_t id = 1; id <= phase_last_user; ++id) {
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
  if (cur_part_ < 0) return phase_ == phase_flashlayout ? 0 : -1;
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
  const int index = part_of_entity(alt);
  if (index == -1) return layout_alt_size;
  if (index < 0) return 0;
  const UbootPart& part = layout_->parts[static_cast<std::size_t>(index)];
  if (is_mtd(part.ip)) return hw_->storage.size_of(part.ip_name());  // the whole MTD device
  return part.size;
}

int UbootProgrammer::medium_write(int alt, std::uint64_t offset, ByteView data) {
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
      // Whole blocks inside the partition (hardware boot partition, RawImage: whole area).
      Bytes blocks(data.begin(), data.end());
      blocks.resize(static_cast<std::size_t>(round_up(blocks.size(), 512)), 0);
      if (offset + blocks.size() > part.size) return -EINVAL;  // "Request would exceed designated area!"
      storage.write(ip, part.hw_partition, part.addr + offset, blocks);
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
  Bytes data = std::move(t.pending);
  t.pending.clear();
  const int ret = medium_write(alt, t.offset, data);
  t.offset += data.size();
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
  const std::uint64_t size = txn(alt).offset;
  if (part_of_entity(alt) == -1 && phase_ == phase_flashlayout) {
    // The layout received: legacy U-Boot script, or a layout to parse.
    Bytes head = hw_->storage.read("ram", 0, load_address_, 4);
    const std::uint32_t magic = std::uint32_t{head[0]} << 24 | std::uint32_t{head[1]} << 16 |
                                std::uint32_t{head[2]} << 8 | head[3];
    if (size >= 4 && magic == uimage_magic) {  // genimg_get_format: a legacy uImage
      script_ = load_address_;
      phase_ = phase_end;
      event(UbootEvent::Kind::script, phase_flashlayout, "U-Boot script received");
      return;
    }
    parse_layout(hw_->storage.read("ram", 0, load_address_, static_cast<std::size_t>(size)));
    return;
  }
  if (cur_part_ < 0 || alt != current_entity()) return;
  end_phase(size);
  next_phase();
}

// --- layout and devices -----------------------------------------------------------------------

void UbootProgrammer::parse_layout(ByteView data) {
  layout_.reset();
  UbootLayoutResult parsed = parse_uboot_layout(data, rules_);
  if (!parsed.ok()) {
    fail(parsed.error);
    fail("Layout: invalid FlashLayout");  // no effect after the first message
    return;
  }
  layout_ = std::move(parsed.layout);
}

void UbootProgrammer::dfu_init() {
  if (layout_) devices_init();
  if (layout_) next_phase();
  make_entities();
}

void UbootProgrammer::devices_init() {
  UbootBoardQuery query;
  query.geometry = [this](const std::string& ip) -> std::optional<UbootDeviceGeometry> {
    const Storage& storage = hw_->storage;
    UbootDeviceGeometry g;
    if (ip == "ram") {
      g.base = storage.options().ram_base;
      g.size = storage.options().ram_size;
      return g;
    }
    const StorageDevice* dev = storage.device(ip);
    if (dev == nullptr) return std::nullopt;
    g.size = dev->size;
    g.erase_size = dev->erase_size;
    g.boot_size = dev->boot_size;
    return g;
  };
  query.existing = [this](const std::string& ip) -> std::optional<std::vector<UbootExistingPartition>> {
    if (ip.rfind("mmc", 0) == 0) {
      auto gpt = read_gpt(hw_->storage, ip);
      if (!gpt) return std::nullopt;
      std::vector<UbootExistingPartition> out;
      for (const auto& p : *gpt) {
        if (out.size() < p.index) out.resize(p.index, UbootExistingPartition{false, "", 0, 0});
        out[p.index - 1] = UbootExistingPartition{true, p.name, p.start, p.size};
      }
      return out;
    }
    auto it = options_.mtd_partitions.find(ip);
    if (it == options_.mtd_partitions.end()) return std::nullopt;
    return it->second;
  };
  UbootLayoutResult checked = init_uboot_devices(std::move(*layout_), query);
  if (!checked.ok()) {
    layout_.reset();
    fail(checked.error);
    return;
  }
  layout_ = std::move(checked.layout);
  if (layout_->devices.empty()) return;  // empty layout: nothing to prepare

  std::string devices;
  for (const auto& dev : layout_->devices) devices += (devices.empty() ? "" : " ") + dev.ip_name();
  event(UbootEvent::Kind::layout, phase_flashlayout, devices);

  auto delete_selected = [&](bool raw) {
    for (const auto& part : layout_->parts) {
      if (part.ip == UbootIp::none || (part.type == UbootPartType::raw_image) != raw) continue;
      if (!part.select || !part.erase) continue;
      if (!part_delete(part)) return false;
    }
    return true;
  };
  if (!delete_selected(true) || !create_gpt() || !delete_selected(false)) layout_.reset();
}

bool UbootProgrammer::create_gpt() {
  if (!options_.create_gpt) return true;
  static const char* const rootfs_uuid[3] = {"E91C4E10-16E6-4C0E-BD0E-77BECF4A3582",
                                             "491F6117-415D-4F53-88C9-6E0DE54DEAC6",
                                             "FD58F1C7-BE0D-4338-88E9-AD8F050AEB18"};
  for (const auto& dev : layout_->devices) {
    if (dev.ip != UbootIp::mmc || !dev.full_update) continue;
    std::vector<GptPartition> entries;
    bool rootfs_found = false;
    std::string command = "gpt write mmc " + std::to_string(dev.dev_id) + " \"";
    for (std::size_t index : dev.parts) {
      const UbootPart& part = layout_->parts[index];
      if (part.part_index < 0 || part.type == UbootPartType::raw_image) continue;
      GptPartition g;
      g.name = part.name;
      g.start = part.addr;
      g.size = part.size;
      switch (part.type) {
        case UbootPartType::binary: g.type = guid_from_string("8DA63339-0007-60C0-C436-083AC8230908"); break;
        case UbootPartType::env: g.type = guid_from_string("3DE21764-95BD-54BD-A5C3-4ABE786F38A8"); break;
        case UbootPartType::fip: g.type = guid_from_string("19D5DF83-11B0-457B-BE2C-7559C13142A5"); break;
        case UbootPartType::fwu_mdata: g.type = guid_from_string("8A7A84A0-8387-40F6-AB41-A8B9A5A60D23"); break;
        case UbootPartType::esp: g.type = guid_from_string("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"); break;
        default: g.type = guid_from_string("0FC63DAF-8483-4772-8E79-3D69D8477DE4"); break;
      }
      if (part.type == UbootPartType::system) g.attributes = 1u << 2;  // legacy BIOS bootable
      g.unique = pseudo_guid(dev.ip_name() + "/" + part.name);
      if (!rootfs_found && (part.name == "rootfs" || part.name == "rootfs-a")) {
        rootfs_found = true;
        if (dev.dev_id >= 0 && dev.dev_id < 3) g.unique = guid_from_string(rootfs_uuid[dev.dev_id]);
      }
      if (part.type == UbootPartType::fip && part.name == "fip-a")
        g.unique = guid_from_string("4FD84C93-54EF-463F-A7EF-AE25FF887087");
      if (part.type == UbootPartType::fip && part.name == "fip-b")
        g.unique = guid_from_string("09C54952-D5BF-45AF-ACEE-335303766FB3");
      command += fmt("name=%s,start=0x%llx,size=0x%llx;", part.name.c_str(), ull(part.addr), ull(part.size));
      entries.push_back(std::move(g));
    }
    if (entries.empty()) continue;
    try {
      write_gpt(hw_->storage, dev.ip_name(), entries, pseudo_guid("disk/" + dev.ip_name()));
    } catch (const Error&) {
      fail("GPT partitionning fail: " + command + "\"");
      return false;
    }
    event(UbootEvent::Kind::gpt_written, phase_flashlayout, dev.ip_name());
  }
  return true;
}

bool UbootProgrammer::part_delete(const UbootPart& part) {
  const std::string ip = part.ip_name();
  try {
    if (part.ip == UbootIp::ram) {
      hw_->storage.erase("ram", 0, part.addr, part.size);
    } else if (part.ip == UbootIp::mmc) {
      if (part.hw_partition != 0 && hw_->storage.size_of(ip, part.hw_partition) == 0) return false;
      hw_->storage.erase(ip, part.hw_partition, part.addr, part.size);
    } else {
      hw_->storage.erase(ip, 0, part.addr, part.size);
    }
  } catch (const Error&) {
    if (part.ip == UbootIp::mmc)
      fail(fmt("%s (0x%x): MMC erase failed", part.name.c_str(), part.id));
    else
      fail(fmt("%s (0x%x): MTD erase commands failed (mtd erase %s 0x%llx 0x%llx)", part.name.c_str(), part.id,
               ip.c_str(), ull(part.addr), ull(part.size)));
    return false;
  }
  event(UbootEvent::Kind::erased, part.id, part.name);
  return true;
}

// --- end of phase -------------------------------------------------------------------------------

void UbootProgrammer::end_phase(std::uint64_t size) {
  const UbootPart& part = layout_->parts[static_cast<std::size_t>(cur_part_)];
  event(UbootEvent::Kind::phase_done, part.id, part.name + ": " + std::to_string(size) + " bytes");
  if (part.ip == UbootIp::ram) {
    if (part.type == UbootPartType::system) uimage_ = part.addr;
    if (part.type == UbootPartType::filesystem) dtb_ = part.addr;
    if (part.type == UbootPartType::binary) {
      initrd_ = part.addr;
      initrd_size_ = size;
    }
  }
  if (part.ip == UbootIp::mmc && part.hw_partition != 0) {
    const std::string command = fmt("mmc bootbus %d 0 0 0; mmc partconf %d 1 %d 0", part.dev_id, part.dev_id,
                                    part.hw_partition);
    if (hw_->storage.size_of(part.ip_name(), part.hw_partition) == 0) {
      fail(fmt("commands '%s' failed", command.c_str()));
      return;
    }
    hw_->mmc_boot_partition[part.dev_id] = part.hw_partition;
    event(UbootEvent::Kind::boot_partition_enabled, part.id,
          part.ip_name() + " boot" + std::to_string(part.hw_partition));
  }
  if (is_mtd(part.ip) && part.copies > 1 && !copy_fsbl(part))
    fail(fmt("%s (0x%x): copy of fsbl failed", part.name.c_str(), part.id));
}

bool UbootProgrammer::copy_fsbl(const UbootPart& part) {
  if (part.ip != UbootIp::nand && part.ip != UbootIp::spi_nand) return false;
  const std::string ip = part.ip_name();
  const Storage& storage = hw_->storage;
  const std::uint64_t erase = storage.erase_size_of(ip);
  const std::uint64_t image = stm32_image_size(storage.read(ip, 0, part.addr, 512));
  if (image == 0) return false;
  const std::uint64_t size = round_up(image, erase);
  const std::uint64_t readable = std::min(size, part.size);
  Bytes fsbl = storage.read(ip, 0, part.addr, static_cast<std::size_t>(readable));
  fsbl.resize(static_cast<std::size_t>(size), 0);
  int alt = current_entity();
  for (std::uint32_t k = 1; k < part.copies; ++k)
    if (medium_write(alt, k * size, fsbl) != 0) return false;
  event(UbootEvent::Kind::fsbl_copied, part.id, part.name + ": " + std::to_string(part.copies) + " copies");
  return true;
}

// --- Start ------------------------------------------------------------------------------------

int UbootProgrammer::start(std::uint32_t address) {
  if (address < 0x100) {
    if (address == phase_otp) return otp_start();
    if (address == phase_pmic) return pmic_start();
    if (address == phase_reset || address == phase_end) {
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
  if (address == default_address || address == phase_) {
    if (phase_ == phase_end || phase_ == phase_reset || phase_ == uboot_phase_do_reset) {
      reset_reason_ = phase_ == phase_end ? "reset after END" : "reset after phase 0xFF: " + phase_message();
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
    if (phase_ == phase_flashlayout) dfu_init();
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
    event(UbootEvent::Kind::kernel_boot, phase_end, text);
    return StageExit{StageExit::Kind::boot_next, text};
  }
  std::string reason = reset_reason_.empty() ? std::string("reset") : reset_reason_;
  if (script_ != 0) reason += fmt(" (after running the script at 0x%llx)", ull(script_));
  event(UbootEvent::Kind::reset, phase_end, reason);
  return StageExit{options_.reset_exit, reason};
}

// --- reads --------------------------------------------------------------------------------------

Bytes UbootProgrammer::read_memory(std::uint32_t address, std::size_t n) const {
  return hw_->storage.read("ram", 0, address, n);
}

int UbootProgrammer::read_partition(std::uint8_t id, std::uint32_t offset, std::size_t n, Bytes& out) {
  out.assign(n, 0);
  if (id == phase_otp || id == phase_pmic) {
    std::size_t size = n;
    Bytes data;
    const int ret = id == phase_otp ? otp_read(offset, size, data) : pmic_read(offset, size, data);
    if (ret != 0) return ret;
    std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(std::min(size, data.size())), out.begin());
    return static_cast<int>(size);
  }
  // stm32prog_read
  if (dfu_seq_ != 0) {
    fail(fmt("DFU write pending for phase %d, seq %d", static_cast<int>(phase_), dfu_seq_));
    return -EINVAL;
  }
  if (id == phase_flashlayout || id > phase_last_user) {
    fail(fmt("read failed : phase %d is invalid", id));
    return -EINVAL;
  }
  if (read_phase_ <= phase_last_user && id != read_phase_) {
    // U-Boot cleans the alt numbered read_phase - 1 (right when phases are contiguous from 1).
    const int previous = static_cast<int>(read_phase_) - 1;
    if (part_of_entity(previous) != -2) cleanup(previous);
  }
  int alt = -1;
  if (layout_) {
    for (std::size_t i = 0; i < layout_->parts.size(); ++i) {
      if (layout_->parts[i].id != id) continue;
      alt = -1;
      for (std::size_t a = 0; a < alt_parts_.size(); ++a)
        if (alt_parts_[a] == static_cast<int>(i)) alt = static_cast<int>(a);
    }
  }
  if (alt < 0) {
    fail(fmt("read failed : phase %d is unknown", id));
    return -ENODEV;
  }
  Txn* t = &txn(alt);
  if (t->inited && (read_phase_ != id || data_offset_ != offset)) cleanup(alt);
  initiate(alt, true);
  t = &txn(alt);
  t->offset = offset;  // forced, also on a continued read (as U-Boot does)
  data_offset_ = offset;
  read_phase_ = id;
  t->blk_seq = (t->blk_seq + 1) & 0xFFFF;

  // dfu_read_buffer_fill
  std::size_t done = 0;
  while (done < n) {
    const std::size_t available = t->buffer.size() - t->buffer_pos;
    const std::size_t chunk = std::min(n - done, available);
    std::copy_n(t->buffer.begin() + static_cast<std::ptrdiff_t>(t->buffer_pos), chunk,
                out.begin() + static_cast<std::ptrdiff_t>(done));
    t->buffer_pos += chunk;
    done += chunk;
    if (done == n || t->r_left == 0) break;
    std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(options_.dfu_buffer_size, t->r_left));
    Bytes data;
    if (medium_read(alt, t->offset, len, data) != 0) {
      fail(fmt("DFU read failed [%d] phase = %d offset = 0x%08x", -1, id, offset));
      return -1;
    }
    if (len == 0) break;
    data.resize(len, 0);
    t->buffer = std::move(data);
    t->buffer_pos = 0;
    t->offset += len;
    t->r_left -= len;
  }
  if (done < n) {
    cleanup(alt);
    data_offset_ = 0;
    read_phase_ = phase_end;
  } else {
    data_offset_ += static_cast<std::uint32_t>(done);
  }
  return static_cast<int>(done);
}

// --- OTP / PMIC ---------------------------------------------------------------------------------

int UbootProgrammer::otp_write(std::uint32_t offset, ByteView data) {
  if (!options_.otp_supported) {
    fail("OTP update not supported");
    return -EOPNOTSUPP;
  }
  if (!otp_part_) otp_part_.emplace(uboot_otp_image_size, 0);
  if (offset == 0) std::fill(otp_part_->begin(), otp_part_->end(), 0);
  if (offset >= uboot_otp_image_size) return 0;
  const std::size_t n = std::min<std::size_t>(data.size(), uboot_otp_image_size - offset);
  std::copy_n(data.begin(), n, otp_part_->begin() + offset);
  return 0;
}

int UbootProgrammer::otp_read(std::uint32_t offset, std::size_t& n, Bytes& out) {
  if (!options_.otp_supported) {
    fail("OTP update not supported");
    return -EOPNOTSUPP;
  }
  if (offset == 0) {
    // TA_NVMEM_READ: fresh image from the fuses.
    Bytes image(uboot_otp_image_size, 0);
    store_le32(&image[0], 2);
    store_le32(&image[4], hw_->bsec_state);
    for (std::size_t i = 0; i < uboot_otp_words; ++i) {
      store_le32(&image[8 + 8 * i], hw_->otp[i]);
      store_le32(&image[12 + 8 * i], hw_->otp_locked[i] ? 1u << 30 : 0u);
    }
    otp_part_ = std::move(image);
  }
  if (!otp_part_) {
    fail(fmt("OTP read issue %d", -ENOMEM));
    return -ENOMEM;
  }
  n = offset >= uboot_otp_image_size ? 0 : std::min<std::size_t>(n, uboot_otp_image_size - offset);
  out.assign(otp_part_->begin() + offset, otp_part_->begin() + offset + static_cast<std::ptrdiff_t>(n));
  return 0;
}

int UbootProgrammer::otp_start() {
  if (!options_.otp_supported) {
    fail("OTP update not supported");
    return -EOPNOTSUPP;
  }
  if (!otp_part_) {
    fail("start OTP without data");
    return -1;
  }
  Bytes image = std::move(*otp_part_);
  otp_part_.reset();
  // TA_NVMEM_WRITE: words with the update request bit; a lock request (bit 30) locks for good.
  std::vector<OtpProgramming> words;
  bool refused = options_.otp_write_fails;
  for (std::uint32_t i = 0; i < uboot_otp_words; ++i) {
    const std::uint32_t value = load_le32(&image[8 + 8 * i]);
    const std::uint32_t status = load_le32(&image[12 + 8 * i]);
    if ((status & (1u << 31)) == 0) continue;
    if (hw_->otp_locked[i] && value != 0) refused = true;  // a locked word cannot change
    words.push_back(OtpProgramming{i, value, (status & (1u << 30)) != 0});
  }
  if (refused) {
    fail(fmt("OTP write issue %d", -EIO));
    return -EIO;
  }
  for (const auto& w : words) {
    hw_->otp[w.word] |= w.value;  // fuses only go from 0 to 1
    if (w.lock) hw_->otp_locked[w.word] = true;
  }
  UbootEvent e;
  e.kind = UbootEvent::Kind::otp_programmed;
  e.phase = phase_otp;
  e.text = std::to_string(words.size()) + " words";
  e.otp = std::move(words);
  hw_->events.push_back(std::move(e));
  return 0;
}

int UbootProgrammer::pmic_write(std::uint32_t offset, ByteView data) {
  if (offset == 0) pmic_part_.fill(0);
  if (offset >= uboot_pmic_size) return 0;
  const std::size_t n = std::min<std::size_t>(data.size(), uboot_pmic_size - offset);
  std::copy_n(data.begin(), n, pmic_part_.begin() + offset);
  return 0;
}

int UbootProgrammer::pmic_read(std::uint32_t offset, std::size_t& n, Bytes& out) {
  if (!options_.pmic_supported) {
    fail("PMIC update not supported");
    return -EOPNOTSUPP;
  }
  if (offset == 0) pmic_part_ = hw_->pmic_nvm;
  n = offset >= uboot_pmic_size ? 0 : std::min<std::size_t>(n, uboot_pmic_size - offset);
  out.assign(pmic_part_.begin() + offset, pmic_part_.begin() + offset + static_cast<std::ptrdiff_t>(n));
  return 0;
}

int UbootProgrammer::pmic_start() {
  if (!options_.pmic_supported) {
    fail("PMIC update not supported");
    return -EOPNOTSUPP;
  }
  hw_->pmic_nvm = pmic_part_;
  event(UbootEvent::Kind::pmic_programmed, phase_pmic, to_hex(pmic_part_));
  return 0;
}

}  // namespace mp1boot::sim
