// SPDX-License-Identifier: MIT
// Per-SoC constants (PROTOCOL.md 1.3), shared by the host side and the simulator as data.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mp1boot {

enum class SocFamily { stm32mp13, stm32mp15, stm32mp25 };

struct SocInfo {
  SocFamily family;
  std::string_view name;           ///< "stm32mp135"
  std::string_view family_name;    ///< "STM32MP13x"
  std::uint16_t device_id;         ///< DBGMCU DEV_ID: 0x501 (MP13), 0x500 (MP15), 0x505 (MP25)
  std::uint32_t header_version;    ///< STM32 image header version the ROM expects
  std::uint32_t header_size;       ///< 256 (v1) or 512 (v2)
  std::uint32_t sysram_base;
  std::uint32_t sysram_size;
  std::uint32_t rom_download_address; ///< Get Phase address reported by the ROM
  std::uint32_t max_fsbl_payload;     ///< largest FSBL payload (header excluded) the ROM accepts
  std::uint32_t ddr_base;
  std::uint32_t tfa_fip_buffer;       ///< TF-A DWL_BUFFER_BASE for phase 0x03
  std::uint32_t uboot_layout_address; ///< U-Boot CONFIG_SYS_LOAD_ADDR
  std::uint16_t rom_revision_string;  ///< revision shown in the ROM USB product string
  std::uint16_t revision_id;          ///< DBGMCU REV_ID of the simulated part
  std::string_view part_name;         ///< "STM32MP135F Rev.Y"
};

/// All known SoCs; names accepted: "stm32mp135", "stm32mp13", "mp13", "stm32mp157", "stm32mp15", ...
std::span<const SocInfo> all_socs();
/// @throws UsageError naming the accepted values when `name` is unknown.
const SocInfo& soc_by_name(std::string_view name);
/// nullptr when unknown.
const SocInfo* soc_by_device_id(std::uint16_t device_id);
/// "STM32MP13x" for 0x501, "unknown (0x123)" otherwise.
std::string device_id_name(std::uint16_t device_id);

}  // namespace mp1boot
