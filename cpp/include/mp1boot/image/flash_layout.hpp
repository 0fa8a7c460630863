// SPDX-License-Identifier: MIT
// Flash layout (TSV) files: a parser that reads them the way U-Boot's stm32prog does (TAB runs,
// CRLF, '#' comments, an optional STM32 v1 header), a checker that applies U-Boot's rules on the
// host with line numbers before a board is touched, and the order in which the device will ask
// for each line. Everything is a value; the only I/O is reading the layout file and, when asked,
// looking at the binaries it names. See PROTOCOL.md section 5 and FIELD.md item 7.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mp1boot::image {

/// How bad a finding is: an error makes U-Boot (or the host) refuse the layout.
enum class Severity { error, warning };
/// "error" or "warning".
const char* to_string(Severity severity) noexcept;

/// One finding about a layout, tied to a line of the file.
struct Diagnostic {
  Severity severity = Severity::error;
  std::uint32_t line = 0;  ///< 1-based line of the layout file; 0 = the file as a whole
  std::string column;      ///< "Opt", "Id", "Name", "Type", "IP", "Offset", "Binary" or empty
  std::string message;     ///< a sentence in U-Boot's terms (phase, partition, offset ...)
  std::string rule;        ///< short stable id, e.g. "duplicate-id", "trailing-tab"
};

/// "FILE:LINE: error: message [rule]" (no ":LINE" when line is 0, no "FILE:" when file is empty).
std::string format_diagnostic(const Diagnostic& diagnostic, const std::filesystem::path& file);

/// One partition line of a layout, as written and as understood.
struct LayoutEntry {
  std::uint32_t line = 0;      ///< 1-based line in the file
  std::string option;          ///< "-", "P", "PD", "PE", "PED", ... as written
  bool select = false;         ///< 'P': U-Boot handles this line
  bool empty = false;          ///< 'E': create the partition but download nothing
  bool erase = false;          ///< 'D': erase the partition first
  std::uint32_t id = 0;        ///< phase id (0x00..0xF0)
  std::string name;            ///< partition name (at most 16 characters)
  std::string type;            ///< as written: "Binary", "Binary(2)", "FIP", "RawImage", ...
  std::uint32_t copies = 1;    ///< N of "Binary(N)" (NAND FSBL copies), 1 otherwise
  std::string ip;              ///< "none", "mmc0", "nor0", "nand0", "spi-nand0", "ram", ...
  std::string device_kind;     ///< "none", "mmc", "nor", "nand", "spi-nand", "ram"
  int device_index = -1;       ///< the digit of ip; -1 for none, 0 for ram
  std::string offset_text;     ///< as written ("0x00004400", "boot1", ...)
  std::optional<std::uint64_t> offset;  ///< numeric offset; empty for boot1/boot2
  int hw_partition = 0;        ///< 0 user area, 1 boot1, 2 boot2 (eMMC hardware partitions)
  std::string binary;          ///< 7th column after %NAME% substitution; "none" or empty if so written
  std::filesystem::path binary_path;  ///< binary resolved against the layout's folder; empty when
                                      ///< there is no file (empty, "none", unresolved placeholder)

  /// True for lines with a real device (IP other than none).
  bool is_device() const { return device_kind != "none"; }
  /// True when U-Boot will ask the host for this line's file: 'P' without 'E' on a device.
  bool is_programmed() const { return is_device() && select && !empty; }
  /// Type without the "(N)" suffix.
  std::string base_type() const;
};

/// A parsed layout. Entries hold only the lines whose six columns all parsed.
struct FlashLayout {
  std::filesystem::path file;            ///< where it was read from (may be empty)
  std::vector<LayoutEntry> entries;      ///< partition lines in file order
  std::vector<Diagnostic> diagnostics;   ///< syntax-level findings (parse_layout)
  bool stm32_header = false;             ///< the text came wrapped in an STM32 v1 header

  /// The first line (device or none) with this id, in file order: the line U-Boot selects for
  /// that phase. nullptr when there is none.
  const LayoutEntry* find(std::uint32_t id) const;
  /// The first IP "none" line with this id: the file the ROM or TF-A asks for (0x01..0x03).
  const LayoutEntry* find_none(std::uint32_t id) const;
  /// No error among `diagnostics`.
  bool ok() const;
};

/// Parsing options.
struct ParseOptions {
  /// Values for %NAME% placeholders in the Binary column (e.g. {"ATFBIN", "tf-a.stm32"}), as
  /// Buildroot-style layouts use them. A placeholder without a value is an error.
  std::map<std::string, std::string> defines;
};

/// Parses layout text. Never throws for bad content: problems land in diagnostics.
/// @param file used to resolve Binary paths and in messages; may be empty.
FlashLayout parse_layout(std::string_view text, const std::filesystem::path& file,
                         const ParseOptions& options = {});

/// Reads and parses a layout file.
/// @throws LayoutError(errc::file_not_found) when the file cannot be read.
FlashLayout load_layout(const std::filesystem::path& file, const ParseOptions& options = {});

/// Checker options: what the host knows about the board.
struct CheckOptions {
  /// Check that the binaries the device will ask for exist, are readable and fit their partition.
  bool check_binaries = true;
  /// Device sizes in bytes, keyed by IP ("mmc0" = user area). "mmc1:boot" = size of each eMMC
  /// boot partition. "ram" = DDR size (used with ram_base). Unknown sizes skip the checks that need
  /// them.
  std::map<std::string, std::uint64_t> device_sizes;
  /// Erase sizes in bytes, keyed by IP ("nand0") or by kind ("nand"). Defaults: mmc 512 (one LBA;
  /// set the eMMC erase group, e.g. 512 KiB, to get U-Boot's eMMC rules), nand and spi-nand
  /// 128 KiB, nor 4 KiB, ram 1.
  std::map<std::string, std::uint64_t> erase_sizes;
  /// DDR base address for IP "ram" lines (U-Boot refuses addresses below it). Unknown: no check.
  std::optional<std::uint64_t> ram_base;
  /// U-Boot release on the board, "YYYY.MM" (e.g. "2022.10"). Empty: current upstream. Older
  /// releases do not know some types (FIP < 2022.07; ENV, ESP, FWU_MDATA < 2023.10) and read
  /// offsets with a leading 0 as octal (< 2023.10).
  std::string uboot_version;
};

/// Applies U-Boot's layout rules (PROTOCOL.md 5.3) and the host's own (binaries named, present and
/// fitting; placeholders) to a parsed layout. Returns findings in file order; the parse
/// diagnostics are not repeated.
std::vector<Diagnostic> check_layout(const FlashLayout& layout, const CheckOptions& options = {});

/// Who serves a layout file.
enum class ProgrammingService {
  u_boot_stm32prog,    ///< ROM -> TF-A -> U-Boot stm32prog (the normal flow)
  st_external_loader,  ///< ST's STM32PRGFW-UTIL / OpenBL with an external flash loader
};
/// Guesses the service a layout was written for: 'P' on an IP none line, an "openbl"/"extfl"
/// partition or an STM32PRGFW_UTIL binary mean ST's external-loader flow, which U-Boot refuses.
ProgrammingService intended_service(const FlashLayout& layout);

/// One phase the device will ask for.
struct ProgrammingStep {
  std::uint32_t phase = 0;             ///< phase id the device reports in Get Phase
  const LayoutEntry* entry = nullptr;  ///< the line whose file is sent; nullptr for phase 0x00
                                       ///< (the layout file itself)
};

/// Phases in the order the device asks for them: the ROM/TF-A phases served from IP none lines
/// (0x01, then 0x02 when the layout has one (STM32MP2 DDR FIP), then 0x03), the layout itself
/// (0x00), then the device partitions U-Boot selects: ascending id, first line with that id only,
/// 'P' without 'E' (PROTOCOL.md 4.4). Pointers refer into `layout.entries`.
std::vector<ProgrammingStep> programming_order(const FlashLayout& layout);

/// The layout text with the Opt column (the first field) of some lines replaced: `options_by_line`
/// maps 1-based line numbers to the new option ("PE"). Every other byte is kept (line endings,
/// separators, comments). Used to resume a run: partitions already programmed become 'E' (kept
/// in the partition table, not downloaded again).
/// @throws UsageError when a line number does not exist or holds no field.
std::string rewrite_options(std::string_view text, const std::map<std::uint32_t, std::string>& options_by_line);

/// Size of a device partition as U-Boot computes it: up to the next partition of the same device
/// and hardware partition, the rest of the device for the last one, the whole device for
/// RawImage, the boot partition size for boot1/boot2. nullopt when it needs a size the options do
/// not give, for IP none lines, and when the next partition starts at the same offset.
std::optional<std::uint64_t> partition_size(const FlashLayout& layout, const LayoutEntry& entry,
                                            const CheckOptions& options = {});

/// Throws when any error exists, listing every one as "FILE:LINE: message".
/// @throws LayoutError(errc::layout_syntax) if the parse found errors, else
///         LayoutError(errc::layout_rule) if `checks` holds errors.
void require_ok(const FlashLayout& layout, const std::vector<Diagnostic>& checks);

}  // namespace mp1boot::image
