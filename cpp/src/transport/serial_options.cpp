// SPDX-License-Identifier: MIT
// The "serial:" URL's line options (baud=115200&parity=even&...): pure parsing, no Asio, so that
// connect() can check a URL before it opens anything and the URL fuzzer reaches it.
#include <charconv>
#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/serial.hpp"

namespace mp1boot::transport {

namespace {

[[noreturn]] void bad_option(std::string_view key, std::string_view value, std::string_view why) {
  throw UsageError(errc::usage, "serial option " + std::string(key) + "=" + std::string(value) +
                                    ": " + std::string(why));
}

unsigned parse_unsigned(std::string_view key, std::string_view value) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size())
    bad_option(key, value, "expected an unsigned integer");
  return v;
}

bool parse_bool(std::string_view key, std::string_view value) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  bad_option(key, value, "expected 1/0, true/false, yes/no or on/off");
}

SerialOptions::Parity parse_parity(std::string_view key, std::string_view value) {
  if (value == "none" || value == "n" || value == "N") return SerialOptions::Parity::none;
  if (value == "even" || value == "e" || value == "E") return SerialOptions::Parity::even;
  if (value == "odd" || value == "o" || value == "O") return SerialOptions::Parity::odd;
  bad_option(key, value, "expected none, even or odd");
}

void check_ranges(const SerialOptions& o, std::string_view key, std::string_view value) {
  if (o.baud == 0) bad_option(key, value, "the baud rate must be positive");
  if (o.data_bits < 5 || o.data_bits > 8) bad_option(key, value, "data bits must be 5..8");
  if (o.stop_bits != 1 && o.stop_bits != 2) bad_option(key, value, "stop bits must be 1 or 2");
}

void apply_option(SerialOptions& o, std::string_view key, std::string_view value) {
  if (key == "baud") {
    o.baud = parse_unsigned(key, value);
  } else if (key == "parity") {
    o.parity = parse_parity(key, value);
  } else if (key == "data_bits") {
    o.data_bits = parse_unsigned(key, value);
  } else if (key == "stop_bits") {
    o.stop_bits = parse_unsigned(key, value);
  } else if (key == "framing") {
    constexpr std::string_view kFraming = "expected data bits, parity, stop bits such as 8E1 or 8N1";
    const std::string_view p = value.size() == 3 ? value.substr(1, 1) : std::string_view{};
    if (value.size() != 3 || value[0] < '5' || value[0] > '8' || (value[2] != '1' && value[2] != '2') ||
        (p != "N" && p != "E" && p != "O" && p != "n" && p != "e" && p != "o"))
      bad_option(key, value, kFraming);
    o.data_bits = static_cast<unsigned>(value[0] - '0');
    o.parity = parse_parity(key, p);
    o.stop_bits = static_cast<unsigned>(value[2] - '0');
  } else if (key == "low_latency") {
    o.low_latency = parse_bool(key, value);
  } else if (key == "exclusive") {
    o.exclusive = parse_bool(key, value);
  } else {
    throw UsageError(errc::usage,
                     "unknown serial option \"" + std::string(key) +
                         "\" (known: baud, parity, data_bits, stop_bits, framing, low_latency, exclusive)");
  }
  check_ranges(o, key, value);
}

}  // namespace

SerialOptions parse_serial_options(std::string_view query) {
  SerialOptions o;
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      throw UsageError(errc::usage, "serial option \"" + std::string(item) + "\" has no value (expected key=value)");
    apply_option(o, item.substr(0, eq), item.substr(eq + 1));
  }
  return o;
}

std::string framing_string(const SerialOptions& o) {
  const char parity = o.parity == SerialOptions::Parity::none ? 'N'
                      : o.parity == SerialOptions::Parity::even ? 'E'
                                                                : 'O';
  return std::to_string(o.data_bits) + parity + std::to_string(o.stop_bits);
}

unsigned bits_per_character(const SerialOptions& o) {
  return 1 + o.data_bits + (o.parity == SerialOptions::Parity::none ? 0u : 1u) + o.stop_bits;
}

}  // namespace mp1boot::transport
