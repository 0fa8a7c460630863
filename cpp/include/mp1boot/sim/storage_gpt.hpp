// SPDX-License-Identifier: MIT
// GUID partition tables on the simulated MMC devices (UEFI spec, chapter 5): a protective MBR, the
// primary header and 128 entries at LBA 1-33, the backup copy at the end of the device, CRC32s.
// The U-Boot model writes one for a full MMC update (its "gpt write" from the flash layout) and
// reads it back to check a partial update (PROTOCOL.md 5.3 rule 7). 512-byte sectors.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/storage.hpp"

namespace mp1boot::sim {

/// A GUID in its on-disk byte order (first three fields little-endian).
using Guid = std::array<std::uint8_t, 16>;

/// Parses "8DA63339-0007-60C0-C436-083AC8230908" (case-insensitive) into on-disk order.
/// @throws UsageError when the text is not a GUID.
Guid guid_from_string(std::string_view text);
/// Upper-case text form of an on-disk GUID.
std::string guid_to_string(const Guid& guid);
/// CRC-32 (IEEE 802.3, reflected, as used by GPT and zlib).
std::uint32_t crc32_of(ByteView data);

/// One GPT entry.
struct GptPartition {
  std::uint32_t index = 0;      ///< 1-based entry number (U-Boot's partition number)
  std::string name;             ///< ASCII (stored as UTF-16LE, at most 36 characters)
  std::uint64_t start = 0;      ///< bytes, multiple of 512
  std::uint64_t size = 0;       ///< bytes, multiple of 512
  Guid type{};
  Guid unique{};
  std::uint64_t attributes = 0; ///< bit 2: legacy BIOS bootable
};

/// Writes a GPT on the user area of MMC device `ip` with `partitions` as entries 1..n (their
/// `index` is ignored). @throws UsageError when there are more than 128 partitions or one lies
/// outside the usable LBAs; Storage errors otherwise.
void write_gpt(Storage& storage, std::string_view ip, const std::vector<GptPartition>& partitions,
               const Guid& disk_guid);

/// Reads the primary GPT of `ip` (used entries only, in entry order). nullopt when there is no
/// valid primary header (signature, header CRC, entries CRC).
std::optional<std::vector<GptPartition>> read_gpt(const Storage& storage, std::string_view ip);

}  // namespace mp1boot::sim
