// SPDX-License-Identifier: MIT
// DFU requests written out by hand over a transport::UsbControlPort (no dfu::Engine): what the
// transport tests send to the simulated boards, in-process and through libusb.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/transport/usb_port.hpp"

namespace mp1boot::test {

/// Get Phase: SET_INTERFACE `alt`, DFU_UPLOAD of up to 512 bytes; the reply as hex.
inline std::string get_phase(transport::UsbControlPort& port, std::uint8_t alt) {
  port.set_alt_setting(alt);
  std::array<std::uint8_t, 512> buf{};
  auto n = port.control_in({0xA1, 2, 0, 0}, buf, std::chrono::milliseconds(1000));
  return to_hex(ByteView(buf.data(), n));
}

/// Downloads `image` on `alt` the way a host does: 1024-byte DNLOADs, GETSTATUS until
/// dfuDNLOAD-IDLE after each, then the zero-length DNLOAD and GETSTATUS until dfuIDLE. A
/// dfuERROR on the way fails the calling test.
inline void download(transport::UsbControlPort& port, std::uint8_t alt, ByteView image) {
  constexpr std::chrono::milliseconds timeout(2000);
  port.set_alt_setting(alt);
  std::array<std::uint8_t, 6> st{};
  std::uint16_t block = 0;
  for (std::size_t off = 0; off < image.size(); off += 1024, ++block) {
    port.control_out({0x21, 1, block, 0}, image.subspan(off, std::min<std::size_t>(1024, image.size() - off)), timeout);
    do port.control_in({0xA1, 3, 0, 0}, st, timeout);
    while (st[4] != 5 && st[4] != 10);
    ASSERT_EQ(st[4], 5) << "block " << block;
  }
  port.control_out({0x21, 1, block, 0}, {}, timeout);
  do port.control_in({0xA1, 3, 0, 0}, st, timeout);
  while (st[4] != 2 && st[4] != 10);
  ASSERT_EQ(st[4], 2) << "manifestation";
}

}  // namespace mp1boot::test
