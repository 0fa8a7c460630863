// SPDX-License-Identifier: MIT
// The SoC table. Values and their evidence are in PROTOCOL.md section 1.3.
#include "mp1boot/soc.hpp"

#include <array>
#include <cctype>

#include "mp1boot/bytes.hpp"
#include "mp1boot/error.hpp"

namespace mp1boot {

namespace {
constexpr std::array<SocInfo, 3> socs{{
    {SocFamily::stm32mp13, "stm32mp135", "STM32MP13x", 0x501, 0x00020000, 512, 0x2FFE0000, 128 * 1024,
     0x2FFDFE00, 128 * 1024, 0xC0000000, 0xC7000000, 0xC2000000, 0x1003, 0x1003, "STM32MP135F Rev.Y"},
    {SocFamily::stm32mp15, "stm32mp157", "STM32MP15x", 0x500, 0x00010000, 256, 0x2FFC0000, 256 * 1024,
     0x2FFC2400, 247 * 1024, 0xC0000000, 0xC7000000, 0xC2000000, 0x0000, 0x2000, "STM32MP157CAA Rev.B"},
    {SocFamily::stm32mp25, "stm32mp257", "STM32MP25x", 0x505, 0x00020200, 512, 0x0E000000, 256 * 1024,
     0x0E002400, 256 * 1024, 0x80000000, 0x87000000, 0x84000000, 0x2000, 0x0011, "STM32MP257CAK Rev.Y"},
}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

std::span<const SocInfo> all_socs() { return socs; }

const SocInfo& soc_by_name(std::string_view name) {
  std::string n = lower(name);
  if (n.rfind("stm32", 0) == 0) n = n.substr(5);
  // Accept "mp135", "mp13", "mp13x", "mp157c", "mp15", ...
  if (n.size() >= 4 && n.rfind("mp", 0) == 0) {
    std::string fam = n.substr(0, 4);
    for (const auto& s : socs)
      if (std::string(s.name).substr(5, 4) == fam) return s;
  }
  throw UsageError(errc::usage, "unknown SoC '" + std::string(name) +
                                    "' (expected stm32mp135, stm32mp157 or stm32mp257)");
}

const SocInfo* soc_by_device_id(std::uint16_t device_id) {
  for (const auto& s : socs)
    if (s.device_id == device_id) return &s;
  return nullptr;
}

std::string device_id_name(std::uint16_t device_id) {
  if (const SocInfo* s = soc_by_device_id(device_id)) return std::string(s->family_name);
  char buf[32];
  std::snprintf(buf, sizeof buf, "unknown (0x%03x)", device_id);
  return buf;
}

}  // namespace mp1boot
