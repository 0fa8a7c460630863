// SPDX-License-Identifier: MIT
// Binaries on disk, read in bounded chunks: the flash runner never holds a whole partition image.
// BinaryFile opens and stats a file (its size and, for --skip-holes, its data ranges from
// SEEK_DATA/SEEK_HOLE), reads any range with pread, and computes its SHA-256 streaming. Digest
// hashes a range with the checksum type of a block map (SHA-256 or SHA-1). WritePlan says which
// byte ranges of a binary go to the device and how (whole, or extents from a block map / holes),
// and extents_for_offsets() applies the 32-bit limit of U-Boot's offset command.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/image/bmap.hpp"

namespace mp1boot::session {

/// Reads image bytes [offset, offset + out.size()) into `out` (all of them, or throws).
using DataReader = std::function<void(std::uint64_t offset, std::span<std::uint8_t> out)>;

/// An incremental digest of the type a block map names (sha256 also for any SHA-256 a caller needs).
class Digest {
 public:
  explicit Digest(image::BmapChecksum type);
  void update(ByteView data);
  /// Lower-case hex ("" for BmapChecksum::none). Call once.
  std::string hex();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Read size for hashing a file: small enough that a chunk is still in the core's cache when the
/// digest reads it (80 MiB read and hashed in 64 KiB chunks: 82 ms here, in 1 MiB chunks: 125 ms).
inline constexpr std::size_t hash_chunk_size = 64u << 10;

/// Lower-case hex of the bytes (digests in reports and block maps).
std::string hex_string(ByteView bytes);

/// Lower-case hex of `data` with the block map's checksum type.
std::string digest_hex(image::BmapChecksum type, ByteView data);

/// An open binary; cheap to move. Its const reads may run on several threads at once (pread).
class BinaryFile {
 public:
  /// Opens and stats `path` (no data read). @throws LayoutError(errc::file_not_found) naming the
  /// file and the OS reason when it is missing, not a regular file or unreadable.
  explicit BinaryFile(const std::filesystem::path& path);
  const std::filesystem::path& path() const;
  std::uint64_t size() const;
  /// The file as it was opened: device, inode, size and modification time ("2049:1234:4096:1765000000.5").
  /// Another file, or this one rewritten, has another identity.
  const std::string& identity() const;
  /// Reads exactly out.size() bytes at `offset`. @throws LayoutError(errc::file_not_found) when
  /// the file is shorter now or the read fails.
  void read(std::uint64_t offset, std::span<std::uint8_t> out) const;
  /// The first min(n, size) bytes.
  Bytes head(std::size_t n) const;
  /// A DataReader on this file (the file must outlive it).
  DataReader reader() const;
  /// Ranges holding data (SEEK_DATA / SEEK_HOLE); the whole file when the file system cannot
  /// tell. Empty for an empty or all-hole file.
  std::vector<image::ByteRange> data_ranges() const;
  /// SHA-256 of the whole file, read in bounded chunks.
  std::string sha256_hex() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Which bytes of a binary go to the device.
struct WritePlan {
  /// "whole" (everything), "bmap" (mapped ranges), "holes" (data ranges of a sparse file).
  std::string mode = "whole";
  std::filesystem::path bmap_file;        ///< mode "bmap"
  std::vector<image::ByteRange> ranges;   ///< mapped / data ranges (mode bmap/holes)
  std::vector<std::string> checksums;     ///< per range, hex ("" when the map has none)
  std::vector<std::uint32_t> lines;       ///< per range, line of the bmap file (0 otherwise)
  image::BmapChecksum checksum_type = image::BmapChecksum::none;
  std::uint64_t image_size = 0;
  /// Bytes of the ranges (image_size for "whole").
  std::uint64_t mapped_bytes() const;
};

/// One DFU transaction of an extent write: send image bytes [offset, offset + length) with U-Boot's
/// write offset set to `offset` (< 4 GiB).
struct Extent {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool operator==(const Extent&) const = default;
};

/// Extents for `ranges` (ascending, not overlapping) under a 32-bit offset command: ranges that
/// start below `limit` (4 GiB) are extents of their own; everything from the first range that
/// starts at or past `limit` to the end of the last range is one extent that starts at the last
/// addressable point (limit - align, or the end of the previous extent when that is later), so
/// the bytes in between are sent too. `align`: a power of two (the block map's block size).
std::vector<Extent> extents_for_offsets(const std::vector<image::ByteRange>& ranges, std::uint64_t align,
                                        std::uint64_t limit = std::uint64_t{1} << 32);

}  // namespace mp1boot::session
