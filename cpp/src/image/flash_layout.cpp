// SPDX-License-Identifier: MIT
// Flash layout parsing: the file syntax as U-Boot's stm32prog reads it (TAB runs as one
// separator, '\r' ending a column, '#' comments, an optional STM32 v1 header, at most 256 KiB and
// 0xF0 lines), one column parser per column, %NAME% placeholders, and the places where U-Boot's
// reading differs from the obvious one (a TAB before the end of a line) reported with line numbers.
#include "mp1boot/image/flash_layout.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "mp1boot/bytes.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/phase.hpp"

namespace mp1boot::image {

namespace {

constexpr std::size_t max_layout_bytes = 256 * 1024;  // U-Boot's FlashLayout alt: 256 KiB
constexpr std::size_t max_name_length = 16;
constexpr std::size_t stm32_v1_header_size = 256;

std::string too_large_message(std::uint64_t size) {
  return std::to_string(size) + " bytes: U-Boot's flash-layout buffer holds at most 256 KiB (262144 bytes)";
}

std::string hex(std::uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

// U-Boot's simple_strtoull: a "0x" prefix selects hex whatever the base, a leading 0 selects
// octal only when no base is given, then digits are taken while they are valid for the base.
struct ParsedNumber {
  std::uint64_t value = 0;
  std::size_t end = 0;  // index of the first character not taken (0 = nothing taken)
  bool overflow = false;
};

ParsedNumber uboot_strtoull(std::string_view s, unsigned base) {
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
  ParsedNumber result;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    unsigned digit = 256;
    if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
    if (digit >= base) break;
    if (result.value > (UINT64_MAX - digit) / base) result.overflow = true;
    result.value = result.value * base + digit;
  }
  result.end = i;
  return result;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One line as the tokenizer sees it.
struct RawLine {
  std::uint32_t number = 0;
  std::vector<std::string> fields;  // non-empty columns
  bool comment = false;
  bool trailing_tab = false;
  bool one_tab_after_column = false;  // the line's last character is one TAB right after a column
  bool text_follows = false;          // more bytes after this line's newline
  std::string dropped_by_cr;  // text U-Boot drops because a '\r' ends its column early
  bool has_content() const { return comment || !fields.empty(); }
};

RawLine tokenize(std::string_view line, std::uint32_t number) {
  RawLine raw;
  raw.number = number;
  bool first = true;
  std::size_t start = 0;
  std::string_view last_segment, previous_segment;
  bool saw_tab = false;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    std::string_view segment = line.substr(start, tab == std::string_view::npos ? std::string_view::npos
                                                                                : tab - start);
    // U-Boot replaces every '\r' by a string end: the column stops at the first one.
    const std::size_t cr = segment.find('\r');
    if (cr != std::string_view::npos) {
      const bool at_line_end = tab == std::string_view::npos && cr + 1 == segment.size();
      if (!at_line_end) {
        std::string rest(segment.substr(cr));
        rest.erase(std::remove(rest.begin(), rest.end(), '\r'), rest.end());
        if (!rest.empty()) raw.dropped_by_cr += rest;
      }
      segment = segment.substr(0, cr);
    }
    if (!segment.empty()) {
      if (first && segment.front() == '#') {
        raw.comment = true;
        return raw;
      }
      first = false;
      raw.fields.emplace_back(segment);
    }
    previous_segment = last_segment;
    last_segment = segment;
    if (tab == std::string_view::npos) break;
    saw_tab = true;
    start = tab + 1;
  }
  raw.trailing_tab = saw_tab && last_segment.empty() && !raw.fields.empty();
  raw.one_tab_after_column = raw.trailing_tab && line.back() == '\t' && !previous_segment.empty();
  return raw;
}

class Parser {
 public:
  Parser(FlashLayout& layout, const ParseOptions& options) : layout_(layout), options_(options) {}

  void parse(std::string_view text) {
    if (text.size() > max_layout_bytes) {  // U-Boot refuses it whole: no line is read
      add(Severity::error, 0, "", too_large_message(text.size()), "layout-too-large");
      return;
    }
    if (!strip_header(text)) return;
    const std::size_t nul = text.find('\0');
    const bool whole_buffer = nul == std::string_view::npos;  // the text ends where U-Boot's buffer ends
    if (nul != std::string_view::npos) {
      const auto line = static_cast<std::uint32_t>(std::count(text.begin(), text.begin() +
                                                   static_cast<std::ptrdiff_t>(nul), '\n') + 1);
      add(Severity::warning, line, "", "NUL byte: U-Boot stops reading the layout here", "nul-byte");
      text = text.substr(0, nul);
    }
    const std::size_t line_count = count_lines(text);

    std::vector<RawLine> lines;
    std::size_t start = 0;
    std::uint32_t number = 1;
    while (start <= text.size()) {
      const std::size_t nl = text.find('\n', start);
      const std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos
                                                                                      : nl - start);
      lines.push_back(tokenize(line, number++));
      lines.back().text_follows = nl != std::string_view::npos && nl + 1 < text.size();
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }

    std::size_t data_lines = 0, completed = 0;
    bool last_dropped = false, misread = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const RawLine& raw = lines[i];
      if (raw.comment || raw.fields.empty()) continue;
      ++data_lines;
      if (!raw.dropped_by_cr.empty())
        add(Severity::warning, raw.number, "", "carriage return inside the line: U-Boot ends the column "
            "there and ignores '" + raw.dropped_by_cr + "'", "stray-cr");
      const LayoutEntry* entry = parse_line(raw);
      // U-Boot ends a line at the end of its buffer: when the very last byte is the TAB after a
      // column (no newline, no NUL after it), that TAB completes the line.
      const bool ends_buffer = i + 1 == lines.size() && whole_buffer && raw.one_tab_after_column;
      if (ends_buffer)
        add(Severity::warning, raw.number, "", "the last line ends with a TAB and the file with no newline: U-Boot "
            "completes the line only because the TAB is the last byte (a final newline would make it drop the "
            "line)", "trailing-tab-at-end");
      bool dropped = false;
      if (!ends_buffer && raw.trailing_tab) {
        dropped = trailing_tab(lines, i, entry);
        last_dropped = dropped || last_dropped;
        misread = misread || !dropped;
      }
      // U-Boot sized its table from the line count; a completed line that fills it while text
      // follows (comments after the last partition line, no final newline) is refused.
      if (!dropped && ++completed >= line_count && raw.text_follows && !misread)
        add(Severity::error, raw.number, "", "U-Boot counts " + std::to_string(line_count) + " possible partition "
            "line(s) (lines not starting with '#', plus one after the final newline) and this line fills them while "
            "more text follows: U-Boot refuses the layout ('no enought memory for " + std::to_string(completed) +
            " part'); end the file with a newline", "no-memory");
    }
    if (data_lines == 0 || (data_lines == 1 && last_dropped))
      add(Severity::error, 0, "", "no partition line: U-Boot refuses the layout (no partition found)",
          "no-partition");
  }

 private:
  void add(Severity severity, std::uint32_t line, std::string column, std::string message, std::string rule) {
    layout_.diagnostics.push_back({severity, line, std::move(column), std::move(message), std::move(rule)});
  }

  // Strips an STM32 v1 header (U-Boot does, after checking its checksum). False when the text
  // cannot be parsed at all.
  bool strip_header(std::string_view& text) {
    if (text.size() < stm32_v1_header_size || text.substr(0, 4) != "STM2") return true;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
    const std::uint32_t version = load_le32(bytes + 72);
    if (version != 0x00010000) {
      add(Severity::error, 0, "", "STM32 header version " + hex32(version) + " in front of the layout: "
          "U-Boot only strips a v1 header and would read this one as text", "header-not-v1");
      return false;
    }
    const bool reserved_zero = load_le32(bytes + 84) == 0 && load_le32(bytes + 92) == 0 &&
                               std::all_of(bytes + 172, bytes + 255, [](std::uint8_t b) { return b == 0; });
    if (!reserved_zero) {
      add(Severity::error, 0, "", "STM32 v1 header with non-zero reserved or padding bytes: U-Boot does "
          "not recognise it and would read it as text", "header-invalid");
      return false;
    }
    const std::uint32_t length = load_le32(bytes + 76);
    const std::size_t available = text.size() - stm32_v1_header_size;
    if (length > available) {
      add(Severity::error, 0, "", "STM32 v1 header announces " + std::to_string(length) +
          " bytes of layout, the file holds " + std::to_string(available), "header-truncated");
      return false;
    }
    text = text.substr(stm32_v1_header_size, length);
    std::uint32_t sum = 0;
    for (char c : text) sum += static_cast<std::uint8_t>(c);
    const std::uint32_t expected = load_le32(bytes + 68);
    if (sum != expected) {
      add(Severity::error, 0, "", "STM32 v1 header checksum " + hex32(expected) +
          " does not match the layout text (" + hex32(sum) + "): U-Boot reports an invalid checksum",
          "layout-checksum");
      return false;
    }
    layout_.stm32_header = true;
    return true;
  }

  // U-Boot sizes its partition table from the line count before parsing: one more than the
  // number of newlines, minus the lines after a newline that start with '#'.
  std::size_t count_lines(std::string_view text) {
    std::size_t count = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '\n') continue;
      ++count;
      if (i + 1 < text.size() && text[i + 1] == '#') --count;
    }
    if (count > phase::last_user)
      add(Severity::error, 0, "", "U-Boot counts " + std::to_string(count) + " possible partition lines "
          "(all lines but comments, plus one after the final newline); at most 240 (0xF0): too many partition",
          "too-many-lines");
    return count;
  }

  // Reports a TAB before the end of a line. Returns true when U-Boot drops this (last) line.
  bool trailing_tab(const std::vector<RawLine>& lines, std::size_t index, const LayoutEntry* entry) {
    const RawLine& raw = lines[index];
    for (std::size_t j = index + 1; j < lines.size(); ++j) {
      if (!lines[j].has_content()) continue;
      std::string next = lines[j].comment ? std::string("#...") : lines[j].fields.front();
      add(Severity::error, raw.number, "", "the line ends with a TAB: U-Boot does not end the line there; "
          "it reads '" + next + "' (line " + std::to_string(lines[j].number) + ") as one more column of "
          "this line and parses the rest of line " + std::to_string(lines[j].number) +
          " shifted by one column", "trailing-tab");
      return false;
    }
    const bool selected = entry ? entry->select : raw.fields.front().find('P') != std::string::npos;
    add(selected ? Severity::error : Severity::warning, raw.number, "",
        "the last line ends with a TAB: U-Boot never completes it and ignores the line", "trailing-tab");
    return true;
  }

  bool parse_column(std::size_t column, const std::string& text, LayoutEntry& e) {
    switch (column) {
      case 0: return parse_option(text, e);
      case 1: return parse_id(text, e);
      case 2: return parse_name(text, e);
      case 3: return parse_type(text, e);
      case 4: return parse_ip(text, e);
      default: return parse_offset(text, e);
    }
  }

  const LayoutEntry* parse_line(const RawLine& raw) {
    // U-Boot parses each column as soon as it ends: a short line still gets its column errors.
    constexpr std::size_t columns = 6;  // Opt Id Name Type IP Offset
    LayoutEntry e;
    e.line = raw.number;
    bool ok = true;
    for (std::size_t c = 0; c < columns && c < raw.fields.size(); ++c)
      ok = parse_column(c, raw.fields[c], e) && ok;
    if (raw.fields.size() < columns) {
      add(Severity::error, raw.number, "", "only " + std::to_string(raw.fields.size()) +
          " column(s): a partition line needs at least 6 (Opt Id Name Type IP Offset)", "too-few-columns");
      return nullptr;
    }
    ok = parse_binary(raw.fields.size() > 6 ? raw.fields[6] : std::string(), e) && ok;
    if (!ok) return nullptr;
    layout_.entries.push_back(std::move(e));
    return &layout_.entries.back();
  }

  bool parse_option(const std::string& text, LayoutEntry& e) {
    e.option = text;
    if (text == "-") return true;
    for (char c : text) {
      switch (c) {
        case 'P': e.select = true; break;
        case 'E': e.empty = true; break;
        case 'D': e.erase = true; break;
        default:
          add(Severity::error, e.line, "Opt", std::string("invalid option '") + c + "' in '" + text +
              "': use '-' or a combination of P, E and D", "invalid-option");
          return false;
      }
    }
    if (!e.select) {
      add(Severity::error, e.line, "Opt", "missing 'P' in option '" + text +
          "': E and D only apply to a selected line", "missing-p");
      return false;
    }
    return true;
  }

  bool parse_id(const std::string& text, LayoutEntry& e) {
    const ParsedNumber n = uboot_strtoull(text, 0);
    if (n.end == 0 || n.end != text.size()) {
      add(Severity::error, e.line, "Id", "invalid phase value '" + text +
          "': expected a number (0x.. hex, leading 0 octal, else decimal)", "invalid-id");
      return false;
    }
    if (n.overflow || n.value > phase::last_user) {
      add(Severity::error, e.line, "Id", "invalid phase value '" + text + "': above 0xF0", "invalid-id");
      return false;
    }
    e.id = static_cast<std::uint32_t>(n.value);
    if (text.size() > 1 && text[0] == '0' && all_digits(text) && uboot_strtoull(text.substr(1), 10).value != n.value)
      add(Severity::warning, e.line, "Id", "Id '" + text + "' starts with 0: U-Boot reads it as octal, phase " +
          hex(n.value), "octal-id");
    return true;
  }

  bool parse_name(const std::string& text, LayoutEntry& e) {
    e.name = text;
    if (text.size() > max_name_length) {
      add(Severity::error, e.line, "Name", "partition name too long: '" + text + "' has " +
          std::to_string(text.size()) + " characters, at most 16", "name-too-long");
      return false;
    }
    return true;
  }

  bool parse_type(const std::string& text, LayoutEntry& e) {
    static const char* const others[] = {"FIP", "FWU_MDATA", "ENV", "System", "ESP", "FileSystem", "RawImage"};
    e.type = text;
    if (text.rfind("Binary", 0) == 0) {
      if (text.size() == 6) return true;
      if (text.size() < 8 || text[6] != '(' || text.back() != ')') {
        add(Severity::error, e.line, "Type", "type parsing error: '" + text + "' (write Binary or Binary(N))",
            "invalid-type");
        return false;
      }
      const std::string inner = text.substr(7, text.size() - 8);
      const ParsedNumber n = uboot_strtoull(inner, 10);
      const auto copies = static_cast<std::uint32_t>(std::min<std::uint64_t>(n.value, UINT32_MAX));
      if (!all_digits(inner) || copies == 0)
        add(Severity::warning, e.line, "Type", "U-Boot reads the copy count of '" + text + "' as " +
            std::to_string(copies) + (copies == 0 ? " and writes the image once" : ""), "copies-parse");
      e.copies = std::max<std::uint32_t>(copies, 1);
      return true;
    }
    if (std::find(std::begin(others), std::end(others), text) != std::end(others)) return true;
    add(Severity::error, e.line, "Type", "type parsing error: '" + text + "' is not one of Binary, Binary(N), "
        "FIP, FWU_MDATA, ENV, System, FileSystem, ESP, RawImage", "invalid-type");
    return false;
  }

  bool parse_ip(const std::string& text, LayoutEntry& e) {
    e.ip = text;
    if (text == "none") {
      e.device_kind = "none";
      return true;
    }
    // Same prefix order as U-Boot: "nor" before "nand", "ram" takes any suffix.
    static const char* const kinds[] = {"mmc", "nor", "nand", "spi-nand"};
    for (const char* kind : kinds) {
      const std::string_view k(kind);
      if (text.rfind(k, 0) != 0) continue;
      if (text.size() == k.size() + 1 && text.back() >= '0' && text.back() <= '9') {
        e.device_kind = kind;
        e.device_index = text.back() - '0';
        return true;
      }
      break;
    }
    if (text.rfind("ram", 0) == 0) {
      e.device_kind = "ram";
      e.device_index = 0;
      if (text != "ram")
        add(Severity::warning, e.line, "IP", "U-Boot reads '" + text + "' as 'ram' (DDR)", "ip-ram");
      return true;
    }
    add(Severity::error, e.line, "IP", "ip parsing error: '" + text + "' is not none, ram, or mmcN, norN, "
        "nandN, spi-nandN with a one-digit N", "invalid-ip");
    return false;
  }

  bool parse_offset(const std::string& text, LayoutEntry& e) {
    e.offset_text = text;
    if (text.rfind("boot", 0) == 0) {
      if (text == "boot1" || text == "boot2") {
        e.hw_partition = text[4] - '0';
        return true;
      }
      add(Severity::error, e.line, "Offset", "invalid part '" + text +
          "': only boot1 and boot2 name the eMMC hardware boot partitions", "invalid-offset");
      return false;
    }
    const ParsedNumber n = uboot_strtoull(text, 10);
    if (n.end == 0 || n.end != text.size()) {
      add(Severity::error, e.line, "Offset", "invalid offset '" + text +
          "': write 0x-prefixed hex, decimal, boot1 or boot2" +
          (text == "none" ? " ('none' is not an offset; IP none lines use 0x0)" : ""), "invalid-offset");
      return false;
    }
    if (n.overflow) {
      add(Severity::error, e.line, "Offset", "invalid offset '" + text + "': above 64 bits", "invalid-offset");
      return false;
    }
    e.offset = n.value;
    return true;
  }

  bool parse_binary(const std::string& text, LayoutEntry& e) {
    std::string out;
    bool resolved = true;
    std::size_t i = 0;
    while (i < text.size()) {
      const std::size_t open = text.find('%', i);
      if (open == std::string::npos) break;
      const std::size_t close = text.find('%', open + 1);
      if (close == std::string::npos) break;
      const std::string name = text.substr(open + 1, close - open - 1);
      const bool is_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
      if (!is_name) {  // a lone '%': keep it and look again from the second one
        out += text.substr(i, close - i);
        i = close;
        continue;
      }
      out += text.substr(i, open - i);
      const auto it = options_.defines.find(name);
      if (it == options_.defines.end()) {
        add(Severity::error, e.line, "Binary", "placeholder %" + name + "% in Binary '" + text +
            "' has no value (give it in the defines)", "unresolved-placeholder");
        resolved = false;
        out += text.substr(open, close - open + 1);
      } else {
        out += it->second;
      }
      i = close + 1;
    }
    out += text.substr(std::min(i, text.size()));
    e.binary = out;
    if (resolved && !out.empty() && out != "none") {
      std::filesystem::path p(out);
      e.binary_path = p.is_absolute() ? p : layout_.file.parent_path() / p;
    }
    return true;  // an unresolved placeholder does not stop the line from being a partition
  }

  FlashLayout& layout_;
  const ParseOptions& options_;
};

}  // namespace

const char* to_string(Severity severity) noexcept {
  return severity == Severity::error ? "error" : "warning";
}

std::string format_diagnostic(const Diagnostic& d, const std::filesystem::path& file) {
  std::string out;
  if (!file.empty()) out += file.string();
  if (d.line != 0) out += (out.empty() ? "line " : ":") + std::to_string(d.line);
  if (!out.empty()) out += ": ";
  out += to_string(d.severity);
  out += ": ";
  if (!d.column.empty()) out += d.column + ": ";
  out += d.message;
  if (!d.rule.empty()) out += " [" + d.rule + "]";
  return out;
}

std::string LayoutEntry::base_type() const {
  const std::size_t paren = type.find('(');
  return paren == std::string::npos ? type : type.substr(0, paren);
}

const LayoutEntry* FlashLayout::find(std::uint32_t id) const {
  for (const auto& e : entries)
    if (e.id == id) return &e;
  return nullptr;
}

const LayoutEntry* FlashLayout::find_none(std::uint32_t id) const {
  for (const auto& e : entries)
    if (e.id == id && !e.is_device()) return &e;
  return nullptr;
}

bool FlashLayout::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(),
                      [](const Diagnostic& d) { return d.severity == Severity::error; });
}

FlashLayout parse_layout(std::string_view text, const std::filesystem::path& file, const ParseOptions& options) {
  FlashLayout layout;
  layout.file = file;
  Parser(layout, options).parse(text);
  return layout;
}

FlashLayout load_layout(const std::filesystem::path& file, const ParseOptions& options) {
  ErrorContext context;
  context.operation = "load_layout";
  context.file = file.string();
  std::uint64_t size = 0;
  try {
    size = check_input_file(file, UINT64_MAX);  // a FIFO, a device node, a directory: refused
  } catch (const LayoutError& e) {
    throw LayoutError(e.code(), "cannot read the flash layout: " + e.message(), context);
  }
  if (size > max_layout_bytes) {  // refused before reading or parsing it
    FlashLayout layout;
    layout.file = file;
    layout.diagnostics.push_back({Severity::error, 0, "", too_large_message(size), "layout-too-large"});
    return layout;
  }
  const Bytes bytes = read_file(file, max_layout_bytes, "U-Boot's flash-layout buffer");
  return parse_layout(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), file, options);
}

std::vector<ProgrammingStep> programming_order(const FlashLayout& layout) {
  std::vector<ProgrammingStep> steps;
  for (std::uint32_t phase : {0x01u, 0x02u, 0x03u})
    if (const LayoutEntry* e = layout.find_none(phase)) steps.push_back({phase, e});
  steps.push_back({0x00, nullptr});
  // U-Boot's next phase: the lowest id above the current one whose first line is selected and
  // not empty.
  for (std::uint32_t phase = 0x01; phase <= mp1boot::phase::last_user; ++phase) {
    const LayoutEntry* e = layout.find(phase);
    if (e != nullptr && e->is_programmed()) steps.push_back({phase, e});
  }
  return steps;
}

void require_ok(const FlashLayout& layout, const std::vector<Diagnostic>& checks) {
  std::vector<const Diagnostic*> errors;
  bool syntax = false;
  for (const auto& d : layout.diagnostics)
    if (d.severity == Severity::error) {
      errors.push_back(&d);
      syntax = true;
    }
  for (const auto& d : checks)
    if (d.severity == Severity::error) errors.push_back(&d);
  if (errors.empty()) return;
  const std::string name = layout.file.empty() ? std::string("<layout>") : layout.file.string();
  std::string message = "flash layout " + name + " has " + std::to_string(errors.size()) +
                        (errors.size() == 1 ? " error:" : " errors:");
  for (const Diagnostic* d : errors) {
    message += "\n" + name;
    if (d->line != 0) message.append(":").append(std::to_string(d->line));
    message += ": " + d->message;
  }
  ErrorContext context;
  context.operation = "check_layout";
  context.file = layout.file.string();
  if (errors.front()->line != 0) context.layout_line = errors.front()->line;
  throw LayoutError(syntax ? errc::layout_syntax : errc::layout_rule, message, context);
}

std::string rewrite_options(std::string_view text, const std::map<std::uint32_t, std::string>& options_by_line) {
  std::string out;
  out.reserve(text.size() + options_by_line.size() * 2);
  std::uint32_t line = 1;
  std::size_t done = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    auto it = options_by_line.find(line);
    if (it == options_by_line.end()) {
      out += l;
    } else {
      std::size_t a = 0;
      while (a < l.size() && (l[a] == ' ' || l[a] == '\t')) ++a;
      std::size_t b = a;
      while (b < l.size() && l[b] != ' ' && l[b] != '\t' && l[b] != '\r') ++b;
      if (a == b)
        throw UsageError(errc::usage, "layout line " + std::to_string(line) + " has no option field to rewrite");
      out += l.substr(0, a);
      out += it->second;
      out += l.substr(b);
      ++done;
    }
    if (end == text.size()) break;
    out += '\n';
    pos = end + 1;
    ++line;
  }
  if (done != options_by_line.size())
    throw UsageError(errc::usage, "layout has only " + std::to_string(line) + " lines: cannot rewrite line " +
                                      std::to_string(options_by_line.rbegin()->first));
  return out;
}

}  // namespace mp1boot::image
