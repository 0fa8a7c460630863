// SPDX-License-Identifier: MIT
// The TF-A UART programmer model: unsolicited NACK, reply quirks, FIP download and the FIP
// header check, phase 0xFF messages, RX flushing, the 3 ms / 20 ms timings, buffer overflow,
// the stage after TF-A.
#include <gtest/gtest.h>

#include "mp1boot/sim/tfa_uart.hpp"
#include "support/sim_helpers.hpp"

namespace mp1boot::sim::test {
namespace {

UartBoardOptions tfa_options(const char* soc = "stm32mp135") {
  auto o = options_for(soc);
  o.start_stage = StartStage::tfa;
  return o;
}

/// Get Phase reply after an error: ACK, 5+L, FF, buffer LE, L, message, ACK.
std::string phase_ff_reply(const std::string& message) {
  Bytes r{0x79, static_cast<std::uint8_t>(5 + message.size()), 0xFF, 0x00, 0x00, 0x00, 0xC7,
          static_cast<std::uint8_t>(message.size())};
  r.insert(r.end(), message.begin(), message.end());
  r.push_back(0x79);
  return to_hex(r);
}

TEST(TfaUart, UnsolicitedNackAtStart) {
  UartBoard board(tfa_options());
  EXPECT_EQ(board.next_deadline(), Clock::time_point{});  // something to say once powered
  Host host(board);
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(board.stage(), "tf-a");
  EXPECT_FALSE(board.next_deadline().has_value());

  auto quiet = tfa_options();
  quiet.tfa_unsolicited_nack = false;
  UartBoard board2(quiet);
  Host host2(board2);
  EXPECT_EQ(to_hex(host2.settle()), "");
  EXPECT_EQ(host2.exchange("7f", 1), "79");
}

TEST(TfaUart, RepliesWithItsQuirks) {
  auto o = tfa_options("stm32mp135");
  o.tfa_version = 0x02;
  UartBoard board(o);
  Host host(board);
  host.receive(1);
  EXPECT_EQ(host.exchange("02 fd", 5), "79 02 05 01 79");  // L = 0x02 quirk, id 0x501
  EXPECT_EQ(host.exchange("01 fe", 3), "79 02 79");        // one version byte
  EXPECT_EQ(host.exchange("00 ff", 10), "79 06 40 00 01 02 03 21 31 79");
  EXPECT_EQ(host.exchange("03 fc", 9), "79 05 03 00 00 00 c7 00 79");
}

TEST(TfaUart, FipDownloadAndStartBootsTheFip) {
  UartBoard board(tfa_options("stm32mp157"));
  Host host(board);
  host.receive(1);
  Bytes fip = make_fip(1000);  // 3 full packets and one of 232 bytes
  ASSERT_TRUE(download(host, fip));
  EXPECT_EQ(start(host), "79 79");
  EXPECT_EQ(board.stage(), "booted");
  EXPECT_EQ(board.current_phase(), 0xFE);
  ASSERT_EQ(board.received_images().count(0x03), 1u);
  EXPECT_EQ(board.received_images().at(0x03), fip);
  EXPECT_EQ(host.exchange("7f", 1), "");  // no later stage modelled: silence
}

TEST(TfaUart, BadFipIsNackedAndReportedThenTfaResets) {
  for (std::uint32_t serial : {0u, 1u}) {
    UartBoard board(tfa_options());
    Host host(board);
    host.receive(1);
    Bytes fip = make_fip(300, serial);
    if (serial != 0) fip[0] = 0x02;  // wrong ToC name
    ASSERT_TRUE(download(host, fip));
    EXPECT_EQ(start(host), "79 1f");
    EXPECT_EQ(board.stage(), "tf-a");
    EXPECT_EQ(board.current_phase(), 0xFF);
    EXPECT_EQ(host.exchange("03 fc", 60), phase_ff_reply("FIP Header check failed c7000000, for phase 3\n"));
    // Get Phase in phase 0xFF ends TF-A's loop.
    EXPECT_EQ(board.stage(), "halted");
    EXPECT_EQ(host.exchange("7f", 1), "");
  }
}

TEST(TfaUart, StartWithoutAnyDownloadFailsTheHeaderCheck) {
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  EXPECT_EQ(start(host), "79 1f");
  EXPECT_EQ(board.current_phase(), 0xFF);
}

TEST(TfaUart, InvalidStartAddressIsAckedButFailsThePhase) {
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  EXPECT_EQ(start(host, 0xC0000000), "79 79");
  EXPECT_EQ(board.current_phase(), 0xFF);
  // A second error keeps the first message.
  EXPECT_EQ(start(host, 0x1234), "79 79");
  EXPECT_EQ(host.exchange("03 fc", 50), phase_ff_reply("Invalid start at c0000000, for phase 3\n"));
  EXPECT_EQ(board.stage(), "halted");
}

TEST(TfaUart, PacketNumberCheckedBeforeTheAddressAck) {
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  EXPECT_EQ(send_packet(host, 0, make_fip(256)), "79 79 79");
  // Wrong number: NACK before the XOR byte is read (it is flushed with the rest of the write).
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("00 00 00 00 00", 1), "1f");
  // Operation byte not checked.
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("f3 00 00 01 f2", 1), "79");
  EXPECT_EQ(host.exchange("00 ab ab", 1), "79");
  auto& tfa = dynamic_cast<const TfaUartStage&>(board.current_stage());
  EXPECT_EQ(tfa.expected_packet(), 2u);
  EXPECT_EQ(tfa.downloaded().size(), 257u);  // written at the running cursor
}

TEST(TfaUart, WrongPacketNumberOnAPacedLine) {
  // With the address frame arriving byte after byte, TF-A NACKs after the fourth byte and then
  // reads the XOR byte as a command: here 0x01 (Get Version), whose complement never comes.
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  for (auto b : from_hex("00 00 00 01")) host.send(ByteView(&b, 1));
  EXPECT_EQ(to_hex(host.poll()), "1f");
  host.wait(100us);
  host.send_hex("01");
  EXPECT_EQ(to_hex(host.poll()), "");
  // 20 ms without the complement, then the 3 ms bad-command delay, then NACK.
  auto sent = host.now();
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(host.now(), sent + 23ms);
}

TEST(TfaUart, DataChecksumErrorKeepsTheCounter) {
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  Bytes frame = data_frame(make_fip(16));
  frame.back() ^= 0x55;
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("00 00 00 00 00", 1), "79");
  host.send(frame);
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(send_packet(host, 0, make_fip(16)), "79 79 79");
  EXPECT_EQ(start(host), "79 79");
}

TEST(TfaUart, BadCommandsAreNackedAfter3ms) {
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  auto t = host.now();
  host.send_hex("44 bb");  // not a TF-A command: complement flushed with the NACK
  EXPECT_EQ(to_hex(host.poll()), "");
  EXPECT_EQ(board.next_deadline(), t + 3ms);
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(to_hex(host.settle()), "");
  host.send_hex("11 ee");  // Read Memory: U-Boot only
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  host.send_hex("03 fd");  // bad complement
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  // Bytes sent one by one within the 3 ms are flushed the same way.
  host.send_hex("44 bb", true);
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(to_hex(host.settle()), "");
  EXPECT_EQ(host.exchange("03 fc", 9), "79 05 03 00 00 00 c7 00 79");
}

TEST(TfaUart, ByteTimeoutInsideACommand) {
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  host.send_hex("00 00");
  auto t = host.now();
  EXPECT_EQ(board.next_deadline(), t + 20ms);
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  // A byte arriving after the deadline is handled after the timeout, as a new command.
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  host.send_hex("00 00");
  host.wait(25ms);
  host.send_hex("7f");
  EXPECT_EQ(to_hex(host.poll()), "1f 79");
}

TEST(TfaUart, HostStreamingAheadLosesBytes) {
  // send_result() drains RX before the ACK: an address frame sent with the command is lost.
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  host.send_hex("31 ce 00 00 00 00 00");
  EXPECT_EQ(to_hex(host.poll()), "79");
  EXPECT_TRUE(board.next_deadline().has_value());  // still waiting for the address frame
}

TEST(TfaUart, BufferOverflowQuirk) {
  auto o = tfa_options();
  o.tfa_buffer_size = 512;
  UartBoard board(o);
  Host host(board);
  host.receive(1);
  EXPECT_EQ(send_packet(host, 0, make_fip(256)), "79 79 79");
  EXPECT_EQ(send_packet(host, 1, test_payload(256)), "79 79 79");
  // Third packet: the length byte alone gets the final ACK; the data bytes are never read.
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("00 00 00 02 02", 1), "79");
  EXPECT_EQ(host.exchange("ff", 1), "79");
  EXPECT_EQ(board.current_phase(), 0xFF);
  // Data arriving afterwards is read as commands: 0xA5 is no command -> NACK after 3 ms.
  host.wait(1ms);
  host.send_hex("a5");
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(host.exchange("03 fc", 50), phase_ff_reply("Download overflow at 0xc7000300\n"));
}

TEST(TfaUart, InvalidStartMessageFormat) {
  // TF-A's "%x" prints lower-case hex without 0x; the newline is part of the message.
  UartBoard board(tfa_options());
  Host host(board);
  host.receive(1);
  EXPECT_EQ(start(host, 0xFFFFFFFE), "79 79");
  auto& tfa = dynamic_cast<const TfaUartStage&>(board.current_stage());
  EXPECT_EQ(tfa.error_message(), "Invalid start at fffffffe, for phase 3\n");
  EXPECT_LE(tfa.error_message().size(), 63u);
}

TEST(TfaUart, BannerFault) {
  auto o = tfa_options();
  o.faults.tfa_banner = "NOTICE:  BL2\r\n";
  UartBoard board(o);
  Host host(board);
  Bytes out = host.receive(15);
  ASSERT_EQ(out.size(), 15u);
  EXPECT_EQ(std::string(out.begin(), out.end() - 1), "NOTICE:  BL2\r\n");
  EXPECT_EQ(out.back(), 0x1F);
}

TEST(FipHeader, Check) {
  EXPECT_TRUE(fip_header_ok(make_fip(8, 1)));
  EXPECT_FALSE(fip_header_ok(make_fip(8, 0)));
  EXPECT_FALSE(fip_header_ok(from_hex("01 00 64 aa")));  // serial missing: reads as zero
  EXPECT_FALSE(fip_header_ok(Bytes{}));
  EXPECT_TRUE(fip_header_ok(from_hex("01 00 64 aa 00 00 00 01")));
}

/// A stand-in for a later stage: answers every byte with its complement.
class EchoStage final : public UartStage {
 public:
  std::string_view name() const override { return "u-boot"; }
  std::uint8_t phase() const override { return 0x00; }
  void on_start(UartLine& line) override { line.send_byte(0x1F); }
  void on_byte(std::uint8_t b, UartLine& line) override { line.send_byte(static_cast<std::uint8_t>(~b)); }
  std::optional<StageExit> exit() const override { return std::nullopt; }
};

TEST(TfaUart, SsblFactoryPlugsTheNextStage) {
  auto o = tfa_options("stm32mp157");
  o.ssbl_boot_delay = 1s;
  std::size_t fip_size = 0;
  o.ssbl_factory = [&](const HandoverInfo& info) -> std::unique_ptr<UartStage> {
    EXPECT_EQ(info.soc->device_id, 0x500);
    fip_size = info.images->at(0x03).size();
    return std::make_unique<EchoStage>();
  };
  UartBoard board(o);
  Host host(board);
  host.receive(1);
  ASSERT_TRUE(download(host, make_fip(600)));
  auto t = host.now();
  EXPECT_EQ(start(host), "79 79");
  EXPECT_EQ(fip_size, 600u);
  EXPECT_EQ(board.stage(), "u-boot");
  EXPECT_TRUE(board.booting());
  EXPECT_EQ(board.next_deadline(), t + 1s);
  EXPECT_EQ(to_hex(host.receive(1)), "1f");
  EXPECT_EQ(host.exchange("0f", 1), "f0");
}

}  // namespace
}  // namespace mp1boot::sim::test
