// SPDX-License-Identifier: MIT
// Helpers shared by the flash-layout tests: findings as "rule@line" strings, and lookups.
#pragma once
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "mp1boot/image/flash_layout.hpp"

namespace mp1boot::image::test {

/// "rule@line" for every finding of that severity, sorted.
inline std::vector<std::string> findings(const std::vector<Diagnostic>& diagnostics, Severity severity) {
  std::vector<std::string> out;
  for (const auto& d : diagnostics)
    if (d.severity == severity) out.push_back(d.rule + "@" + std::to_string(d.line));
  std::sort(out.begin(), out.end());
  return out;
}

/// Parse and check findings together.
inline std::vector<std::string> findings(const FlashLayout& layout, const std::vector<Diagnostic>& checks,
                                         Severity severity) {
  std::vector<Diagnostic> all = layout.diagnostics;
  all.insert(all.end(), checks.begin(), checks.end());
  return findings(all, severity);
}

/// The first finding with that rule, or nullptr.
inline const Diagnostic* find_rule(const std::vector<Diagnostic>& diagnostics, std::string_view rule) {
  for (const auto& d : diagnostics)
    if (d.rule == rule) return &d;
  return nullptr;
}

/// Parses text as if read from "dir/test.tsv".
inline FlashLayout parse(std::string_view text, const ParseOptions& options = {}) {
  return parse_layout(text, "dir/test.tsv", options);
}

/// Checks with binaries off (unless asked).
inline std::vector<Diagnostic> check(const FlashLayout& layout, CheckOptions options = {}) {
  return check_layout(layout, options);
}
inline CheckOptions no_binaries() {
  CheckOptions o;
  o.check_binaries = false;
  return o;
}

/// The usual two lines served by the ROM and TF-A, line 1 and 2.
inline constexpr std::string_view boot_lines =
    "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
    "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n";

}  // namespace mp1boot::image::test
