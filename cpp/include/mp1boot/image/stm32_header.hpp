// SPDX-License-Identifier: MIT
// The STM32 image header that precedes an FSBL (and optionally a flash layout): parsing of
// versions 1.0 (STM32MP15x), 2.0 (STM32MP13x), 2.2 (STM32MP25x) and recognition of 2.3
// (STM32MP21x), the payload checksum, wrapping a raw binary the way the standard tools do, and the
// checks the ROM makes before it starts an FSBL. Pure data code: no device I/O (read_file only
// reads a whole input file). Layout and evidence: PROTOCOL.md section 6.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/temporary_buffer.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::image {

/// 'S' 'T' 'M' 0x32 read as LE32 (offset 0x00 of every version).
inline constexpr std::uint32_t header_magic = 0x324D5453;

/// Header version values (LE32; bytes in memory: variant, minor, major, 0).
inline constexpr std::uint32_t version_v1_0 = 0x00010000;  ///< STM32MP15x, 256 bytes
inline constexpr std::uint32_t version_v2_0 = 0x00020000;  ///< STM32MP13x, 0x80 + extensions
inline constexpr std::uint32_t version_v2_2 = 0x00020200;  ///< STM32MP25x, 0x80 + extensions
inline constexpr std::uint32_t version_v2_3 = 0x00020300;  ///< STM32MP21x, 0xA0 + extensions

/// Header sizes.
inline constexpr std::size_t v1_header_size = 256;
inline constexpr std::size_t v2_base_size = 0x80;     ///< v2.0 / v2.2 fixed part
inline constexpr std::size_t v2_3_base_size = 0xA0;   ///< v2.3 fixed part
inline constexpr std::uint32_t v2_padding_length = 0x180;  ///< standard tools: 0x80 + 0x180 = 512

/// Extension types (LE32; in memory 'S' 'T' x y).
inline constexpr std::uint32_t ext_authentication = 0x02005453;
inline constexpr std::uint32_t ext_fsbl_decryption = 0x01005453;
inline constexpr std::uint32_t ext_padding = 0xFFFF5453;

/// Extension flags (v2, offset 0x64).
inline constexpr std::uint32_t ext_flag_authentication = 1u << 0;
inline constexpr std::uint32_t ext_flag_fsbl_decryption = 1u << 1;
inline constexpr std::uint32_t ext_flag_padding = 1u << 31;

/// v1 option flag bit 0: "no signature check" (ignored by closed devices).
inline constexpr std::uint32_t option_no_signature_check = 1u << 0;

/// One v2 extension header: LE32 type, LE32 length (including these 8 bytes), parameters.
struct Extension {
  std::uint32_t type;
  std::uint32_t length;  ///< as stored: 8 + parameters.size()
  Bytes parameters;
};

/// The decoded header fields. For v2.3 the fields sit 0x20 bytes later than in v1/v2 (the
/// signature is 96 bytes there); `signature` then holds only its first 64 bytes.
struct Stm32Header {
  std::uint32_t version = 0;        ///< raw LE32 version: 0x00010000, 0x00020000, 0x00020200, 0x00020300
  std::uint32_t header_size = 0;    ///< 256 for v1, 0x80 + extensions_length for v2.0/2.2, 0xA0 + extensions_length (576) for v2.3
  std::uint32_t checksum = 0;       ///< payload checksum as stored in the header
  std::uint32_t image_length = 0;   ///< payload bytes after the header
  std::uint32_t entry_point = 0;
  std::uint32_t load_address = 0;
  std::uint32_t image_version = 0;  ///< anti-rollback version
  std::uint32_t option_flags = 0;   ///< v1: option flags; v2: extension flags
  std::uint32_t ecdsa_algorithm = 0;///< v1 only: 1 = NIST P-256, 2 = Brainpool P-256
  std::uint32_t extensions_length = 0; ///< v2 only: total length of the extension headers
  std::uint32_t binary_type = 0;    ///< v1: byte at 0xFF; v2: LE32 at 0x6C
  std::array<std::uint8_t, 64> signature{};
  std::array<std::uint8_t, 64> public_key{};  ///< v1 field; v2: from the authentication extension if present
  std::vector<Extension> extensions;          ///< v2 only, in file order
  std::uint32_t non_secure_payload_length = 0;  ///< v2.3 only
  std::uint32_t non_secure_payload_hash = 0;    ///< v2.3 only

  /// Header major version (1 or 2), from byte 2 of `version`.
  int major() const;
  /// Header minor version (0, 2, 3), from byte 1 of `version`.
  int minor() const;
};

/// A parsed image: header plus a view of the payload inside the caller's buffer.
struct Stm32Image {
  Stm32Header header;
  ByteView payload;                 ///< view into the caller's buffer (image_length bytes after the header)
  std::uint32_t computed_checksum = 0;
  std::size_t trailing_bytes = 0;   ///< bytes in the buffer after header + payload (ignored)
  bool checksum_ok() const;
};

/// 32-bit unsigned sum of every byte, modulo 2^32 (PROTOCOL.md 6.3).
std::uint32_t payload_checksum(ByteView payload);

/// True when `data` starts with the STM32 magic.
bool has_stm32_magic(ByteView data);

/// "v1.0", "v2.0", "v2.2", "v2.3" for a raw version value.
std::string version_name(std::uint32_t version);

/// "TF-A", "U-Boot", "OP-TEE", "Cortex-M33 firmware" or "unknown" for a binary type value.
std::string_view binary_type_name(std::uint32_t binary_type);

/// Decodes the header at the start of `data`.
/// @throws LayoutError(errc::bad_image) whose message names the byte offset of the bad field,
/// e.g. "not an STM32 image: bad magic at offset 0x0 (found 7f 45 4c 46)"; the context's `file`
/// is `file`, so what() starts with "<file>: ". Covers short files, bad magic, unknown versions,
/// headers whose extensions run past the end of the data, and malformed extensions.
Stm32Header parse_header(ByteView data, std::string_view file = {});

/// parse_header() plus the payload: checks that data.size() >= header_size + image_length (the
/// error gives both numbers) and computes the payload checksum. Does NOT throw on a checksum
/// mismatch: checksum_ok() tells. The result views `data`, which must outlive it.
/// @throws LayoutError(errc::bad_image) as parse_header, or for a truncated payload.
Stm32Image parse_image(ByteView data, std::string_view file = {});
/// Refused: the result views `data`, a temporary would be gone before the caller reads it.
template <class C>
  requires TemporaryBuffer<C>
Stm32Image parse_image(C&& data, std::string_view file = {}) = delete;

/// How wrap() builds a header. Defaults make a v1 TF-A BL2 image like TF-A's stm32image tool.
struct WrapOptions {
  int header_major = 1;             ///< 1 -> v1 (256 B), 2 -> v2 (512 B with a 0x180 padding extension)
  int header_minor = 0;             ///< with major 2: 0 (STM32MP13x) or 2 (STM32MP25x)
  std::uint32_t load_address = 0, entry_point = 0;
  std::uint32_t binary_type = 0x10; ///< TF-A BL2 default (v1 stores only the low byte: must be <= 0xFF)
  std::uint32_t image_version = 0;
  std::uint32_t option_flags = 1;   ///< v1 "no signature check"; v2 ext flags are set to 0x80000000 automatically
  std::uint32_t ecdsa_algorithm = 1;///< v1 only
};

/// Options for an FSBL for `soc`: header version from soc.header_version (v1 for MP15, v2.0 for
/// MP13, v2.2 for MP25), load address = entry point = first payload byte in SYSRAM
/// (rom_download_address + header_size), binary type 0x10.
WrapOptions wrap_options_for(const SocInfo& soc);

/// Header + payload. A v1 image with binary_type 0, option_flags 1 and ecdsa_algorithm 1 is
/// byte-identical to `mkimage -T stm32image -a LOAD -e ENTRY` (U-Boot tools); v2 images match TF-A's
/// stm32image tool (single padding extension, extension flags 0x80000000, header 512 bytes).
/// Signature and public key are zero. Thread-safe (pure function).
/// @throws UsageError(errc::usage) for an unsupported header version, a v1 binary type above
/// 0xFF, or a payload of 4 GiB or more.
Bytes wrap(ByteView payload, const WrapOptions& options);

/// The checks the SoC's ROM makes before starting an FSBL (PROTOCOL.md 6.4). The magic was
/// already verified by parse_image(). Checks, in order: header major version matches
/// soc.header_version ("header v1 image (STM32MP15x) but the device is STM32MP13x, which needs
/// header v2"), payload length <= soc.max_fsbl_payload (message gives both sizes), checksum.
/// @throws LayoutError(errc::bad_image) or LayoutError(errc::bad_checksum) naming `file`.
void check_for_rom(const Stm32Image& img, const SocInfo& soc, std::string_view file = {});

/// Largest file read into memory whole when the caller names no smaller limit (images, payloads;
/// partition binaries of a layout are not read this way).
inline constexpr std::uint64_t max_in_memory_file = 256ull << 20;

/// Checks an input file before anything reads it, with stat() only (never opens it): it must be
/// a regular file (a FIFO would block the read forever, /dev/zero never ends, a directory or a
/// socket is no file) of at most `limit` bytes. `limit_what` names the limit in the message, e.g.
/// "U-Boot's flash-layout buffer". Returns the size.
/// @throws LayoutError(errc::file_not_found: "does not exist or cannot be read") with what()
/// "<path>: no such file", or naming the kind of file, or the size and the limit. context.file = path.
std::uint64_t check_input_file(const std::filesystem::path& path, std::uint64_t limit = max_in_memory_file,
                               std::string_view limit_what = {});

/// Reads a whole file after check_input_file(path, limit, limit_what).
/// @throws as check_input_file; LayoutError(errc::io) when it cannot be opened or read.
Bytes read_file(const std::filesystem::path& path, std::uint64_t limit = max_in_memory_file,
                std::string_view limit_what = {});

/// An STM32 image file read header first: never more than the header and the payload it
/// announces (a 4 GiB file with a bad header costs one read of at most 64 KiB).
struct ImageFile {
  Bytes data;                  ///< header + payload (or the whole file when it is shorter)
  std::uint64_t file_size = 0; ///< size on disk (data.size() plus bytes after the payload)
};
/// @throws as read_file, then as parse_header (the header is checked before the payload is read).
ImageFile read_image_file(const std::filesystem::path& path);

/// Multi-line human description of every field (used by `mp1boot image info`), one
/// "name: value" per line, including "checksum: 0x... (ok)" or "(MISMATCH: computed 0x...)".
std::string describe(const Stm32Image& img);

}  // namespace mp1boot::image
