// SPDX-License-Identifier: MIT
// STM32 image header: parsing, checksum, wrapping, ROM checks and description (PROTOCOL.md 6).
// v1 and v2.0/v2.2 share their first 0x68 bytes; v2.3 has a 96-byte signature, which moves every
// later field 0x20 bytes on. A Layout records that shift and the size of the fixed part.
#include "mp1boot/image/stm32_header.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "mp1boot/error.hpp"

namespace mp1boot::image {

namespace {

constexpr std::size_t off_magic = 0x00;
constexpr std::size_t off_signature = 0x04;
// v1/v2 offsets; add Layout::shift for v2.3.
constexpr std::size_t off_checksum = 0x44;
constexpr std::size_t off_version = 0x48;
constexpr std::size_t off_length = 0x4C;
constexpr std::size_t off_entry = 0x50;
constexpr std::size_t off_load = 0x58;
constexpr std::size_t off_image_version = 0x60;
constexpr std::size_t off_flags = 0x64;
constexpr std::size_t off_ecdsa_or_extlen = 0x68;
constexpr std::size_t off_pubkey_or_type = 0x6C;
constexpr std::size_t off_v1_binary_type = 0xFF;
constexpr std::size_t off_v23_ns_length = 0x98;
constexpr std::size_t off_v23_ns_hash = 0x9C;
constexpr std::size_t off_v23_version = off_version + 0x20;
// Authentication extension parameters: key index, key count, algorithm, then the public key.
constexpr std::size_t auth_param_pubkey = 12;

struct Layout {
  bool v1;
  std::size_t shift;  ///< 0 for v1/v2.0/v2.2, 0x20 for v2.3
  std::size_t base;   ///< fixed part: 256 (v1, whole header), 0x80, 0xA0
};

std::string off(std::size_t offset) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%zx", offset);
  return buf;
}

[[noreturn]] void fail(errc code, std::string message, std::string_view file) {
  ErrorContext c;
  c.file = std::string(file);
  throw LayoutError(code, std::move(message), std::move(c));
}

std::uint32_t le32(ByteView d, std::size_t at) { return load_le32(d.data() + at); }

int major_of(std::uint32_t v) { return static_cast<int>((v >> 16) & 0xFF); }
int minor_of(std::uint32_t v) { return static_cast<int>((v >> 8) & 0xFF); }

// "v1", "v2", "v2.2": how the ROM-check messages name a header version.
std::string short_version(std::uint32_t v) {
  std::string s = std::string("v").append(std::to_string(major_of(v)));
  if (minor_of(v) != 0) s.append(".").append(std::to_string(minor_of(v)));
  return s;
}

Layout detect_layout(ByteView d, std::string_view file) {
  // v2.3 first: in v1/v2 images offset 0x68 holds the ECDSA algorithm or the extension length,
  // never 0x00020300, while offset 0x48 of a signed v2.3 image holds signature bytes.
  if (le32(d, off_v23_version) == version_v2_3) return {false, 0x20, v2_3_base_size};
  const std::uint32_t v = le32(d, off_version);
  if ((v >> 24) == 0 && major_of(v) == 1 && minor_of(v) == 0) return {true, 0, v1_header_size};
  if ((v >> 24) == 0 && major_of(v) == 2 && minor_of(v) <= 2) return {false, 0, v2_base_size};
  fail(errc::bad_image,
       "unknown STM32 header version " + hex32(v) + " at offset " + off(off_version) + " (known: " +
           hex32(version_v1_0) + ", " + hex32(version_v2_0) + ", " + hex32(version_v2_2) + ", " +
           hex32(version_v2_3) + " at " + off(off_v23_version) + ")",
       file);
}

void parse_extensions(ByteView d, std::size_t begin, std::size_t end, Stm32Header& h,
                      std::string_view file) {
  std::size_t at = begin;
  while (at < end) {
    if (end - at < 8)
      fail(errc::bad_image,
           "bad STM32 header extension at offset " + off(at) + ": " + std::to_string(end - at) +
               " bytes left of the extensions length, an extension header needs 8",
           file);
    const std::uint32_t type = le32(d, at);
    const std::uint32_t length = le32(d, at + 4);
    if (length < 8 || length > end - at)
      fail(errc::bad_image,
           "bad STM32 header extension at offset " + off(at) + ": length " + hex32(length) +
               " at offset " + off(at + 4) + " (must be 8.." + std::to_string(end - at) + ")",
           file);
    Extension e{type, length, Bytes(d.begin() + static_cast<std::ptrdiff_t>(at + 8),
                                    d.begin() + static_cast<std::ptrdiff_t>(at + length))};
    if (type == ext_authentication && e.parameters.size() >= auth_param_pubkey + 64)
      std::copy_n(e.parameters.begin() + auth_param_pubkey, 64, h.public_key.begin());
    h.extensions.push_back(std::move(e));
    at += length;
  }
}

}  // namespace

int Stm32Header::major() const { return major_of(version); }
int Stm32Header::minor() const { return minor_of(version); }

bool Stm32Image::checksum_ok() const { return computed_checksum == header.checksum; }

std::uint32_t payload_checksum(ByteView payload) {
  std::uint32_t sum = 0;
  for (std::uint8_t b : payload) sum += b;
  return sum;
}

bool has_stm32_magic(ByteView data) { return data.size() >= 4 && le32(data, off_magic) == header_magic; }

std::string version_name(std::uint32_t version) {
  return std::string("v").append(std::to_string(major_of(version))).append(".").append(std::to_string(minor_of(version)));
}

std::string_view binary_type_name(std::uint32_t t) {
  if (t == 0x00) return "U-Boot";
  if (t >= 0x10 && t <= 0x1F) return "TF-A";
  if (t >= 0x20 && t <= 0x2F) return "OP-TEE";
  if (t == 0x30) return "Cortex-M33 firmware";
  return "unknown";
}

Stm32Header parse_header(ByteView d, std::string_view file) {
  if (d.size() < 4)
    fail(errc::bad_image,
         "truncated STM32 header: the data ends at offset " + off(d.size()) +
             ", a header needs at least " + std::to_string(v1_header_size) + " bytes",
         file);
  if (!has_stm32_magic(d))
    fail(errc::bad_image,
         "not an STM32 image: bad magic at offset " + off(off_magic) + " (found " +
             to_hex(d.subspan(0, 4)) + ")",
         file);
  if (d.size() < v1_header_size)
    fail(errc::bad_image,
         "truncated STM32 header: the data ends at offset " + off(d.size()) +
             ", a header needs at least " + std::to_string(v1_header_size) + " bytes",
         file);

  const Layout L = detect_layout(d, file);
  const std::size_t s = L.shift;
  Stm32Header h;
  h.version = le32(d, off_version + s);
  h.checksum = le32(d, off_checksum + s);
  h.image_length = le32(d, off_length + s);
  h.entry_point = le32(d, off_entry + s);
  h.load_address = le32(d, off_load + s);
  h.image_version = le32(d, off_image_version + s);
  h.option_flags = le32(d, off_flags + s);
  std::copy_n(d.begin() + off_signature, h.signature.size(), h.signature.begin());

  if (L.v1) {
    h.header_size = static_cast<std::uint32_t>(v1_header_size);
    h.ecdsa_algorithm = le32(d, off_ecdsa_or_extlen);
    std::copy_n(d.begin() + off_pubkey_or_type, h.public_key.size(), h.public_key.begin());
    h.binary_type = d[off_v1_binary_type];
    return h;
  }

  h.extensions_length = le32(d, off_ecdsa_or_extlen + s);
  h.binary_type = le32(d, off_pubkey_or_type + s);
  if (s != 0) {
    h.non_secure_payload_length = le32(d, off_v23_ns_length);
    h.non_secure_payload_hash = le32(d, off_v23_ns_hash);
  }
  const std::uint64_t size = std::uint64_t{L.base} + h.extensions_length;
  if (size > d.size())
    fail(errc::bad_image,
         "truncated STM32 header: extensions length " + hex32(h.extensions_length) + " at offset " +
             off(off_ecdsa_or_extlen + s) + " makes a " + std::to_string(size) +
             "-byte header but the data ends at offset " + off(d.size()),
         file);
  h.header_size = static_cast<std::uint32_t>(size);
  parse_extensions(d, L.base, static_cast<std::size_t>(size), h, file);
  return h;
}

Stm32Image parse_image(ByteView d, std::string_view file) {
  Stm32Image img;
  img.header = parse_header(d, file);
  const Stm32Header& h = img.header;
  const std::uint64_t need = std::uint64_t{h.header_size} + h.image_length;
  if (need > d.size()) {
    const std::size_t length_at = off_length + (h.major() == 2 && h.minor() == 3 ? 0x20 : 0);
    fail(errc::bad_image,
         "truncated STM32 image: image length " + std::to_string(h.image_length) + " (offset " +
             off(length_at) + ") after a " + std::to_string(h.header_size) + "-byte header needs " +
             std::to_string(need) + " bytes but the data has only " + std::to_string(d.size()) +
             " (payload ends early at offset " + off(d.size()) + ")",
         file);
  }
  img.payload = d.subspan(h.header_size, h.image_length);
  img.computed_checksum = payload_checksum(img.payload);
  img.trailing_bytes = d.size() - static_cast<std::size_t>(need);
  return img;
}

WrapOptions wrap_options_for(const SocInfo& soc) {
  WrapOptions o;
  o.header_major = major_of(soc.header_version);
  o.header_minor = minor_of(soc.header_version);
  o.load_address = soc.rom_download_address + soc.header_size;
  o.entry_point = o.load_address;
  return o;
}

Bytes wrap(ByteView payload, const WrapOptions& o) {
  const bool v1 = o.header_major == 1 && o.header_minor == 0;
  const bool v2 = o.header_major == 2 && (o.header_minor == 0 || o.header_minor == 2);
  if (!v1 && !v2)
    throw UsageError(errc::usage, "cannot wrap with STM32 header v" + std::to_string(o.header_major) +
                                      "." + std::to_string(o.header_minor) +
                                      " (supported: v1.0, v2.0, v2.2)");
  if (payload.size() > std::numeric_limits<std::uint32_t>::max())
    throw UsageError(errc::usage, "payload of " + std::to_string(payload.size()) +
                                      " bytes is too large for an STM32 image (limit 4 GiB - 1)");
  if (v1 && o.binary_type > 0xFF)
    throw UsageError(errc::usage, "binary type " + hex32(o.binary_type) +
                                      " does not fit the one-byte field of a v1 header");

  const std::size_t header_size = v1 ? v1_header_size : v2_base_size + v2_padding_length;
  Bytes out(header_size + payload.size(), 0);
  std::uint8_t* p = out.data();
  store_le32(p + off_magic, header_magic);
  store_le32(p + off_checksum, payload_checksum(payload));
  store_le32(p + off_version, static_cast<std::uint32_t>(o.header_major) << 16 |
                                  static_cast<std::uint32_t>(o.header_minor) << 8);
  store_le32(p + off_length, static_cast<std::uint32_t>(payload.size()));
  store_le32(p + off_entry, o.entry_point);
  store_le32(p + off_load, o.load_address);
  store_le32(p + off_image_version, o.image_version);
  if (v1) {
    store_le32(p + off_flags, o.option_flags);
    store_le32(p + off_ecdsa_or_extlen, o.ecdsa_algorithm);
    p[off_v1_binary_type] = static_cast<std::uint8_t>(o.binary_type);
  } else {
    store_le32(p + off_flags, ext_flag_padding);
    store_le32(p + off_ecdsa_or_extlen, v2_padding_length);
    store_le32(p + off_pubkey_or_type, o.binary_type);
    store_le32(p + v2_base_size, ext_padding);
    store_le32(p + v2_base_size + 4, v2_padding_length);
  }
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(header_size));
  return out;
}

void check_for_rom(const Stm32Image& img, const SocInfo& soc, std::string_view file) {
  const Stm32Header& h = img.header;
  if (h.major() != major_of(soc.header_version)) {
    // Name the family that uses this header version: exact match first, then same major.
    std::string owner;
    for (const SocInfo& s : all_socs())
      if (s.header_version == h.version) owner = std::string(s.family_name);
    if (owner.empty())
      for (const SocInfo& s : all_socs())
        if (major_of(s.header_version) == h.major()) {
          owner = std::string(s.family_name);
          break;
        }
    fail(errc::bad_image,
         "header " + short_version(h.version) + " image" + (owner.empty() ? "" : " (" + owner + ")") +
             " but the device is " + std::string(soc.family_name) + ", which needs header " +
             short_version(soc.header_version),
         file);
  }
  if (h.image_length > soc.max_fsbl_payload)
    fail(errc::bad_image,
         "FSBL payload too large for " + std::string(soc.family_name) + ": " +
             std::to_string(h.image_length) + " bytes, the ROM accepts at most " +
             std::to_string(soc.max_fsbl_payload),
         file);
  if (!img.checksum_ok())
    fail(errc::bad_checksum,
         "payload checksum mismatch: header says " + hex32(h.checksum) + ", computed " +
             hex32(img.computed_checksum) + " over " + std::to_string(img.payload.size()) +
             " payload bytes",
         file);
}

namespace {

std::string file_kind(std::filesystem::file_type t) {
  using std::filesystem::file_type;
  switch (t) {
    case file_type::directory: return "a directory";
    case file_type::fifo: return "a FIFO (named pipe): reading it could block forever";
    case file_type::character: return "a character device: reading it may never end";
    case file_type::block: return "a block device";
    case file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}

std::string size_text(std::uint64_t n) {
  std::string s = std::to_string(n) + " bytes";
  if (n >= 1024 && n % 1024 == 0) s += " (" + std::to_string(n / 1024) + " KiB)";
  return s;
}

Bytes read_prefix(const std::filesystem::path& path, std::uint64_t n, const ErrorContext& c) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw LayoutError(errc::io, std::string("cannot open: ") + std::strerror(err), c);
  }
  Bytes out(static_cast<std::size_t>(n));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
  if (in.bad()) throw LayoutError(errc::io, "read error", c);
  out.resize(static_cast<std::size_t>(in.gcount()));  // the file may have shrunk since stat()
  return out;
}

}  // namespace

std::uint64_t check_input_file(const std::filesystem::path& path, std::uint64_t limit, std::string_view limit_what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  ErrorContext c;
  c.file = path.string();
  if (!std::filesystem::exists(status)) throw LayoutError(errc::file_not_found, "no such file", c);
  if (!std::filesystem::is_regular_file(status))
    throw LayoutError(errc::file_not_found, "is " + file_kind(status.type()) + ", not a regular file", c);
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw LayoutError(errc::io, "cannot read its size: " + ec.message(), c);
  if (size > limit)
    throw LayoutError(errc::file_not_found, "is " + size_text(size) + ", more than the " + size_text(limit) + " " +
                                    (limit_what.empty() ? std::string("read into memory at most")
                                                        : "that " + std::string(limit_what) + " accepts"),
                      c);
  return size;
}

Bytes read_file(const std::filesystem::path& path, std::uint64_t limit, std::string_view limit_what) {
  const std::uint64_t size = check_input_file(path, limit, limit_what);
  ErrorContext c;
  c.file = path.string();
  return read_prefix(path, size, c);
}

ImageFile read_image_file(const std::filesystem::path& path) {
  ImageFile f;
  f.file_size = check_input_file(path, UINT64_MAX);
  ErrorContext c;
  c.file = path.string();
  f.data = read_prefix(path, std::min<std::uint64_t>(f.file_size, 64 * 1024), c);  // header and extensions
  const Stm32Header h = parse_header(f.data, path.string());
  const std::uint64_t wanted = std::min<std::uint64_t>(f.file_size, std::uint64_t(h.header_size) + h.image_length);
  if (wanted > f.data.size()) f.data = read_prefix(path, wanted, c);
  else f.data.resize(static_cast<std::size_t>(wanted));
  return f;
}

namespace {

std::string key_text(const std::array<std::uint8_t, 64>& k) {
  if (std::all_of(k.begin(), k.end(), [](std::uint8_t b) { return b == 0; })) return "none (all zero)";
  return to_hex(k);
}

std::string extension_name(std::uint32_t type) {
  switch (type) {
    case ext_authentication: return "authentication";
    case ext_fsbl_decryption: return "FSBL decryption";
    case ext_padding: return "padding";
    default: return "unknown";
  }
}

std::string ext_flags_text(std::uint32_t f) {
  std::string s;
  auto add = [&](const char* n) { s += (s.empty() ? "" : ", ") + std::string(n); };
  if (f & ext_flag_authentication) add("authentication");
  if (f & ext_flag_fsbl_decryption) add("FSBL decryption");
  if (f & ext_flag_padding) add("padding");
  if (f & ~(ext_flag_authentication | ext_flag_fsbl_decryption | ext_flag_padding)) add("unknown bits");
  return s.empty() ? "none" : s;
}

}  // namespace

std::string describe(const Stm32Image& img) {
  const Stm32Header& h = img.header;
  const bool v1 = h.major() == 1;
  std::string s;
  auto line = [&](const std::string& name, const std::string& value) {
    s += name + ": " + value + "\n";
  };
  line("header version", hex32(h.version) + " (" + version_name(h.version) + ")");
  line("header size", std::to_string(h.header_size));
  line("image length", std::to_string(h.image_length));
  line("checksum", hex32(h.checksum) +
                       (img.checksum_ok() ? " (ok)" : " (MISMATCH: computed " + hex32(img.computed_checksum) + ")"));
  line("entry point", hex32(h.entry_point));
  line("load address", hex32(h.load_address));
  line("image version", std::to_string(h.image_version));
  if (v1) {
    line("option flags", hex32(h.option_flags) +
                             ((h.option_flags & option_no_signature_check) ? " (no signature check)"
                                                                           : " (signature check)"));
    const char* algo = h.ecdsa_algorithm == 1   ? "NIST P-256"
                       : h.ecdsa_algorithm == 2 ? "Brainpool P-256"
                                                : "unknown";
    line("ecdsa algorithm", std::to_string(h.ecdsa_algorithm) + " (" + algo + ")");
  } else {
    line("extension flags", hex32(h.option_flags) + " (" + ext_flags_text(h.option_flags) + ")");
    line("extensions length", std::to_string(h.extensions_length));
  }
  line("binary type", hex32(h.binary_type) + " (" + std::string(binary_type_name(h.binary_type)) + ")");
  if (h.major() == 2 && h.minor() == 3) {
    line("non-secure payload length", std::to_string(h.non_secure_payload_length));
    line("non-secure payload hash", hex32(h.non_secure_payload_hash));
  }
  line("signature", key_text(h.signature));
  line("public key", key_text(h.public_key));
  for (std::size_t i = 0; i < h.extensions.size(); ++i) {
    const Extension& e = h.extensions[i];
    line("extension " + std::to_string(i),
         "type " + hex32(e.type) + " (" + extension_name(e.type) + "), length " + std::to_string(e.length));
  }
  if (img.trailing_bytes) line("trailing bytes", std::to_string(img.trailing_bytes) + " (ignored)");
  return s;
}

}  // namespace mp1boot::image
