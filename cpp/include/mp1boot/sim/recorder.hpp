// SPDX-License-Identifier: MIT
// Recorder: what a simulated board saw and said, for tests, notebooks and bug reports. It keeps
// the byte exchange (with device times), the stage changes and the completed phase images, and
// writes them to a folder: phase-0xNN.bin per image and exchange.json, a JSON list of
//   {"t": 0.001234, "dir": "rx", "hex": "7f"}            host -> device bytes
//   {"t": 0.001234, "dir": "tx", "hex": "79"}            device -> host bytes
//   {"t": 0.010000, "stage": "tf-a", "phase": "0x03"}    a stage starts running
// where t is seconds since the first recorded event and hex is to_hex() ("31 ce").
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mp1boot/bytes.hpp"

namespace mp1boot::sim {

class Recorder {
 public:
  using Clock = std::chrono::steady_clock;

  /// One entry of the exchange log.
  struct Entry {
    Clock::time_point at;
    enum class Kind { rx, tx, stage } kind;
    Bytes bytes;          ///< rx / tx
    std::string stage;    ///< stage name
    std::uint8_t phase = 0;
  };

  /// `dir` empty: nothing is ever written (the log is still kept in memory).
  explicit Recorder(std::filesystem::path dir = {});

  /// Appends bytes; consecutive bytes of the same direction and time join one entry.
  void rx(ByteView bytes, Clock::time_point at);
  void tx(ByteView bytes, Clock::time_point at);
  void stage(std::string_view name, std::uint8_t phase, Clock::time_point at);
  /// Records a completed phase image (a later image of the same phase replaces it).
  void image(std::uint8_t phase, ByteView bytes);

  const std::vector<Entry>& entries() const { return entries_; }
  const std::map<std::uint8_t, Bytes>& images() const { return images_; }
  const std::filesystem::path& dir() const { return dir_; }

  /// The exchange log as JSON text (see the file comment).
  std::string exchange_json() const;
  /// Writes DIR/phase-0xNN.bin for every image and DIR/exchange.json, creating DIR. No effect
  /// when dir() is empty. @throws TransportError(errc::io) naming the file that failed.
  void write() const;

 private:
  void add(Entry::Kind kind, ByteView bytes, Clock::time_point at);
  std::filesystem::path dir_;
  std::vector<Entry> entries_;
  std::map<std::uint8_t, Bytes> images_;
  std::optional<Clock::time_point> origin_;
};

}  // namespace mp1boot::sim
