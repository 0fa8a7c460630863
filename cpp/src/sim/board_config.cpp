// SPDX-License-Identifier: MIT
// The simulated board's key=value vocabulary: one table, one parser.
#include "mp1boot/sim/board_config.hpp"

#include <algorithm>
#include <charconv>
#include <functional>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/uboot_uart.hpp"

namespace mp1boot::sim {

namespace {

[[noreturn]] void bad(std::string_view key, const std::string& why) {
  throw UsageError(errc::usage, "sim option '" + std::string(key) + "': " + why,
                   ErrorContext{.operation = "sim option " + std::string(key)});
}

std::string hex(std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
  (void)ec;
  return "0x" + std::string(buf, end);
}

// The value of one option, with typed readers that throw with the key named.
struct Arg {
  std::string_view key;
  std::string_view value;

  std::uint64_t number(std::uint64_t min, std::uint64_t max) const { return parse_option_number(key, value, min, max); }
  std::uint8_t phase() const { return static_cast<std::uint8_t>(number(0, 0xFF)); }
  std::chrono::microseconds micros(std::uint64_t max_us) const {
    return std::chrono::microseconds(static_cast<std::int64_t>(number(0, max_us)));
  }
  std::chrono::milliseconds millis(std::uint64_t max_ms) const {
    return std::chrono::milliseconds(static_cast<std::int64_t>(number(0, max_ms)));
  }
  bool flag() const {
    if (value == "1" || value == "true" || value == "yes") return true;
    if (value == "0" || value == "false" || value == "no") return false;
    bad(key, std::string("'").append(value) + "' is not a flag (0 or 1)");
  }
  std::string text() const {
    if (value.empty()) bad(key, "needs a value");
    return std::string(value);
  }
  std::string choice(std::initializer_list<std::string_view> allowed) const {
    for (auto a : allowed)
      if (value == a) return std::string(value);
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    bad(key, std::string("'").append(value) + "' is not one of " + list);
  }
  dfu::Status status() const {
    for (unsigned s = 0; s < dfu::status_count; ++s)
      if (dfu::status_name(static_cast<dfu::Status>(s)) == value) return static_cast<dfu::Status>(s);
    std::string list;
    for (unsigned s = 1; s < dfu::status_count; ++s)
      list += (list.empty() ? "" : ", ") + std::string(dfu::status_name(static_cast<dfu::Status>(s)));
    bad(key, std::string("'").append(value) + "' is not a DFU status (" + list + ")");
  }
};

constexpr std::uint64_t max_u32 = 0xFFFFFFFF;
constexpr std::uint64_t minute_us = 60'000'000;
constexpr std::uint64_t minute_ms = 60'000;

struct Row {
  BoardKey key;
  std::function<void(BoardConfig&, const Arg&)> set;
};

// The fault entry, created with its defaults when the first of its keys is given.
template <class T>
T& entry(std::optional<T>& o) {
  if (!o) o = T{};  // not emplace(): clang 14 finds no default constructor of a nested struct
  return *o;
}

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      // Both links.
      {{"link", "uart|usb", "uart usb", "which side of the board is served (default uart)"},
       [](BoardConfig& c, const Arg& a) { c.link = a.choice({"uart", "usb"}) == "usb" ? SimLink::usb : SimLink::uart; }},
      {{"record", "DIR", "uart usb", "write DIR/phase-0xNN.bin and the exchange log"},
       [](BoardConfig& c, const Arg& a) { c.uart.record_dir = c.usb.record_dir = a.text(); }},
      {{"storage", "DIR", "uart usb", "U-Boot's storage images (mmc0.img, ...); default: a temporary folder"},
       [](BoardConfig& c, const Arg& a) { c.uboot.storage.dir = a.text(); }},
      {{"uboot", "0|1", "uart usb", "run U-Boot stm32prog after TF-A (default 1)"},
       [](BoardConfig& c, const Arg& a) { c.with_uboot = a.flag(); }},
      {{"uboot_version", "YYYY.MM", "uart usb", "U-Boot release whose flash-layout rules apply (default: current)"},
       [](BoardConfig& c, const Arg& a) { c.uboot.uboot_version = a.text(); }},
      {{"erase_bps_mmc", "N", "uart usb", "erase speed of 'PD' lines on eMMC/SD in bytes/s: U-Boot erases them at the "
                                          "end of the layout phase, before the Start ACK (UART) or off the bus before "
                                          "the partition enumeration (USB) (default 0: instant)"},
       [](BoardConfig& c, const Arg& a) { c.uboot.erase_bytes_per_second.mmc = a.number(0, UINT64_MAX); }},
      {{"erase_bps_nand", "N", "uart usb", "... on raw NAND and SPI-NAND (about 50000000; default 0: instant)"},
       [](BoardConfig& c, const Arg& a) { c.uboot.erase_bytes_per_second.nand = a.number(0, UINT64_MAX); }},
      {{"erase_bps_nor", "N", "uart usb", "... on SPI-NOR (about 200000; default 0: instant)"},
       [](BoardConfig& c, const Arg& a) { c.uboot.erase_bytes_per_second.nor = a.number(0, UINT64_MAX); }},
      {{"reset_phase", "0xNN", "uart usb", "fault: the board resets during this phase (any, 0x00 included)"},
       [](BoardConfig& c, const Arg& a) {
         if (c.link == SimLink::usb) entry(c.usb.faults.reset_during).phase = a.phase();
         else entry(c.uart.faults.reset_during).phase = a.phase();
       }},
      {{"reset_after", "BYTES", "uart usb", "... once it received this many bytes of that phase (default 0)"},
       [](BoardConfig& c, const Arg& a) {
         if (c.link == SimLink::usb) entry(c.usb.faults.reset_during).after_bytes = a.number(0, UINT64_MAX);
         else entry(c.uart.faults.reset_during).after_bytes = a.number(0, UINT64_MAX);
       }},
      // UART side.
      {{"stage", "rom|tfa", "uart", "stage running at power-on (tfa: as if the ROM had just started TF-A)"},
       [](BoardConfig& c, const Arg& a) { c.uart.start_stage = a.choice({"rom", "tfa"}) == "tfa" ? StartStage::tfa : StartStage::rom; }},
      {{"rom_read_memory", "0|1", "uart", "the MP15 ROM answers Read Memory (0x11) [UNK]"},
       [](BoardConfig& c, const Arg& a) { c.uart.rom_read_memory = a.flag(); }},
      {{"rom_accept_bad_image", "0|1", "uart", "the ROM ACKs Start with a bad FSBL and halts (PROTOCOL.md 10 item 4)"},
       [](BoardConfig& c, const Arg& a) { c.uart.rom_accept_bad_image = a.flag(); }},
      {{"tfa_boot_delay_ms", "N", "uart", "time between the ROM's Start ACK and TF-A answering"},
       [](BoardConfig& c, const Arg& a) { c.uart.tfa_boot_delay = a.millis(minute_ms); }},
      {{"tfa_crash", "0|1", "uart", "fault: TF-A never answers after the ROM started it"},
       [](BoardConfig& c, const Arg& a) { c.uart.faults.tfa_crash = a.flag(); }},
      // USB side.
      {{"serial", "S", "usb", "iSerialNumber (default 002800423232511538303631)"},
       [](BoardConfig& c, const Arg& a) { c.usb.serial = a.text(); }},
      {{"realtime", "0|1", "usb", "in process: sleep for the modelled device times (default 0: virtual time)"},
       [](BoardConfig& c, const Arg& a) { c.real_time = a.flag(); }},
      {{"block_us", "N", "usb", "ROM/TF-A device time per DNLOAD block in microseconds (default 0)"},
       [](BoardConfig& c, const Arg& a) { c.usb.block_time = a.micros(minute_us); }},
      {{"uboot_block_us", "N", "usb", "U-Boot device time per DNLOAD block (2000 is about 2 MB/s; default 0)"},
       [](BoardConfig& c, const Arg& a) { c.usb.uboot_block_time = a.micros(minute_us); }},
      {{"medium_bps", "N", "usb", "U-Boot medium write speed in bytes/s: the DNLOAD that fills the 8 MiB DFU buffer "
                                  "and the flush wait for it (default 0: instant)"},
       [](BoardConfig& c, const Arg& a) { c.uboot.medium_bytes_per_second = a.number(0, UINT64_MAX); }},
      {{"flush_ms", "N", "usb", "extra time of U-Boot's flush after each manifestation, e.g. a large UBI volume "
                                "(default 0)"},
       [](BoardConfig& c, const Arg& a) { c.uboot.flush_time = a.millis(24 * 3600 * 1000ull); }},
      {{"reenumerate_ms", "N", "usb", "delay between leaving the bus and the next enumeration (default 10)"},
       [](BoardConfig& c, const Arg& a) { c.usb.reenumerate_delay = a.millis(minute_ms); }},
      {{"rom_poll_ms", "N", "usb", "the ROM's bwPollTimeout (default 1)"},
       [](BoardConfig& c, const Arg& a) { c.usb.rom_poll_timeout_ms = static_cast<std::uint32_t>(a.number(0, 0xFFFFFF)); }},
      {{"rom_reject_status", "NAME", "usb", "DFU status of a rejected FSBL (errFILE, errVERIFY, ...)"},
       [](BoardConfig& c, const Arg& a) { c.usb.rom_reject_status = a.status(); }},
      {{"tfa", "0|1", "usb", "0: the FSBL never answers on USB (FIELD.md 5)"},
       [](BoardConfig& c, const Arg& a) { c.usb.tfa_enabled = a.flag(); }},
      {{"tfa_buffer_size", "N", "usb", "TF-A download buffer in bytes (default 16 MiB)"},
       [](BoardConfig& c, const Arg& a) { c.usb.tfa_buffer_size = static_cast<std::uint32_t>(a.number(1, max_u32)); }},
      {{"full_speed", "0|1", "usb", "the ROM says \"DFU in FS Mode\", speed full"},
       [](BoardConfig& c, const Arg& a) { c.usb.full_speed = a.flag(); }},
      {{"fail_transfer", "N", "usb", "fault: control transfer N (from 1) never completes (host timeout)"},
       [](BoardConfig& c, const Arg& a) { c.usb.faults.fail_transfers.push_back(a.number(1, UINT64_MAX)); }},
      {{"stall_transfer", "N", "usb", "fault: control transfer N (from 1) is stalled"},
       [](BoardConfig& c, const Arg& a) { c.usb.faults.stall_transfers.push_back(a.number(1, UINT64_MAX)); }},
      {{"lose_status", "N", "usb", "fault: the reply of DFU_GETSTATUS N (from 1) is lost: the device acted, the host times out"},
       [](BoardConfig& c, const Arg& a) { c.usb.faults.lose_status_replies.push_back(a.number(1, UINT64_MAX)); }},
      {{"drop_phase", "0xNN", "usb", "fault: the device drops off the bus during this phase"},
       [](BoardConfig& c, const Arg& a) { entry(c.usb.faults.drop_during).phase = a.phase(); }},
      {{"drop_after", "BYTES", "usb", "... once it received this many bytes of that phase (default 0)"},
       [](BoardConfig& c, const Arg& a) { entry(c.usb.faults.drop_during).after_bytes = a.number(0, UINT64_MAX); }},
      {{"no_reenumerate_after", "rom|tf-a|u-boot", "usb", "fault: nothing enumerates after this stage leaves the bus"},
       [](BoardConfig& c, const Arg& a) { c.usb.faults.never_reenumerate_after = from_string<Stage>(a.choice({"rom", "tf-a", "u-boot"})); }},
      {{"status_block", "N", "usb", "fault: DNLOAD block N (from 0) is lost and GETSTATUS reports `status`"},
       [](BoardConfig& c, const Arg& a) { entry(c.usb.faults.status_at_block).block = a.number(0, UINT64_MAX); }},
      {{"status", "NAME", "usb", "... with this DFU status (default errWRITE)"},
       [](BoardConfig& c, const Arg& a) { entry(c.usb.faults.status_at_block).status = a.status(); }},
      {{"status_phase", "0xNN", "usb", "... counting the blocks of this phase only (default: any phase)"},
       [](BoardConfig& c, const Arg& a) { entry(c.usb.faults.status_at_block).phase = a.phase(); }},
  };
  return table;
}

bool applies(const BoardKey& k, SimLink link) {
  return k.links.find(link == SimLink::usb ? "usb" : "uart") != std::string_view::npos;
}

}  // namespace

UartBoardOptions BoardConfig::uart_options() const {
  UartBoardOptions o = uart;
  o.soc = soc;
  if (with_uboot) o.ssbl_factory = make_uboot_factory(uboot);
  return o;
}

UsbBoardOptions BoardConfig::usb_options() const {
  UsbBoardOptions o = usb;
  o.soc = soc;
  o.uboot.reset();
  if (with_uboot) o.uboot = uboot;
  return o;
}

const std::vector<BoardKey>& board_keys() {
  static const std::vector<BoardKey> keys = [] {
    std::vector<BoardKey> out;
    for (const auto& r : rows()) out.push_back(r.key);
    return out;
  }();
  return keys;
}

std::string board_keys_help(std::string_view indent) {
  std::string out;
  for (const auto& k : board_keys()) {
    std::string left = std::string(k.name) + "=" + std::string(k.value);
    std::string links = k.links == "uart usb" ? "" : std::string("[").append(k.links).append("] ");
    left.resize(std::max<std::size_t>(left.size() + 1, 30), ' ');
    out += std::string(indent) + left + links + std::string(k.help) + "\n";
  }
  return out;
}

std::uint64_t parse_option_number(std::string_view key, std::string_view value, std::uint64_t min, std::uint64_t max) {
  if (value.empty()) bad(key, "needs a number, got nothing");
  if (value.front() == '-') bad(key, std::string("'").append(value) + "' is negative; it must be in " + hex(min) + ".." + hex(max));
  const bool is_hex = value.size() > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X');
  const std::string_view digits = is_hex ? value.substr(2) : value;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, is_hex ? 16 : 10);
  if (ec == std::errc::result_out_of_range)
    bad(key, std::string(value) + " is out of range " + hex(min) + ".." + hex(max));
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty())
    bad(key, std::string("'").append(value) + "' is not a number (decimal, or hex with 0x)");
  if (v < min || v > max) bad(key, std::string(value) + " is out of range " + hex(min) + ".." + hex(max));
  return v;
}

std::vector<std::pair<std::string, std::string>> split_options(std::string_view query, char separator) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const auto sep = query.find(separator);
    std::string_view kv = query.substr(0, sep);
    if (!kv.empty()) {
      const auto eq = kv.find('=');
      out.emplace_back(std::string(kv.substr(0, eq)), eq == std::string_view::npos ? "1" : std::string(kv.substr(eq + 1)));
    }
    query = sep == std::string_view::npos ? std::string_view{} : query.substr(sep + 1);
  }
  return out;
}

BoardConfig board_config(std::string_view soc, const std::vector<std::pair<std::string, std::string>>& options) {
  BoardConfig c;
  c.soc = &soc_by_name(soc);
  const auto& table = rows();
  auto row = [&](std::string_view key) -> const Row* {
    for (const auto& r : table)
      if (r.key.name == key) return &r;
    return nullptr;
  };
  // link first: the other keys depend on it.
  for (const auto& [k, v] : options)
    if (k == "link") row("link")->set(c, Arg{k, v});
  for (const auto& [k, v] : options) {
    if (k == "link") continue;
    const Row* r = row(k);
    const char* link = c.link == SimLink::usb ? "usb" : "uart";
    if (!r || !applies(r->key, c.link)) {
      std::string allowed;
      for (const auto& other : table)
        if (applies(other.key, c.link)) allowed += (allowed.empty() ? "" : ", ") + std::string(other.key.name);
      throw UsageError(errc::usage,
                       (r ? "sim option '" + k + "' applies to link=" + (c.link == SimLink::usb ? "uart" : "usb") +
                                " only, not to link=" + link
                          : "unknown sim option '" + k + "' for link=" + link) +
                           "; allowed: " + allowed,
                       ErrorContext{.operation = "sim option " + k});
    }
    r->set(c, Arg{k, v});
  }
  return c;
}

}  // namespace mp1boot::sim
