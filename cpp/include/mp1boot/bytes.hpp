// SPDX-License-Identifier: MIT
// Byte containers shared by every layer, and hex formatting for traces and messages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mp1boot {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

/// "31 ce 79": lower-case hex, one space between bytes.
std::string to_hex(ByteView bytes);

/// Parses "31 ce 79" or "31ce79" (whitespace ignored). @throws std::invalid_argument on bad input.
Bytes from_hex(std::string_view text);

/// "0x2ffc2400" style formatting of a 32-bit value (8 digits).
std::string hex32(std::uint32_t value);
/// "0x01" style formatting of a byte.
std::string hex8(std::uint8_t value);

/// Little/big-endian helpers.
inline std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
inline std::uint16_t load_le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
inline void store_le32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}
inline void store_le16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

}  // namespace mp1boot
