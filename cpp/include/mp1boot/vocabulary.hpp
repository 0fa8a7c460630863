// SPDX-License-Identifier: MIT
// The words the report, the board listing and the events share, as enums: the link a board is on,
// the boot stage that answers, what happened to a partition, and what its read-back said. Each has
// one spelling, the one the JSON report (docs/flash-report.schema.json) and the Python enums of
// mp1boot.vocabulary use: to_string() gives it, from_string<E>() reads it back. A base header:
// plain data, no I/O.
#pragma once
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace mp1boot {

/// The link a board is attached by. `unknown` ("") before anything was connected.
enum class Link { unknown, uart, usb };

/// The boot stage that answers on the link (USB: from the product string, PROTOCOL.md 3.2):
/// "rom", "tf-a", "u-boot"; `unknown` ("unknown") when the product string does not say.
enum class Stage { unknown, rom, tfa, uboot };

/// How a whole flash run ended (the report's "result"; flash_many's: ok when every board's is).
enum class FlashResult {
  ok,      ///< "ok": every phase sent and started (and read back, with verify)
  failed,  ///< "failed": the run ended early (the report's "error" says why)
};

/// The step a flash run is at (FlashEvent::stage, the events' "stage").
enum class FlashStep {
  none,        ///< "": before the first step
  check,       ///< "check": layout, files and board checked before the first byte
  fsbl,        ///< "fsbl": the FSBL to the ROM
  fip,         ///< "fip": the FIP (and DDR FIP) to TF-A
  layout,      ///< "layout": the flash layout to U-Boot
  partitions,  ///< "partitions": the partitions
  verify,      ///< "verify": reading the partitions back
  done,        ///< "done": the run succeeded
  failed,      ///< "failed": the run ended with an error
};

/// What happened to one phase of a flash run (the report's partition "result").
enum class PartitionResult {
  ok,                    ///< "ok": sent and started
  failed,                ///< "failed": the run ended during it
  skipped,               ///< "skipped": not reached
  skipped_done_earlier,  ///< "skipped-done-earlier": resume, the earlier run of this board
                         ///< programmed it with the same SHA-256, so it was not sent again
};

/// What reading a partition back said (the report's partition "verified").
enum class VerifyResult {
  not_read,  ///< "": not read back (no --verify, a RAM phase, or the run ended first)
  ok,        ///< "ok": the read-back has the file's SHA-256
  mismatch,  ///< "mismatch": it differs
};

/// The one spelling of each value: "", "uart", "usb"; "unknown", "rom", "tf-a", "u-boot"; "ok",
/// "failed", "skipped", "skipped-done-earlier"; "", "ok", "mismatch"; "ok", "failed" (FlashResult);
/// "", "check", "fsbl", "fip", "layout", "partitions", "verify", "done", "failed" (FlashStep).
std::string_view to_string(Link v);
std::string_view to_string(Stage v);
std::string_view to_string(PartitionResult v);
std::string_view to_string(VerifyResult v);
std::string_view to_string(FlashResult v);
std::string_view to_string(FlashStep v);

/// The value spelled `text` (exactly as to_string() spells it); nullopt for any other text.
/// `from_string<Link>("usb")`.
template <class E>
std::optional<E> from_string(std::string_view text);
template <>
std::optional<Link> from_string<Link>(std::string_view text);
template <>
std::optional<Stage> from_string<Stage>(std::string_view text);
template <>
std::optional<PartitionResult> from_string<PartitionResult>(std::string_view text);
template <>
std::optional<VerifyResult> from_string<VerifyResult>(std::string_view text);
template <>
std::optional<FlashResult> from_string<FlashResult>(std::string_view text);
template <>
std::optional<FlashStep> from_string<FlashStep>(std::string_view text);

/// Every spelling of E, in declaration order, quoted and separated by ", " (for messages that
/// list the allowed values).
template <class E>
std::string allowed_values();
template <>
std::string allowed_values<Link>();
template <>
std::string allowed_values<Stage>();
template <>
std::string allowed_values<PartitionResult>();
template <>
std::string allowed_values<VerifyResult>();
template <>
std::string allowed_values<FlashResult>();
template <>
std::string allowed_values<FlashStep>();

/// Writes to_string(v) (test failure messages, logs).
std::ostream& operator<<(std::ostream& os, Link v);
std::ostream& operator<<(std::ostream& os, Stage v);
std::ostream& operator<<(std::ostream& os, PartitionResult v);
std::ostream& operator<<(std::ostream& os, VerifyResult v);
std::ostream& operator<<(std::ostream& os, FlashResult v);
std::ostream& operator<<(std::ostream& os, FlashStep v);

}  // namespace mp1boot
