// SPDX-License-Identifier: MIT
// GPT writing and reading on Storage MMC devices; see storage_gpt.hpp.
#include "mp1boot/sim/storage_gpt.hpp"

#include <cstring>

#include "mp1boot/error.hpp"

namespace mp1boot::sim {

namespace {

constexpr std::uint64_t lba_size = 512;
constexpr std::uint32_t entry_count = 128;
constexpr std::uint32_t entry_size = 128;
constexpr std::uint64_t entries_lbas = entry_count * entry_size / lba_size;  // 32
constexpr std::uint32_t header_size = 92;

void store_le64(std::uint8_t* p, std::uint64_t v) {
  store_le32(p, static_cast<std::uint32_t>(v));
  store_le32(p + 4, static_cast<std::uint32_t>(v >> 32));
}
std::uint64_t load_le64(const std::uint8_t* p) {
  return std::uint64_t(load_le32(p)) | std::uint64_t(load_le32(p + 4)) << 32;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Bytes header_block(std::uint64_t current, std::uint64_t backup, std::uint64_t last_usable,
                   std::uint64_t entries_lba, const Guid& disk, std::uint32_t entries_crc) {
  Bytes h(lba_size, 0);
  std::memcpy(h.data(), "EFI PART", 8);
  store_le32(&h[8], 0x00010000);
  store_le32(&h[12], header_size);
  store_le64(&h[24], current);
  store_le64(&h[32], backup);
  store_le64(&h[40], 2 + entries_lbas);  // first usable LBA: 34
  store_le64(&h[48], last_usable);
  std::memcpy(&h[56], disk.data(), 16);
  store_le64(&h[72], entries_lba);
  store_le32(&h[80], entry_count);
  store_le32(&h[84], entry_size);
  store_le32(&h[88], entries_crc);
  store_le32(&h[16], crc32_of(ByteView(h.data(), header_size)));
  return h;
}

}  // namespace

std::uint32_t crc32_of(ByteView data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::uint8_t b : data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

Guid guid_from_string(std::string_view text) {
  // 8-4-4-4-12 hex digits; the first three groups are stored little-endian.
  std::array<std::uint8_t, 16> be{};
  std::size_t n = 0;
  bool ok = text.size() == 36;
  for (std::size_t i = 0; ok && i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ok = text[i] == '-';
      continue;
    }
    int hi = hex_digit(text[i]);
    int lo = ++i < text.size() ? hex_digit(text[i]) : -1;
    ok = hi >= 0 && lo >= 0 && n < 16;
    if (ok) be[n++] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  if (!ok || n != 16) throw UsageError(errc::usage, "not a GUID: '" + std::string(text) + "'");
  Guid g = be;
  std::swap(g[0], g[3]);
  std::swap(g[1], g[2]);
  std::swap(g[4], g[5]);
  std::swap(g[6], g[7]);
  return g;
}

std::string guid_to_string(const Guid& guid) {
  static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    std::uint8_t b = guid[static_cast<std::size_t>(order[i])];
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  return out;
}

void write_gpt(Storage& storage, std::string_view ip, const std::vector<GptPartition>& partitions,
               const Guid& disk_guid) {
  const std::uint64_t lbas = storage.size_of(ip) / lba_size;
  if (partitions.size() > entry_count || lbas < 2 * (2 + entries_lbas) + 1)
    throw UsageError(errc::usage, "GPT: " + std::to_string(partitions.size()) + " partitions on " +
                                      std::to_string(lbas) + " sectors of " + std::string(ip));
  const std::uint64_t last_lba = lbas - 1;
  const std::uint64_t first_usable = 2 + entries_lbas;
  const std::uint64_t last_usable = lbas - 2 - entries_lbas;

  Bytes entries(entry_count * entry_size, 0);
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    const GptPartition& p = partitions[i];
    const std::uint64_t first = p.start / lba_size;
    const std::uint64_t count = p.size / lba_size;
    if (count == 0 || first < first_usable || first + count - 1 > last_usable)
      throw UsageError(errc::usage, "GPT: partition '" + p.name + "' outside the usable sectors of " +
                                        std::string(ip));
    std::uint8_t* e = &entries[i * entry_size];
    std::memcpy(e, p.type.data(), 16);
    std::memcpy(e + 16, p.unique.data(), 16);
    store_le64(e + 32, first);
    store_le64(e + 40, first + count - 1);
    store_le64(e + 48, p.attributes);
    for (std::size_t c = 0; c < p.name.size() && c < 36; ++c) store_le16(e + 56 + 2 * c, static_cast<std::uint8_t>(p.name[c]));
  }
  const std::uint32_t entries_crc = crc32_of(entries);

  Bytes mbr(lba_size, 0);
  std::uint8_t* part = &mbr[446];
  part[1] = 0x00;
  part[2] = 0x02;
  part[3] = 0x00;
  part[4] = 0xEE;
  part[5] = part[6] = part[7] = 0xFF;
  store_le32(part + 8, 1);
  store_le32(part + 12, static_cast<std::uint32_t>(std::min<std::uint64_t>(lbas - 1, 0xFFFFFFFFu)));
  mbr[510] = 0x55;
  mbr[511] = 0xAA;

  storage.write(ip, 0, 0, mbr);
  storage.write(ip, 0, 1 * lba_size, header_block(1, last_lba, last_usable, 2, disk_guid, entries_crc));
  storage.write(ip, 0, 2 * lba_size, entries);
  storage.write(ip, 0, (last_lba - entries_lbas) * lba_size, entries);
  storage.write(ip, 0, last_lba * lba_size,
                header_block(last_lba, 1, last_usable, last_lba - entries_lbas, disk_guid, entries_crc));
}

std::optional<std::vector<GptPartition>> read_gpt(const Storage& storage, std::string_view ip) {
  if (storage.size_of(ip) < 3 * lba_size) return std::nullopt;
  Bytes h = storage.read(ip, 0, lba_size, lba_size);
  if (std::memcmp(h.data(), "EFI PART", 8) != 0) return std::nullopt;
  const std::uint32_t size = load_le32(&h[12]);
  if (size < header_size || size > lba_size) return std::nullopt;
  const std::uint32_t crc = load_le32(&h[16]);
  store_le32(&h[16], 0);
  if (crc32_of(ByteView(h.data(), size)) != crc) return std::nullopt;
  const std::uint64_t entries_lba = load_le64(&h[72]);
  const std::uint32_t count = load_le32(&h[80]);
  const std::uint32_t esize = load_le32(&h[84]);
  if (esize < 128 || count > 1024) return std::nullopt;
  Bytes entries = storage.read(ip, 0, entries_lba * lba_size, std::size_t(count) * esize);
  if (crc32_of(entries) != load_le32(&h[88])) return std::nullopt;
  std::vector<GptPartition> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* e = &entries[std::size_t(i) * esize];
    GptPartition p;
    std::memcpy(p.type.data(), e, 16);
    if (p.type == Guid{}) continue;
    p.index = i + 1;
    std::memcpy(p.unique.data(), e + 16, 16);
    const std::uint64_t first = load_le64(e + 32);
    const std::uint64_t last = load_le64(e + 40);
    p.start = first * lba_size;
    p.size = last >= first ? (last - first + 1) * lba_size : 0;
    p.attributes = load_le64(e + 48);
    for (std::size_t c = 0; c < 36; ++c) {
      std::uint16_t ch = load_le16(e + 56 + 2 * c);
      if (ch == 0) break;
      p.name += ch < 0x80 ? static_cast<char>(ch) : '?';
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace mp1boot::sim
