// SPDX-License-Identifier: MIT
// Recorder: exchange log and phase images of a simulated board, written as files on request.
#include "mp1boot/sim/recorder.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "mp1boot/error.hpp"

namespace mp1boot::sim {

namespace {

void write_file(const std::filesystem::path& path, const char* data, std::size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f) f.write(data, static_cast<std::streamsize>(size));
  if (f) f.close();
  if (!f) {
    ErrorContext ctx;
    ctx.operation = "record";
    ctx.file = path.string();
    throw TransportError(errc::io, "cannot write the simulator record " + path.string(), ctx);
  }
}

}  // namespace

Recorder::Recorder(std::filesystem::path dir) : dir_(std::move(dir)) {}

void Recorder::add(Entry::Kind kind, ByteView bytes, Clock::time_point at) {
  if (!origin_) origin_ = at;
  if (!entries_.empty()) {
    Entry& last = entries_.back();
    if (last.kind == kind && last.at == at && kind != Entry::Kind::stage) {
      last.bytes.insert(last.bytes.end(), bytes.begin(), bytes.end());
      return;
    }
  }
  Entry e{at, kind, Bytes(bytes.begin(), bytes.end()), {}, 0};
  entries_.push_back(std::move(e));
}

void Recorder::rx(ByteView bytes, Clock::time_point at) {
  if (!bytes.empty()) add(Entry::Kind::rx, bytes, at);
}

void Recorder::tx(ByteView bytes, Clock::time_point at) {
  if (!bytes.empty()) add(Entry::Kind::tx, bytes, at);
}

void Recorder::stage(std::string_view name, std::uint8_t phase, Clock::time_point at) {
  add(Entry::Kind::stage, {}, at);
  entries_.back().stage = std::string(name);
  entries_.back().phase = phase;
}

void Recorder::image(std::uint8_t phase, ByteView bytes) {
  images_[phase] = Bytes(bytes.begin(), bytes.end());
}

std::string Recorder::exchange_json() const {
  std::string out = "[";
  bool first = true;
  for (const auto& e : entries_) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    // Seconds since the first entry, to the microsecond (as the log always had).
    const double t = std::round(std::chrono::duration<double>(e.at - *origin_).count() * 1e6) / 1e6;
    nlohmann::ordered_json j{{"t", t}};
    if (e.kind == Entry::Kind::stage) {
      j["stage"] = e.stage;
      j["phase"] = hex8(e.phase);
    } else {
      j["dir"] = e.kind == Entry::Kind::rx ? "rx" : "tx";
      j["hex"] = to_hex(e.bytes);
    }
    out += j.dump();
  }
  out += first ? "]\n" : "\n]\n";
  return out;
}

void Recorder::write() const {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    ErrorContext ctx;
    ctx.operation = "record";
    ctx.file = dir_.string();
    throw TransportError(errc::io, "cannot create the simulator record folder " + dir_.string() +
                                       ": " + ec.message(), ctx);
  }
  for (const auto& [phase, bytes] : images_) {
    char name[32];
    std::snprintf(name, sizeof name, "phase-0x%02x.bin", phase);
    write_file(dir_ / name, reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  std::string json = exchange_json();
  write_file(dir_ / "exchange.json", json.data(), json.size());
}

}  // namespace mp1boot::sim
