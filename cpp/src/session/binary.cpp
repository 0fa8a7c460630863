// SPDX-License-Identifier: MIT
// Binaries read in bounded chunks (pread), SEEK_DATA/SEEK_HOLE ranges, SHA-1 and the bmap digest,
// and the extent split under U-Boot's 32-bit offset. See binary.hpp.
#include "mp1boot/session/binary.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

#include "sha.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/session/flasher.hpp"

namespace mp1boot::session {

namespace {

constexpr std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

[[noreturn]] void file_error(const std::filesystem::path& path, const std::string& what, int err) {
  throw LayoutError(errc::file_not_found,
                    what + " " + path.string() + (err ? ": " + std::generic_category().message(err) : std::string()),
                    ErrorContext{.operation = "read", .file = path.string()});
}

}  // namespace

std::string hex_string(ByteView bytes) {
  static const char* digits = "0123456789abcdef";
  std::string r;
  r.reserve(2 * bytes.size());
  for (std::uint8_t b : bytes) {
    r += digits[b >> 4];
    r += digits[b & 15];
  }
  return r;
}

// ---- SHA-1 ------------------------------------------------------------------------------------

Sha1::Sha1() : h_{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0} {}

void Sha1::block(const std::uint8_t* p) {
  std::uint32_t w[80];
  for (int i = 0; i < 16; ++i)
    w[i] = std::uint32_t(p[4 * i]) << 24 | std::uint32_t(p[4 * i + 1]) << 16 | std::uint32_t(p[4 * i + 2]) << 8 |
           std::uint32_t(p[4 * i + 3]);
  for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
  for (int i = 0; i < 80; ++i) {
    std::uint32_t f, k;
    if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
    else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
    else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
    else f = b ^ c ^ d, k = 0xCA62C1D6;
    const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d; h_[4] += e;
}

void Sha1::update(ByteView data) {
  md_.update(data, [this](const std::uint8_t* p) { block(p); });
}

std::array<std::uint8_t, 20> Sha1::finish() {
  md_.finish([this](const std::uint8_t* p) { block(p); });
  std::array<std::uint8_t, 20> out{};
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 4; ++j) out[4 * i + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
  return out;
}

struct Digest::Impl {
  image::BmapChecksum type;
  Sha1 sha1;
  Sha256 sha256;
};

Digest::Digest(image::BmapChecksum type) : impl_(std::make_shared<Impl>()) { impl_->type = type; }

void Digest::update(ByteView data) {
  if (impl_->type == image::BmapChecksum::sha1) impl_->sha1.update(data);
  if (impl_->type == image::BmapChecksum::sha256) impl_->sha256.update(data);
}

std::string Digest::hex() {
  if (impl_->type == image::BmapChecksum::sha1) {
    const auto d = impl_->sha1.finish();
    return hex_string(ByteView(d.data(), d.size()));
  }
  if (impl_->type == image::BmapChecksum::sha256) {
    const auto d = impl_->sha256.finish();
    return hex_string(ByteView(d.data(), d.size()));
  }
  return "";
}

std::string digest_hex(image::BmapChecksum type, ByteView data) {
  Digest d(type);
  d.update(data);
  return d.hex();
}

// ---- BinaryFile -------------------------------------------------------------------------------

struct BinaryFile::Impl {
  std::filesystem::path path;
  int fd = -1;
  std::uint64_t size = 0;
  std::string identity;
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }
};

BinaryFile::BinaryFile(const std::filesystem::path& path) : impl_(std::make_shared<Impl>()) {
  impl_->path = path;
  impl_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl_->fd < 0) file_error(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(impl_->fd, &st) != 0) file_error(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) file_error(path, "not a regular file:", 0);
  impl_->size = static_cast<std::uint64_t>(st.st_size);
  std::string& id = impl_->identity;
  id += std::to_string(st.st_dev);
  id += ':';
  id += std::to_string(st.st_ino);
  id += ':';
  id += std::to_string(st.st_size);
  id += ':';
  id += std::to_string(st.st_mtim.tv_sec);
  id += '.';
  id += std::to_string(st.st_mtim.tv_nsec);
}

const std::filesystem::path& BinaryFile::path() const { return impl_->path; }
std::uint64_t BinaryFile::size() const { return impl_->size; }
const std::string& BinaryFile::identity() const { return impl_->identity; }

void BinaryFile::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(impl_->fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file_error(impl_->path, "cannot read", errno);
    if (n == 0)
      file_error(impl_->path,
                 "unexpected end of file at byte " + std::to_string(offset + done) + " (it changed since it was checked):",
                 0);
    done += static_cast<std::size_t>(n);
  }
}

Bytes BinaryFile::head(std::size_t n) const {
  Bytes out(static_cast<std::size_t>(std::min<std::uint64_t>(n, impl_->size)));
  read(0, out);
  return out;
}

DataReader BinaryFile::reader() const {
  return [file = *this](std::uint64_t offset, std::span<std::uint8_t> out) { file.read(offset, out); };
}

std::vector<image::ByteRange> BinaryFile::data_ranges() const {
  std::vector<image::ByteRange> out;
  const auto size = static_cast<off_t>(impl_->size);
  off_t at = 0;
  while (at < size) {
    const off_t data = ::lseek(impl_->fd, at, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole remains
      return {{0, impl_->size}};  // the file system cannot tell: all data
    }
    off_t hole = ::lseek(impl_->fd, data, SEEK_HOLE);
    if (hole < 0) hole = size;
    out.push_back({static_cast<std::uint64_t>(data), static_cast<std::uint64_t>(hole - data)});
    at = hole;
  }
  return out;
}

std::string BinaryFile::sha256_hex() const {
  Sha256 sha;
  Bytes buf(hash_chunk_size);
  for (std::uint64_t at = 0; at < impl_->size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(hash_chunk_size, impl_->size - at));
    read(at, std::span(buf.data(), n));
    sha.update(ByteView(buf.data(), n));
    at += n;
  }
  const auto d = sha.finish();
  return hex_string(ByteView(d.data(), d.size()));
}

// ---- plans ------------------------------------------------------------------------------------

std::uint64_t WritePlan::mapped_bytes() const {
  if (mode == "whole") return image_size;
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += r.length;
  return n;
}

std::vector<Extent> extents_for_offsets(const std::vector<image::ByteRange>& ranges, std::uint64_t align,
                                        std::uint64_t limit) {
  std::vector<Extent> out;
  const std::uint64_t last_addressable = (limit - 1) & ~(align - 1);
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const auto& r = ranges[i];
    if (r.length == 0) continue;
    if (r.offset < limit) {
      out.push_back({r.offset, r.length});
      continue;
    }
    // From here on nothing can be addressed: one transaction to the end of the last range.
    const std::uint64_t end = ranges.back().end();
    if (!out.empty() && out.back().offset + out.back().length >= last_addressable) {
      out.back().length = end - out.back().offset;
    } else {
      out.push_back({last_addressable, end - last_addressable});
    }
    break;
  }
  return out;
}

}  // namespace mp1boot::session
