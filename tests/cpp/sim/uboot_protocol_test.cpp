// SPDX-License-Identifier: MIT
// The U-Boot stm32prog UART model, byte level: entry NACK, the exact replies of Get, Get Version,
// Get ID and Get Phase, re-sync, bad commands, the Download checks (operation byte, packet
// number, data checksum, 30 ms data timeout), Start variants and the end of the session.
#include <gtest/gtest.h>

#include "uboot_helpers.hpp"

namespace mp1boot::sim::test {
namespace {

TEST(UbootProtocol, EntryNackThenIdentity) {
  UbootRig rig;
  EXPECT_EQ(rig.boot_uboot(), "79 79 1f");  // TF-A's Start ACK, then U-Boot's unsolicited NACK
  EXPECT_EQ(rig.board->stage(), "u-boot");
  Host& host = *rig.host;
  EXPECT_EQ(host.exchange("00 ff", 12), "79 08 40 00 01 02 03 11 12 21 31 79");
  EXPECT_EQ(host.exchange("01 fe", 3), "79 03 79");
  EXPECT_EQ(host.exchange("02 fd", 5), "79 01 05 00 79");
  EXPECT_EQ(host.exchange("03 fc", 9), "79 05 00 00 00 00 c2 00 79");
  EXPECT_EQ(host.exchange("7f", 1), "79");
}

TEST(UbootProtocol, Mp13Identity) {
  UbootOptions o = small_uboot_options();
  UbootRig rig(o, "stm32mp135");
  EXPECT_EQ(rig.boot_uboot(), "79 79 1f");
  EXPECT_EQ(rig.host->exchange("02 fd", 5), "79 01 05 01 79");
}

TEST(UbootProtocol, BadCommandsAreNackedAfterThreeMilliseconds) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  host.send_hex("44 bb");  // an MCU erase command: not served
  EXPECT_EQ(to_hex(host.poll()), "");
  auto before = host.now();
  EXPECT_EQ(all_of(host), "1f");
  EXPECT_EQ(host.now() - before, std::chrono::milliseconds(3));
  host.send_hex("03 fd");  // complement wrong: NACK comes after 3 ms
  EXPECT_EQ(to_hex(host.poll()), "");
  EXPECT_EQ(all_of(host), "1f");
  EXPECT_EQ(host.exchange("03 fc", 9), "79 05 00 00 00 00 c2 00 79");
}

TEST(UbootProtocol, OperationByteF3IsNackedAfterTheAddressAck) {
  UbootRig rig;
  rig.boot_uboot();
  Bytes data = text_bytes("abcd");
  EXPECT_EQ(send_op_packet(*rig.host, 0xF3, 0, data), "79 79 1f");
  EXPECT_EQ(send_op_packet(*rig.host, 0x01, 0, data), "79 79 1f");
  // The data frame sent after the NACK is read as commands: the host must resync.
  EXPECT_EQ(rig.host->exchange("7f", 1), "79");
  EXPECT_EQ(send_op_packet(*rig.host, 0x00, 0, data), "79 79 79");
}

TEST(UbootProtocol, AddressXorErrorIsNacked) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  EXPECT_EQ(host.exchange("00 00 00 00 01", 1), "1f");
}

TEST(UbootProtocol, WrongPacketNumberIsNackedAndRolledBack) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  Bytes a(256, 'a'), b(256, 'b'), c(100, 'c');
  EXPECT_EQ(send_op_packet(host, 0, 0, a), "79 79 79");
  EXPECT_EQ(send_op_packet(host, 0, 2, c), "79 79 1f");  // skipped packet 1
  all_of(host);
  EXPECT_EQ(rig.uboot()->packet_number(), 0u);
  EXPECT_EQ(send_op_packet(host, 0, 1, b), "79 79 79");
  EXPECT_EQ(send_op_packet(host, 0, 1, b), "79 79 1f");  // a resend of an accepted packet
  all_of(host);
  EXPECT_EQ(send_op_packet(host, 0, 2, c), "79 79 79");
  EXPECT_EQ(rig.uboot()->cursor(), 612u);
  // Packet 0 restarts the cursor.
  EXPECT_EQ(send_op_packet(host, 0, 0, c), "79 79 79");
  EXPECT_EQ(rig.uboot()->cursor(), 100u);
}

TEST(UbootProtocol, DataChecksumErrorNackedAfterThirtyMilliseconds) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  host.send(download_address(0));
  EXPECT_EQ(all_of(host), "79");
  Bytes frame = data_frame(text_bytes("hello"));
  frame.back() ^= 0x55;
  auto before = host.now();
  host.send(frame);
  EXPECT_EQ(to_hex(host.poll()), "");
  EXPECT_EQ(all_of(host), "1f");
  EXPECT_EQ(host.now() - before, std::chrono::milliseconds(30));
  // U-Boot rolls its 32-bit counter back below 0; packet 0 resets it anyway.
  EXPECT_EQ(rig.uboot()->packet_number(), 0xFFFFFFFFu);
  EXPECT_EQ(rig.uboot()->cursor(), 0u);
  EXPECT_EQ(send_op_packet(host, 0, 0, text_bytes("hello")), "79 79 79");  // same packet again
}

TEST(UbootProtocol, DataBlockMustArriveWithinThirtyMilliseconds) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  EXPECT_EQ(send_op_packet(host, 0, 0, text_bytes("first")), "79 79 79");
  EXPECT_EQ(host.exchange("31 ce", 1), "79");
  host.send(download_address(1));
  EXPECT_EQ(all_of(host), "79");
  Bytes frame = data_frame(Bytes(256, 0x42));
  auto start_time = host.now();
  host.send(ByteView(frame).first(100));  // length + 99 data bytes, then the line stalls
  host.wait(std::chrono::milliseconds(29));
  EXPECT_EQ(to_hex(host.poll()), "");
  host.wait(std::chrono::milliseconds(2));
  // The rest is late: the timeout fired at 30 ms, U-Boot waits 30 ms more, flushes, NACKs.
  host.send(ByteView(frame).subspan(100));
  EXPECT_EQ(all_of(host), "1f");
  EXPECT_EQ(host.now() - start_time, std::chrono::milliseconds(60));
  EXPECT_EQ(rig.uboot()->packet_number(), 0u);
  EXPECT_EQ(send_op_packet(host, 0, 1, Bytes(256, 0x42)), "79 79 79");
  EXPECT_EQ(rig.uboot()->cursor(), 5u + 256u);
}

TEST(UbootProtocol, BoardPacketFaultsApply) {
  UbootOptions uo = small_uboot_options();
  auto hw = std::make_shared<UbootHardware>(uo.storage);
  UartBoardOptions o = options_for("stm32mp157");
  o.start_stage = StartStage::tfa;
  o.ssbl_factory = make_uboot_factory(uo, hw);
  o.faults.nack_packets.push_back(PacketRef{0x00, 1});
  o.faults.lose_packet_acks.push_back(PacketRef{0x00, 2});
  UartBoard board(o);
  Host host(board);
  host.receive(1);
  ASSERT_TRUE(download(host, make_fip(300)));
  EXPECT_EQ(start(host), "79 79 1f");
  EXPECT_EQ(send_op_packet(host, 0, 0, Bytes(256, 1)), "79 79 79");
  EXPECT_EQ(send_op_packet(host, 0, 1, Bytes(256, 2)), "79 79 1f");  // injected NACK
  EXPECT_EQ(send_op_packet(host, 0, 1, Bytes(256, 2)), "79 79 79");
  EXPECT_EQ(send_op_packet(host, 0, 2, Bytes(10, 3)), "79 79");      // final ACK lost
  EXPECT_EQ(send_op_packet(host, 0, 2, Bytes(10, 3)), "79 79 1f");   // already counted
}

TEST(UbootProtocol, StartWithInvalidPhaseIdAborts) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  EXPECT_EQ(send_layout(host, sd_layout()), "79 79");
  EXPECT_EQ(get_phase(host).phase, 0x04);
  EXPECT_EQ(start(host, 0x33), "79 5f");
  PhaseReply p = get_phase(host);
  EXPECT_TRUE(p.framed);
  EXPECT_EQ(p.phase, 0xFF);
  EXPECT_EQ(p.address, 0xFFFFFFFFu);
  EXPECT_EQ(p.message, "invalid received phase id 51, current phase is 4");
  EXPECT_EQ(rig.board->stage(), "halted");  // the board reset after reporting 0xFF
}

TEST(UbootProtocol, StartAtAnAddressJumpsAndAborts) {
  UbootRig rig;
  rig.boot_uboot();
  EXPECT_EQ(start(*rig.host, 0xC0000000), "79 5f");
  EXPECT_EQ(get_phase(*rig.host).phase, 0x00);  // nothing else changed
  ASSERT_FALSE(rig.hw->events.empty());
  EXPECT_EQ(rig.hw->events.back().kind, UbootEvent::Kind::jump);
}

TEST(UbootProtocol, StartAddressXorErrorIsNacked) {
  UbootRig rig;
  rig.boot_uboot();
  EXPECT_EQ(rig.host->exchange("21 de", 1), "79");
  EXPECT_EQ(rig.host->exchange("ff ff ff ff 01", 1), "1f");
}

TEST(UbootProtocol, ForcedResetReportsUnspecifiedThenResets) {
  UbootRig rig;
  rig.boot_uboot();
  EXPECT_EQ(start(*rig.host, 0xFF), "79 79");
  PhaseReply p = get_phase(*rig.host);
  EXPECT_EQ(p.phase, 0xFF);
  EXPECT_EQ(p.message, "Unspecified");
  EXPECT_EQ(rig.board->stage(), "halted");
  EXPECT_EQ(rig.hw->events.back().kind, UbootEvent::Kind::reset);
  EXPECT_EQ(rig.hw->events.back().text, "reset after phase 0xFF: Unspecified");
}

TEST(UbootProtocol, ForcedEndThenStartResets) {
  UbootRig rig;
  rig.boot_uboot();
  EXPECT_EQ(start(*rig.host, 0xFE), "79 79");
  EXPECT_EQ(rig.host->exchange("03 fc", 9), "79 05 fe ff ff ff ff 00 79");
  EXPECT_EQ(rig.board->stage(), "u-boot");
  EXPECT_EQ(start(*rig.host), "79 79");
  EXPECT_EQ(rig.board->stage(), "halted");
  EXPECT_EQ(rig.hw->events.back().text, "reset after END");
  EXPECT_EQ(rig.host->exchange("7f", 1), "");
}

TEST(UbootProtocol, ReadMemoryShowsTheLayoutBufferAfterTheFlush) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  auto read8 = [&] {
    EXPECT_EQ(host.exchange("11 ee", 1), "79");
    EXPECT_EQ(host.exchange("c2 00 00 00 c2", 1), "79");
    host.send_hex("07 f8");
    Bytes data = host.settle();
    EXPECT_EQ(data.size(), 9u);
    if (data.empty() || data[0] != 0x79) return std::string("no ACK");
    return std::string(data.begin() + 1, data.end());
  };
  ASSERT_TRUE(download_op(host, text_bytes(sd_layout())));
  EXPECT_EQ(read8(), std::string(8, '\0'));  // still in the DFU buffer
  EXPECT_EQ(start(host), "79 79");
  EXPECT_EQ(read8(), "#Opt\tId\t");
  EXPECT_EQ(host.exchange("11 ee", 1), "79");
  EXPECT_EQ(host.exchange("c2 00 00 00 c2", 1), "79");
  EXPECT_EQ(host.exchange("07 f7", 1), "1f");  // bad complement of the length
}

}  // namespace
}  // namespace mp1boot::sim::test
