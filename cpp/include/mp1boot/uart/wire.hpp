// SPDX-License-Identifier: MIT
// UART wire constants of the STM32MP serial-boot protocol (AN5275 / PROTOCOL.md section 2),
// shared by the host engine and the simulated devices. Only constants and pure frame helpers.
#pragma once
#include <cstdint>
#include <string_view>

#include "mp1boot/bytes.hpp"
#include "mp1boot/phase.hpp"

namespace mp1boot::uart {

inline constexpr std::uint8_t ack = 0x79;
inline constexpr std::uint8_t nack = 0x1F;
inline constexpr std::uint8_t abort_byte = 0x5F;
inline constexpr std::uint8_t sync = 0x7F;
inline constexpr std::size_t max_packet = 256;

/// Command codes (AN5275 names).
enum class Command : std::uint8_t {
  get = 0x00,             ///< Get
  get_version = 0x01,     ///< Get Version
  get_id = 0x02,          ///< Get ID
  get_phase = 0x03,       ///< Get Phase
  read_memory = 0x11,     ///< Read Memory
  read_partition = 0x12,  ///< Read Partition
  start = 0x21,           ///< Start (Go)
  download = 0x31,        ///< Download (Write Memory)
};

/// Download operation byte (top byte of the packet-number field).
enum class DownloadOp : std::uint8_t {
  normal = 0x00,  ///< append to the current phase
  otp = 0xF2,     ///< OTP data (U-Boot only; irreversible once started)
  pmic = 0xF4,    ///< PMIC NVM data (U-Boot only; irreversible once started)
};

/// "Get Phase", "Download", ...; "0x42" for unknown codes.
std::string_view command_name(Command c);
/// "ACK", "NACK", "ABORT", "SYNC" or "" for other bytes.
std::string_view reply_name(std::uint8_t b);

/// XOR of all bytes.
inline std::uint8_t xor_of(ByteView bytes) {
  std::uint8_t x = 0;
  for (auto b : bytes) x ^= b;
  return x;
}

}  // namespace mp1boot::uart
