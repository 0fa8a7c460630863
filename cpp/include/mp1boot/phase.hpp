// SPDX-License-Identifier: MIT
// The phase vocabulary shared by both links, the engines, the simulator and the runner: phase
// ids with their names (PROTOCOL.md 1.2), the one Get Phase reply type (UART 2.5.4, USB 3.5) and
// Start's "run the downloaded image" address. A base header: plain data, no I/O.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "mp1boot/bytes.hpp"

namespace mp1boot {

/// Well-known phase ids (PROTOCOL.md 1.2). Partition ids of a flash layout lie between
/// first_user-style boot partitions (0x04..0x0F) and last_user.
namespace phase {
inline constexpr std::uint8_t flash_layout = 0x00;  ///< the flash layout (TSV), U-Boot
inline constexpr std::uint8_t fsbl = 0x01;          ///< TF-A BL2, served by the ROM
inline constexpr std::uint8_t ddr_fip = 0x02;       ///< MP2x: the DDR firmware FIP, served by TF-A
inline constexpr std::uint8_t ssbl = 0x03;          ///< the FIP (OP-TEE + U-Boot), served by TF-A
inline constexpr std::uint8_t first_user = 0x10;    ///< first user partition (below: boot partitions)
inline constexpr std::uint8_t last_user = 0xF0;     ///< last partition id a layout may use
inline constexpr std::uint8_t command = 0xF1;       ///< the virtual alt (USB Get Phase, U-Boot commands)
inline constexpr std::uint8_t otp = 0xF2;           ///< OTP image (U-Boot; writes are permanent)
inline constexpr std::uint8_t ssp = 0xF3;           ///< reserved: secure secret provisioning
inline constexpr std::uint8_t pmic = 0xF4;          ///< PMIC NVM (U-Boot; writes are permanent)
inline constexpr std::uint8_t end = 0xFE;           ///< nothing left to program
inline constexpr std::uint8_t reset = 0xFF;         ///< error: the device resets; the reply says why
}  // namespace phase

/// "flash layout", "FSBL", "DDR FIP", "FIP", "command", "OTP", "SSP", "PMIC", "END", "RESET",
/// "boot partition" (0x04..0x0F) or "partition".
std::string_view phase_name(std::uint8_t phase);

/// Start's address for "finish the phase just downloaded and run it" (ROM: check the FSBL and
/// jump to it; TF-A: check the FIP and boot on; U-Boot: end the phase). PROTOCOL.md 2.5.6.
inline constexpr std::uint32_t start_downloaded_image = 0xFFFFFFFF;

/// Get Phase's address when the phase's data goes to no memory address (written to NVM, or no
/// buffer: PROTOCOL.md 2.5.4); with phase 0x00 over USB, U-Boot's "detach me" (PROTOCOL.md 3.5).
inline constexpr std::uint32_t phase_address_none = 0xFFFFFFFF;

/// What Get Phase reports, on either link (PROTOCOL.md 2.5.4, 3.5).
struct PhaseInfo {
  std::uint8_t phase = 0;
  std::uint32_t address = 0;          ///< where the data goes; 0xFFFFFFFF: none / written to NVM
  std::uint32_t offset = 0;           ///< USB only: U-Boot's resume offset
  bool detach_requested = false;      ///< USB only: the device asks the host to DFU_DETACH now
  std::string message;                ///< phase 0xFF: why the device will reset
  Bytes info;                         ///< UART only: the info bytes as received (the ROM's reserved byte)
  bool operator==(const PhaseInfo&) const = default;
};

}  // namespace mp1boot
