// SPDX-License-Identifier: MIT
// libFuzzer: flash layout parse -> check -> programming order -> rewrite_options round trip.
// Invariants: only mp1boot errors are thrown; rewriting the Opt column of every entry to the
// value it already has gives the same text back.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string_view>

#include "mp1boot/error.hpp"
#include "mp1boot/image/flash_layout.hpp"

using namespace mp1boot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const image::FlashLayout layout = image::parse_layout(text, "fuzz/FlashLayout.tsv");
  image::CheckOptions options;
  options.check_binaries = size > 0 && data[0] % 2 == 0;  // stat() calls are slow: every other input
  options.uboot_version = size > 1 && data[1] % 2 ? "2022.10" : "";
  (void)image::check_layout(layout, options);
  (void)image::programming_order(layout);
  (void)image::intended_service(layout);
  for (const auto& e : layout.entries) (void)image::partition_size(layout, e, options);
  for (const auto& d : layout.diagnostics) (void)image::format_diagnostic(d, layout.file);
  std::map<std::uint32_t, std::string> same;
  for (const auto& e : layout.entries) same[e.line] = e.option;
  try {
    if (image::rewrite_options(text, same) != text) __builtin_trap();
  } catch (const UsageError&) {
    // a line number that holds no field (the option was read across a '\r')
  }
  return 0;
}
