// SPDX-License-Identifier: MIT
// DFU names, GETSTATUS / functional descriptor / Get Phase codecs, and the parsers for ST's
// alternate-setting names and iProduct strings.
#include "mp1boot/dfu/wire.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <limits>

namespace mp1boot::dfu {

namespace {

constexpr std::array<std::string_view, state_count> state_names{
    "appIDLE",        "appDETACH",          "dfuIDLE",
    "dfuDNLOAD-SYNC", "dfuDNBUSY",          "dfuDNLOAD-IDLE",
    "dfuMANIFEST-SYNC", "dfuMANIFEST",      "dfuMANIFEST-WAIT-RESET",
    "dfuUPLOAD-IDLE", "dfuERROR"};

constexpr std::array<std::string_view, status_count> status_names{
    "OK",        "errTARGET", "errFILE",     "errWRITE",   "errERASE",   "errCHECK_ERASED",
    "errPROG",   "errVERIFY", "errADDRESS",  "errNOTDONE", "errFIRMWARE", "errVENDOR",
    "errUSBR",   "errPOR",    "errUNKNOWN",  "errSTALLEDPKT"};

// Meanings as the DFU 1.1 specification (section 6.1.2) defines them, in our words.
constexpr std::array<std::string_view, status_count> status_descriptions{
    "no error",
    "file is not meant for this device",
    "file is for this device but failed a vendor-specific check",
    "device is unable to write memory",
    "memory erase failed",
    "memory erase check failed",
    "memory programming failed",
    "programmed memory failed verification",
    "address out of range for programming",
    "zero-length DFU_DNLOAD received but the device does not have all the data yet",
    "device firmware is corrupt and cannot return to run-time operation",
    "vendor-specific error (see iString)",
    "device detected an unexpected USB reset",
    "device detected an unexpected power-on reset",
    "something went wrong and the device does not know what",
    "device stalled an unexpected request"};

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Reads "0x<hex>" at the start of `s`; std::nullopt unless at least one digit follows.
std::optional<std::uint64_t> parse_hex_prefixed(std::string_view& s) {
  if (s.size() < 3 || s[0] != '0' || lower(s[1]) != 'x' || hex_digit(s[2]) < 0) return std::nullopt;
  s.remove_prefix(2);
  std::uint64_t v = 0;
  while (!s.empty() && hex_digit(s.front()) >= 0) {
    if (v > (std::numeric_limits<std::uint64_t>::max() >> 4)) return std::nullopt;
    v = v << 4 | static_cast<std::uint64_t>(hex_digit(s.front()));
    s.remove_prefix(1);
  }
  return v;
}

std::optional<std::uint64_t> parse_decimal(std::string_view& s) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front()))) return std::nullopt;
  std::uint64_t v = 0;
  while (!s.empty() && std::isdigit(static_cast<unsigned char>(s.front()))) {
    auto d = static_cast<std::uint64_t>(s.front() - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
    s.remove_prefix(1);
  }
  return v;
}

std::optional<std::uint64_t> unit_multiplier(char c) {
  switch (lower(c)) {
    case 'b': return 1;
    case 'k': return std::uint64_t{1} << 10;
    case 'm': return std::uint64_t{1} << 20;
    case 'g': return std::uint64_t{1} << 30;
    default: return std::nullopt;
  }
}

struct Segment {
  std::uint64_t bytes;
  bool writable;
};

// "<count>*<size><unit><type>" (whitespace tolerated between the parts).
std::optional<Segment> parse_segment(std::string_view s) {
  s = trim(s);
  auto count = parse_decimal(s);
  s = trim(s);
  if (!count || s.empty() || s.front() != '*') return std::nullopt;
  s = trim(s.substr(1));
  auto size = parse_decimal(s);
  if (!size) return std::nullopt;
  std::string letters;
  for (char c : s)
    if (!is_space(c)) letters.push_back(lower(c));
  std::uint64_t unit = 1;
  if (letters.size() == 2) {
    auto m = unit_multiplier(letters[0]);
    if (!m) return std::nullopt;
    unit = *m;
    letters.erase(0, 1);
  }
  if (letters.size() != 1 || letters[0] < 'a' || letters[0] > 'g') return std::nullopt;
  const unsigned type = static_cast<unsigned>(letters[0] - 'a' + 1);  // DfuSe: bit0 read, bit1 erase, bit2 write
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  if (*size != 0 && unit > max / *size) return std::nullopt;
  const std::uint64_t segment = *size * unit;
  if (segment != 0 && *count > max / segment) return std::nullopt;
  return Segment{*count * segment, (type & 0x4U) != 0};
}

// Position just after `key` (case-insensitive) in `text`, or npos.
std::size_t find_after(std::string_view text, std::string_view key) {
  if (key.size() > text.size()) return std::string_view::npos;
  for (std::size_t i = 0; i + key.size() <= text.size(); ++i) {
    bool match = true;
    for (std::size_t j = 0; j < key.size() && match; ++j) match = lower(text[i + j]) == lower(key[j]);
    if (match) return i + key.size();
  }
  return std::string_view::npos;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (prefix.size() > text.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(text[i]) != lower(prefix[i])) return false;
  return true;
}

// "<spaces> / <spaces>" then the value; returns the rest of `text` after the separator.
std::string_view after_slash(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.front() != '/') return {};
  return trim(text.substr(1));
}

std::optional<std::uint16_t> hex_field(std::string_view text, std::string_view key) {
  auto pos = find_after(text, key);
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view rest = after_slash(text.substr(pos));
  auto v = parse_hex_prefixed(rest);
  if (!v || *v > 0xFFFF) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

}  // namespace

std::string request_name(Request r) {
  switch (r) {
    case Request::detach: return "DFU_DETACH";
    case Request::dnload: return "DFU_DNLOAD";
    case Request::upload: return "DFU_UPLOAD";
    case Request::getstatus: return "DFU_GETSTATUS";
    case Request::clrstatus: return "DFU_CLRSTATUS";
    case Request::getstate: return "DFU_GETSTATE";
    case Request::abort: return "DFU_ABORT";
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "DFU_0x%02x", static_cast<unsigned>(r));
  return buf;
}

std::string_view state_name(State s) {
  auto i = static_cast<std::size_t>(s);
  return i < state_names.size() ? state_names[i] : std::string_view("unknown");
}

std::string describe_state(State s) {
  return std::string(state_name(s)) + " (" + std::to_string(static_cast<unsigned>(s)) + ")";
}

std::string_view status_name(Status s) {
  auto i = static_cast<std::size_t>(s);
  return i < status_names.size() ? status_names[i] : std::string_view("unknown");
}

std::string_view status_description(Status s) {
  auto i = static_cast<std::size_t>(s);
  return i < status_descriptions.size() ? status_descriptions[i] : std::string_view("status code not defined by DFU 1.1");
}

std::optional<StatusReply> parse_status_reply(ByteView b) {
  if (b.size() != status_reply_size) return std::nullopt;
  StatusReply r;
  r.status = static_cast<Status>(b[0]);
  r.poll_timeout_ms = std::uint32_t(b[1]) | std::uint32_t(b[2]) << 8 | std::uint32_t(b[3]) << 16;
  r.state = static_cast<State>(b[4]);
  r.string_index = b[5];
  return r;
}

Bytes encode_status_reply(const StatusReply& r) {
  const std::uint32_t poll = r.poll_timeout_ms > max_poll_timeout_ms ? max_poll_timeout_ms : r.poll_timeout_ms;
  return Bytes{static_cast<std::uint8_t>(r.status), static_cast<std::uint8_t>(poll),
               static_cast<std::uint8_t>(poll >> 8), static_cast<std::uint8_t>(poll >> 16),
               static_cast<std::uint8_t>(r.state), r.string_index};
}

std::optional<FunctionalDescriptor> parse_functional_descriptor(ByteView b) {
  if (b.size() < functional_descriptor_size || b[0] != functional_descriptor_size ||
      b[1] != functional_descriptor_type)
    return std::nullopt;
  return FunctionalDescriptor{b[2], load_le16(&b[3]), load_le16(&b[5]), load_le16(&b[7])};
}

Bytes encode_functional_descriptor(const FunctionalDescriptor& d) {
  Bytes out(functional_descriptor_size);
  out[0] = static_cast<std::uint8_t>(functional_descriptor_size);
  out[1] = functional_descriptor_type;
  out[2] = d.attributes;
  store_le16(&out[3], d.detach_timeout_ms);
  store_le16(&out[5], d.transfer_size);
  store_le16(&out[7], d.dfu_version);
  return out;
}

std::optional<AltName> parse_alt_name(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.front() != '@') return std::nullopt;
  text.remove_prefix(1);
  // Split from the right: a partition name may itself contain '/'.
  const auto mem_slash = text.rfind('/');
  if (mem_slash == std::string_view::npos || mem_slash == 0) return std::nullopt;
  std::string_view memory = text.substr(mem_slash + 1);
  std::string_view head = text.substr(0, mem_slash);
  const auto id_slash = head.rfind('/');
  if (id_slash == std::string_view::npos) return std::nullopt;
  std::string_view id = trim(head.substr(id_slash + 1));
  const std::string_view name = trim(head.substr(0, id_slash));
  auto phase = parse_hex_prefixed(id);
  if (!phase || *phase > 0xFF || !trim(id).empty() || name.empty()) return std::nullopt;

  AltName alt;
  alt.name = std::string(name);
  alt.phase = static_cast<std::uint8_t>(*phase);
  // DfuSe allows several comma-separated segments; ST writes one.
  while (true) {
    const auto comma = memory.find(',');
    auto seg = parse_segment(memory.substr(0, comma));
    if (!seg || seg->bytes > std::numeric_limits<std::uint64_t>::max() - alt.size) return std::nullopt;
    alt.size += seg->bytes;
    alt.writable = alt.writable || seg->writable;
    if (comma == std::string_view::npos) break;
    memory.remove_prefix(comma + 1);
  }
  return alt;
}

std::string format_alt_name(const AltName& alt, bool space_before_slash) {
  std::uint64_t size = alt.size;
  char unit = 'B';
  for (auto [u, shift] : {std::pair{'G', 30}, std::pair{'M', 20}, std::pair{'K', 10}}) {
    const std::uint64_t m = std::uint64_t{1} << shift;
    if (size >= m && size % m == 0) {
      size /= m;
      unit = u;
      break;
    }
  }
  char id[8];
  std::snprintf(id, sizeof id, space_before_slash ? "0x%02X" : "0x%02x", alt.phase);
  return "@" + alt.name + (space_before_slash ? " /" : "/") + id + "/1*" + std::to_string(size) + unit +
         (alt.writable ? 'e' : 'a');
}

std::optional<PhaseInfo> parse_phase_reply(ByteView b) {
  if (b.size() < phase_reply_min_size) return std::nullopt;
  PhaseInfo info;
  info.phase = b[0];
  info.address = load_le32(&b[1]);
  info.offset = load_le32(&b[5]);
  ByteView rest = b.subspan(phase_reply_min_size);
  if (info.phase == phase::reset) {
    std::string msg;
    for (auto c : rest) {
      if (c == 0) break;
      msg.push_back(static_cast<char>(c));
    }
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    info.message = std::move(msg);
  } else if (!rest.empty()) {
    info.detach_requested = rest[0] == 0x01;
  }
  return info;
}

Bytes encode_phase_reply(const PhaseInfo& info, bool with_flag) {
  Bytes out(phase_reply_min_size);
  out[0] = info.phase;
  store_le32(&out[1], info.address);
  store_le32(&out[5], info.offset);
  if (info.phase == phase::reset)
    for (char c : info.message) out.push_back(static_cast<std::uint8_t>(c));  // (insert() trips GCC 12 -Warray-bounds)
  else if (with_flag)
    out.push_back(info.detach_requested ? 0x01 : 0x00);
  return out;
}

ProductInfo parse_product(std::string_view product) {
  ProductInfo p;
  const std::string_view text = trim(product);
  if (starts_with_ci(text, "DFU in HS Mode")) {
    p.stage = Stage::rom;
  } else if (starts_with_ci(text, "DFU in FS Mode")) {
    p.stage = Stage::rom;
    p.high_speed = false;
  } else if (starts_with_ci(text, "USB download gadget")) {
    p.stage = Stage::uboot;
  } else if (starts_with_ci(text, "DFU @") || starts_with_ci(text, "DFU@")) {
    p.stage = Stage::tfa;
  }
  if (auto id = hex_field(text, "@Device ID")) p.device_id = *id;
  if (auto rev = hex_field(text, "@Revision ID")) p.revision = *rev;
  if (auto pos = find_after(text, "@Name"); pos != std::string_view::npos) {
    std::string_view rest = after_slash(text.substr(pos));
    p.soc_name = std::string(trim(rest.substr(0, rest.find(','))));
  }
  return p;
}

}  // namespace mp1boot::dfu
