// SPDX-License-Identifier: MIT
// The boot ROM model: FSBL download and Start on STM32MP13x (header v2) and STM32MP15x (v1)
// with images built by hand, the ROM's refusals (checksum, header version, size, SYSRAM
// overflow, frames), the [UNK] options and the packet faults.
#include <gtest/gtest.h>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/rom_uart.hpp"
#include "support/sim_helpers.hpp"

namespace mp1boot::sim::test {
namespace {

class RomBoth : public ::testing::TestWithParam<const char*> {};

TEST_P(RomBoth, ValidFsblIsAcceptedAndTfaStarts) {
  const SocInfo& soc = soc_by_name(GetParam());
  UartBoard board(options_for(GetParam()));
  Host host(board);
  ASSERT_EQ(host.exchange("7f", 1), "79");
  Bytes fsbl = make_fsbl(soc, 5000);
  ASSERT_TRUE(download(host, fsbl));
  EXPECT_EQ(board.stage(), "rom");
  // ACK of the command, ACK of the address, then TF-A's unsolicited NACK (boot delay 0).
  EXPECT_EQ(start(host), "79 79 1f");
  EXPECT_EQ(board.stage(), "tf-a");
  EXPECT_EQ(board.current_phase(), 0x03);
  ASSERT_EQ(board.received_images().count(0x01), 1u);
  EXPECT_EQ(board.received_images().at(0x01), fsbl);
  // TF-A now answers Get Phase.
  EXPECT_EQ(host.exchange("03 fc", 9), "79 05 03 00 00 00 c7 00 79");
}

TEST_P(RomBoth, BadChecksumIsNackedAndTheRomStaysInPhase1) {
  const SocInfo& soc = soc_by_name(GetParam());
  UartBoard board(options_for(GetParam()));
  Host host(board);
  host.exchange("7f", 1);
  Bytes fsbl = make_fsbl(soc, 3000);
  fsbl[soc.header_size + 100] ^= 0x01;
  ASSERT_TRUE(download(host, fsbl));
  EXPECT_EQ(start(host), "79 1f");
  EXPECT_EQ(board.stage(), "rom");
  EXPECT_EQ(board.current_phase(), 0x01);
  EXPECT_TRUE(board.received_images().empty());
  // The buffer was dropped: the host starts again from packet 0 and succeeds.
  EXPECT_EQ(send_packet(host, 1, Bytes(16, 0)), "79 1f");
  ASSERT_TRUE(download(host, make_fsbl(soc, 3000)));
  EXPECT_EQ(start(host), "79 79 1f");
  EXPECT_EQ(board.stage(), "tf-a");
}

TEST_P(RomBoth, SplitByteByByteGivesTheSameResult) {
  const SocInfo& soc = soc_by_name(GetParam());
  UartBoard board(options_for(GetParam()));
  Host host(board);
  EXPECT_EQ(host.exchange("7f", 1, true), "79");
  EXPECT_EQ(host.exchange("03 fc", 10, true).substr(0, 8), "79 06 01");
  ASSERT_TRUE(download(host, make_fsbl(soc, 1000), true));
  EXPECT_EQ(start(host, 0xFFFFFFFF, true), "79 79 1f");
  EXPECT_EQ(board.stage(), "tf-a");
}

INSTANTIATE_TEST_SUITE_P(Socs, RomBoth, ::testing::Values("stm32mp135", "stm32mp157"));

TEST(RomUart, WrongHeaderVersionIsRefused) {
  // A v1 (STM32MP15x) image on the STM32MP13x ROM, and a v2 image on the STM32MP15x ROM.
  for (auto [board_soc, image_soc] : {std::pair{"stm32mp135", "stm32mp157"},
                                      std::pair{"stm32mp157", "stm32mp135"}}) {
    UartBoard board(options_for(board_soc));
    Host host(board);
    host.exchange("7f", 1);
    ASSERT_TRUE(download(host, make_fsbl(soc_by_name(image_soc), 2000)));
    EXPECT_EQ(start(host), "79 1f") << board_soc;
    EXPECT_EQ(board.stage(), "rom");
  }
}

TEST(RomUart, ImageLengthAboveTheFsblLimitIsRefused) {
  const SocInfo& soc = soc_by_name("stm32mp135");
  Bytes fsbl = make_fsbl(soc, 1000);
  store_le32(&fsbl[0x4C], soc.max_fsbl_payload + 1);
  EXPECT_NE(rom_fsbl_problem(soc, fsbl).find("exceeds"), std::string::npos);
  UartBoard board(options_for("stm32mp135"));
  Host host(board);
  host.exchange("7f", 1);
  ASSERT_TRUE(download(host, fsbl));
  EXPECT_EQ(start(host), "79 1f");
}

TEST(RomUart, DownloadBeyondSysramIsNacked) {
  // MP13: 0x2FFDFE00 .. 0x30000000 = 0x20200 bytes = 514 full packets.
  const SocInfo& soc = soc_by_name("stm32mp135");
  ASSERT_EQ(rom_download_capacity(soc), 0x20200u);
  ASSERT_EQ(rom_download_capacity(soc_by_name("stm32mp157")), 0x3DC00u);
  UartBoard board(options_for("stm32mp135"));
  Host host(board);
  host.exchange("7f", 1);
  Bytes packet(256, 0xA5);
  for (std::uint32_t p = 0; p < 514; ++p) ASSERT_EQ(send_packet(host, p, packet), "79 79 79") << p;
  EXPECT_EQ(send_packet(host, 514, Bytes(1, 0)), "79 79 1f");
}

TEST(RomUart, FrameErrorsAreNacked) {
  UartBoard board(options_for("stm32mp135"));
  Host host(board);
  host.exchange("7f", 1);
  // Address frame with a bad XOR, a packet number out of order, an operation byte other than 00.
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("00 00 00 00 01", 1), "1f");
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("00 00 00 01 01", 1), "1f");
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("f2 00 00 00 f2", 1), "1f");
  // Data frame with a bad XOR: NACK, and packet 0 is still expected.
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("00 00 00 00 00", 1), "79");
  EXPECT_EQ(host.exchange("01 11 22 00", 1), "1f");
  EXPECT_EQ(send_packet(host, 0, from_hex("11 22")), "79 79 79");
  // Start frame with a bad XOR; Start with another address ([UNK]: NACK).
  EXPECT_EQ(host.exchange("21 de", 1), "79");
  EXPECT_EQ(host.exchange("ff ff ff ff 01", 1), "1f");
  EXPECT_EQ(start(host, 0x2FFE0000), "79 1f");
  EXPECT_EQ(board.stage(), "rom");
}

TEST(RomUart, CommandsAndSync) {
  UartBoard board(options_for("stm32mp135"));
  Host host(board);
  // Before the first 0x7F the ROM ignores the line.
  EXPECT_EQ(host.exchange("00 ff 55", 1), "");
  EXPECT_EQ(host.exchange("7f", 1), "79");
  EXPECT_EQ(host.exchange("7f", 1), "79");
  // Bad complement, unknown command, Read Memory not on MP13, no command 0x32.
  EXPECT_EQ(host.exchange("00 fe", 1), "1f");
  EXPECT_EQ(host.exchange("44 bb", 1), "1f");
  EXPECT_EQ(host.exchange("11 ee", 1), "1f");
  EXPECT_EQ(host.exchange("32 cd", 1), "1f");
  EXPECT_EQ(host.exchange("01 fe", 5), "79 10 00 00 79");
}

TEST(RomUart, Mp15ReadMemoryOption) {
  {
    UartBoard board(options_for("stm32mp157"));
    Host host(board);
    host.exchange("7f", 1);
    EXPECT_EQ(host.exchange("00 ff", 10), "79 06 40 00 01 02 03 21 31 79");
    EXPECT_EQ(host.exchange("11 ee", 1), "1f");
  }
  auto o = options_for("stm32mp157");
  o.rom_read_memory = true;
  UartBoard board(o);
  Host host(board);
  host.exchange("7f", 1);
  EXPECT_EQ(host.exchange("00 ff", 11), "79 07 40 00 01 02 03 11 21 31 79");
  EXPECT_EQ(send_packet(host, 0, from_hex("de ad be ef")), "79 79 79");
  // Read 4 bytes at the download address 0x2FFC2400 (BE) + XOR, then N-1=3 and its complement.
  EXPECT_EQ(host.exchange("11 ee", 1), "79");
  EXPECT_EQ(host.exchange("2f fc 24 00 f7", 1), "79");
  EXPECT_EQ(host.exchange("03 fc", 5), "79 de ad be ef");
  // Outside SYSRAM: NACK.
  EXPECT_EQ(host.exchange("11 ee", 1), "79");
  EXPECT_EQ(host.exchange("c0 00 00 00 c0", 1), "1f");
  // MP13 never has it, even with the option.
  auto o13 = options_for("stm32mp135");
  o13.rom_read_memory = true;
  UartBoard b13(o13);
  Host h13(b13);
  h13.exchange("7f", 1);
  EXPECT_EQ(h13.exchange("11 ee", 1), "1f");
}

TEST(RomUart, AcceptBadImageOptionHaltsTheBoard) {
  auto o = options_for("stm32mp157");
  o.rom_accept_bad_image = true;
  UartBoard board(o);
  Host host(board);
  host.exchange("7f", 1);
  Bytes fsbl = make_fsbl(*o.soc, 600);
  fsbl[0x44] ^= 0xFF;
  ASSERT_TRUE(download(host, fsbl));
  EXPECT_EQ(start(host), "79 79");
  EXPECT_EQ(board.stage(), "halted");
  EXPECT_EQ(board.current_phase(), 0xFF);
  EXPECT_EQ(host.exchange("7f", 1), "");
}

TEST(RomUart, ByteTimeoutOption) {
  auto o = options_for("stm32mp135");
  o.rom_byte_timeout = 50ms;
  UartBoard board(o);
  Host host(board);
  host.exchange("7f", 1);
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  host.send_hex("00 00");
  EXPECT_EQ(board.next_deadline(), host.now() + 50ms);
  EXPECT_EQ(to_hex(host.settle()), "1f");
  EXPECT_EQ(host.exchange("7f", 1), "79");
  // Without the option the ROM waits forever.
  UartBoard patient(options_for("stm32mp135"));
  Host h2(patient);
  h2.exchange("7f", 1);
  h2.exchange("31 ce", 1);
  h2.send_hex("00");
  EXPECT_FALSE(patient.next_deadline().has_value());
}

TEST(RomUart, PacketFaults) {
  auto o = options_for("stm32mp135");
  o.faults.nack_packets = {PacketRef{0x01, 1}};
  o.faults.lose_packet_acks = {PacketRef{0x01, 2}};
  UartBoard board(o);
  Host host(board);
  host.exchange("7f", 1);
  Bytes fsbl = make_fsbl(*o.soc, 1024);  // 512 + 1024 bytes = 6 packets
  auto packet = [&](std::uint32_t p) {
    return ByteView(fsbl).subspan(p * 256, 256);
  };
  EXPECT_EQ(send_packet(host, 0, packet(0)), "79 79 79");
  EXPECT_EQ(send_packet(host, 1, packet(1)), "79 79 1f");   // injected NACK, not counted
  EXPECT_EQ(send_packet(host, 1, packet(1)), "79 79 79");   // fires once
  EXPECT_EQ(send_packet(host, 2, packet(2)), "79 79");      // ACK lost, packet counted
  EXPECT_EQ(send_packet(host, 2, packet(2)), "79 1f");      // resend: wrong packet number
  for (std::uint32_t p = 3; p < 6; ++p) EXPECT_EQ(send_packet(host, p, packet(p)), "79 79 79");
  EXPECT_EQ(start(host), "79 79 1f");
}

TEST(RomUart, TfaCrashFault) {
  auto o = options_for("stm32mp135");
  o.faults.tfa_crash = true;
  UartBoard board(o);
  Host host(board);
  host.exchange("7f", 1);
  ASSERT_TRUE(download(host, make_fsbl(*o.soc, 100)));
  EXPECT_EQ(start(host), "79 79");
  EXPECT_EQ(board.stage(), "halted");
  EXPECT_EQ(host.exchange("7f", 1), "");
}

TEST(RomUart, TfaBootDelayLosesInputAndNacksWhenUp) {
  auto o = options_for("stm32mp157");
  o.tfa_boot_delay = 200ms;
  UartBoard board(o);
  Host host(board);
  host.exchange("7f", 1);
  ASSERT_TRUE(download(host, make_fsbl(*o.soc, 300)));
  auto started = host.now();
  EXPECT_EQ(start(host), "79 79");
  EXPECT_EQ(board.stage(), "tf-a");
  EXPECT_TRUE(board.booting());
  EXPECT_EQ(board.next_deadline(), started + 200ms);
  // The host sends a command while TF-A boots: it is lost; TF-A NACKs once when it is up.
  host.wait(50ms);
  host.send_hex("03 fc");
  EXPECT_EQ(to_hex(host.poll()), "");
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(host.now(), started + 200ms);
  EXPECT_FALSE(board.booting());
  EXPECT_EQ(host.exchange("03 fc", 9), "79 05 03 00 00 00 c7 00 79");
}

TEST(RomFsblProblem, NamesEachCheck) {
  const SocInfo& mp13 = soc_by_name("stm32mp135");
  const SocInfo& mp15 = soc_by_name("stm32mp157");
  EXPECT_EQ(rom_fsbl_problem(mp13, make_fsbl(mp13, 10)), "");
  EXPECT_EQ(rom_fsbl_problem(mp15, make_fsbl(mp15, 10)), "");
  EXPECT_NE(rom_fsbl_problem(mp13, Bytes(10, 0)).find("shorter"), std::string::npos);
  Bytes bad_magic = make_fsbl(mp15, 10);
  bad_magic[0] = 'X';
  EXPECT_NE(rom_fsbl_problem(mp15, bad_magic).find("magic"), std::string::npos);
  EXPECT_NE(rom_fsbl_problem(mp15, make_fsbl(mp13, 10)).find("version"), std::string::npos);
  Bytes truncated = make_fsbl(mp13, 100);
  truncated.resize(truncated.size() - 1);
  EXPECT_NE(rom_fsbl_problem(mp13, truncated).find("payload bytes downloaded"), std::string::npos);
  Bytes short_header = make_fsbl(mp13, 10);
  short_header.resize(300);  // v2 header says 512 bytes
  EXPECT_NE(rom_fsbl_problem(mp13, short_header).find("header of 512"), std::string::npos);
  Bytes bad_sum = make_fsbl(mp15, 10);
  bad_sum[260] ^= 1;  // a payload byte (payload at 256..265)
  EXPECT_NE(rom_fsbl_problem(mp15, bad_sum).find("checksum"), std::string::npos);
  // Trailing bytes after header + payload are accepted (the host may pad the last packet).
  Bytes padded = make_fsbl(mp15, 10);
  padded.resize(512, 0);
  EXPECT_EQ(rom_fsbl_problem(mp15, padded), "");
}

TEST(RomUart, RejectsUnsupportedSocs) {
  UartBoardOptions none;
  EXPECT_THROW(UartBoard{none}, UsageError);
  EXPECT_THROW(UartBoard{options_for("stm32mp257")}, UsageError);
  auto o = options_for("stm32mp257");
  o.start_stage = StartStage::tfa;
  EXPECT_THROW(UartBoard{o}, UsageError);
}

}  // namespace
}  // namespace mp1boot::sim::test
