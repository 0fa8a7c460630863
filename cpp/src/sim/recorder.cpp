// SPDX-License-Identifier: MIT
// Recorder: exchange log and phase images of a simulated board, written as files on request.
#include "mp1boot/sim/recorder.hpp"

#include <cstdio>
#include <fstream>
#include <system_error>

#include "mp1boot/error.hpp"

namespace mp1boot::sim {

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

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
    double t = std::chrono::duration<double>(e.at - *origin_).count();
    char tbuf[32];
    std::snprintf(tbuf, sizeof tbuf, "%.6f", t);
    out += "{\"t\": ";
    out += tbuf;
    switch (e.kind) {
      case Entry::Kind::rx:
      case Entry::Kind::tx:
        out += e.kind == Entry::Kind::rx ? ", \"dir\": \"rx\"" : ", \"dir\": \"tx\"";
        out += ", \"hex\": " + json_string(to_hex(e.bytes)) + "}";
        break;
      case Entry::Kind::stage:
        out += ", \"stage\": " + json_string(e.stage) + ", \"phase\": " + json_string(hex8(e.phase)) + "}";
        break;
    }
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
