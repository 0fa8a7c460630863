// SPDX-License-Identifier: MIT
// U-Boot service model, part 2: the received layout (parse, device checks), device preparation
// (RawImage and partition erases, the GPT of a full MMC update) and the end-of-phase actions
// (eMMC boot partition, NAND Binary(N) copies, RAM boot addresses). See uboot_uart_service.hpp;
// behaviour after stm32prog.c (stm32prog_devices_init, create_gpt_partitions, part_delete,
// stm32prog_end_phase, stm32prog_copy_fsbl), written anew.
#include <algorithm>
#include <cerrno>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/storage_gpt.hpp"
#include "mp1boot/sim/uboot_uart_service.hpp"
#include "uboot_uart_service_impl.hpp"

namespace mp1boot::sim {

using namespace uboot_detail;

namespace {

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
  for (const auto& dev : layout_->devices) {
    if (!devices.empty()) devices += ' ';
    devices += dev.ip_name();
  }
  event(UbootEvent::Kind::layout, phase::flash_layout, devices);

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
    event(UbootEvent::Kind::gpt_written, phase::flash_layout, dev.ip_name());
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
  if (const std::uint64_t rate = options_.erase_bytes_per_second.of(part.ip))
    erase_time_ += std::chrono::microseconds(static_cast<std::int64_t>(
        static_cast<long double>(part.size) * 1'000'000.0L / static_cast<long double>(rate)));
  event(UbootEvent::Kind::erased, part.id, part.name);
  return true;
}

std::uint64_t UbootEraseRates::of(UbootIp ip) const {
  switch (ip) {
    case UbootIp::mmc: return mmc;
    case UbootIp::nand:
    case UbootIp::spi_nand: return nand;
    case UbootIp::nor: return nor;
    default: return 0;
  }
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

}  // namespace mp1boot::sim
