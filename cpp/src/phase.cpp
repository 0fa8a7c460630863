// SPDX-License-Identifier: MIT
// Phase names.
#include "mp1boot/phase.hpp"

namespace mp1boot {

std::string_view phase_name(std::uint8_t p) {
  switch (p) {
    case phase::flash_layout: return "flash layout";
    case phase::fsbl: return "FSBL";
    case phase::ddr_fip: return "DDR FIP";
    case phase::ssbl: return "FIP";
    case phase::command: return "command";
    case phase::otp: return "OTP";
    case phase::ssp: return "SSP";
    case phase::pmic: return "PMIC";
    case phase::end: return "END";
    case phase::reset: return "RESET";
    default: return p < phase::first_user ? "boot partition" : "partition";
  }
}

}  // namespace mp1boot
