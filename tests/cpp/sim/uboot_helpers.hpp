// SPDX-License-Identifier: MIT
// Helpers of the U-Boot model tests: a board started at TF-A with the U-Boot factory, taken to
// U-Boot by a hand-made FIP download, and the host frames of the U-Boot commands built by hand
// (never with the host engine). Small storage devices keep the image files tiny.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>

#include "mp1boot/sim/uboot_uart.hpp"
#include "support/sim_helpers.hpp"

namespace mp1boot::sim::test {

/// Devices of a small board: mmc0 64 MiB SD, mmc1 64 MiB eMMC + 1 MiB boot partitions, nor0 4 MiB
/// (64 KiB blocks), nand0 8 MiB (128 KiB blocks).
inline UbootOptions small_uboot_options() {
  UbootOptions o;
  o.storage.devices = {
      {"mmc0", {64u << 20, 512, 0}},
      {"mmc1", {64u << 20, 512, 1u << 20}},
      {"nor0", {4u << 20, 64u << 10, 0}},
      {"nand0", {8u << 20, 128u << 10, 0}},
  };
  return o;
}

/// A board that runs TF-A, then U-Boot from make_uboot_factory, sharing `hw` with the test.
struct UbootRig {
  explicit UbootRig(UbootOptions options = small_uboot_options(), const char* soc = "stm32mp157",
                    std::shared_ptr<UbootHardware> shared = nullptr)
      : hw(shared ? shared : std::make_shared<UbootHardware>(options.storage)) {
    UartBoardOptions o = options_for(soc);
    o.start_stage = StartStage::tfa;
    o.ssbl_factory = make_uboot_factory(options, hw);
    board = std::make_unique<UartBoard>(o);
    host = std::make_unique<Host>(*board);
  }

  /// TF-A's NACK, a FIP, Start: returns what came back ("79 79 1f" with U-Boot's entry NACK).
  std::string boot_uboot() {
    if (to_hex(host->receive(1)) != "1f") return "no TF-A NACK";
    if (!download(*host, make_fip(300))) return "FIP download refused";
    return start(*host);
  }

  /// The running U-Boot stage, or nullptr.
  const UbootUartStage* uboot() const { return dynamic_cast<const UbootUartStage*>(&board->current_stage()); }

  std::shared_ptr<UbootHardware> hw;
  std::unique_ptr<UartBoard> board;
  std::unique_ptr<Host> host;
};

/// Everything the board says now (all replies of the model are immediate or timer-bound).
inline std::string all_of(Host& host) { return to_hex(host.settle()); }

/// Get Phase decoded.
struct PhaseReply {
  bool framed = false;  ///< ACK, N, ..., ACK with N = 5 + L
  std::uint8_t phase = 0;
  std::uint32_t address = 0;
  std::string message;
};

inline PhaseReply get_phase(Host& host) {
  host.send_hex("03 fc");
  Bytes r = host.settle();
  PhaseReply p;
  if (r.size() < 9 || r[0] != 0x79) return p;
  const std::size_t length = r[7];
  if (r.size() != 9 + length || r[1] != 5 + length || r.back() != 0x79) return p;
  p.framed = true;
  p.phase = r[2];
  p.address = load_le32(&r[3]);
  p.message.assign(r.begin() + 8, r.begin() + 8 + static_cast<std::ptrdiff_t>(length));
  return p;
}

/// One Download packet with an operation byte; replies as hex.
inline std::string send_op_packet(Host& host, std::uint8_t op, std::uint32_t packet, ByteView data) {
  std::string r = host.exchange("31 ce", 1);
  if (r != "79") return r;
  host.send(download_address(packet, op));
  std::string a = to_hex(host.settle());
  r += a.empty() ? "" : " " + a;
  if (a != "79") return r;
  host.send(data_frame(data));
  std::string d = to_hex(host.settle());
  r += d.empty() ? "" : " " + d;
  return r;
}

/// Downloads `image` in 256-byte packets with `op`; false at the first reply other than 79 79 79.
inline bool download_op(Host& host, ByteView image, std::uint8_t op = 0x00) {
  std::uint32_t packet = 0;
  for (std::size_t off = 0; off < image.size(); off += 256, ++packet) {
    auto n = std::min<std::size_t>(256, image.size() - off);
    if (send_op_packet(host, op, packet, image.subspan(off, n)) != "79 79 79") return false;
  }
  return true;
}

inline Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

/// Read Partition: "79" after the header, then ACK + n bytes or ABORT. Returns the data after
/// the leading ACK (empty when refused) and the raw reply in `raw`.
inline Bytes read_partition(Host& host, std::uint8_t id, std::uint32_t offset, std::size_t n,
                            std::string* raw = nullptr) {
  Bytes frame{id, static_cast<std::uint8_t>(offset >> 24), static_cast<std::uint8_t>(offset >> 16),
              static_cast<std::uint8_t>(offset >> 8), static_cast<std::uint8_t>(offset)};
  frame.push_back(xor_bytes(frame));
  const auto len = static_cast<std::uint8_t>(n - 1);
  host.send_hex("12 ed");
  Bytes reply = host.settle();
  host.send(frame);
  Bytes more = host.settle();
  reply.insert(reply.end(), more.begin(), more.end());
  host.send(Bytes{len, static_cast<std::uint8_t>(len ^ 0xFF)});
  more = host.settle();
  reply.insert(reply.end(), more.begin(), more.end());
  if (raw) *raw = to_hex(reply);
  // 79 (command) 79 (header) 79 (data follows) + n bytes
  if (reply.size() != 3 + n || reply[0] != 0x79 || reply[1] != 0x79 || reply[2] != 0x79) return {};
  return Bytes(reply.begin() + 3, reply.end());
}

/// Bytes of an image file.
inline Bytes file_bytes(const std::filesystem::path& path, std::uint64_t offset, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  Bytes out(n, 0);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

/// The small MP15 SD-card layout of the tests.
inline std::string sd_layout() {
  return "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
         "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
         "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
         "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
         "P\t0x05\tfip\tFIP\tmmc0\t0x00044400\tfip.bin\n"
         "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n";
}

/// Downloads a layout in phase 0x00 and starts it: the replies of Start ("79 79" expected).
inline std::string send_layout(Host& host, const std::string& tsv) {
  if (!download_op(host, text_bytes(tsv))) return "layout download refused";
  return start(host);
}

}  // namespace mp1boot::sim::test
