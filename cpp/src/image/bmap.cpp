// SPDX-License-Identifier: MIT
// Block-map parser: a small XML reader (elements, attributes, text, comments, declaration) that
// keeps line numbers, then the bmap rules on the element tree. See bmap.hpp.
#include "mp1boot/image/bmap.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>

#include "mp1boot/error.hpp"

namespace mp1boot::image {

namespace {

struct Element {
  std::string name;
  std::uint32_t line = 0;
  std::map<std::string, std::string> attributes;
  std::string text;
  std::uint32_t text_line = 0;
  std::vector<std::unique_ptr<Element>> children;

  const Element* child(std::string_view n) const {
    for (const auto& c : children)
      if (c->name == n) return c.get();
    return nullptr;
  }
};

[[noreturn]] void fail(const std::string& file, std::uint32_t line, const std::string& field, const std::string& what) {
  ErrorContext c{.operation = "bmap", .layout_line = line, .file = file};
  throw LayoutError(errc::bad_image, file + ":" + std::to_string(line) + ": " + field + ": " + what, c);
}

// Reads the XML subset of bmap files into an element tree; every syntax error names its line.
class XmlReader {
 public:
  XmlReader(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  std::unique_ptr<Element> document() {
    std::unique_ptr<Element> root;
    std::vector<Element*> open;
    while (pos_ < s_.size()) {
      if (s_[pos_] != '<') {
        const std::uint32_t line = line_;
        std::string text = decode(take_until('<'), line);
        if (open.empty()) {
          if (!blank(text)) fail(file_, line, "XML", "text outside the root element");
        } else {
          if (open.back()->text_line == 0 && !blank(text)) open.back()->text_line = line;
          open.back()->text += text;
        }
        continue;
      }
      if (starts("<?")) {
        skip_past("?>", "processing instruction");
      } else if (starts("<!--")) {
        skip_past("-->", "comment");
      } else if (starts("<!")) {
        fail(file_, line_, "XML", "DOCTYPE and CDATA are not used by block maps");
      } else if (starts("</")) {
        const std::uint32_t line = line_;
        advance(2);
        std::string name = take_name();
        skip_space();
        expect('>', "end tag </" + name + ">");
        if (open.empty() || open.back()->name != name)
          fail(file_, line, "XML",
               "end tag </" + name + "> does not match " + (open.empty() ? std::string("any open element")
                                                                         : "<" + open.back()->name + "> of line " +
                                                                               std::to_string(open.back()->line)));
        open.pop_back();
      } else {
        auto e = std::make_unique<Element>();
        e->line = line_;
        advance(1);
        e->name = take_name();
        bool closed = attributes(*e);
        Element* raw = e.get();
        if (open.empty()) {
          if (root) fail(file_, e->line, "XML", "a second root element <" + e->name + ">");
          root = std::move(e);
        } else {
          open.back()->children.push_back(std::move(e));
        }
        if (!closed) open.push_back(raw);
      }
    }
    if (!open.empty())
      fail(file_, line_, "XML", "the file ends inside <" + open.back()->name + "> of line " + std::to_string(open.back()->line));
    if (!root) fail(file_, line_, "XML", "no root element (empty or not an XML file)");
    return root;
  }

 private:
  static bool blank(std::string_view t) {
    return std::all_of(t.begin(), t.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  }
  bool starts(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }
  void advance(std::size_t n) {
    for (std::size_t i = 0; i < n && pos_ < s_.size(); ++i, ++pos_)
      if (s_[pos_] == '\n') ++line_;
  }
  std::string take_until(char stop) {
    std::size_t end = s_.find(stop, pos_);
    if (end == std::string_view::npos) end = s_.size();
    std::string out(s_.substr(pos_, end - pos_));
    advance(end - pos_);
    return out;
  }
  void skip_past(std::string_view end, const char* what) {
    const std::uint32_t line = line_;
    std::size_t at = s_.find(end, pos_);
    if (at == std::string_view::npos) fail(file_, line, "XML", std::string("unterminated ") + what);
    advance(at + end.size() - pos_);
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) advance(1);
  }
  void expect(char c, const std::string& where) {
    if (pos_ >= s_.size() || s_[pos_] != c)
      fail(file_, line_, "XML", std::string("expected '") + c + "' in " + where);
    advance(1);
  }
  std::string take_name() {
    std::size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                                s_[pos_] == '-' || s_[pos_] == '.' || s_[pos_] == ':'))
      ++pos_;
    if (pos_ == start) fail(file_, line_, "XML", "expected a name after '<'");
    return std::string(s_.substr(start, pos_ - start));
  }
  // Attributes up to '>' or "/>"; true for an empty-element tag.
  bool attributes(Element& e) {
    for (;;) {
      skip_space();
      if (pos_ >= s_.size()) fail(file_, e.line, "XML", "unterminated tag <" + e.name + ">");
      if (starts("/>")) {
        advance(2);
        return true;
      }
      if (s_[pos_] == '>') {
        advance(1);
        return false;
      }
      const std::uint32_t line = line_;
      std::string name = take_name();
      skip_space();
      expect('=', "attribute " + name + " of <" + e.name + ">");
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\''))
        fail(file_, line, "XML", "attribute " + name + " of <" + e.name + "> has no quoted value");
      const char quote = s_[pos_];
      advance(1);
      std::string value = decode(take_until(quote), line);
      expect(quote, "attribute " + name + " of <" + e.name + ">");
      if (!e.attributes.emplace(name, value).second)
        fail(file_, line, "XML", "attribute " + name + " appears twice in <" + e.name + ">");
    }
  }
  std::string decode(const std::string& raw, std::uint32_t line) const {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '&') {
        out += raw[i];
        continue;
      }
      static const std::pair<std::string_view, char> entities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool found = false;
      for (const auto& [name, c] : entities)
        if (std::string_view(raw).substr(i, name.size()) == name) {
          out += c;
          i += name.size() - 1;
          found = true;
          break;
        }
      if (!found) fail(file_, line, "XML", "unknown entity or bare '&'");
    }
    return out;
  }

  std::string_view s_;
  const std::string& file_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
};

std::string trim(std::string_view t) {
  std::size_t a = 0, b = t.size();
  while (a < b && std::isspace(static_cast<unsigned char>(t[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(t[b - 1]))) --b;
  return std::string(t.substr(a, b - a));
}

std::optional<std::uint64_t> parse_u64(std::string_view t) {
  if (t.empty() || t.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

struct Fields {
  const Element& root;
  const std::string& file;

  const Element& required(std::string_view name) const {
    const Element* e = root.child(name);
    if (!e) fail(file, root.line, std::string(name), "missing in <bmap>");
    return *e;
  }
  std::uint64_t number(std::string_view name) const {
    const Element& e = required(name);
    const std::string v = trim(e.text);
    auto n = parse_u64(v);
    if (!n) fail(file, e.line, std::string(name), "\"" + v + "\" is not a decimal number");
    return *n;
  }
};

std::size_t hex_length(BmapChecksum t) { return t == BmapChecksum::sha256 ? 64 : t == BmapChecksum::sha1 ? 40 : 0; }

std::string checked_checksum(std::string value, BmapChecksum type, const std::string& file, std::uint32_t line,
                             const std::string& field) {
  std::transform(value.begin(), value.end(), value.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  const bool hex = std::all_of(value.begin(), value.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (!hex || value.size() != hex_length(type))
    fail(file, line, field,
         "\"" + value + "\" is not a " + to_string(type) + " checksum (" + std::to_string(hex_length(type)) +
             " hex digits)");
  return value;
}

void parse_ranges(const Element& map, Bmap& b, const std::string& attribute) {
  const std::string& file = b.file;
  std::optional<std::uint64_t> previous_last;
  std::uint64_t mapped = 0;
  for (const auto& r : map.children) {
    if (r->name != "Range") fail(file, r->line, "BlockMap", "unexpected element <" + r->name + ">");
    const std::string text = trim(r->text);
    BmapRange range;
    range.line = r->line;
    const auto dash = text.find('-');
    auto first = parse_u64(trim(std::string_view(text).substr(0, dash)));
    auto last = dash == std::string::npos ? first : parse_u64(trim(std::string_view(text).substr(dash + 1)));
    if (!first || !last) fail(file, r->line, "Range", "\"" + text + "\" is not a block number or FIRST-LAST");
    range.first = *first;
    range.last = *last;
    if (range.first > range.last)
      fail(file, r->line, "Range", text + ": the first block is after the last");
    if (range.last >= b.blocks_count)
      fail(file, r->line, "Range",
           text + ": block " + std::to_string(range.last) + " is outside the image (" + std::to_string(b.blocks_count) +
               " blocks)");
    if (previous_last && range.first <= *previous_last)
      fail(file, r->line, "Range",
           text + (b.ranges.back().first <= range.first
                       ? ": overlaps the previous range (which ends at block " + std::to_string(*previous_last) + ")"
                       : ": not in ascending order (the previous range ends at block " +
                             std::to_string(*previous_last) + ")"));
    if (b.checksum_type != BmapChecksum::none) {
      auto it = r->attributes.find(attribute);
      if (it != r->attributes.end())
        range.checksum = checked_checksum(it->second, b.checksum_type, file, r->line, "Range " + attribute);
    }
    previous_last = range.last;
    mapped += range.last - range.first + 1;
    b.ranges.push_back(std::move(range));
  }
  if (mapped != b.mapped_blocks)
    fail(file, map.line, "MappedBlocksCount",
         "the ranges map " + std::to_string(mapped) + " blocks but MappedBlocksCount says " +
             std::to_string(b.mapped_blocks));
}

}  // namespace

const char* to_string(BmapChecksum type) noexcept {
  switch (type) {
    case BmapChecksum::sha1: return "sha1";
    case BmapChecksum::sha256: return "sha256";
    default: return "none";
  }
}

ByteRange Bmap::bytes_of(const BmapRange& range) const {
  const std::uint64_t offset = range.first * block_size;
  const std::uint64_t end = std::min<std::uint64_t>((range.last + 1) * block_size, image_size);
  return {offset, end > offset ? end - offset : 0};
}

std::uint64_t Bmap::mapped_bytes() const {
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += bytes_of(r).length;
  return n;
}

Bmap parse_bmap(std::string_view text, const std::string& file) {
  const auto root = XmlReader(text, file).document();
  if (root->name != "bmap") fail(file, root->line, "bmap", "the root element is <" + root->name + ">, not <bmap>");
  Bmap b;
  b.file = file;
  auto version = root->attributes.find("version");
  if (version == root->attributes.end()) fail(file, root->line, "bmap version", "missing");
  b.version = trim(version->second);
  const auto dot = b.version.find('.');
  auto major = parse_u64(std::string_view(b.version).substr(0, dot));
  auto minor = dot == std::string::npos ? std::optional<std::uint64_t>() : parse_u64(std::string_view(b.version).substr(dot + 1));
  if (!major || !minor) fail(file, root->line, "bmap version", "\"" + b.version + "\" is not MAJOR.MINOR");
  if (*major < 1 || *major > 2)
    fail(file, root->line, "bmap version", b.version + " is not supported (1.x and 2.x are)");

  const Fields f{*root, file};
  b.image_size = f.number("ImageSize");
  const std::uint64_t block_size = f.number("BlockSize");
  if (block_size == 0 || (block_size & (block_size - 1)) != 0 || block_size > (1u << 30))
    fail(file, f.required("BlockSize").line, "BlockSize", std::to_string(block_size) + " is not a power of two");
  b.block_size = static_cast<std::uint32_t>(block_size);
  b.blocks_count = f.number("BlocksCount");
  const std::uint64_t expected_blocks = (b.image_size + block_size - 1) / block_size;
  if (b.blocks_count != expected_blocks)
    fail(file, f.required("BlocksCount").line, "BlocksCount",
         std::to_string(b.blocks_count) + " but ImageSize " + std::to_string(b.image_size) + " in blocks of " +
             std::to_string(block_size) + " makes " + std::to_string(expected_blocks));
  b.mapped_blocks = f.number("MappedBlocksCount");

  // 1.0-1.2: no checksums; 1.3: SHA-1; 1.4 (= 2.0, bmap-tools' numbering slip) and 2.x: ChecksumType.
  std::string range_attribute, file_field;
  if (*major >= 2 || *minor >= 4) {
    const Element& type = f.required("ChecksumType");
    const std::string t = trim(type.text);
    if (t == "sha256") b.checksum_type = BmapChecksum::sha256;
    else if (t == "sha1") b.checksum_type = BmapChecksum::sha1;
    else fail(file, type.line, "ChecksumType", "\"" + t + "\" is not supported (sha256, sha1)");
    range_attribute = "chksum";
    file_field = "BmapFileChecksum";
  } else if (*minor == 3) {
    b.checksum_type = BmapChecksum::sha1;
    range_attribute = "sha1";
    file_field = "BmapFileSHA1";
  }
  if (!file_field.empty()) {
    if (const Element* e = root->child(file_field)) {
      b.file_checksum = checked_checksum(trim(e->text), b.checksum_type, file, e->line, file_field);
      b.file_checksum_line = e->line;
      // bmaptool hashes the file with this value written as zeros (its first occurrence).
      b.text_for_file_checksum = std::string(text);
      const std::string raw = trim(e->text);
      const auto at = b.text_for_file_checksum.find(raw);
      if (at != std::string::npos) b.text_for_file_checksum.replace(at, raw.size(), std::string(raw.size(), '0'));
    }
  }
  parse_ranges(f.required("BlockMap"), b, range_attribute);
  return b;
}

Bmap load_bmap(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  if (in) text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in && !in.eof())
    throw LayoutError(errc::file_not_found, "cannot read the block map " + path.string(),
                      ErrorContext{.operation = "bmap", .file = path.string()});
  return parse_bmap(text, path.string());
}

void check_bmap_matches(const Bmap& bmap, std::uint64_t binary_size, const std::filesystem::path& binary) {
  if (bmap.image_size == binary_size) return;
  throw LayoutError(errc::bad_image,
                    bmap.file + ": ImageSize: " + std::to_string(bmap.image_size) + " bytes, but " + binary.string() +
                        " has " + std::to_string(binary_size) + " bytes: the block map belongs to another image",
                    ErrorContext{.operation = "bmap", .file = bmap.file});
}

std::filesystem::path find_bmap_beside(const std::filesystem::path& image) {
  std::error_code ec;
  std::filesystem::path a = image;
  a += ".bmap";
  if (std::filesystem::is_regular_file(a, ec)) return a;
  std::filesystem::path b = image;
  b.replace_extension(".bmap");
  if (b != image && std::filesystem::is_regular_file(b, ec)) return b;
  return {};
}

}  // namespace mp1boot::image
