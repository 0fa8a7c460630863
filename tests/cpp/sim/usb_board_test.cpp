// SPDX-License-Identifier: MIT
// sim::UsbBoard driven directly with SETUP packets: descriptors against the bytes of PROTOCOL.md
// 3.2.1, strings and alternate settings of 3.1/3.3.2, the ROM (3.4.1) and TF-A (3.4.2) state
// machines, MP15 hand-over without re-enumeration, MP13 detach and re-enumeration, bad images,
// U-Boot taking a flash layout and the recording folder (U-Boot in depth: uboot_usb_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "support/paths.hpp"
#include "support/usb_test_util.hpp"

namespace mp1boot::sim {
namespace {

using test::BoardDriver;
using Kind = UsbBoard::Reply::Kind;

UsbBoardOptions opts(const char* soc) {
  UsbBoardOptions o;
  o.soc = &soc_by_name(soc);
  return o;
}

std::string utf16(const std::string& s) {
  Bytes b{static_cast<std::uint8_t>(2 + 2 * s.size()), 3};
  for (char c : s) {
    b.push_back(static_cast<std::uint8_t>(c));
    b.push_back(0);
  }
  return to_hex(b);
}

// Runs the MP13 ROM to TF-A: good FSBL, DETACH, re-enumeration.
void boot_mp13_to_tfa(UsbBoard& board, std::size_t fsbl_payload = 3000) {
  BoardDriver d{board};
  auto fsbl = test::make_fsbl(*board.options().soc, fsbl_payload);
  ASSERT_EQ(d.download(0, fsbl), "00 01 00 00 07 00");
  ASSERT_EQ(d.get_status(), "00 00 00 00 02 00");
  ASSERT_EQ(d.detach().kind, Kind::ok);
  ASSERT_TRUE(board.reattach());
}

TEST(UsbBoard, DeviceDescriptorIsTheTfaOne) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0100, 0, 18).data), "12 01 00 02 00 00 00 40 83 04 11 df 00 02 01 02 03 01");
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0100, 0, 8).data), "12 01 00 02 00 00 00 40");  // first 8 bytes, as hosts do
}

TEST(UsbBoard, Mp13RomConfigurationDescriptor) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0200, 0, 9).data), "09 02 24 00 01 01 02 c0 32");
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0200, 0, 255).data),
            "09 02 24 00 01 01 02 c0 32 "
            "09 04 00 00 00 fe 01 02 06 "
            "09 04 00 01 00 fe 01 02 07 "
            "09 21 0f ff 00 00 04 10 01");
  EXPECT_EQ(to_hex(board.descriptors()), to_hex(board.device_descriptor()) + " " + to_hex(board.config_descriptor()));
}

TEST(UsbBoard, Mp15RomHasSixAltsAnd72ByteConfiguration) {
  UsbBoard board(opts("stm32mp157"));
  BoardDriver d{board};
  auto cfg = d.in(0x80, 6, 0x0200, 0, 255).data;
  ASSERT_EQ(cfg.size(), 72u);
  EXPECT_EQ(cfg[2], 72);
  EXPECT_EQ(to_hex(ByteView(cfg).subspan(9 + 5 * 9, 9)), "09 04 00 05 00 fe 01 02 0b");
  auto alts = board.alt_settings();
  ASSERT_EQ(alts.size(), 6u);
  EXPECT_EQ(alts[0].name, "@Partition0 /0x00/1*256Ke");
  EXPECT_EQ(alts[1].name, "@FSBL /0x01/1*1Me");
  EXPECT_EQ(alts[5].name, "@virtual /0xF1/1*512Ba");
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0307, 0x0409, 255).data), utf16("@FSBL /0x01/1*1Me"));
}

TEST(UsbBoard, StringsPerStage) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0300, 0, 255).data), "04 03 09 04");
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0301, 0x0409, 255).data), utf16("STMicroelectronics"));
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0302, 0x0409, 255).data),
            utf16("DFU in HS Mode @Device ID /0x501, @Revision ID /0x1003"));
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0303, 0x0409, 255).data), utf16("002800423232511538303631"));
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0306, 0x0409, 255).data), utf16("@FSBL /0x01/1*128Ke"));
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0307, 0x0409, 255).data), utf16("@virtual /0xF1/1*512Ba"));
  EXPECT_EQ(d.in(0x80, 6, 0x0308, 0x0409, 255).kind, Kind::stall);
  auto id = board.identity();
  EXPECT_EQ(id.serial.size(), 24u);
  EXPECT_EQ(id.transfer_size, 1024);
  EXPECT_EQ(id.dfu_attributes, 0x0F);
  EXPECT_EQ(id.speed, "high");
  EXPECT_EQ(board.stage(), "rom");

  UsbBoard mp15(opts("stm32mp157"));
  EXPECT_EQ(mp15.identity().product, "DFU in HS Mode @Device ID /0x500, @Revision ID /0x0000");
  auto o = opts("stm32mp257");
  o.full_speed = true;
  UsbBoard mp25(o);
  EXPECT_EQ(mp25.identity().product, "DFU in FS Mode @Device ID /0x505, @Revision ID /0x2000");
  EXPECT_EQ(mp25.alt_settings()[0].name, "@FSBL /0x01/1*256Ke");
  EXPECT_EQ(mp25.identity().speed, "full");
}

TEST(UsbBoard, FunctionalQualifierAndUnsupportedDescriptors) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  EXPECT_EQ(to_hex(d.in(0x81, 6, 0x2100, 0, 9).data), "09 21 0f ff 00 00 04 10 01");
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0600, 0, 10).data), "0a 06 00 02 00 00 00 40 01 00");
  EXPECT_EQ(d.in(0x80, 6, 0x0F00, 0, 5).kind, Kind::stall);   // BOS
  EXPECT_EQ(d.in(0x80, 6, 0x0700, 0, 9).kind, Kind::stall);   // other-speed configuration
  EXPECT_EQ(d.in(0xC0, 1, 0, 0, 4).kind, Kind::stall);        // vendor request
}

TEST(UsbBoard, ConfigurationAndInterfaceRequests) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  EXPECT_EQ(to_hex(d.in(0x80, 8, 0, 0, 1).data), "01");
  EXPECT_EQ(to_hex(d.in(0x80, 0, 0, 0, 2).data), "01 00");
  EXPECT_EQ(d.out(0x00, 9, 1, 0).kind, Kind::ok);
  EXPECT_EQ(d.set_alt(1).kind, Kind::ok);
  EXPECT_EQ(to_hex(d.in(0x81, 10, 0, 0, 1).data), "01");
  EXPECT_EQ(d.set_alt(2).kind, Kind::stall);  // MP13 ROM has two alts
  EXPECT_EQ(board.current_alt(), 1);
}

TEST(UsbBoard, RomGetPhaseReportsFsblAndDownloadAddress) {
  UsbBoard mp13(opts("stm32mp135"));
  BoardDriver d{mp13};
  EXPECT_EQ(d.get_phase(), "01 00 fe fd 2f 00 00 00 00");
  EXPECT_EQ(mp13.dfu_state(), dfu::State::dfu_idle);  // short reply ends the upload
  UsbBoard mp15(opts("stm32mp157"));
  BoardDriver d15{mp15};
  EXPECT_EQ(d15.get_phase(), "01 00 24 fc 2f 00 00 00 00");
  EXPECT_EQ(mp15.current_alt(), 5);
}

TEST(UsbBoard, RomReportsDnbusyThenDnloadIdleWithOneMsPoll) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  auto fsbl = test::make_fsbl(*board.options().soc, 1500);
  d.set_alt(0);
  ASSERT_EQ(d.dnload(0, ByteView(fsbl).first(1024)).kind, Kind::ok);
  EXPECT_EQ(board.dfu_state(), dfu::State::dnload_sync);
  EXPECT_EQ(d.get_status(), "00 01 00 00 04 00");
  EXPECT_EQ(to_hex(d.in(0xA1, 5, 0, 0, 1).data), "04");  // GETSTATE
  EXPECT_EQ(d.get_status(), "00 01 00 00 05 00");
  ASSERT_EQ(d.dnload(1, ByteView(fsbl).subspan(1024)).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 01 00 00 04 00");
  EXPECT_EQ(d.get_status(), "00 01 00 00 05 00");
  ASSERT_EQ(d.dnload(2, {}).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 01 00 00 07 00");
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  EXPECT_TRUE(board.received_images().at(0x01) == fsbl);

  auto o = opts("stm32mp135");
  o.rom_poll_timeout_ms = 0x123456;
  UsbBoard slow(o);
  BoardDriver ds{slow};
  ds.set_alt(0);
  ds.dnload(0, ByteView(fsbl).first(64));
  EXPECT_EQ(ds.get_status(), "00 56 34 12 04 00");
}

TEST(UsbBoard, RomMisuseGivesDfuErrorAndStall) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  EXPECT_EQ(d.dnload(0, {}).kind, Kind::stall);  // zero-length DNLOAD in dfuIDLE
  EXPECT_EQ(d.get_status(), "0f 00 00 00 0a 00");
  EXPECT_EQ(d.out(0x21, 4, 0, 0).kind, Kind::ok);  // CLRSTATUS
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  Bytes block(64, 1);
  d.set_alt(1);
  EXPECT_EQ(d.dnload(0, block).kind, Kind::stall);  // only the FSBL alt takes data
  EXPECT_EQ(d.get_status(), "01 00 00 00 0a 00");   // errTARGET
  d.out(0x21, 4, 0, 0);
  d.set_alt(0);
  EXPECT_EQ(d.in(0xA1, 2, 0, 0, 64).kind, Kind::stall);  // UPLOAD of the FSBL alt
}

TEST(UsbBoard, RomRejectsOversizedDownload) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  d.set_alt(0);
  Bytes block(1024, 0);
  std::size_t capacity = 0x20200;  // 512-byte header + 128 KiB of SYSRAM after 0x2FFDFE00
  std::uint16_t n = 0;
  for (std::size_t sent = 0; sent + block.size() <= capacity; sent += block.size(), ++n) {
    ASSERT_EQ(d.dnload(n, block).kind, Kind::ok) << n;
    d.get_status();
    d.get_status();
  }
  ASSERT_EQ(d.dnload(n, ByteView(block).first(512)).kind, Kind::ok);
  d.get_status();
  d.get_status();
  EXPECT_EQ(d.dnload(++n, ByteView(block).first(1)).kind, Kind::stall);
  EXPECT_EQ(d.get_status(), "08 00 00 00 0a 00");  // errADDRESS
}

TEST(UsbBoard, Mp13RomManifestationWaitsForDetachThenTfaEnumerates) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  auto fsbl = test::make_fsbl(*board.options().soc, 5000);
  EXPECT_EQ(d.download(0, fsbl), "00 01 00 00 07 00");
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  EXPECT_EQ(board.stage(), "rom");
  EXPECT_EQ(d.get_phase(), "00 ff ff ff ff 00 00 00 00 01");  // [INF] TF-A-like detach convention
  EXPECT_EQ(board.generation(), 0u);
  EXPECT_EQ(board.identity().address, 2);

  EXPECT_EQ(d.detach().kind, Kind::ok);
  EXPECT_FALSE(board.attached());
  ASSERT_TRUE(board.pending_reattach().has_value());
  EXPECT_EQ(*board.pending_reattach(), std::chrono::milliseconds(10));
  EXPECT_EQ(d.get_status(), "");
  EXPECT_EQ(d.in(0xA1, 3, 0, 0, 6).kind, Kind::disconnected);

  ASSERT_TRUE(board.reattach());
  EXPECT_TRUE(board.attached());
  EXPECT_EQ(board.generation(), 1u);
  EXPECT_EQ(board.identity().address, 3);
  EXPECT_EQ(board.stage(), "tf-a");
  EXPECT_EQ(board.identity().product, "DFU @Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y,");
  EXPECT_EQ(board.identity().serial, "002800423232511538303631");
  auto alts = board.alt_settings();
  ASSERT_EQ(alts.size(), 2u);
  EXPECT_EQ(alts[0].name, "@SSBL /0x03/1*16Me");
  EXPECT_EQ(alts[1].name, "@virtual /0xF1/1*512Ba");
  EXPECT_EQ(board.current_alt(), 0);
  EXPECT_EQ(to_hex(d.in(0x80, 6, 0x0200, 0, 255).data).substr(0, 11), "09 02 24 00");
  EXPECT_EQ(d.get_phase(), "03 00 00 00 c7 00 00 00 00");
  EXPECT_TRUE(board.received_images().at(0x01) == fsbl);
}

TEST(UsbBoard, Mp15ManifestationHandsOverWithoutReenumeration) {
  UsbBoard board(opts("stm32mp157"));
  BoardDriver d{board};
  auto fsbl = test::make_fsbl(*board.options().soc, 4000);
  EXPECT_EQ(d.download(1, fsbl), "00 01 00 00 07 00");
  EXPECT_TRUE(board.attached());
  EXPECT_EQ(board.generation(), 0u);
  EXPECT_EQ(board.stage(), "tf-a");
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");  // answered by TF-A
  EXPECT_EQ(board.identity().product, "DFU in HS Mode @Device ID /0x500, @Revision ID /0x0000");
  EXPECT_EQ(board.alt_settings().size(), 6u);
  EXPECT_EQ(d.get_phase(), "03 00 00 00 c7 00 00 00 00");
  auto fip = test::make_fip(3000);
  EXPECT_EQ(d.download(3, fip), "00 01 00 00 07 00");
  EXPECT_EQ(d.get_phase(), "00 ff ff ff ff 00 00 00 00 01");
  EXPECT_TRUE(board.received_images().at(0x03) == fip);
}

TEST(UsbBoard, BadFsblEndsInDfuErrorWithConfigurableStatus) {
  const SocInfo& mp13 = soc_by_name("stm32mp135");
  {
    UsbBoard board(opts("stm32mp135"));
    BoardDriver d{board};
    EXPECT_EQ(d.download(0, test::make_fsbl(mp13, 2000, false)), "07 00 00 00 0a 00");  // errVERIFY
    d.set_alt(1);
    EXPECT_EQ(d.in(0xA1, 2, 0, 0, 512).kind, Kind::stall);  // no UPLOAD in dfuERROR
    EXPECT_EQ(d.out(0x21, 4, 0, 0).kind, Kind::ok);         // CLRSTATUS
    EXPECT_EQ(d.get_phase(), "01 00 fe fd 2f 00 00 00 00");
    EXPECT_EQ(d.detach().kind, Kind::ok);  // ignored: no valid FSBL to start [INF]
    EXPECT_TRUE(board.attached());
    EXPECT_EQ(d.download(0, test::make_fsbl(mp13, 2000)), "00 01 00 00 07 00");  // retry works
  }
  {
    UsbBoard board(opts("stm32mp135"));
    BoardDriver d{board};
    EXPECT_EQ(d.download(0, test::make_fsbl(mp13, 2000, true, 0x00010000)), "02 00 00 00 0a 00");  // errFILE
  }
  {
    auto o = opts("stm32mp135");
    o.rom_reject_status = dfu::Status::err_firmware;
    UsbBoard board(o);
    BoardDriver d{board};
    EXPECT_EQ(d.download(0, test::make_fsbl(mp13, 2000, false)), "0a 00 00 00 0a 00");
    EXPECT_NE(board.exchange_json().find("\"accepted\":false"), std::string::npos);
  }
}

TEST(UsbBoard, TfaReportsDnloadSyncThenIdleAndRequestsDetachAfterFip) {
  UsbBoard board(opts("stm32mp135"));
  boot_mp13_to_tfa(board);
  BoardDriver d{board};
  auto fip = test::make_fip(2500);
  d.set_alt(0);
  ASSERT_EQ(d.dnload(0, ByteView(fip).first(1024)).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 00 00 00 03 00");
  EXPECT_EQ(d.get_status(), "00 00 00 00 05 00");
  ASSERT_EQ(d.dnload(1, ByteView(fip).subspan(1024)).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 00 00 00 03 00");
  EXPECT_EQ(d.get_status(), "00 00 00 00 05 00");
  ASSERT_EQ(d.dnload(2, {}).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 01 00 00 07 00");
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  EXPECT_EQ(d.get_phase(), "00 ff ff ff ff 00 00 00 00 01");
  EXPECT_TRUE(board.received_images().at(0x03) == fip);

  EXPECT_EQ(d.detach().kind, Kind::ok);
  EXPECT_FALSE(board.attached());
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(board.generation(), 2u);
  EXPECT_EQ(board.stage(), "u-boot");
  EXPECT_EQ(board.identity().product,
            "USB download gadget@Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y,");
  EXPECT_EQ(board.identity().transfer_size, 4096);
  EXPECT_EQ(to_hex(d.in(0x81, 6, 0x2100, 0, 9).data), "09 21 0f 00 00 00 10 10 01");
}

TEST(UsbBoard, TfaQuirksAndErrors) {
  UsbBoard board(opts("stm32mp135"));
  boot_mp13_to_tfa(board);
  BoardDriver d{board};
  EXPECT_EQ(d.out(0x21, 4, 0, 0).kind, Kind::ok);  // CLRSTATUS outside dfuERROR
  EXPECT_EQ(d.get_status(), "0e 00 00 00 0a 00");  // -> dfuERROR / errUNKNOWN
  d.out(0x21, 4, 0, 0);
  EXPECT_EQ(d.get_status(), "00 00 00 00 02 00");
  d.set_alt(1);
  EXPECT_EQ(d.dnload(0, Bytes(16, 0)).kind, Kind::stall);  // no DNLOAD on the virtual alt
  std::string msg = to_hex(Bytes{'p', 'h', 'a', 's', 'e', ' ', 'I', 'D', ' ', ':', '3'});
  EXPECT_EQ(d.get_phase().substr(0, 26 + msg.size() + 1), "ff ff ff ff ff 00 00 00 00 " + msg);
}

TEST(UsbBoard, TfaBadFipStallsAndReportsPhaseFf) {
  UsbBoard board(opts("stm32mp135"));
  boot_mp13_to_tfa(board);
  BoardDriver d{board};
  EXPECT_EQ(d.download(0, test::make_fip(100, false)), "zero-length dnload stalled");
  EXPECT_EQ(d.get_phase(), "");                        // still dfuMANIFEST-SYNC: UPLOAD stalls
  EXPECT_EQ(d.get_status(), "00 01 00 00 07 00");      // reported as MANIFEST, then IDLE
  std::string text = "FIP Header check failed for phase 0";
  EXPECT_EQ(d.get_phase(), "ff ff ff ff ff 00 00 00 00 " + to_hex(Bytes(text.begin(), text.end())));
  EXPECT_EQ(d.detach().kind, Kind::ok);
  EXPECT_FALSE(board.attached());
  EXPECT_FALSE(board.pending_reattach().has_value());  // TF-A has nothing to boot
}

TEST(UsbBoard, TfaBufferOverrunStalls) {
  auto o = opts("stm32mp135");
  o.tfa_buffer_size = 2048;
  UsbBoard board(o);
  boot_mp13_to_tfa(board);
  BoardDriver d{board};
  EXPECT_EQ(d.download(0, test::make_fip(3000)), "dnload stalled at block 2");
}

TEST(UsbBoard, WithoutTfaTheBoardVanishesOrHalts) {
  auto o13 = opts("stm32mp135");
  o13.tfa_enabled = false;
  UsbBoard mp13(o13);
  BoardDriver d13{mp13};
  d13.download(0, test::make_fsbl(*o13.soc, 100));
  d13.get_status();
  d13.detach();
  EXPECT_FALSE(mp13.attached());
  EXPECT_FALSE(mp13.reattach());

  auto o15 = opts("stm32mp157");
  o15.tfa_enabled = false;
  UsbBoard mp15(o15);
  BoardDriver d15{mp15};
  EXPECT_EQ(d15.download(1, test::make_fsbl(*o15.soc, 100)), "00 01 00 00 07 00");
  EXPECT_EQ(mp15.stage(), "halted");
  EXPECT_EQ(d15.in(0xA1, 3, 0, 0, 6).kind, Kind::stall);
  EXPECT_EQ(d15.in(0x80, 6, 0x0100, 0, 18).kind, Kind::ok);  // the controller still answers
}

TEST(UsbBoard, Mp25TfaTakesDdrFipThenReenumeratesForFip) {
  UsbBoard board(opts("stm32mp257"));
  BoardDriver d{board};
  EXPECT_EQ(d.download(0, test::make_fsbl(*board.options().soc, 700)), "00 01 00 00 07 00");
  d.detach();
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(board.alt_settings()[0].name, "@DDR FIP /0x02/1*32Ke");
  EXPECT_EQ(d.get_phase(), "02 00 00 00 0e 00 00 00 00");
  EXPECT_EQ(d.download(0, test::make_fip(1000)), "00 01 00 00 07 00");
  EXPECT_EQ(d.get_phase(), "00 ff ff ff ff 00 00 00 00 01");
  d.detach();
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(board.generation(), 2u);
  EXPECT_EQ(board.stage(), "tf-a");
  EXPECT_EQ(d.get_phase(), "03 00 00 00 87 00 00 00 00");
}

TEST(UsbBoard, UbootTakesTheLayoutAndRelaysItsParserError) {
  UsbBoard board(opts("stm32mp135"));
  boot_mp13_to_tfa(board);
  BoardDriver d{board};
  d.download(0, test::make_fip(500));
  d.get_status();
  d.detach();
  ASSERT_TRUE(board.reattach());
  EXPECT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 00");
  d.set_alt(0);
  Bytes layout(5000, 'x');
  ASSERT_EQ(d.dnload(0, ByteView(layout).first(4096)).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "00 00 00 00 05 00");  // U-Boot reports 5 at once
  // Block 1 expected: refused after the data stage (OK), seen in the next GETSTATUS. The layout
  // alt is no partition of a layout: no phase error.
  EXPECT_EQ(d.dnload(5, ByteView(layout).subspan(4096)).kind, Kind::ok);
  EXPECT_EQ(d.get_status(), "0e 00 00 00 0a 00");
  EXPECT_EQ(d.get_phase(), "00 00 00 00 c2 00 00 00 00 00");

  UsbBoard fresh(opts("stm32mp135"));
  boot_mp13_to_tfa(fresh);
  BoardDriver f{fresh};
  f.download(0, test::make_fip(500));
  f.get_status();
  f.detach();
  fresh.reattach();
  EXPECT_EQ(f.download(0, layout, 4096), "00 00 00 00 07 00");
  EXPECT_EQ(f.get_status(), "00 00 00 00 02 00");
  EXPECT_EQ(f.get_phase().substr(0, 26), "ff ff ff ff ff 00 00 00 00");
  EXPECT_EQ(fresh.received_images().at(0x00).size(), layout.size());
}

TEST(UsbBoard, PortResetPowerCycleAndUnplug) {
  UsbBoard board(opts("stm32mp135"));
  BoardDriver d{board};
  d.set_alt(0);
  d.dnload(0, Bytes(64, 0));
  EXPECT_EQ(board.port_reset().kind, Kind::ok);
  EXPECT_EQ(board.dfu_state(), dfu::State::dfu_idle);
  boot_mp13_to_tfa(board);
  board.power_cycle();
  EXPECT_EQ(board.stage(), "rom");
  EXPECT_EQ(board.generation(), 2u);
  EXPECT_EQ(board.received_images().count(0x01), 1u);
  board.unplug();
  EXPECT_FALSE(board.attached());
  EXPECT_EQ(board.port_reset().kind, Kind::disconnected);
  EXPECT_FALSE(board.reattach());
}

TEST(UsbBoard, BlockTimeIsReportedAsBusy) {
  auto o = opts("stm32mp135");
  o.block_time = std::chrono::microseconds(1500);
  UsbBoard board(o);
  BoardDriver d{board};
  d.set_alt(0);
  EXPECT_EQ(d.dnload(0, Bytes(64, 0)).busy, std::chrono::microseconds(1500));
  EXPECT_EQ(d.in(0xA1, 3, 0, 0, 6).busy, std::chrono::microseconds(0));
}

TEST(UsbBoard, RecordsImagesAndExchangeLog) {
  auto dir = test::temp_dir("usb-board-record");
  auto o = opts("stm32mp135");
  o.record_dir = dir.string();
  auto fsbl = test::make_fsbl(*o.soc, 1234);
  {
    UsbBoard board(o);
    boot_mp13_to_tfa(board, 1234);
    EXPECT_TRUE(std::filesystem::exists(dir / "phase-0x01.bin"));  // written as soon as it completes
  }
  std::ifstream f(dir / "phase-0x01.bin", std::ios::binary);
  Bytes got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got.size(), fsbl.size());
  EXPECT_TRUE(got == fsbl);
  std::ifstream j(dir / "usb-exchange.json");
  std::string json((std::istreambuf_iterator<char>(j)), std::istreambuf_iterator<char>());
  EXPECT_EQ(json.front(), '[');
  EXPECT_NE(json.find("\"event\":\"stage\",\"stage\":\"tf-a\",\"generation\":1"), std::string::npos);
  EXPECT_NE(json.find("\"setup\":\"a1 03 0000 0000 0006\""), std::string::npos);
  EXPECT_NE(json.find("\"event\":\"detach\",\"returns\":true"), std::string::npos);
}

TEST(UsbBoard, NeedsASoc) { EXPECT_THROW(UsbBoard(UsbBoardOptions{}), UsageError); }

}  // namespace
}  // namespace mp1boot::sim
