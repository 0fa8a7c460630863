// SPDX-License-Identifier: MIT
// U-Boot stm32prog over USB DFU on the simulated board (PROTOCOL.md 3.2.3, 3.3.2, 3.4.3, 3.5, 3.6,
// 3.8-3.10): sim::UsbBoard driven with raw SETUP packets for the gadget's alternate settings
// before and after the layout, Get Phase bytes and the detach flag, the DFU state machine, block
// sequence errors, read-back, OTP/PMIC, the virtual alt, the reset after a reported error and the
// reset fault; then the host stack (session::connect + session::flash) over the in-process port.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flasher.hpp"
#include "mp1boot/sim/uboot_uart_layout.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"
#include "support/usb_test_util.hpp"

namespace mp1boot::sim {
namespace {

namespace fs = std::filesystem;
using test::BoardDriver;
using test::read_range;
using test::write_file;
using Kind = UsbBoard::Reply::Kind;

constexpr const char* kLayout =
    "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
    "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
    "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
    "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
    "P\t0x05\tdata\tBinary\tmmc0\t0x00014400\tdata.bin\n"
    "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00024400\trootfs.ext4\n";

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes pattern(std::size_t n, unsigned seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * seed + seed / 2);
  return b;
}

/// MP13 board, U-Boot with one small SD card (8 MiB) in a temporary folder.
UsbBoardOptions opts(const char* soc = "stm32mp135") {
  UsbBoardOptions o;
  o.soc = &soc_by_name(soc);
  UbootOptions u;
  u.storage.devices = {{"mmc0", {8u << 20, 512, 0}}};
  o.uboot = u;
  return o;
}

// ROM -> TF-A -> U-Boot on an MP13 board.
void boot_to_uboot(UsbBoard& board) {
  BoardDriver d{board};
  ASSERT_EQ(d.download(0, test::make_fsbl(*board.options().soc, 3000)), "00 01 00 00 07 00");
  d.get_status();
  ASSERT_EQ(d.detach().kind, Kind::ok);
  ASSERT_TRUE(board.reattach());
  ASSERT_EQ(d.download(0, test::make_fip(2500)), "00 01 00 00 07 00");
  d.get_status();
  ASSERT_EQ(d.detach().kind, Kind::ok);
  ASSERT_TRUE(board.reattach());
  ASSERT_EQ(board.stage(), "u-boot");
}

// ... then the layout, its DETACH and the enumeration with the partition alts.
void boot_to_partitions(UsbBoard& board, const std::string& layout = kLayout) {
  boot_to_uboot(board);
  BoardDriver d{board};
  ASSERT_EQ(d.download(0, text(layout), 4096), "00 00 00 00 07 00");
  ASSERT_EQ(d.get_status(), "00 00 00 00 02 00");
  ASSERT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 01");
  ASSERT_EQ(d.detach().kind, Kind::ok);
  ASSERT_TRUE(board.reattach());
}

std::vector<std::string> alt_names(const UsbBoard& board) {
  std::vector<std::string> out;
  for (const auto& a : board.alt_settings()) out.push_back(a.name);
  return out;
}

std::string phase_ff(const std::string& message) { return "ff ff ff ff ff 00 00 00 00 " + to_hex(text(message)); }

/// Uploads `alt` to the end (4096-byte blocks), as the host would.
Bytes upload_all(BoardDriver& d, std::uint8_t alt) {
  d.set_alt(alt);
  Bytes all;
  for (std::uint16_t block = 0; block < 1000; ++block) {
    auto r = d.in(0xA1, 2, block, 0, 4096);
    if (r.kind != Kind::ok) break;
    all.insert(all.end(), r.data.begin(), r.data.end());
    if (r.data.size() < 4096) break;
  }
  return all;
}

TEST(UbootUsb, FirstEnumerationTakesTheLayoutThenReenumeratesWithThePartitions) {
  UsbBoard board(opts());
  boot_to_uboot(board);
  BoardDriver d{board};
  EXPECT_EQ(alt_names(board), (std::vector<std::string>{"@FlashLayout/0x00/1*256Ke", "@virtual/0xf1/1*512Be",
                                                         "@OTP/0xf2/1*776Be", "@PMIC/0xf4/1*8Be"}));
  EXPECT_EQ(board.identity().product,
            "USB download gadget@Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y,");
  EXPECT_EQ(to_hex(d.in(0x81, 6, 0x2100, 0, 9).data), "09 21 0f 00 00 00 10 10 01");
  EXPECT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 00");  // no layout yet: no detach flag

  EXPECT_EQ(d.download(0, text(kLayout), 4096), "00 00 00 00 07 00");  // MANIFEST, poll 0
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  EXPECT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 01");  // parsed: detach flag
  const auto serial = board.identity().serial;
  const auto generation = board.generation();
  ASSERT_EQ(d.detach().kind, Kind::ok);
  EXPECT_FALSE(board.attached());
  ASSERT_TRUE(board.pending_reattach().has_value());
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(board.generation(), generation + 1);
  EXPECT_EQ(board.identity().serial, serial);
  EXPECT_EQ(board.stage(), "u-boot");
  auto names = alt_names(board);
  ASSERT_EQ(names.size(), 6u);
  EXPECT_EQ(names[0], "@fsbl1/0x04/1*64Ke");
  EXPECT_EQ(names[1], "@data/0x05/1*64Ke");
  EXPECT_EQ(names[2].rfind("@rootfs/0x10/1*7M", 0), 0u) << names[2];
  EXPECT_EQ(names[3], "@virtual/0xf1/1*512Be");
  EXPECT_EQ(names[4], "@OTP/0xf2/1*776Be");
  EXPECT_EQ(names[5], "@PMIC/0xf4/1*8Be");
  EXPECT_EQ(d.get_phase(), "04 ff ff ff ff 00 00 00 00");
  EXPECT_EQ(board.received_images().at(0x00), text(kLayout));
}

TEST(UbootUsb, OtpAndPmicAltsFollowTheOptions) {
  auto o = opts();
  o.uboot->otp_supported = false;
  o.uboot->pmic_supported = false;
  UsbBoard board(o);
  boot_to_uboot(board);
  EXPECT_EQ(alt_names(board), (std::vector<std::string>{"@FlashLayout/0x00/1*256Ke", "@virtual/0xf1/1*512Be"}));
}

TEST(UbootUsb, PartitionsAreWrittenInPhaseOrderAndReadBack) {
  UsbBoard board(opts());
  boot_to_partitions(board);
  BoardDriver d{board};
  const Bytes fsbl = pattern(5000, 7), data = pattern(9000, 13), rootfs = pattern(4096, 5);
  EXPECT_EQ(d.download(0, fsbl, 4096), "00 00 00 00 07 00");
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  EXPECT_EQ(d.get_phase(), "05 ff ff ff ff 00 00 00 00");
  EXPECT_EQ(d.download(1, data, 4096), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(d.get_phase(), "10 ff ff ff ff 00 00 00 00");
  EXPECT_EQ(d.download(2, rootfs, 4096), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(d.get_phase(), "fe ff ff ff ff 00 00 00 00");

  auto hw = board.uboot_hardware();
  ASSERT_TRUE(hw);
  EXPECT_EQ(hw->storage.read("mmc0", 0, 0x4400, fsbl.size()), fsbl);
  EXPECT_EQ(hw->storage.read("mmc0", 0, 0x14400, data.size()), data);
  EXPECT_EQ(hw->storage.read("mmc0", 0, 0x24400, rootfs.size()), rootfs);
  EXPECT_EQ(board.received_images().at(0x05), data);

  // Read-back of the whole 64 KiB partition: what was written, then what was there (zeros).
  Bytes back = upload_all(d, 1);
  ASSERT_EQ(back.size(), 0x10000u);
  EXPECT_EQ(Bytes(back.begin(), back.begin() + 9000), data);
  EXPECT_EQ(back[9000], 0);
  EXPECT_EQ(board.dfu_state(), dfu::State::dfu_idle);

  // 0xFE, DETACH: the session is over, the gadget leaves for good.
  ASSERT_EQ(d.detach().kind, Kind::ok);
  EXPECT_FALSE(board.attached());
  EXPECT_FALSE(board.pending_reattach().has_value());
  EXPECT_EQ(hw->events.back().kind, UbootEvent::Kind::console);
}

TEST(UbootUsb, WrongBlockNumberOnAPartitionForcesPhaseFf) {
  UsbBoard board(opts());
  boot_to_partitions(board);
  BoardDriver d{board};
  d.set_alt(0);
  ASSERT_EQ(d.dnload(0, pattern(4096, 3)).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 00 00 00 05 00");
  EXPECT_EQ(d.dnload(2, pattern(4096, 3)).kind, Kind::ok);  // block 1 expected
  EXPECT_EQ(d.get_status(), "0e 00 00 00 0a 00");           // dfuERROR / errUNKNOWN
  EXPECT_EQ(d.get_phase(), phase_ff("Wrong sequence number"));
}

TEST(UbootUsb, StateMachineMisuse) {
  UsbBoard board(opts());
  boot_to_uboot(board);
  BoardDriver d{board};
  d.set_alt(0);
  EXPECT_EQ(d.dnload(0, {}).kind, Kind::stall);  // zero-length DNLOAD in dfuIDLE
  EXPECT_EQ(d.get_status(), "00 00 00 00 0a 00");
  EXPECT_EQ(d.out(0x21, 4, 0, 0).kind, Kind::ok);  // CLRSTATUS
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  ASSERT_EQ(d.dnload(0, text("#Opt\tId")).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 00 00 00 05 00");
  EXPECT_EQ(d.detach().kind, Kind::stall);  // DETACH only in dfuIDLE
  EXPECT_TRUE(board.attached());
  EXPECT_EQ(d.get_status(), "00 00 00 00 0a 00");
  EXPECT_EQ(d.set_alt(0).kind, Kind::ok);  // SET_INTERFACE: back to IDLE/OK
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  EXPECT_EQ(to_hex(d.in(0xA1, 5, 0, 0, 1).data), "02");  // GETSTATE
  // The back-end transaction stays open across SET_INTERFACE and ABORT (PROTOCOL.md 3.10): the
  // next block must be 1, and a new transfer from block 0 is refused.
  ASSERT_EQ(d.dnload(1, text("x")).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 00 00 00 05 00");
  EXPECT_EQ(d.out(0x21, 6, 0, 0).kind, Kind::ok);  // ABORT in DNLOAD-IDLE
  EXPECT_EQ(board.dfu_state(), dfu::State::dfu_idle);
  ASSERT_EQ(d.dnload(0, text("y")).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "0e 00 00 00 0a 00");
}

TEST(UbootUsb, GetPhaseIsTruncatedToWLengthAndASecondBlockIsEmpty) {
  UsbBoard board(opts());
  boot_to_uboot(board);
  BoardDriver d{board};
  d.set_alt(1);
  auto r = d.in(0xA1, 2, 0, 0, 9);
  EXPECT_EQ(to_hex(r.data), "00 00 00 00 c2 00 00 00 00");
  EXPECT_EQ(board.dfu_state(), dfu::State::upload_idle);
  d.set_alt(1);
  EXPECT_EQ(to_hex(d.in(0xA1, 2, 0, 0, 512).data), "00 00 00 00 c2 00 00 00 00 00");
  EXPECT_EQ(board.dfu_state(), dfu::State::dfu_idle);
}

TEST(UbootUsb, OtpAndPmicUploadAndDownload) {
  auto o = opts();
  o.hardware = std::make_shared<UbootHardware>(o.uboot->storage);
  o.hardware->otp[5] = 0x1234;
  o.hardware->pmic_nvm = {1, 2, 3, 4, 5, 6, 7, 8};
  UsbBoard board(o);
  boot_to_uboot(board);
  BoardDriver d{board};
  EXPECT_EQ(board.uboot_hardware(), o.hardware);

  Bytes otp = upload_all(d, 2);
  ASSERT_EQ(otp.size(), uboot_otp_image_size);
  EXPECT_EQ(load_le32(&otp[0]), 2u);
  EXPECT_EQ(load_le32(&otp[8 + 8 * 5]), 0x1234u);

  Bytes image(uboot_otp_image_size, 0);
  store_le32(&image[0], 2);
  store_le32(&image[8 + 8 * 7], 0xABCD);
  store_le32(&image[12 + 8 * 7], 0x80000000u);  // update request
  EXPECT_EQ(d.download(2, image, 4096), "00 00 00 00 07 00");
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  EXPECT_EQ(o.hardware->otp[7], 0xABCDu);
  EXPECT_EQ(o.hardware->events.back().kind, UbootEvent::Kind::otp_programmed);

  EXPECT_EQ(upload_all(d, 3), (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(d.download(3, Bytes{9, 8, 7, 6, 5, 4, 3, 2}, 4096), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(o.hardware->pmic_nvm, (std::array<std::uint8_t, 8>{9, 8, 7, 6, 5, 4, 3, 2}));
  EXPECT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 00");  // still waiting for the layout
}

TEST(UbootUsb, VirtualAltSetsOffsetPhaseAndJumps) {
  UsbBoard board(opts());
  boot_to_partitions(board);
  BoardDriver d{board};
  // Same phase: the offset of the current partition.
  EXPECT_EQ(d.download(3, Bytes{0x04, 0x00, 0x00, 0x10, 0x00}, 4096), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(d.get_phase(), "04 ff ff ff ff 00 10 00 00");
  const Bytes fsbl = pattern(600, 9);
  d.download(0, fsbl, 4096);
  d.get_status();
  EXPECT_EQ(board.uboot_hardware()->storage.read("mmc0", 0, 0x4400 + 0x1000, fsbl.size()), fsbl);
  // Another phase of the layout becomes the current one.
  d.download(3, Bytes{0x10, 0x00, 0x00, 0x00, 0x00}, 4096);
  d.get_status();
  EXPECT_EQ(d.get_phase(), "10 ff ff ff ff 00 00 00 00");
  // 0xFF: jump to the address (the code returns).
  d.download(3, Bytes{0xFF, 0xC0, 0x00, 0x00, 0x00}, 4096);
  d.get_status();
  EXPECT_EQ(board.uboot_hardware()->events.back().kind, UbootEvent::Kind::jump);
  EXPECT_EQ(board.uboot_hardware()->events.back().text, "Starting application at 0xc0000000");
  // A phase the layout does not have: the command runs when the zero-length block drains the
  // DFU buffer, its error fails that block (dfuERROR / errUNKNOWN); the phase is unchanged.
  EXPECT_EQ(d.download(3, Bytes{0x33, 0, 0, 0, 0}, 4096), "0e 00 00 00 0a 00");
  EXPECT_TRUE(board.attached());
  EXPECT_EQ(d.get_phase(), "10 ff ff ff ff 00 00 00 00");
  // Fewer than 5 bytes: refused the same way.
  EXPECT_EQ(d.download(3, Bytes{0x10, 0}, 4096), "0e 00 00 00 0a 00");
}

TEST(UbootUsb, AnUploadEndedByAbortKeepsItsTransactionSoASecondOffsetReadIsRefused) {
  // Why --verify reads a block-mapped partition from 0 through its last mapped range in one
  // UPLOAD rather than range by range through the offset command (PROTOCOL.md 3.6): U-Boot ends
  // an UPLOAD transaction only with a short block (the end of the medium). One the host stops
  // with ABORT stays open: its offset is not applied again and the next UPLOAD of that alt,
  // which starts at block 0, is refused ("Wrong sequence number", no phase error). (A second
  // limit: the read still counts the whole partition from the offset, so with U-Boot's 8 MiB DFU
  // buffer a fill that would cross the partition's end is refused; a 16 KiB buffer here.)
  UsbBoardOptions o = opts();
  o.uboot->dfu_buffer_size = 16 * 1024;
  UsbBoard board(o);
  boot_to_partitions(board);
  BoardDriver d{board};
  const Bytes fsbl = pattern(5000, 7), data = pattern(0x10000, 13);
  ASSERT_EQ(d.download(0, fsbl, 4096), "00 00 00 00 07 00");
  d.get_status();
  ASSERT_EQ(d.download(1, data, 4096), "00 00 00 00 07 00");
  d.get_status();
  ASSERT_EQ(d.get_phase(), "10 ff ff ff ff 00 00 00 00");

  // [data, 0x2000]: data is the current partition again, its next transaction starts there.
  ASSERT_EQ(d.download(3, Bytes{0x05, 0x00, 0x00, 0x20, 0x00}, 4096), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(d.get_phase(), "05 ff ff ff ff 00 20 00 00");
  d.set_alt(1);
  auto r = d.in(0xA1, 2, 0, 0, 4096);
  ASSERT_EQ(r.kind, Kind::ok);
  EXPECT_EQ(r.data, Bytes(data.begin() + 0x2000, data.begin() + 0x3000));
  ASSERT_EQ(d.out(0x21, 6, 0, 0).kind, Kind::ok);  // ABORT: the gadget is idle, the transaction open
  EXPECT_EQ(board.dfu_state(), dfu::State::dfu_idle);

  // [data, 0x8000], then an UPLOAD from block 0: refused.
  ASSERT_EQ(d.download(3, Bytes{0x05, 0x00, 0x00, 0x80, 0x00}, 4096), "00 00 00 00 07 00");
  d.get_status();
  d.set_alt(1);
  EXPECT_EQ(d.in(0xA1, 2, 0, 0, 4096).kind, Kind::stall);
  // Continuing the open transaction reads on from where the first read stopped, not at 0x8000.
  r = d.in(0xA1, 2, 1, 0, 4096);
  ASSERT_EQ(r.kind, Kind::ok);
  EXPECT_EQ(r.data, Bytes(data.begin() + 0x3000, data.begin() + 0x4000));
}

TEST(UbootUsb, DetachAfterAReportedErrorResetsToTheRom) {
  UsbBoard board(opts());
  boot_to_partitions(board);
  BoardDriver d{board};
  const Bytes fsbl = pattern(4096, 7);
  d.download(0, fsbl, 4096);
  d.get_status();
  d.set_alt(1);
  d.dnload(1, pattern(100, 1));  // block 0 expected
  EXPECT_EQ(d.get_phase(), phase_ff("Wrong sequence number"));
  const auto generation = board.generation();
  ASSERT_EQ(d.detach().kind, Kind::ok);
  EXPECT_FALSE(board.attached());
  EXPECT_EQ(board.pending_reattach(), board.options().reenumerate_delay);
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(board.generation(), generation + 1);
  EXPECT_EQ(board.stage(), "rom");
  EXPECT_EQ(d.get_phase().substr(0, 2), "01");
  EXPECT_EQ(board.uboot_hardware()->events.back().kind, UbootEvent::Kind::reset);
  // The storage survives the reset; U-Boot starts again from the flash layout.
  EXPECT_EQ(board.uboot_hardware()->storage.read("mmc0", 0, 0x4400, fsbl.size()), fsbl);
  boot_to_uboot(board);
  EXPECT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 00");
}

TEST(UbootUsb, LayoutRejectedByUbootRelaysItsText) {
  const std::string bad = std::string(kLayout) + "P\t0x06\tbad\tBinary\tfoo0\t0x00034400\tx.bin\n";
  const auto expected = parse_uboot_layout(text(bad), uboot_layout_rules(""));
  ASSERT_FALSE(expected.ok());
  UsbBoard board(opts());
  boot_to_uboot(board);
  BoardDriver d{board};
  EXPECT_EQ(d.download(0, text(bad), 4096), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(d.get_phase(), phase_ff(expected.error));
  // The layout run ends in another phase than 0x00: stm32prog returns, no reset, no USB.
  ASSERT_EQ(d.detach().kind, Kind::ok);
  EXPECT_FALSE(board.attached());
  EXPECT_FALSE(board.pending_reattach().has_value());
  EXPECT_EQ(board.uboot_hardware()->events.back().kind, UbootEvent::Kind::console);
}

TEST(UbootUsb, DeviceChecksFailAfterTheDetach) {
  // Parsed fine, but two lines with one id: U-Boot's device checks (stm32prog_dfu_init) refuse
  // it after the DETACH; the gadget comes back with the layout alt and reports the error.
  const std::string dup = std::string(kLayout) + "P\t0x05\tagain\tBinary\tmmc0\t0x00034400\tx.bin\n";
  ASSERT_TRUE(parse_uboot_layout(text(dup), uboot_layout_rules("")).ok());
  UsbBoard board(opts());
  boot_to_uboot(board);
  BoardDriver d{board};
  d.download(0, text(dup), 4096);
  d.get_status();
  EXPECT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 01");
  ASSERT_EQ(d.detach().kind, Kind::ok);
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(alt_names(board)[0], "@FlashLayout/0x00/1*256Ke");
  EXPECT_EQ(d.get_phase().substr(0, 29), "ff ff ff ff ff 00 00 00 00 4c");  // "L..."
}

TEST(UbootUsb, ResetFaultCutsAPartitionDownload) {
  auto o = opts();
  o.faults.reset_during = UsbFaultPlan::Reset{0x05, 8192};
  UsbBoard board(o);
  boot_to_partitions(board);
  BoardDriver d{board};
  d.download(0, pattern(100, 3), 4096);
  d.get_status();
  d.set_alt(1);
  EXPECT_EQ(d.dnload(0, pattern(4096, 1)).kind, Kind::ok);
  d.get_status();
  EXPECT_EQ(d.dnload(1, pattern(4096, 1)).kind, Kind::ok);
  d.get_status();
  EXPECT_EQ(d.dnload(2, pattern(4096, 1)).kind, Kind::disconnected);
  EXPECT_FALSE(board.attached());
  EXPECT_EQ(d.get_status(), "");
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(board.stage(), "rom");
  // Fires once: the second attempt goes through.
  boot_to_partitions(board);
  d.download(0, pattern(100, 3), 4096);
  d.get_status();
  EXPECT_EQ(d.download(1, pattern(20000, 1), 4096), "00 00 00 00 07 00");
}

TEST(UbootUsb, BlockTimeAndNoUboot) {
  auto o = opts();
  o.uboot_block_time = std::chrono::microseconds(2000);
  o.block_time = std::chrono::microseconds(7);
  UsbBoard board(o);
  boot_to_uboot(board);
  BoardDriver d{board};
  d.set_alt(0);
  EXPECT_EQ(d.dnload(0, Bytes(4096, '#')).busy, std::chrono::microseconds(2000));
  EXPECT_EQ(d.in(0xA1, 3, 0, 0, 6).busy, std::chrono::microseconds(0));

  auto none = opts();
  none.uboot.reset();
  UsbBoard alone(none);
  BoardDriver a{alone};
  a.download(0, test::make_fsbl(*none.soc, 1000));
  a.get_status();
  a.detach();
  ASSERT_TRUE(alone.reattach());
  a.download(0, test::make_fip(500));
  a.get_status();
  EXPECT_EQ(a.get_phase(), "00 ff ff ff ff 00 00 00 00 01");
  a.detach();
  EXPECT_FALSE(alone.attached());
  EXPECT_FALSE(alone.pending_reattach().has_value());
  EXPECT_FALSE(alone.uboot_hardware());
}

TEST(UbootUsb, PdEraseKeepsTheBoardOffTheBusForTheModelledTime) {
  // "data" is 64 KiB (0x14400..0x24400); erased at 64 KiB/s it costs 1 s, spent between the
  // layout's DETACH and the partition enumeration (stm32prog_dfu_init), on top of reenumerate_delay.
  std::string layout = kLayout;
  layout.replace(layout.find("P\t0x05"), 1, "PD");
  auto o = opts();
  o.uboot->erase_bytes_per_second.mmc = 64 * 1024;
  o.uboot->erase_bytes_per_second.nor = 1;  // other media do not count
  UsbBoard board(o);
  boot_to_uboot(board);
  BoardDriver d{board};
  ASSERT_EQ(d.download(0, text(layout), 4096), "00 00 00 00 07 00");
  ASSERT_EQ(d.get_status(), "00 00 00 00 02 00");
  const auto reply = d.detach();
  EXPECT_EQ(reply.kind, Kind::ok);
  EXPECT_EQ(reply.busy, std::chrono::microseconds(0));  // the DETACH itself is answered at once
  ASSERT_TRUE(board.pending_reattach().has_value());
  EXPECT_EQ(*board.pending_reattach(), o.reenumerate_delay + std::chrono::seconds(1));
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(board.stage(), "u-boot");
  bool erased = false;
  for (const auto& e : board.uboot_hardware()->events) erased |= e.kind == UbootEvent::Kind::erased && e.text == "data";
  EXPECT_TRUE(erased);

  // Without 'D' the same rates cost nothing.
  UsbBoard plain(o);
  boot_to_uboot(plain);
  BoardDriver p{plain};
  ASSERT_EQ(p.download(0, text(kLayout), 4096), "00 00 00 00 07 00");
  p.get_status();
  ASSERT_EQ(p.detach().kind, Kind::ok);
  ASSERT_TRUE(plain.pending_reattach().has_value());
  EXPECT_EQ(*plain.pending_reattach(), o.reenumerate_delay);
}

TEST(UbootUsb, MediumWritesStallOncePerDfuBufferTheLastOneInTheManifestation) {
  // eMMC model with U-Boot's 8 MiB DFU buffer at 8 MiB/s (a full buffer costs 1 s): the DNLOAD
  // that fills the buffer holds its request while it goes to the medium, the rest is written by
  // the deferred flush that the GETSTATUS after MANIFEST waits for: ceil(bytes / 8 MiB) stalls.
  using us = std::chrono::microseconds;
  auto o = opts();
  o.uboot->storage.devices = {{"mmc0", {64u << 20, 512, 0}}};
  o.uboot->medium_bytes_per_second = 8u << 20;
  ASSERT_EQ(o.uboot->dfu_buffer_size, 8u << 20);
  const Bytes block = pattern(4096, 3);
  for (const std::uint64_t size : {std::uint64_t(16) << 20, (std::uint64_t(20) << 20) + 1000}) {
    SCOPED_TRACE(size);
    UsbBoard board(o);
    boot_to_partitions(board);
    BoardDriver d{board};
    d.set_alt(2);  // rootfs
    std::vector<std::pair<std::uint64_t, us>> stalls;  // (bytes sent when it stalled, busy)
    std::uint64_t sent = 0;
    for (std::uint16_t n = 0; sent < size; ++n) {
      const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - sent));
      const auto r = d.dnload(n, ByteView(block).first(len));
      ASSERT_EQ(r.kind, Kind::ok);
      sent += len;
      if (r.busy.count() > 0) stalls.emplace_back(sent, r.busy);
      ASSERT_EQ(d.get_status(), "00 00 00 00 05 00");
    }
    const auto zero = d.dnload(static_cast<std::uint16_t>((size + 4095) / 4096), {});
    EXPECT_EQ(zero.busy, us(0));  // the zero-length block is answered at once
    const auto manifest = d.in(0xA1, 3, 0, 0, 6);
    EXPECT_EQ(to_hex(manifest.data), "00 00 00 00 07 00");
    EXPECT_EQ(manifest.busy, us(0));
    const auto idle = d.in(0xA1, 3, 0, 0, 6);  // waits for the deferred flush
    EXPECT_EQ(to_hex(idle.data), "00 00 00 00 02 00");
    if (idle.busy.count() > 0) stalls.emplace_back(sent, idle.busy);

    std::vector<std::pair<std::uint64_t, us>> expected = {{8u << 20, us(1000000)}, {16u << 20, us(1000000)}};
    if (size % (8u << 20) != 0) expected.emplace_back(size, us((size - (16u << 20)) * 1000000 / (8u << 20)));
    EXPECT_EQ(stalls, expected);
    EXPECT_EQ(stalls.size(), (size + (8u << 20) - 1) / (8u << 20));
  }
}

TEST(UbootUsb, PdEraseRatesPerMediumKind) {
  UbootEraseRates r;
  r.mmc = 1;
  r.nand = 2;
  r.nor = 3;
  EXPECT_EQ(r.of(UbootIp::mmc), 1u);
  EXPECT_EQ(r.of(UbootIp::nand), 2u);
  EXPECT_EQ(r.of(UbootIp::spi_nand), 2u);
  EXPECT_EQ(r.of(UbootIp::nor), 3u);
  EXPECT_EQ(r.of(UbootIp::ram), 0u);
  EXPECT_EQ(r.of(UbootIp::none), 0u);
}

// --- the host stack over the in-process port --------------------------------------------------

TEST(UbootUsb, UrlOptionsOfTheUsbSimulator) {
  auto dev = session::connect("sim:stm32mp135?link=usb&uboot=0&uboot_block_us=2000&uboot_version=2023.10");
  EXPECT_EQ(dev->get_phase().phase, 0x01);
  EXPECT_THROW(session::connect("sim:stm32mp135?link=usb&uboot_block_us=fast"), UsageError);
  EXPECT_THROW(session::connect("sim:stm32mp135?link=usb&uboot_stub=0"), UsageError);
}

TEST(UbootUsb, HostFlashesALayoutOverTheSimulatedUsbBoard) {
  const fs::path dir = test::temp_dir("uboot-usb-flash");
  const fs::path storage = dir / "storage";
  fs::create_directories(storage);
  const Bytes fsbl = image::wrap(pattern(8 * 1024, 7), image::wrap_options_for(soc_by_name("stm32mp157")));
  const Bytes fip = test::make_fip(4096);
  const Bytes data = pattern(9000, 13), rootfs = pattern(10000, 11);
  write_file(dir / "tf-a.stm32", fsbl);
  write_file(dir / "fip.bin", fip);
  write_file(dir / "data.bin", data);
  write_file(dir / "rootfs.ext4", rootfs);
  const std::string layout = kLayout;
  write_file(dir / "flash.tsv", text(layout));

  auto dev = session::connect("sim:stm32mp157?link=usb&storage=" + storage.string());
  const session::FlashReport r = session::flash(*dev, dir / "flash.tsv");
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  ASSERT_EQ(r.partitions.size(), 6u);
  EXPECT_EQ(read_range(storage / "mmc0.img", 0x4400, fsbl.size()), fsbl);
  EXPECT_EQ(read_range(storage / "mmc0.img", 0x14400, data.size()), data);
  EXPECT_EQ(read_range(storage / "mmc0.img", 0x24400, rootfs.size()), rootfs);
}

TEST(UbootUsb, BlockNumbersWrapAt65536AsUBootCountsThem) {
  UsbBoard board(opts());
  boot_to_partitions(board);
  BoardDriver d{board};
  EXPECT_EQ(d.download(0, pattern(5000, 7), 4096), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(d.download(1, pattern(9000, 13), 4096), "00 00 00 00 07 00");
  d.get_status();
  // 65537 blocks of 64 bytes: wValue runs 0..65535, then 0 again (the back-end counts modulo 65536).
  const Bytes big = pattern(65537 * 64, 5);
  EXPECT_EQ(d.download(2, big, 64), "00 00 00 00 07 00");
  d.get_status();
  EXPECT_EQ(d.get_phase(), "fe ff ff ff ff 00 00 00 00");
  EXPECT_EQ(board.uboot_hardware()->storage.read("mmc0", 0, 0x24400 + 65536 * 64, 64),
            Bytes(big.end() - 64, big.end()));
}

}  // namespace
}  // namespace mp1boot::sim
