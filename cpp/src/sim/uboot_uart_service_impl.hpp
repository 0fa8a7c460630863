// SPDX-License-Identifier: MIT
// Internal to the U-Boot service model (uboot_uart_service*.cpp): U-Boot's constants, message
// formatting, and one DFU entity's transaction state.
#pragma once
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/uboot_uart_service.hpp"

namespace mp1boot::sim::uboot_detail {

inline constexpr std::uint64_t layout_alt_size = 0x40000;  // "@FlashLayout/0x00/1*256Ke ram <addr> 40000"
inline constexpr std::uint64_t cmd_size = 512;              // CMD_SIZE of the virtual alt
inline constexpr std::size_t error_size = 255;             // stm32prog_data.error[255]
inline constexpr std::uint32_t uimage_magic = 0x27051956;

/// printf-style message, as U-Boot's stm32prog_err formats it.
__attribute__((format(printf, 1, 2))) inline std::string fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

inline unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

inline bool is_mtd(UbootIp ip) { return ip == UbootIp::nor || ip == UbootIp::nand || ip == UbootIp::spi_nand; }

inline std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return to == 0 ? v : (v + to - 1) / to * to; }

}  // namespace mp1boot::sim::uboot_detail

namespace mp1boot::sim {

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

}  // namespace mp1boot::sim
