// SPDX-License-Identifier: MIT
// Helpers for the USB tests: images built by hand from PROTOCOL.md 6 (independently of
// mp1boot::image), SETUP packets written out as bytes, and a tiny driver of UsbBoard.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::test {

/// An FSBL for `soc`: header v1 (256 B) or v2 (0x80 + 0x180 padding extension = 512 B), the
/// payload filled with a pattern, checksum set (or broken when `good_checksum` is false).
inline Bytes make_fsbl(const SocInfo& soc, std::size_t payload_size, bool good_checksum = true,
                       std::uint32_t version_override = 0) {
  const std::size_t header = soc.header_version >= 0x00020000 ? 512 : 256;
  Bytes b(header + payload_size, 0);
  store_le32(&b[0x00], 0x324D5453);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < payload_size; ++i) {
    b[header + i] = static_cast<std::uint8_t>(i * 7 + 3);
    sum += b[header + i];
  }
  store_le32(&b[0x44], good_checksum ? sum : sum + 1);
  store_le32(&b[0x48], version_override ? version_override : soc.header_version);
  store_le32(&b[0x4C], static_cast<std::uint32_t>(payload_size));
  if (header == 512) {
    store_le32(&b[0x64], 0x80000000);  // padding extension present
    store_le32(&b[0x68], 0x180);
    store_le32(&b[0x80], 0xFFFF5453);
    store_le32(&b[0x84], 0x180);
  }
  return b;
}

/// A FIP: ToC header magic and a non-zero serial number, then filler.
inline Bytes make_fip(std::size_t size, bool valid = true) {
  Bytes b(size, 0x5A);
  store_le32(&b[0], valid ? 0xAA640001 : 0x12345678);
  store_le32(&b[4], 0x12345678);
  return b;
}

/// Drives a UsbBoard with raw requests.
struct BoardDriver {
  sim::UsbBoard& board;
  using Kind = sim::UsbBoard::Reply::Kind;

  sim::UsbBoard::Reply in(std::uint8_t type, std::uint8_t req, std::uint16_t value, std::uint16_t index,
                          std::uint16_t len) {
    return board.control({type, req, value, index}, {}, len);
  }
  sim::UsbBoard::Reply out(std::uint8_t type, std::uint8_t req, std::uint16_t value, std::uint16_t index,
                           ByteView data = {}) {
    return board.control({type, req, value, index}, data, 0);
  }
  std::string get_status() { return to_hex(in(0xA1, 3, 0, 0, 6).data); }
  sim::UsbBoard::Reply set_alt(std::uint8_t alt) { return out(0x01, 11, alt, 0); }
  sim::UsbBoard::Reply dnload(std::uint16_t block, ByteView data) { return out(0x21, 1, block, 0, data); }
  sim::UsbBoard::Reply detach() { return out(0x21, 0, 1000, 0); }
  /// Get Phase on the virtual alt (selected by name), as hex.
  std::string get_phase() {
    auto alts = board.alt_settings();
    for (const auto& a : alts)
      if (a.name.find("0xF1") != std::string::npos || a.name.find("0xf1") != std::string::npos) set_alt(a.number);
    return to_hex(in(0xA1, 2, 0, 0, 512).data);
  }
  /// Full download on `alt`: blocks of `chunk` bytes, GETSTATUS until DNLOAD-IDLE after each,
  /// then the zero-length DNLOAD. Returns the GETSTATUS reply after it, as hex.
  std::string download(std::uint8_t alt, ByteView image, std::size_t chunk = 1024) {
    set_alt(alt);
    std::uint16_t block = 0;
    for (std::size_t off = 0; off < image.size(); off += chunk, ++block) {
      auto r = dnload(block, image.subspan(off, std::min(chunk, image.size() - off)));
      if (r.kind != Kind::ok) return "dnload stalled at block " + std::to_string(block);
      for (int i = 0; i < 4; ++i) {
        auto st = in(0xA1, 3, 0, 0, 6).data;
        if (st.size() == 6 && st[4] == 5) break;
        if (st.size() == 6 && st[4] == 10) return "error " + to_hex(st);
      }
    }
    auto r = dnload(block, {});
    if (r.kind != Kind::ok) return "zero-length dnload stalled";
    return get_status();
  }
};

}  // namespace mp1boot::test
