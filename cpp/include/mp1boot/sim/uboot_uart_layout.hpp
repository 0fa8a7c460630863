// SPDX-License-Identifier: MIT
// The flash layout as U-Boot's stm32prog reads it, written again for the simulator (it does not
// use the host's mp1boot::image parser, so the device model can referee the host checker): the
// optional STM32 v1 header and its checksum, U-Boot's character loop (TAB runs, '\r' ending a
// column, '#' comments, a TAB before the end of a line swallowing the newline), the column
// parsers, the partition-list rules and the per-device checks, each failing with U-Boot's own
// message ("Layout line 3: invalid phase value = 0x1ff", "Layout: duplicated phase 0x4 for part
// a and b", "fip (0x5): not aligned address : 0x44401 on erase size 0x200", ...). The first
// error stops everything, as on the device. See PROTOCOL.md 5 and 8.3.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mp1boot/bytes.hpp"

namespace mp1boot::sim {

/// Device kind of a layout line (U-Boot's enum stm32prog_target).
enum class UbootIp { none, mmc, nand, nor, spi_nand, ram };
/// Partition type (enum stm32prog_part_type).
enum class UbootPartType { binary, fip, fwu_mdata, env, system, filesystem, esp, raw_image };

/// One partition line.
struct UbootPart {
  std::uint32_t line = 0;       ///< U-Boot's line counter (1-based)
  bool select = false;          ///< 'P'
  bool empty = false;           ///< 'E'
  bool erase = false;           ///< 'D'
  std::uint32_t id = 0;         ///< phase id
  std::string name;
  UbootPartType type = UbootPartType::binary;
  std::uint32_t copies = 0;     ///< N of Binary(N) (1 for plain Binary, 0 for other types)
  UbootIp ip = UbootIp::none;
  int dev_id = 0;               ///< digit of the IP (may be odd, as U-Boot reads "mmc/" as -1)
  int hw_partition = 0;         ///< 0 user area, 1 boot1, 2 boot2
  std::uint64_t addr = 0;       ///< offset in the device, DDR address for ram (0 for boot1/2, RawImage)
  std::uint64_t size = 0;       ///< computed by the device checks
  int part_index = 0;           ///< U-Boot part_id: 1.. for partitions, 0 RawImage, -1/-2 boot1/2
  int device = -1;              ///< index in UbootLayout::devices; -1 for IP none

  /// "mmc0", "nor0", "nand0", "spi-nand0", "ram", "none".
  std::string ip_name() const;
};

/// One device named by the layout.
struct UbootLayoutDevice {
  UbootIp ip = UbootIp::none;
  int dev_id = 0;
  std::uint32_t erase_size = 0;
  bool full_update = true;       ///< every line of the device is selected ('P')
  std::vector<std::size_t> parts;  ///< indexes into UbootLayout::parts, sorted (hw part, offset)
  std::string ip_name() const;
};

struct UbootLayout {
  std::vector<UbootPart> parts;          ///< every line, file order
  std::vector<UbootLayoutDevice> devices;
};

/// Parser differences between U-Boot releases.
struct UbootLayoutRules {
  /// Offsets without "0x" are decimal (U-Boot >= 2023.07); false: automatic base (leading 0 = octal).
  bool decimal_offsets = true;
  /// Types ENV, ESP and FWU_MDATA are known (U-Boot >= 2023.10).
  bool extended_types = true;
};

/// Rules of a U-Boot release "YYYY.MM" (empty: current upstream).
UbootLayoutRules uboot_layout_rules(const std::string& uboot_version);

/// Result of parse_uboot_layout / init_uboot_devices: `error` is U-Boot's message, empty on success.
struct UbootLayoutResult {
  UbootLayout layout;
  std::string error;
  bool ok() const { return error.empty(); }
};

/// U-Boot's parse_flash_layout on the bytes received in phase 0x00 (an STM32 v1 header is
/// stripped after its checksum is checked). Only syntax: the partition rules come next.
UbootLayoutResult parse_uboot_layout(ByteView data, const UbootLayoutRules& rules = {});

/// Geometry of a board device as U-Boot's init_device sees it.
struct UbootDeviceGeometry {
  std::uint64_t size = 0;        ///< MMC user area / MTD size / DDR size
  std::uint32_t erase_size = 0;  ///< MMC erase group in bytes / MTD erase block
  std::uint64_t boot_size = 0;   ///< MMC capacity of each boot partition (0: none)
  std::uint64_t base = 0;        ///< DDR start (ram only)
};

/// A partition that already exists on a device (GPT entry, MTD partition).
struct UbootExistingPartition {
  bool present = true;           ///< false: unused entry (GPT gap)
  std::string name;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

/// What the device checks ask the board.
struct UbootBoardQuery {
  /// Geometry of "mmc0", "nor0", ..., "ram"; nullopt when the board has no such device.
  std::function<std::optional<UbootDeviceGeometry>(const std::string& ip)> geometry;
  /// Existing partitions of a device in partition-number order (partition n = element n-1);
  /// nullopt when the device has no table. Asked for MMC devices of a partial update (nullopt:
  /// "Couldn't find part") and for every MTD device (U-Boot always compares MTD partitions with
  /// the board's table; nullopt or no function: the device is taken to match the layout, a
  /// simulator choice since a real board always has one).
  std::function<std::optional<std::vector<UbootExistingPartition>>(const std::string& ip)> existing;
};

/// U-Boot's treat_partition_list and init_device on a parsed layout: the IP none and id rules,
/// duplicated ids, at most 5 devices, full/partial update per device, partition sizes, address
/// limits (GPT area on MMC, device end, DDR window), erase-size alignment, Binary(N) limits and
/// the comparison with existing partitions for partial updates. Fills sizes, part_index, device.
UbootLayoutResult init_uboot_devices(UbootLayout layout, const UbootBoardQuery& board);

}  // namespace mp1boot::sim
