// SPDX-License-Identifier: MIT
// session::Flasher: the flash-layout runner. It checks a layout and every file it needs before the
// first byte goes out, then lets the device drive: ask Get Phase, send the file of the layout line
// with that id (the layout itself for 0x00, IP none lines for 0x01..0x03, device lines otherwise),
// Start, and again until the device reports 0xFE (done) or 0xFF (its error, verbatim). The result
// is a FlashReport (per-partition sizes, SHA-256, timings) that converts to and from JSON
// (nlohmann::json; schema in docs/flash-report.schema.json). Also a small SHA-256 used for the report.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mp1boot/bytes.hpp"
#include "mp1boot/image/flash_layout.hpp"
#include "mp1boot/progress.hpp"
#include "mp1boot/session/binary.hpp"
#include "mp1boot/session/board.hpp"
#include "mp1boot/session/device.hpp"
#include "mp1boot/session/digest_cache.hpp"
#include "mp1boot/vocabulary.hpp"

namespace mp1boot::session {

/// Lower-case hex SHA-256 of `data` (64 characters).
std::string sha256_hex(ByteView data);

/// What happened to one phase of the run.
struct PartitionReport {
  std::uint8_t phase = 0;        ///< phase id
  std::string name;              ///< partition name ("FlashLayout" for phase 0x00)
  std::string ip;                ///< "none", "mmc0", ...
  std::string offset;            ///< offset as written in the layout ("" for phase 0x00)
  std::uint32_t layout_line = 0; ///< line of the layout (0 for phase 0x00)
  std::string file;              ///< file sent
  std::uint64_t size = 0;        ///< bytes of the file (the image size)
  std::uint64_t bytes_sent = 0;  ///< bytes that went (or go, in the plan) over the link
  std::uint64_t bytes_skipped = 0;  ///< size - bytes sent by design (unmapped ranges, holes)
  std::string bmap;              ///< the block map used ("" when none; "holes" for --skip-holes)
  std::string sha256;            ///< of the file; for a partition sent in part (bmap, holes): of
                                 ///< its mapped ranges in order (what the device must hold)
  double seconds = 0;
  double bytes_per_second = 0;
  /// ok, failed, skipped (not reached), or skipped_done_earlier (resume: the earlier run of this
  /// board programmed it with the same SHA-256; sent as 'E', not downloaded again)
  PartitionResult result = PartitionResult::skipped;
  VerifyResult verified = VerifyResult::not_read;  ///< with verify: ok or mismatch
  std::string readback_sha256;   ///< SHA-256 of the bytes read back
};

/// The record of a flash run.
struct FlashReport {
  std::string tool_version;      ///< mp1boot::version
  std::string transport;         ///< Device::describe()
  std::string layout;            ///< the layout file
  std::string soc;               ///< "STM32MP15x"; empty when get_id() was not reached
  std::uint16_t device_id = 0;
  Link link = Link::unknown;     ///< uart or usb; unknown ("") before the link was noted
  std::string serial;            ///< USB serial number (the board's identity)
  std::string port_path;         ///< USB port path ("1-1.4") or the serial port
  std::string speed;             ///< USB speed at the last stage ("high", "full") or baud rate
  std::string revision;          ///< SoC name and revision as the last stage reports it
  bool verify = false;           ///< partitions were read back
  bool resumed = false;          ///< the run resumed a previous one
  std::vector<PartitionReport> partitions;  ///< in the order served, then the skipped ones
  double seconds = 0;
  FlashResult result = FlashResult::failed;  ///< ok or failed
  std::string error;             ///< what() of the error that ended the run, empty when ok
  std::string error_code;        ///< errc_name() of that error ("" when ok or not an mp1boot::Error)
  std::string port;              ///< the port URL the run was given (set by flash_many and the bindings)

  /// The board this report belongs to (link, port path, serial).
  BoardIdentity board() const { return BoardIdentity{link, port_path, serial}; }
  /// The report as one JSON object (docs/flash-report.schema.json; device_id as "0x0500").
  nlohmann::json json() const;
  /// json().dump(): the text the CLI writes.
  std::string to_json() const;
  /// Reads a report back (missing fields keep their defaults).
  /// @throws UsageError naming the field when a field has the wrong type.
  static FlashReport from_json(const nlohmann::json& j);
};

/// nlohmann::json conversions (`nlohmann::json j = report;`, `j.get<FlashReport>()`).
void to_json(nlohmann::json& j, const PartitionReport& p);
void from_json(const nlohmann::json& j, PartitionReport& p);
void to_json(nlohmann::json& j, const FlashReport& r);
void from_json(const nlohmann::json& j, FlashReport& r);

/// The board reports of an earlier run's JSON: one report, or {"boards": {key: report}} as
/// flash_many writes it. @throws UsageError when it is neither.
std::vector<FlashReport> reports_from_json(const nlohmann::json& j);

/// What a run over UART will send and how long that takes at the line's protocol bound (256
/// payload bytes per 268 on the wire, 11 bits a byte), computed before the first download.
struct FlashEstimate {
  Link link = Link::uart;
  std::string speed;         ///< "115200 baud"
  std::uint64_t bytes = 0;   ///< payload bytes the run will download
  double eta_seconds = 0;
  /// One sentence: what will be sent, over what, and how long it takes.
  std::string describe(const std::string& layout) const;
};

/// Something the caller may want to show between transfers.
struct FlashEvent {
  enum class Kind { stage, partition_done, partition_verified, estimate };
  Kind kind = Kind::stage;
  FlashStep stage = FlashStep::none;           ///< check, fsbl, fip, layout, partitions, verify,
                                              ///< done or failed
  const PartitionReport* partition = nullptr; ///< for partition_done / partition_verified
  const FlashEstimate* estimate = nullptr;    ///< for estimate (UART runs, before the first download)
};
using FlashEventFn = std::function<void(const FlashEvent&)>;

struct FlashOptions {
  /// `mp1boot boot LAYOUT`: serve only the phases before U-Boot's programming service (0x01,
  /// 0x02, 0x03: the `-` lines, into RAM) and stop when the device asks for the layout or a
  /// partition. Nothing is programmed.
  bool boot_only = false;
  /// Read every programmed partition back at the end (before the board leaves U-Boot) and compare
  /// SHA-256; a difference is DeviceError(errc::verify_mismatch) after all were read.
  bool verify = false;
  /// Resume: the board reports of an earlier run (reports_from_json()). The one whose board is
  /// this board (BoardIdentity::same_board) says what was programmed: its "ok" (and
  /// "skipped-done-earlier") partitions whose file still has that SHA-256 are sent to U-Boot as 'E'
  /// lines (the layout text is rewritten, line numbers kept), not downloaded again, and reported as
  /// "skipped-done-earlier"; with `verify` they are read back too. The ROM, TF-A and layout phases
  /// are always served (the board restarted). When no report names this board the run stops
  /// before anything is sent (errc::other_board), unless `resume_any_board`.
  std::vector<FlashReport> resume;
  /// Resume from the report's only board even when it names another board.
  bool resume_any_board = false;
  /// After a link error during a transfer, how long to look for the boot ROM (a board reset).
  std::chrono::milliseconds reset_probe{3000};
  image::ParseOptions parse;   ///< %NAME% defines for the Binary column
  image::CheckOptions check;   ///< check_binaries is forced on
  /// Block maps by partition name (`--bmap NAME=FILE`); they win over the ones found beside the
  /// binaries (IMAGE.bmap or the name with its extension replaced, as bmaptool looks for them).
  std::map<std::string, std::filesystem::path> bmaps;
  /// false (`--no-bmap`): send every byte, ignore block maps.
  bool use_bmaps = true;
  /// Sparse binaries without a block map: send only their data ranges (SEEK_DATA/SEEK_HOLE). Off
  /// by default: a raw image may rely on its zeros being written.
  bool skip_holes = false;
  /// Over UART every byte crosses the line at about 10 kB/s (115200 baud): a run whose estimate
  /// exceeds `long_run_limit` needs `long_run_consent` (`--yes`) or a `confirm` callback that
  /// agrees (asked with the estimate's sentence); otherwise UsageError(errc::needs_consent)
  /// before the first download.
  std::chrono::seconds long_run_limit{3600};
  bool long_run_consent = false;
  std::function<bool(const std::string& question)> confirm;
  ProgressFn progress;         ///< byte progress of each transfer (partition name set)
  FlashEventFn on_event;       ///< stage changes and finished partitions
  /// Digests shared with the Flashers of other boards flashing the same files (flash_many gives
  /// all its boards one): each file, or block map's ranges, is read and hashed once. Null: this
  /// Flasher hashes for itself.
  std::shared_ptr<DigestCache> digests;
};

/// Runs one layout over one device. Not thread-safe; cancel through the device's hooks.
class Flasher {
 public:
  Flasher(Device& device, std::filesystem::path layout_file, FlashOptions options = {});
  /// Stops and waits for the background check of mapped ranges, if one still runs.
  ~Flasher();
  Flasher(const Flasher&) = delete;
  Flasher& operator=(const Flasher&) = delete;

  /// Checks everything, then flashes as the device asks.
  /// @throws LayoutError (file and line) for a bad layout, a missing/unreadable binary or an FSBL
  ///         the SoC would refuse, before anything is sent; LayoutError(errc::layout_rule) when
  ///         the device asks for a phase the layout has no file for; DeviceError(device_reported)
  ///         with the device's Get Phase 0xFF message verbatim; ProtocolError when the device asks
  ///         for the same phase twice in a row; the device's errors otherwise.
  FlashReport run();

  /// The report so far (complete after run() returned or threw).
  const FlashReport& report() const { return report_; }

 private:
  void prepare();
  void plan_partition(const image::LayoutEntry& entry);
  /// UART: the estimate event, and the go-ahead for a run longer than long_run_limit.
  void check_long_run();
  /// The mapped ranges' checksums: the background check's result when one was started, else
  /// checked now (with the partition's SHA-256, into shas_). @throws LayoutError(bad_checksum).
  void check_ranges(const image::LayoutEntry& entry, const WritePlan& plan);
  /// Starts checking every planned partition's mapped ranges on a second thread, so that reading
  /// and hashing them overlaps the boot stages instead of keeping the board waiting; then the
  /// same thread hashes each partition's ranges for its SHA-256.
  void start_range_checks();
  void stop_range_checks() noexcept;
  /// `compute` through options_.digests when there is one.
  std::optional<std::string> digest(const std::string& key, const DigestCache::Compute& compute) const;
  /// Checks the mapped ranges against the block map; false when stopped (stop_checks_).
  /// @throws LayoutError(bad_checksum) naming the first range that differs.
  bool check_mapped(const BinaryFile& file, const image::LayoutEntry& entry, const WritePlan& plan) const;
  /// SHA-256 of the mapped ranges in order; nullopt when stopped.
  std::optional<std::string> mapped_sha(const BinaryFile& file, const image::LayoutEntry& entry,
                                        const WritePlan& plan) const;
  /// Phase -> SHA-256 of what the earlier run of this board programmed (options_.resume).
  std::map<std::uint8_t, std::string> resume_plan();
  /// Refuses a board whose first Get Phase is not a stage that programs the layout.
  void check_board_state(const PhaseInfo& first);
  void serve(const PhaseInfo& info);
  /// The entry's binary, opened and stat'ed once (nothing read).
  const BinaryFile& file_of(const image::LayoutEntry& entry);
  /// SHA-256 of what the entry sends (the file, or its mapped ranges), computed once per run.
  const std::string& sha_of(const image::LayoutEntry& entry);
  /// shas_'s key of the entry: its file and, for a partition sent in part, its plan (one file may
  /// go whole to one partition and by a block map to another).
  std::string sha_key(const image::LayoutEntry& entry) const;
  /// The report record of a phase: the line's fields (the layout itself when `entry` is null).
  PartitionReport record_for(std::uint8_t phase, const image::LayoutEntry* entry);
  void stage(FlashStep step);
  void verify();
  void note_link();
  /// Sends the phase's data: the layout text (entry null), the FSBL, or a binary by its plan.
  void transfer(std::uint8_t phase, const image::LayoutEntry* entry, PartitionReport& rec);

  Device& device_;
  std::filesystem::path layout_file_;
  FlashOptions options_;
  image::FlashLayout layout_;
  Bytes layout_bytes_;
  std::map<std::filesystem::path, BinaryFile> files_;
  std::map<std::uint8_t, WritePlan> plans_;  // partitions sent in part (block map, holes)
  std::map<std::string, std::string> shas_;  // sha_key() -> SHA-256
  FlashReport report_;
  FlashStep stage_ = FlashStep::none;
  std::set<std::uint8_t> resumed_;
  struct RangeCheck {
    std::shared_future<void> checked;  // the ranges match their block-map checksums
    std::future<std::string> sha;      // SHA-256 of the ranges in order
  };
  std::map<std::uint8_t, RangeCheck> range_checks_;  // phase -> its background check
  std::atomic<bool> stop_checks_{false};
  std::thread checker_;
};

/// Convenience: Flasher(device, layout_file, options).run().
FlashReport flash(Device& device, const std::filesystem::path& layout_file, FlashOptions options = {});

}  // namespace mp1boot::session
