// SPDX-License-Identifier: MIT
// libFuzzer: a flash report read back for --resume (the bindings' path: JSON text ->
// nlohmann::json::parse -> session::reports_from_json), one report or flash_many's {"boards": ...}.
// Invariants: only a JSON parse exception or an mp1boot UsageError is thrown; a report that was read
// writes out as JSON that reads back to the same JSON (nothing lost or changed in the round trip).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mp1boot/error.hpp"
#include "mp1boot/session/flasher.hpp"

using namespace mp1boot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    // The bindings turn these into UsageError("the report is not JSON"): parse_error, and
    // out_of_range for a number that overflows a double (1E400; found by this harness).
    return 0;
  }
  std::vector<session::FlashReport> reports;
  try {
    reports = session::reports_from_json(j);
  } catch (const UsageError&) {
    return 0;
  }
  for (const auto& r : reports) {
    const nlohmann::json once = r.json();
    const std::string dumped = once.dump();
    const nlohmann::json twice = session::FlashReport::from_json(nlohmann::json::parse(dumped)).json();
    if (twice.dump() != dumped) __builtin_trap();
  }
  return 0;
}
