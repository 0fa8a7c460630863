// SPDX-License-Identifier: MIT
// Flash layout checks: the rules U-Boot's stm32prog applies once a layout has parsed (IP none
// lines not selected, phase ids unique, at most 5 devices, per-device offsets distinct, aligned and
// inside the device, Binary(N) only for NAND FSBLs, boot1/boot2 only on MMC), the host's own rules
// (every file the device will ask for is named, present and fits its partition), and partition
// sizes computed the way U-Boot computes them. Device geometry the host cannot know comes from
// CheckOptions, with defaults that match ST's boards.
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "mp1boot/image/flash_layout.hpp"

namespace mp1boot::image {

namespace {

constexpr std::uint64_t lba = 512;
constexpr std::uint64_t gpt_header_lbas = 34;  // primary GPT with 128 entries
constexpr std::uint32_t first_user_phase = 0x10;
constexpr std::size_t max_devices = 5;

std::string hex(std::uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

std::string phase_hex(std::uint32_t id) {
  std::ostringstream out;
  out << "0x" << std::hex;
  if (id < 0x10) out << '0';
  out << id;
  return out.str();
}

std::string where(const LayoutEntry& e) { return "'" + e.name + "' (line " + std::to_string(e.line) + ")"; }

bool is_mtd(const std::string& kind) { return kind == "nor" || kind == "nand" || kind == "spi-nand"; }

// U-Boot keeps one device per (kind, index); every "ram..." IP is the same DDR.
std::string device_key(const LayoutEntry& e) { return e.device_kind == "ram" ? std::string("ram") : e.ip; }

struct Geometry {
  std::uint64_t erase = 1;
  std::uint64_t first = 0;                   // lowest offset a user partition may start at
  std::optional<std::uint64_t> last;         // highest start (U-Boot's last_addr)
  std::optional<std::uint64_t> size;         // whole device
  std::optional<std::uint64_t> boot_size;    // each eMMC boot partition
};

std::optional<std::uint64_t> lookup(const std::map<std::string, std::uint64_t>& map, const std::string& key) {
  const auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

std::uint64_t default_erase(const std::string& kind) {
  if (kind == "nand" || kind == "spi-nand") return 128 * 1024;
  if (kind == "nor") return 4 * 1024;
  if (kind == "mmc") return lba;
  return 1;
}

Geometry geometry(const LayoutEntry& e, const CheckOptions& o) {
  Geometry g;
  const std::string key = device_key(e);
  g.erase = lookup(o.erase_sizes, key).value_or(lookup(o.erase_sizes, e.device_kind).value_or(default_erase(e.device_kind)));
  if (g.erase == 0) g.erase = 1;
  g.size = lookup(o.device_sizes, key);
  if (e.device_kind == "mmc") {
    // U-Boot reserves the primary GPT (34 LBAs), or a whole erase group when that is larger, and
    // the same at the end for the backup GPT (35 LBAs counting the header).
    const bool big_group = g.erase > gpt_header_lbas * lba;
    g.first = big_group ? g.erase : gpt_header_lbas * lba;
    const std::uint64_t tail = big_group ? g.erase : (gpt_header_lbas + 1) * lba;
    if (g.size && *g.size >= tail) g.last = *g.size - tail;
    g.boot_size = lookup(o.device_sizes, key + ":boot");
  } else if (is_mtd(e.device_kind)) {
    g.last = g.size;
  } else if (e.device_kind == "ram") {
    g.first = o.ram_base.value_or(0);
    if (o.ram_base && g.size) g.last = *o.ram_base + *g.size;
  }
  return g;
}

// U-Boot's per-device order: boot2, boot1, then the user area by offset; equal keys keep file order.
std::vector<const LayoutEntry*> device_partitions(const FlashLayout& layout, const std::string& key) {
  std::vector<const LayoutEntry*> parts;
  for (const auto& e : layout.entries)
    if (e.is_device() && e.id != 0 && device_key(e) == key) parts.push_back(&e);
  std::stable_sort(parts.begin(), parts.end(), [](const LayoutEntry* a, const LayoutEntry* b) {
    const int ha = -a->hw_partition, hb = -b->hw_partition;
    if (ha != hb) return ha < hb;
    return a->offset.value_or(0) < b->offset.value_or(0);
  });
  return parts;
}

int parse_version(const std::string& text) {
  std::string t = text;
  if (!t.empty() && (t[0] == 'v' || t[0] == 'V')) t.erase(0, 1);
  if (t.size() < 7 || t[4] != '.') return -1;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u})
    if (t[i] < '0' || t[i] > '9') return -1;
  return std::stoi(t.substr(0, 4)) * 100 + std::stoi(t.substr(5, 2));
}

int type_since(const std::string& base) {
  if (base == "FIP") return 202207;
  if (base == "ENV" || base == "ESP" || base == "FWU_MDATA") return 202310;
  return 0;
}

// Old U-Boot (before 2023.10) read offsets with automatic base: a leading 0 meant octal.
// Returns nothing when the text reads the same way in both releases.
struct OctalOffset {
  bool valid = true;
  std::uint64_t value = 0;
};
std::optional<OctalOffset> octal_offset(const std::string& text) {
  if (text.size() < 2 || text[0] != '0' || text[1] == 'x' || text[1] == 'X') return std::nullopt;
  OctalOffset r;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '7') {
      r.valid = false;
      return r;
    }
    r.value = r.value * 8 + static_cast<std::uint64_t>(text[i] - '0');
  }
  return r;
}

class Checker {
 public:
  Checker(const FlashLayout& layout, const CheckOptions& options) : layout_(layout), options_(options) {}

  std::vector<Diagnostic> run() {
    check_lines();
    check_devices();
    check_version();
    check_binaries();
    check_service();
    std::stable_sort(out_.begin(), out_.end(), [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    return std::move(out_);
  }

 private:
  void add(Severity severity, std::uint32_t line, std::string column, std::string message, std::string rule) {
    out_.push_back({severity, line, std::move(column), std::move(message), std::move(rule)});
  }
  void error(const LayoutEntry& e, std::string column, std::string message, std::string rule) {
    add(Severity::error, e.line, std::move(column), std::move(message), std::move(rule));
  }
  void warning(const LayoutEntry& e, std::string column, std::string message, std::string rule) {
    add(Severity::warning, e.line, std::move(column), std::move(message), std::move(rule));
  }

  // U-Boot's pass over the lines in file order (treat_partition_list), plus what its phase
  // selection implies.
  void check_lines() {
    const auto& entries = layout_.entries;
    std::vector<std::string> devices;
    // One pass each way instead of a scan per line (linear in the number of lines): the next line
    // with the same Id, and the first IP none line of each Id.
    std::vector<std::size_t> next_same_id(entries.size(), entries.size());
    std::unordered_map<std::uint32_t, std::size_t> later;
    for (std::size_t i = entries.size(); i-- > 0;) {
      const auto [it, fresh] = later.try_emplace(entries[i].id, i);
      if (!fresh) {
        next_same_id[i] = it->second;
        it->second = i;
      }
    }
    std::unordered_map<std::uint32_t, std::size_t> first_none;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const LayoutEntry& e = entries[i];
      if (!e.is_device()) {
        first_none.try_emplace(e.id, i);
        if (e.select)
          error(e, "Opt", "selected none phase " + phase_hex(e.id) + " for part '" + e.name +
                "': U-Boot refuses 'P' on an IP none line (write '-'; the ROM or TF-A serves it)", "selected-none");
        continue;
      }
      if (e.id == 0) {
        error(e, "Id", "invalid phase 0x00 for part '" + e.name +
              "': 0x00 is the flash layout itself; device partitions use 0x01..0xF0", "invalid-phase");
        continue;
      }
      if (const std::size_t j = next_same_id[i]; j < entries.size())
        error(e, "Id", "duplicated phase " + phase_hex(e.id) + " for part '" + e.name + "' and " +
              where(entries[j]), "duplicate-id");
      if (const auto none = first_none.find(e.id); none != first_none.end())
        warning(e, "Id", "phase " + phase_hex(e.id) + " is first found on IP none line " +
                std::to_string(entries[none->second].line) + ": U-Boot selects that line and never programs '" +
                e.name + "'", "shadowed-id");
      const std::string key = device_key(e);
      if (devices.size() <= max_devices && std::find(devices.begin(), devices.end(), key) == devices.end()) {
        devices.push_back(key);
        if (devices.size() == max_devices + 1)
          error(e, "IP", "too many devices: '" + key + "' is the 6th device; U-Boot handles at most 5 per layout",
                "too-many-devices");
      }
    }
  }

  void check_devices() {
    std::vector<std::string> seen;
    for (const auto& e : layout_.entries) {
      if (!e.is_device() || e.id == 0) continue;
      const std::string key = device_key(e);
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      check_device(key, geometry(e, options_));
    }
  }

  // U-Boot's init_device, minus what needs the board (existing GPT/MTD partitions).
  void check_device(const std::string& key, const Geometry& g) {
    const auto parts = device_partitions(layout_, key);
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const LayoutEntry& e = *parts[k];
      if (e.copies > 1 && (!(e.device_kind == "nand" || e.device_kind == "spi-nand") || e.id >= first_user_phase ||
                           e.name.rfind("fsbl", 0) != 0))
        error(e, "Type", "multiple binary " + std::to_string(e.copies) + " not supported for '" + e.name +
              "' (" + phase_hex(e.id) + "): Binary(N) is for an FSBL ('fsbl...' name, Id below 0x10) on NAND or SPI-NAND",
              "binary-copies");
      if (e.type == "RawImage") {
        if (e.offset.value_or(0) != 0)
          warning(e, "Offset", "RawImage covers " + key + " from offset 0: U-Boot ignores offset " + e.offset_text,
                  "rawimage-offset");
        continue;
      }
      if (e.hw_partition != 0) {
        if (e.device_kind != "mmc")
          error(e, "Offset", "hw partition not expected: " + e.offset_text + " on " + key +
                " (boot1/boot2 are eMMC hardware partitions, MMC only)", "boot-not-mmc");
        continue;
      }
      const std::uint64_t addr = e.offset.value_or(0);
      if (k + 1 < parts.size()) {
        const LayoutEntry& next = *parts[k + 1];
        if (addr >= next.offset.value_or(0))
          error(e, "Offset", "same address: '" + e.name + "' (" + phase_hex(e.id) + ") and " + where(next) +
                " both start at " + hex(addr) + " on " + key, "same-address");
      } else if (g.last && addr > *g.last) {
        error(e, "Offset", "invalid address " + hex(addr) + " for '" + e.name + "': beyond the end of " + key +
              " (max=" + hex(*g.last) + ")", "offset-beyond-device");
      }
      if (addr < g.first)
        error(e, "Offset", "invalid address " + hex(addr) + " for '" + e.name + "' (min=" + hex(g.first) + "): " +
              (e.device_kind == "mmc" ? "MMC user partitions start after the primary GPT (34 LBAs of 512 bytes, or one erase group)"
                                      : "below the DDR base"), "offset-too-low");
      if (addr % g.erase != 0)
        error(e, "Offset", "not aligned address " + hex(addr) + " for '" + e.name + "' on erase size " + hex(g.erase) +
              " of " + key + " (set CheckOptions::erase_sizes if the device differs)", "unaligned-offset");
    }
    check_device_habits(key, parts);
  }

  // Legal for U-Boot but likely not what the author meant.
  void check_device_habits(const std::string& key, const std::vector<const LayoutEntry*>& sorted) {
    std::vector<const LayoutEntry*> in_file(sorted);
    std::sort(in_file.begin(), in_file.end(), [](const LayoutEntry* a, const LayoutEntry* b) { return a->line < b->line; });
    for (const LayoutEntry* e : in_file)
      if (!e->select) {
        warning(*e, "Opt", "partial update of " + key + ": with a line not selected U-Boot writes no new partition "
                "table and requires every partition to match the one on the device", "partial-update");
        break;
      }
    const LayoutEntry* previous = nullptr;
    std::set<int> hw_seen;
    for (const LayoutEntry* e : in_file) {
      if (e->hw_partition != 0 && !hw_seen.insert(e->hw_partition).second && e->device_kind == "mmc")
        warning(*e, "Offset", "a second line on " + key + " " + e->offset_text + ": both write the same hardware partition",
                "same-hw-partition");
      if (e->hw_partition != 0 || e->type == "RawImage") continue;
      if (previous && e->offset.value_or(0) < previous->offset.value_or(0))
        warning(*e, "Offset", "offset " + e->offset_text + " is below the one of " + where(*previous) +
                ": U-Boot sorts partitions by offset, so their order on " + key + " differs from the file", "offset-order");
      previous = e;
    }
  }

  void check_version() {
    if (options_.uboot_version.empty()) return;
    const int version = parse_version(options_.uboot_version);
    if (version < 0) {
      add(Severity::warning, 0, "", "U-Boot version '" + options_.uboot_version +
          "' not understood (write YYYY.MM); version rules skipped", "bad-option");
      return;
    }
    for (const auto& e : layout_.entries) {
      const int since = type_since(e.base_type());
      if (version < since)
        error(e, "Type", "type parsing error on U-Boot " + options_.uboot_version + ": type '" + e.type +
              "' is known upstream since " + std::to_string(since / 100) + "." + (since % 100 < 10 ? "0" : "") +
              std::to_string(since % 100), "type-too-new");
      if (version >= 202310 || e.hw_partition != 0) continue;
      const auto old = octal_offset(e.offset_text);
      if (!old) continue;
      if (!old->valid)
        error(e, "Offset", "invalid offset '" + e.offset_text + "' on U-Boot " + options_.uboot_version +
              ": a leading 0 means octal before 2023.10", "offset-base");
      else if (e.offset && old->value != *e.offset)
        error(e, "Offset", "U-Boot " + options_.uboot_version + " reads offset '" + e.offset_text + "' as octal (" +
              hex(old->value) + "), not decimal (" + hex(*e.offset) + "); write it in hex", "offset-base");
    }
  }

  // The host serves each phase the device asks for: it needs a file for every programmed line
  // and for the ROM/TF-A phases.
  void check_binaries() {
    std::set<std::uint32_t> boot_phases;
    for (const auto& e : layout_.entries) {
      bool served = e.is_programmed();
      if (!e.is_device() && e.id >= 0x01 && e.id <= 0x03 && boot_phases.insert(e.id).second) served = true;
      if (!served) continue;
      const std::string who = e.is_device() ? "U-Boot asks for phase " + phase_hex(e.id) + " ('P' without 'E')"
                                            : "the ROM or TF-A asks for phase " + phase_hex(e.id);
      if (e.binary.empty()) {
        error(e, "Binary", "Binary column is empty on line " + std::to_string(e.line) + ": " + who +
              " and the layout names no file", "empty-binary");
        continue;
      }
      if (e.binary == "none") {
        error(e, "Binary", "Binary is 'none' but " + who + "; use 'PE' to leave the partition empty", "none-binary");
        continue;
      }
      if (options_.check_binaries && !e.binary_path.empty()) check_file(e);
    }
  }

  void check_file(const LayoutEntry& e) {
    std::error_code ec;
    const auto& path = e.binary_path;
    if (!std::filesystem::is_regular_file(path, ec)) {
      error(e, "Binary", "binary " + path.string() + (std::filesystem::exists(path, ec) ? " is not a regular file"
                                                                                       : " does not exist"),
            "binary-missing");
      return;
    }
    if (!std::ifstream(path, std::ios::binary)) {
      error(e, "Binary", "binary " + path.string() + " cannot be read", "binary-unreadable");
      return;
    }
    if (!e.is_device()) return;
    const std::uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) return;
    const auto room = partition_size(layout_, e, options_);
    if (!room) return;
    std::uint64_t needed = size;
    if (e.copies > 1) {
      const std::uint64_t erase = geometry(e, options_).erase;
      needed = (size + erase - 1) / erase * erase * e.copies;
    }
    if (needed > *room)
      error(e, "Binary", "binary " + path.string() + " needs " + hex(needed) + " bytes" +
            (e.copies > 1 ? " (" + std::to_string(e.copies) + " copies)" : std::string()) + ", partition '" + e.name +
            "' holds " + hex(*room), "binary-too-large");
  }

  void check_service() {
    if (intended_service(layout_) != ProgrammingService::st_external_loader) return;
    std::uint32_t line = 0;
    for (const auto& e : layout_.entries)
      if (!e.is_device() && e.select) {
        line = e.line;
        break;
      }
    add(Severity::warning, line, "", "this layout is written for ST's STM32PRGFW-UTIL / OpenBL external-loader flow "
        "(STM32CubeProgrammer), not for U-Boot stm32prog; U-Boot refuses it", "external-loader");
  }

  const FlashLayout& layout_;
  const CheckOptions& options_;
  std::vector<Diagnostic> out_;
};

}  // namespace

std::vector<Diagnostic> check_layout(const FlashLayout& layout, const CheckOptions& options) {
  return Checker(layout, options).run();
}

ProgrammingService intended_service(const FlashLayout& layout) {
  for (const auto& e : layout.entries) {
    if (!e.is_device() && e.select) return ProgrammingService::st_external_loader;
    if (e.name.find("openbl") != std::string::npos || e.name.find("extfl") != std::string::npos ||
        e.binary.find("STM32PRGFW") != std::string::npos)
      return ProgrammingService::st_external_loader;
  }
  return ProgrammingService::u_boot_stm32prog;
}

std::optional<std::uint64_t> partition_size(const FlashLayout& layout, const LayoutEntry& entry,
                                            const CheckOptions& options) {
  if (!entry.is_device()) return std::nullopt;
  const Geometry g = geometry(entry, options);
  if (entry.type == "RawImage") return entry.device_kind == "ram" ? g.last : g.size;
  if (entry.hw_partition != 0) return entry.device_kind == "mmc" ? g.boot_size : std::nullopt;
  const auto parts = device_partitions(layout, device_key(entry));
  const auto it = std::find_if(parts.begin(), parts.end(), [&](const LayoutEntry* p) { return p->line == entry.line; });
  if (it == parts.end()) return std::nullopt;
  const std::uint64_t addr = entry.offset.value_or(0);
  if (it + 1 != parts.end()) {
    const std::uint64_t next = (*(it + 1))->offset.value_or(0);
    if (next > addr) return next - addr;
    return std::nullopt;
  }
  if (g.last && addr <= *g.last) return *g.last - addr;
  return std::nullopt;
}

}  // namespace mp1boot::image
