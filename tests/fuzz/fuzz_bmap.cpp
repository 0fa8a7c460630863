// SPDX-License-Identifier: MIT
// libFuzzer: block map parser (bmaptool's XML, formats 1.x and 2.x) and the check the flash runner
// makes before the first byte. Invariants: only mp1boot errors are thrown; a map that parses has
// its ranges inside the image, ascending and not overlapping, in byte terms too; mapped_bytes()
// is at most the image size; the map matches a binary of its own ImageSize.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mp1boot/error.hpp"
#include "mp1boot/image/bmap.hpp"

using namespace mp1boot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  image::Bmap map;
  try {
    map = image::parse_bmap(text, "fuzz/rootfs.bmap");
  } catch (const Error&) {
    return 0;  // refused with a typed error
  }
  std::uint64_t previous_end = 0;
  for (const auto& r : map.ranges) {
    const image::ByteRange b = map.bytes_of(r);
    if (b.length == 0 || b.offset < previous_end || b.end() > map.image_size || b.end() < b.offset) __builtin_trap();
    previous_end = b.end();
  }
  if (map.mapped_bytes() > map.image_size) __builtin_trap();
  image::check_bmap_matches(map, map.image_size, "fuzz/rootfs.ext4");  // must not throw
  return 0;
}
