// SPDX-License-Identifier: MIT
// libFuzzer: the simulated U-Boot's layout parser and its partition rules on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "mp1boot/sim/uboot_uart_layout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = mp1boot::sim::parse_uboot_layout(mp1boot::ByteView(data, size));
  (void)parsed.ok();
  return 0;
}
