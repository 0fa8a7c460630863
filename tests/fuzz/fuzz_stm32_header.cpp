// SPDX-License-Identifier: MIT
// libFuzzer: STM32 image header parse, describe, ROM checks, and the wrap round trip.
// Invariants: only mp1boot errors are thrown; wrap(payload) parses back to the same payload,
// with a good checksum.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/soc.hpp"

using namespace mp1boot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  try {
    const image::Stm32Image img = image::parse_image(in, "fuzz.stm32");
    (void)image::describe(img);
    for (const auto& soc : all_socs()) {
      try {
        image::check_for_rom(img, soc, "fuzz.stm32");
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  if (size > 0 && size <= 4096) {
    for (const auto& soc : all_socs()) {
      const Bytes wrapped = image::wrap(in, image::wrap_options_for(soc));
      const image::Stm32Image back = image::parse_image(wrapped);
      if (!back.checksum_ok() || back.payload.size() != size ||
          !std::equal(back.payload.begin(), back.payload.end(), data))
        __builtin_trap();
    }
  }
  return 0;
}
