// SPDX-License-Identifier: MIT
// Helpers of the simulated-board tests: a scripted host on virtual time (no real waiting), FSBL
// and FIP builders written here from PROTOCOL.md 6 (not with mp1boot::image), and the frames a
// host sends, built by hand.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/uart_board.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::sim::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline Clock::time_point t0() { return Clock::time_point{} + std::chrono::hours(1); }

inline std::uint8_t xor_bytes(ByteView b) {
  std::uint8_t x = 0;
  for (auto v : b) x ^= v;
  return x;
}

/// Drives a board on virtual time.
class Host {
 public:
  explicit Host(UartBoard& board, Clock::time_point start = t0()) : board_(board), now_(start) {}

  /// Sends bytes at the current time (one on_receive call, or one per byte when split).
  void send(ByteView bytes, bool split = false) {
    if (!split) {
      board_.on_receive(bytes, now_);
      return;
    }
    for (auto b : bytes) board_.on_receive(ByteView(&b, 1), now_);
  }
  void send_hex(const std::string& hex, bool split = false) {
    Bytes b = from_hex(hex);
    send(b, split);
  }
  /// Collects output until `count` bytes came, following the board's deadlines (bounded).
  Bytes receive(std::size_t count) {
    Bytes out = board_.take_output(now_);
    for (int guard = 0; out.size() < count && guard < 100; ++guard) {
      auto d = board_.next_deadline();
      if (!d) break;
      if (*d > now_) now_ = *d;
      Bytes more = board_.take_output(now_);
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
  /// Output available now, without advancing time.
  Bytes poll() { return board_.take_output(now_); }
  /// Runs every pending deadline (bounded) and returns what was said meanwhile.
  Bytes settle() {
    Bytes out = board_.take_output(now_);
    for (int guard = 0; guard < 100; ++guard) {
      auto d = board_.next_deadline();
      if (!d) break;
      if (*d > now_) now_ = *d;
      Bytes more = board_.take_output(now_);
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
  /// send + receive(expected size) and returns the hex of what came.
  std::string exchange(const std::string& hex, std::size_t reply_size, bool split = false) {
    send_hex(hex, split);
    return to_hex(receive(reply_size));
  }
  void wait(Clock::duration d) { now_ += d; }
  Clock::time_point now() const { return now_; }

 private:
  UartBoard& board_;
  Clock::time_point now_;
};

/// Address frame of a Download: op, 24-bit packet number BE, XOR.
inline Bytes download_address(std::uint32_t packet, std::uint8_t op = 0x00) {
  Bytes f{op, static_cast<std::uint8_t>(packet >> 16), static_cast<std::uint8_t>(packet >> 8),
          static_cast<std::uint8_t>(packet)};
  f.push_back(xor_bytes(f));
  return f;
}

/// Data frame: N-1, data, XOR.
inline Bytes data_frame(ByteView data) {
  Bytes f(data.size() + 2, 0);
  f[0] = static_cast<std::uint8_t>(data.size() - 1);
  std::copy(data.begin(), data.end(), f.begin() + 1);
  f.back() = xor_bytes(ByteView(f.data(), f.size() - 1));
  return f;
}

/// Start frame: address BE32 + XOR.
inline Bytes start_frame(std::uint32_t address) {
  Bytes f{static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
          static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)};
  f.push_back(xor_bytes(f));
  return f;
}

/// Sends one packet (command, address, data) like a careful host, stopping at the first reply
/// other than ACK, and returns the replies as hex ("79 79 79" when all went well).
inline std::string send_packet(Host& host, std::uint32_t packet, ByteView data, bool split = false) {
  std::string r = host.exchange("31 ce", 1, split);
  if (r != "79") return r;
  host.send(download_address(packet), split);
  std::string a = to_hex(host.receive(1));
  r += a.empty() ? "" : " " + a;
  if (a != "79") return r;
  host.send(data_frame(data), split);
  std::string d = to_hex(host.receive(1));
  r += d.empty() ? "" : " " + d;
  return r;
}

/// Downloads `image` in 256-byte packets; returns false at the first reply other than 79 79 79.
inline bool download(Host& host, ByteView image, bool split = false) {
  std::uint32_t packet = 0;
  for (std::size_t off = 0; off < image.size(); off += 256, ++packet) {
    auto n = std::min<std::size_t>(256, image.size() - off);
    if (send_packet(host, packet, image.subspan(off, n), split) != "79 79 79") return false;
  }
  return true;
}

/// Start 0xFFFFFFFF (or another address): returns the reply bytes (command ACK + result, plus
/// whatever the next stage says at once) as hex.
inline std::string start(Host& host, std::uint32_t address = 0xFFFFFFFF, bool split = false) {
  std::string r = host.exchange("21 de", 1, split);
  host.send(start_frame(address), split);
  Bytes rest = host.receive(1);
  Bytes more = host.poll();
  rest.insert(rest.end(), more.begin(), more.end());
  return r + " " + to_hex(rest);
}

inline Bytes test_payload(std::size_t n, unsigned seed = 7) {
  Bytes p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return p;
}

inline std::uint32_t sum_of(ByteView b) {
  std::uint32_t s = 0;
  for (auto v : b) s += v;
  return s;
}

/// An FSBL for `soc` built by hand: v1 (256 B) for MP15, v2.0 (512 B, padding extension) for MP13.
inline Bytes make_fsbl(const SocInfo& soc, std::size_t payload_size, unsigned seed = 7) {
  Bytes payload = test_payload(payload_size, seed);
  bool v1 = ((soc.header_version >> 16) & 0xFF) == 1;
  Bytes h(v1 ? 256 : 512, 0);
  std::uint32_t load = soc.rom_download_address + static_cast<std::uint32_t>(h.size());
  store_le32(&h[0x00], 0x324D5453);
  store_le32(&h[0x44], sum_of(payload));
  store_le32(&h[0x48], soc.header_version);
  store_le32(&h[0x4C], static_cast<std::uint32_t>(payload.size()));
  store_le32(&h[0x50], load);
  store_le32(&h[0x58], load);
  if (v1) {
    store_le32(&h[0x64], 1);  // no signature check
    store_le32(&h[0x68], 1);  // P-256
    h[0xFF] = 0x10;
  } else {
    store_le32(&h[0x64], 0x80000000);
    store_le32(&h[0x68], 0x180);
    store_le32(&h[0x6C], 0x10);
    store_le32(&h[0x80], 0xFFFF5453);
    store_le32(&h[0x84], 0x180);
  }
  h.insert(h.end(), payload.begin(), payload.end());
  return h;
}

/// A FIP: ToC header (name 0xAA640001, serial `serial`) then filler.
inline Bytes make_fip(std::size_t size, std::uint32_t serial = 0x12345678) {
  Bytes f = test_payload(size, 3);
  store_le32(&f[0], 0xAA640001);
  store_le32(&f[4], serial);
  return f;
}

inline UartBoardOptions options_for(const char* soc) {
  UartBoardOptions o;
  o.soc = &soc_by_name(soc);
  return o;
}

}  // namespace mp1boot::sim::test
