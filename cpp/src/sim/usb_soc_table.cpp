// SPDX-License-Identifier: MIT
// How the simulated USB stages differ by SoC, as data (PROTOCOL.md 3.2.2, 3.3.2, 3.8, 1.3): one
// row per family. The stage code (usb_stages.cpp) reads the row; it has no `if family ==` chains.
// A new SoC is one more row here (docs/ARCHITECTURE.md "Where things go").
#include <array>

#include "mp1boot/error.hpp"
#include "usb_stage.hpp"

namespace mp1boot::sim::usb_detail {

namespace {

constexpr std::uint32_t mp2_ddr_fip_buffer = 0x0E000000;
constexpr std::uint32_t mp2_ddr_fip_size = 0xA000;

const std::array<UsbSocRow, 3>& rows() {
  static const std::array<UsbSocRow, 3> table = {{
      {SocFamily::stm32mp15,
       // ROM: six alts [LOG alt 1, INF others from TF-A MP15]; TF-A keeps them.
       {{"@Partition0 /0x00/1*256Ke", 0x00}, {"@FSBL /0x01/1*1Me", 0x01}, {"@Partition2 /0x02/1*1Me", 0x02},
        {"@Partition3 /0x03/1*16Me", 0x03}, {"@Partition4 /0x04/1*16Me", 0x04}, {"@virtual /0xF1/1*512Ba", 0xF1}},
       /*rom_hands_over_at_manifest=*/true,
       /*tfa_alts=*/{},  // TF-A runs on the ROM's enumeration
       /*tfa_first_phase=*/0x03, /*tfa_first_buffer=*/0, /*tfa_first_size=*/0},
      {SocFamily::stm32mp13,
       {{"@FSBL /0x01/1*128Ke", 0x01}, {"@virtual /0xF1/1*512Ba", 0xF1}},
       false,
       {{"@SSBL /0x03/1*16Me", 0x03}, {"@virtual /0xF1/1*512Ba", 0xF1}},
       0x03, 0, 0},
      {SocFamily::stm32mp25,
       {{"@FSBL /0x01/1*256Ke", 0x01}, {"@virtual /0xF1/1*512Ba", 0xF1}},
       false,
       {{"@DDR FIP /0x02/1*32Ke", 0x02}, {"@FIP /0x03/1*16Me", 0x03}, {"@virtual /0xF1/1*512Ba", 0xF1}},
       0x02, mp2_ddr_fip_buffer, mp2_ddr_fip_size},
  }};
  return table;
}

}  // namespace

const UsbSocRow& usb_soc_row(const SocInfo& soc) {
  for (const auto& r : rows())
    if (r.family == soc.family) return r;
  throw UsageError(errc::unsupported, "the simulated USB board does not model " + std::string(soc.name));
}

}  // namespace mp1boot::sim::usb_detail
