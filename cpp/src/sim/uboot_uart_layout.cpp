// SPDX-License-Identifier: MIT
// U-Boot's flash-layout parser and partition checks for the simulator (see uboot_uart_layout.hpp).
// Behaviour and messages follow arch/arm/mach-stm32mp/cmd_stm32prog/stm32prog.c (parse_*,
// parse_flash_layout, treat_partition_list, init_device); the code is written anew.
#include "mp1boot/sim/uboot_uart_layout.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "mp1boot/phase.hpp"

namespace mp1boot::sim {

namespace {

constexpr std::uint32_t first_user_phase = 0x10;
constexpr std::size_t max_devices = 5;
constexpr std::size_t columns = 6;
constexpr std::uint64_t gpt_header_lbas = 34;
constexpr std::uint64_t block = 512;

__attribute__((format(printf, 1, 2))) std::string fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

struct Number {
  std::uint64_t value = 0;
  std::size_t end = 0;  // characters taken, "0x" included
};

// U-Boot's simple_strtoul/simple_strtoull: a "0x" prefix always selects hex, a leading 0 selects
// octal only without a base; digits are taken while they are valid. `bits` wraps like ulong.
Number strtou(std::string_view s, unsigned base, unsigned bits) {
  std::size_t i = 0;
  if (!s.empty() && s[0] == '0') {
    if (s.size() > 1 && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      i = 2;
    } else if (base == 0) {
      base = 8;
    }
  }
  if (base == 0) base = 10;
  Number n;
  const std::uint64_t mask = bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    unsigned d = 256;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    if (d >= base) break;
    n.value = (n.value * base + d) & mask;
  }
  n.end = i;
  return n;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool is_stm32_v1(ByteView d) {
  if (d.size() < 256 || load_le32(&d[0]) != 0x324D5453 || load_le32(&d[0x48]) != 0x00010000) return false;
  if (load_le32(&d[0x54]) != 0 || load_le32(&d[0x5C]) != 0) return false;
  return std::all_of(d.begin() + 0xAC, d.begin() + 0xFF, [](std::uint8_t b) { return b == 0; });
}

// --- column parsers: "" on success, else U-Boot's message ---------------------------------------

std::string parse_option(int line, const std::string& s, UbootPart& part) {
  if (s == "-") return "";
  for (char c : s) {
    switch (c) {
      case 'P': part.select = true; break;
      case 'E': part.empty = true; break;
      case 'D': part.erase = true; break;
      default: return fmt("Layout line %d: invalid option '%c' in %s)", line, c, s.c_str());
    }
  }
  if (!part.select) return fmt("Layout line %d: missing 'P' in option %s", line, s.c_str());
  return "";
}

std::string parse_id(int line, const std::string& s, UbootPart& part) {
  Number n = strtou(s, 0, 32);  // strict_strtoul: the whole column must be the number
  part.id = static_cast<std::uint32_t>(n.value);
  if (n.end == 0 || n.end != s.size() || n.value > phase::last_user)
    return fmt("Layout line %d: invalid phase value = %s", line, s.c_str());
  return "";
}

std::string parse_name(int line, const std::string& s, UbootPart& part) {
  if (s.size() > 16) return fmt("Layout line %d: partition name too long [%zu]: %s", line, s.size(), s.c_str());
  part.name = s;
  return "";
}

std::string parse_type(int line, const std::string& s, UbootPart& part, const UbootLayoutRules& rules) {
  bool ok = true;
  part.copies = 0;
  if (starts_with(s, "Binary")) {
    part.type = UbootPartType::binary;
    part.copies = 1;
    if (s.size() > 6) {
      if (s.size() < 8 || s[6] != '(' || s.back() != ')')
        ok = false;
      else
        part.copies = static_cast<std::uint32_t>(strtou(std::string_view(s).substr(7), 10, 32).value);
    }
  } else if (s == "FIP") {
    part.type = UbootPartType::fip;
  } else if (s == "FWU_MDATA" && rules.extended_types) {
    part.type = UbootPartType::fwu_mdata;
  } else if (s == "ENV" && rules.extended_types) {
    part.type = UbootPartType::env;
  } else if (s == "System") {
    part.type = UbootPartType::system;
  } else if (s == "ESP" && rules.extended_types) {
    part.type = UbootPartType::esp;
  } else if (s == "FileSystem") {
    part.type = UbootPartType::filesystem;
  } else if (s == "RawImage") {
    part.type = UbootPartType::raw_image;
  } else {
    ok = false;
  }
  if (!ok) return fmt("Layout line %d: type parsing error : '%s'", line, s.c_str());
  return "";
}

std::string parse_ip(int line, const std::string& s, UbootPart& part) {
  std::size_t len = 0;
  bool ok = true;
  part.dev_id = 0;
  if (s == "none") {
    part.ip = UbootIp::none;
  } else if (starts_with(s, "mmc")) {
    part.ip = UbootIp::mmc;
    len = 3;
  } else if (starts_with(s, "nor")) {
    part.ip = UbootIp::nor;
    len = 3;
  } else if (starts_with(s, "nand")) {
    part.ip = UbootIp::nand;
    len = 4;
  } else if (starts_with(s, "spi-nand")) {
    part.ip = UbootIp::spi_nand;
    len = 8;
  } else if (starts_with(s, "ram")) {
    part.ip = UbootIp::ram;  // any suffix
  } else {
    ok = false;
  }
  if (ok && len != 0) {
    if (s.size() != len + 1) {
      ok = false;
    } else {
      // U-Boot stores the digit in a char and only rejects values above 9.
      part.dev_id = static_cast<signed char>(s[len] - '0');
      if (part.dev_id > 9) ok = false;
    }
  }
  if (!ok) return fmt("Layout line %d: ip parsing error: '%s'", line, s.c_str());
  return "";
}

std::string parse_offset(int line, const std::string& s, UbootPart& part, const UbootLayoutRules& rules) {
  part.hw_partition = 0;
  part.addr = 0;
  part.size = 0;
  if (starts_with(s, "boot")) {
    if (s == "boot1") part.hw_partition = 1;
    else if (s == "boot2") part.hw_partition = 2;
    else return fmt("Layout line %d: invalid part '%s'", line, s.c_str());
    return "";
  }
  Number n = strtou(s, rules.decimal_offsets ? 10 : 0, 64);
  part.addr = n.value;
  if (n.end == 0 || n.end != s.size()) return fmt("Layout line %d: invalid offset '%s'", line, s.c_str());
  return "";
}

std::string parse_column(std::size_t column, int line, const std::string& s, UbootPart& part,
                         const UbootLayoutRules& rules) {
  switch (column) {
    case 0: return parse_option(line, s, part);
    case 1: return parse_id(line, s, part);
    case 2: return parse_name(line, s, part);
    case 3: return parse_type(line, s, part, rules);
    case 4: return parse_ip(line, s, part);
    default: return parse_offset(line, s, part, rules);
  }
}

UbootLayoutResult failed(std::string message) {
  UbootLayoutResult r;
  r.error = std::move(message);
  return r;
}

std::string ip_text(UbootIp ip, int dev_id) {
  switch (ip) {
    case UbootIp::none: return "none";
    case UbootIp::mmc: return "mmc" + std::to_string(dev_id);
    case UbootIp::nor: return "nor" + std::to_string(dev_id);
    case UbootIp::nand: return "nand" + std::to_string(dev_id);
    case UbootIp::spi_nand: return "spi-nand" + std::to_string(dev_id);
    case UbootIp::ram: return "ram";
  }
  return "none";
}

bool is_mtd(UbootIp ip) { return ip == UbootIp::nor || ip == UbootIp::nand || ip == UbootIp::spi_nand; }

}  // namespace

std::string UbootPart::ip_name() const { return ip_text(ip, dev_id); }
std::string UbootLayoutDevice::ip_name() const { return ip_text(ip, dev_id); }

UbootLayoutRules uboot_layout_rules(const std::string& uboot_version) {
  UbootLayoutRules rules;
  if (uboot_version.empty()) return rules;
  // "YYYY.MM" compares as text once both are in that form.
  rules.decimal_offsets = uboot_version >= "2023.07";
  rules.extended_types = uboot_version >= "2023.10";
  return rules;
}

UbootLayoutResult parse_uboot_layout(ByteView data, const UbootLayoutRules& rules) {
  ByteView text = data;
  if (is_stm32_v1(data)) {
    const std::uint32_t length = load_le32(&data[0x4C]);
    const std::uint32_t expected = load_le32(&data[0x44]);
    ByteView payload = data.subspan(256, std::min<std::size_t>(length, data.size() - 256));
    std::uint32_t sum = 0;  // bytes past the download read as zero (the DDR buffer)
    for (std::uint8_t b : payload) sum += b;
    if (sum != expected) return failed(fmt("Layout: invalid checksum : 0x%x expected 0x%x", sum, expected));
    text = payload;
  }
  if (text.empty()) return failed("Layout: invalid FlashLayout");

  // U-Boot terminates the buffer after the received size and edits it in place.
  std::string buf(text.begin(), text.end());
  const std::size_t last = buf.size();
  buf.push_back('\0');

  int expected_parts = 1;
  for (std::size_t p = 0; p < last && buf[p] != '\0';) {
    if (buf[p++] == '\n') {
      ++expected_parts;
      if (p < last && buf[p] == '#') --expected_parts;
    }
  }
  if (expected_parts > static_cast<int>(phase::last_user))
    return failed(fmt("Layout: too many partition (%d)", expected_parts));

  UbootLayoutResult result;
  int line = 1;
  bool eof = false;
  bool end_of_line = false;
  std::size_t p = 0;
  std::size_t col = 0;
  std::size_t column = 0;
  UbootPart part;
  while (!eof) {
    const char c = buf[p];
    if (c == '\r') {  // ignored, and it ends the column text
      buf[p++] = '\0';
      continue;
    }
    if (c == '\0') {
      end_of_line = eof = true;
    } else if (c == '\n') {
      end_of_line = true;
    } else if (c == '#' && column == 0 && p == col) {
      while (p < last && buf[p] != '\0')
        if (buf[p++] == '\n') break;
      col = p;
      ++line;
      if (p >= last || buf[p] == '\0') eof = end_of_line = true;
      continue;
    } else if (c != '\t') {
      ++p;
      continue;
    }
    buf[p++] = '\0';
    if (p >= last) eof = end_of_line = true;

    const std::string value(&buf[col]);  // up to the first NUL, as strlen sees it
    if (value.empty()) {  // empty line, or one more TAB of a run
      col = p;
      if (column == 0 && end_of_line) {
        end_of_line = false;
        ++line;
      }
      continue;
    }
    if (column < columns) {
      std::string error = parse_column(column, line, value, part, rules);
      if (!error.empty()) return failed(std::move(error));
    }
    ++column;
    col = p;
    if (!end_of_line) continue;

    end_of_line = false;
    if (column < columns) return failed(fmt("Layout line %d: no enought column", line));
    column = 0;
    part.line = static_cast<std::uint32_t>(line);
    result.layout.parts.push_back(part);
    part = UbootPart{};
    ++line;
    if (result.layout.parts.size() >= static_cast<std::size_t>(expected_parts) && !eof)
      return failed(fmt("Layout: no enought memory for %zu part", result.layout.parts.size()));
  }
  if (result.layout.parts.empty()) return failed("Layout: no partition found");
  return result;
}

namespace {

// treat_partition_list: the list-level rules and the device list.
std::string treat_partition_list(UbootLayout& layout) {
  auto& parts = layout.parts;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    UbootPart& part = parts[i];
    if (part.ip == UbootIp::none) {
      if (part.select)
        return fmt("Layout: selected none phase = 0x%x for part %s", part.id, part.name.c_str());
      continue;
    }
    if (part.id == 0 || part.id > phase::last_user)
      return fmt("Layout: invalid phase = 0x%x for part %s", part.id, part.name.c_str());
    for (std::size_t j = i + 1; j < parts.size(); ++j)
      if (parts[j].id == part.id)
        return fmt("Layout: duplicated phase 0x%x for part %s and %s", part.id, part.name.c_str(),
                   parts[j].name.c_str());
    std::size_t d = 0;
    for (; d < layout.devices.size(); ++d)
      if (layout.devices[d].ip == part.ip && layout.devices[d].dev_id == part.dev_id) break;
    if (d == layout.devices.size()) {
      if (d == max_devices) return "Layout: too many device";
      UbootLayoutDevice dev;
      dev.ip = part.ip;
      dev.dev_id = part.dev_id;
      layout.devices.push_back(dev);
    }
    part.device = static_cast<int>(d);
    if (!part.select) layout.devices[d].full_update = false;
    layout.devices[d].parts.push_back(i);
  }
  return "";
}

struct Limits {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t raw_size = 0;
  std::uint64_t boot_size = 0;
};

std::string device_limits(UbootLayoutDevice& dev, const UbootBoardQuery& board, Limits& limits) {
  const std::string name = dev.ip_name();
  auto geo = board.geometry ? board.geometry(name) : std::nullopt;
  switch (dev.ip) {
    case UbootIp::mmc: {
      if (!geo) return fmt("mmc device %d not found", dev.dev_id);
      const std::uint64_t lba = geo->size / block;
      const std::uint64_t group = std::max<std::uint64_t>(geo->erase_size / block, 1);
      dev.erase_size = static_cast<std::uint32_t>(group * block);
      // One erase group, or the 34 LBAs of a GPT, is reserved at each end.
      if (group > gpt_header_lbas) {
        limits.first = dev.erase_size;
        limits.last = lba > group ? (lba - group) * block : 0;
      } else {
        limits.first = gpt_header_lbas * block;
        limits.last = lba > gpt_header_lbas + 1 ? (lba - gpt_header_lbas - 1) * block : 0;
      }
      limits.raw_size = lba * block;
      limits.boot_size = geo->boot_size;
      return "";
    }
    case UbootIp::nor:
    case UbootIp::nand:
    case UbootIp::spi_nand:
      if (!geo) return fmt("MTD device %s not found", name.c_str());
      dev.erase_size = geo->erase_size;
      limits.first = 0;
      limits.last = limits.raw_size = geo->size;
      return "";
    case UbootIp::ram:
      if (!geo) return "unknown device type = 5";
      dev.erase_size = 1;
      limits.first = geo->base;
      limits.last = limits.raw_size = geo->base + geo->size;
      return "";
    case UbootIp::none: break;
  }
  return "unknown device type = 0";
}

// The comparison of a partial update with the partitions already on the device.
std::string check_existing(const UbootLayoutDevice& dev, const UbootPart& part, int next_index,
                           const UbootBoardQuery& board) {
  if (dev.ip == UbootIp::ram) return "";
  if (dev.ip == UbootIp::mmc && (dev.full_update || part.part_index < 0)) return "";
  if (is_mtd(dev.ip) && !board.existing) return "";
  auto existing = board.existing ? board.existing(dev.ip_name()) : std::nullopt;
  if (is_mtd(dev.ip) && !existing) return "";  // no table given: the layout's partitions are the board's
  const std::size_t n = static_cast<std::size_t>(part.part_index);
  const bool found = existing && n >= 1 && n <= existing->size() && (*existing)[n - 1].present;
  if (!found) {
    if (dev.ip == UbootIp::mmc)  // U-Boot prints its next partition counter here
      return fmt("%s (0x%x):Couldn't find part %d on device mmc %d", part.name.c_str(), part.id, next_index,
                 dev.dev_id);
    return fmt("%s (0x%x):Couldn't find part %d on device mtd %s", part.name.c_str(), part.id, part.part_index,
               dev.ip_name().c_str());
  }
  const UbootExistingPartition& e = (*existing)[n - 1];
  if (part.addr != e.offset)
    return fmt("%s (0x%x): Bad address for partition %d (%s) = 0x%llx <> 0x%llx expected", part.name.c_str(),
               part.id, part.part_index, e.name.c_str(), ull(part.addr), ull(e.offset));
  if (part.size != e.size)
    return fmt("%s (0x%x): Bad size for partition %d (%s) at 0x%llx = 0x%llx <> 0x%llx expected",
               part.name.c_str(), part.id, part.part_index, e.name.c_str(), ull(part.addr), ull(part.size),
               ull(e.size));
  return "";
}

// init_device: sizes, limits and alignment of the partitions of one device.
std::string init_device(UbootLayout& layout, UbootLayoutDevice& dev, const UbootBoardQuery& board) {
  Limits limits;
  if (std::string error = device_limits(dev, board, limits); !error.empty()) return error;
  auto& parts = layout.parts;
  // Ordered by (hardware partition: boot2, boot1, user) then offset, stable.
  auto key = [&](std::size_t i) { return -parts[i].hw_partition; };
  std::stable_sort(dev.parts.begin(), dev.parts.end(), [&](std::size_t a, std::size_t b) {
    if (key(a) != key(b)) return key(a) < key(b);
    return parts[a].addr < parts[b].addr;
  });
  int next_index = 1;
  for (std::size_t k = 0; k < dev.parts.size(); ++k) {
    UbootPart& part = parts[dev.parts[k]];
    const char* name = part.name.c_str();
    if (part.copies > 1 &&
        ((dev.ip != UbootIp::nand && dev.ip != UbootIp::spi_nand) || part.id >= first_user_phase ||
         part.name.compare(0, 4, "fsbl") != 0))
      return fmt("%s (0x%x): multiple binary %u not supported", name, part.id, part.copies);
    if (part.type == UbootPartType::raw_image) {
      part.part_index = 0;
      part.addr = 0;
      part.size = limits.raw_size;
      continue;
    }
    if (part.hw_partition != 0) {
      if (dev.ip != UbootIp::mmc)
        return fmt("%s (0x%x): hw partition not expected : %d", name, part.id, -part.hw_partition);
      part.part_index = -part.hw_partition;
      part.size = limits.boot_size;
    } else {
      part.part_index = next_index++;
      if (k + 1 < dev.parts.size()) {
        const UbootPart& next = parts[dev.parts[k + 1]];
        if (part.addr >= next.addr)
          return fmt("%s (0x%x): same address : 0x%llx == %s (0x%x): 0x%llx", name, part.id, ull(part.addr),
                     next.name.c_str(), next.id, ull(next.addr));
        part.size = next.addr - part.addr;
      } else {
        if (part.addr > limits.last)
          return fmt("%s (0x%x): invalid address 0x%llx (max=0x%llx)", name, part.id, ull(part.addr),
                     ull(limits.last));
        part.size = limits.last - part.addr;
      }
      if (part.addr < limits.first)
        return fmt("%s (0x%x): invalid address 0x%llx (min=0x%llx)", name, part.id, ull(part.addr),
                   ull(limits.first));
    }
    if ((part.addr & (std::uint64_t{dev.erase_size} - 1)) != 0)
      return fmt("%s (0x%x): not aligned address : 0x%llx on erase size 0x%x", name, part.id, ull(part.addr),
                 dev.erase_size);
    if (std::string error = check_existing(dev, part, next_index, board); !error.empty()) return error;
  }
  return "";
}

}  // namespace

UbootLayoutResult init_uboot_devices(UbootLayout layout, const UbootBoardQuery& board) {
  UbootLayoutResult result;
  if (std::string error = treat_partition_list(layout); !error.empty()) return failed(std::move(error));
  for (auto& dev : layout.devices)
    if (std::string error = init_device(layout, dev, board); !error.empty()) return failed(std::move(error));
  result.layout = std::move(layout);
  return result;
}

}  // namespace mp1boot::sim
