// SPDX-License-Identifier: MIT
// Block maps (bmap-tools' XML format, `bmaptool create IMAGE -o IMAGE.bmap`, Yocto's *.wic.bmap):
// which block ranges of an image carry data, each with a checksum. Formats 1.0-1.2 (no
// checksums), 1.3 (SHA-1, <BmapFileSHA1>), 1.4 and 2.0 (<ChecksumType> sha256 or sha1,
// <BmapFileChecksum>). The parser checks everything a flash run relies on before the first byte
// goes out: well-formed XML (a small reader for the subset these files use: declaration, comments,
// elements with attributes, text; no DTDs, no entities other than the five predefined ones),
// known version, every field present and numeric, block size a power of two, BlocksCount matching
// ImageSize, ranges inside the image, ascending, not overlapping, MappedBlocksCount equal to their
// sum, checksum strings of the right length. Errors are LayoutError(errc::bad_image) whose
// message starts with "FILE:LINE: <field>:". Pure data code: the only I/O is load_bmap().
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mp1boot::image {

/// Checksum of each range (and of the bmap file itself).
enum class BmapChecksum { none, sha1, sha256 };
/// "none", "sha1", "sha256".
const char* to_string(BmapChecksum type) noexcept;

/// One <Range>: blocks first..last (inclusive) of the image.
struct BmapRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::string checksum;    ///< lower-case hex of the range's bytes ("" when the file has none)
  std::uint32_t line = 0;  ///< line of the <Range> element in the bmap file
};

/// A byte range of the image: [offset, offset + length).
struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t end() const { return offset + length; }
  bool operator==(const ByteRange&) const = default;
};

/// A parsed and checked block map.
struct Bmap {
  std::string file;                ///< for messages
  std::string version;             ///< "2.0", "1.3", ...
  std::uint64_t image_size = 0;    ///< bytes
  std::uint32_t block_size = 0;    ///< bytes, a power of two
  std::uint64_t blocks_count = 0;
  std::uint64_t mapped_blocks = 0;
  BmapChecksum checksum_type = BmapChecksum::none;
  std::string file_checksum;       ///< <BmapFileChecksum> / <BmapFileSHA1> ("" when absent)
  std::uint32_t file_checksum_line = 0;
  /// The file's text with file_checksum replaced by as many '0' (what bmaptool hashes).
  std::string text_for_file_checksum;
  std::vector<BmapRange> ranges;   ///< ascending, not overlapping

  /// Bytes of range `i` in the image (the last block is cut at image_size).
  ByteRange bytes_of(const BmapRange& range) const;
  /// Sum of the ranges' bytes.
  std::uint64_t mapped_bytes() const;
};

/// Parses and checks a bmap document. `file` names it in messages.
/// @throws LayoutError(errc::bad_image) "FILE:LINE: FIELD: what is wrong".
Bmap parse_bmap(std::string_view text, const std::string& file);
/// Reads and parses a bmap file. @throws LayoutError(errc::file_not_found) when unreadable.
Bmap load_bmap(const std::filesystem::path& path);

/// Checks that the map describes a binary of `binary_size` bytes: its ImageSize must equal it.
/// @throws LayoutError(errc::bad_image) naming both sizes and both files.
void check_bmap_matches(const Bmap& bmap, std::uint64_t binary_size, const std::filesystem::path& binary);

/// The block map bmaptool would use for `image`: IMAGE.bmap, else the name with its extension
/// replaced (rootfs.ext4 -> rootfs.bmap). Empty when neither exists.
std::filesystem::path find_bmap_beside(const std::filesystem::path& image);

}  // namespace mp1boot::image
