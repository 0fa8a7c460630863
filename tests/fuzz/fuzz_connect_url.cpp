// SPDX-License-Identifier: MIT
// libFuzzer: the connect URL (sim:SOC?k=v&..., serial:PATH?baud=..., usb:SEL?reconnect_ms=...)
// checked as connect() checks it, the sim: option vocabulary for every SoC, the
// serial options, and the option number parser.
// Invariants: only UsageError is thrown, and its message is not empty; a number the option parser
// accepts is within the range asked and reads back the same from its decimal and hex forms.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "mp1boot/error.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/sim/board_config.hpp"
#include "mp1boot/soc.hpp"
#include "mp1boot/transport/serial.hpp"

using namespace mp1boot;

namespace {
template <class F>
void only_usage_errors(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    if (e.message().empty()) __builtin_trap();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  only_usage_errors([&] { session::check_connect_url(url); });
  const auto q = url.find('?');
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : url.substr(q + 1);
  only_usage_errors([&] { (void)transport::parse_serial_options(query); });
  for (const auto& soc : all_socs())
    only_usage_errors([&] { (void)sim::board_config(soc.name, sim::split_options(query)); });
  if (size >= 2) {
    const std::uint64_t min = data[0] % 4 == 0 ? 0 : data[0];
    const std::uint64_t max = data[1] % 4 == 0 ? UINT64_MAX : std::uint64_t{data[1]} << (data[0] % 57);
    const std::string_view value = url.substr(2);
    only_usage_errors([&] {
      const std::uint64_t v = sim::parse_option_number("fuzz", value, min, max);
      if (v < min || v > max) __builtin_trap();
      if (sim::parse_option_number("fuzz", std::to_string(v), 0, UINT64_MAX) != v) __builtin_trap();
      char hex[24];
      std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(v));
      if (sim::parse_option_number("fuzz", hex, 0, UINT64_MAX) != v) __builtin_trap();
    });
  }
  return 0;
}
