// SPDX-License-Identifier: MIT
// Field traces: the whole exchange of a host with a board (UART bytes, USB control transfers,
// re-enumerations, timeouts, notes) with timings, as versioned JSON lines (docs/TRACES.md). The
// driver loops and the USB session write them (trace::Writer); the simulator serves them back as
// a device (sim/replay.hpp, the `sim:replay=FILE` port), so a board's misbehaviour captured in the
// field becomes a regression test. The caller's data (download payloads, read-back content) is
// kept as size and SHA-256 only, unless the trace is written with `data`.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/usb.hpp"
#include "mp1boot/vocabulary.hpp"

namespace mp1boot::trace {

/// The format version written in every header ("mp1boot_trace": 1).
inline constexpr int format_version = 1;

/// The bytes of one step: in full, or (a payload recorded without data) only size and SHA-256.
struct Data {
  std::optional<Bytes> bytes;  ///< set when recorded in full
  std::uint64_t size = 0;
  std::string sha256;          ///< lower-case hex; set when only the hash was kept

  static Data full(ByteView b);
  static Data hashed(ByteView b);
  bool matches(ByteView b) const;
  /// "31 ce" (at most 32 bytes shown) or "258 bytes, sha256 1f2e3d4c..".
  std::string describe() const;
};

enum class Kind {
  write,      ///< UART: bytes the host wrote
  read,       ///< UART: bytes the host received
  timeout,    ///< UART: a read that saw nothing within `ms`
  control,    ///< USB: one control transfer (setup, OUT data or IN reply, result)
  set_alt,    ///< USB: SET_INTERFACE
  reset,      ///< USB: port reset
  enumerate,  ///< USB: the host opened an enumeration (identity, alternate settings)
  note,       ///< the host's annotation (retries, waits); not replayed
  end,        ///< how the run ended (written by the CLI or the API's caller)
};
const char* kind_name(Kind k) noexcept;

/// How a USB request ended.
enum class Result { ok, stall, disconnected, timeout, error };
const char* result_name(Result r) noexcept;

struct Record {
  Kind kind = Kind::note;
  double t = 0;              ///< seconds since the trace began
  int line = 0;              ///< 1-based line in the file (records read back)
  Data data;                 ///< write/read bytes; control: OUT data or IN reply
  std::uint32_t ms = 0;      ///< timeout: the read's timeout; control: the transfer timeout
  usb::SetupPacket setup;    ///< control
  std::uint16_t length = 0;  ///< control: wLength
  Result result = Result::ok;
  std::uint8_t alt = 0;      ///< set_alt
  usb::Identity identity;    ///< enumerate
  std::vector<usb::AltSetting> alts;
  std::string text;          ///< note: the text; end: "ok" or the error code name
  std::string message;       ///< end: the error message
};

struct Header {
  int version = format_version;
  std::string link;                 ///< "uart" or "usb"
  std::string port;                 ///< the port as the user gave it
  std::string tool;                 ///< "mp1boot 0.9.0"
  std::string created;              ///< ISO 8601 UTC
  bool data = false;                ///< payloads recorded in full
  std::vector<std::string> argv;    ///< the CLI arguments (without --port/--trace), if any
};

struct Trace {
  std::filesystem::path path;
  Header header;
  std::vector<Record> records;
};

/// Reads a trace. @throws UsageError naming the file and line for anything that is not a trace of
/// a known version (bad JSON, unknown kind, missing field, bad hex); TransportError(errc::io) when
/// the file cannot be read. Files over 256 MiB are refused before they are read.
Trace read(const std::filesystem::path& path);
/// Parses the text of a trace; `path` names it in messages. @throws UsageError as read().
Trace parse(std::string_view text, const std::filesystem::path& path);

/// Writes a trace as it happens (each record is one line, flushed at notes and at the end).
/// Thread-safe; the header is written by begin(), which the first connect() calls.
class Writer {
 public:
  struct Options {
    bool data = false;                 ///< keep payloads in full (default: size and SHA-256)
    std::vector<std::string> argv;     ///< the command that is being traced, for replay helpers
  };
  /// Creates (truncates) the file. @throws TransportError(errc::io) naming the file.
  Writer(const std::filesystem::path& path, Options options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Writes the header. A second call (another connection of the same run) is a UsageError.
  void begin(std::string_view link, std::string_view port);
  /// The same, for a Device::link().
  void begin(Link link, std::string_view port) { begin(to_string(link), port); }
  bool begun() const;

  void write(ByteView bytes, bool payload);
  void read(ByteView bytes, bool payload);
  void timeout(std::uint32_t ms);
  void control(const usb::SetupPacket& setup, std::uint16_t length, std::uint32_t timeout_ms, ByteView data,
               bool payload, Result result);
  void set_alt(std::uint8_t alt, Result result);
  void reset(Result result);
  void enumerate(const usb::Identity& identity, const std::vector<usb::AltSetting>& alts);
  void note(std::string_view text);
  /// How the run ended: "ok", or an error code name and its message. Flushes.
  void end(std::string_view result, std::string_view message = {});
  /// Writes what is buffered to the file (Device::close() does).
  void flush();

  const std::filesystem::path& path() const { return path_; }

 private:
  void line(const std::string& json);
  double now() const;
  Data data_of(ByteView bytes, bool payload) const;

  std::filesystem::path path_;
  Options options_;
  mutable std::mutex mutex_;
  std::ofstream out_;
  bool begun_ = false;
  std::int64_t origin_ns_ = 0;
};

}  // namespace mp1boot::trace
