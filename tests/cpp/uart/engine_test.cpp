// SPDX-License-Identifier: MIT
// UART engine driven purely through next_action()/on_bytes()/on_timeout(), against device
// replies written from PROTOCOL.md section 2.5 (not produced by our simulator).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "mp1boot/uart/engine.hpp"
#include "support/paths.hpp"

using namespace mp1boot;
using namespace mp1boot::uart;

namespace {

// A scripted peer: expected host frames and the device's replies, in order.
struct Script {
  struct Step { bool host; Bytes bytes; };
  std::vector<Step> steps;
  Script& host(std::string_view hex) { steps.push_back({true, from_hex(hex)}); return *this; }
  Script& dev(std::string_view hex) { steps.push_back({false, from_hex(hex)}); return *this; }
};

// Runs the engine's current operation against the script; returns the host bytes it wrote.
// Device bytes are handed over in the sizes the engine asks for. A device step of "" means
// "silence": the read times out.
void play(Engine& e, const Script& s, std::size_t* retries = nullptr) {
  std::size_t i = 0;
  Bytes pending;  // device bytes not yet consumed
  for (int guard = 0; guard < 100000; ++guard) {
    Action a = e.next_action();
    if (std::holds_alternative<Done>(a)) {
      EXPECT_TRUE(pending.empty()) << "device bytes left over: " << to_hex(pending);
      EXPECT_EQ(i, s.steps.size()) << "script not finished";
      return;
    }
    if (auto* w = std::get_if<Write>(&a)) {
      ASSERT_LT(i, s.steps.size()) << "engine wrote " << to_hex(w->bytes) << " past the end of the script";
      ASSERT_TRUE(s.steps[i].host) << "engine wrote " << to_hex(w->bytes) << " while the device should talk";
      ASSERT_EQ(to_hex(w->bytes), to_hex(s.steps[i].bytes)) << "step " << i;
      ++i;
    } else if (auto* r = std::get_if<Read>(&a)) {
      if (pending.empty()) {
        if (i < s.steps.size() && !s.steps[i].host) pending = s.steps[i++].bytes;
        if (pending.empty()) {
          e.on_timeout();
          continue;
        }
      }
      std::size_t n = std::min(r->max, pending.size());
      Bytes chunk(pending.begin(), pending.begin() + static_cast<long>(n));
      pending.erase(pending.begin(), pending.begin() + static_cast<long>(n));
      e.on_bytes(chunk);
    } else if (std::holds_alternative<Drain>(a)) {
      pending.clear();
      if (retries) ++*retries;
    }
  }
  FAIL() << "engine did not finish";
}

}  // namespace

TEST(UartEngine, Mp13RomSessionFromTheSpec) {
  Engine e;
  e.sync();
  play(e, Script{}.host("7f").dev("79"));
  e.get();
  play(e, Script{}.host("00 ff").dev("79").dev("06 40 00 01 02 03 21 31 79"));
  EXPECT_EQ(e.get_reply().protocol_version, 0x40);
  EXPECT_EQ(to_hex(e.get_reply().commands), "00 01 02 03 21 31");
  EXPECT_TRUE(e.get_reply().supports(Command::download));
  EXPECT_FALSE(e.get_reply().supports(Command::read_memory));
  e.get_version();
  play(e, Script{}.host("01 fe").dev("79 10 00 00 79"));
  EXPECT_EQ(e.version_reply().version, 0x10);
  ASSERT_TRUE(e.version_reply().options.has_value());
  e.get_id();
  play(e, Script{}.host("02 fd").dev("79 01 05 01 79"));
  EXPECT_EQ(e.id(), 0x501);
  e.get_phase();
  play(e, Script{}.host("03 fc").dev("79 06 01 00 fe fd 2f 01 00 79"));
  EXPECT_EQ(e.phase_info().phase, 0x01);
  EXPECT_EQ(e.phase_info().address, 0x2FFDFE00u);
  EXPECT_EQ(to_hex(e.phase_info().info), "00");
}

TEST(UartEngine, SingleByteGetVersionOfTfaAndUboot) {
  Engine e;
  e.get_version();
  play(e, Script{}.host("01 fe").dev("79 03 79"));
  EXPECT_EQ(e.version_reply().version, 0x03);
  EXPECT_FALSE(e.version_reply().options.has_value());
}

TEST(UartEngine, GetIdIgnoresTheTfaLengthQuirk) {
  Engine e;
  e.get_id();
  play(e, Script{}.host("02 fd").dev("79 02 05 00 79"));
  EXPECT_EQ(e.id(), 0x500);
}

TEST(UartEngine, GetPhaseOfTfaUbootAndError) {
  Engine e;
  e.get_phase();
  play(e, Script{}.host("03 fc").dev("79 05 03 00 00 00 c7 00 79"));
  EXPECT_EQ(e.phase_info().phase, 0x03);
  EXPECT_EQ(e.phase_info().address, 0xC7000000u);
  e.get_phase();
  // U-Boot error: (5+L) FF FFFFFFFF L message
  play(e, Script{}.host("03 fc").dev("79 0a ff ff ff ff ff 05 4f 6f 70 73 21 79"));
  EXPECT_EQ(e.phase_info().phase, 0xFF);
  EXPECT_EQ(e.phase_info().message, "Oops!");
}

TEST(UartEngine, DownloadSplitsInto256BytePacketsWith24BitNumbers) {
  Bytes data(600);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  Engine e;
  e.download(data);
  Script s;
  for (std::uint32_t p = 0; p < 3; ++p) {
    s.host("31 ce").dev("79");
    Bytes addr{0x00, 0x00, 0x00, static_cast<std::uint8_t>(p)};
    addr.push_back(xor_of(addr));
    s.steps.push_back({true, addr});
    s.dev("79");
    std::size_t n = std::min<std::size_t>(256, data.size() - p * 256);
    Bytes frame{static_cast<std::uint8_t>(n - 1)};
    frame.insert(frame.end(), data.begin() + p * 256, data.begin() + static_cast<long>(p * 256 + n));
    frame.push_back(xor_of(frame));
    s.steps.push_back({true, frame});
    s.dev("79");
  }
  play(e, s);
  std::vector<PacketAcked> acks;
  while (auto ev = e.next_event())
    if (auto* a = std::get_if<PacketAcked>(&*ev)) acks.push_back(*a);
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[2].bytes_done, 600u);
  EXPECT_EQ(acks[2].packet, 2u);
}

TEST(UartEngine, DownloadFrameMatchesTheStyleGuideExample) {
  // STYLE.md 3.12: one 4-byte packet, packet 0: "03 de ad be ef 21".
  Bytes data = from_hex("de ad be ef");
  Engine e;
  e.download(data);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host("03 de ad be ef 21").dev("79"));
}

TEST(UartEngine, PacketNumberAndOperationByte) {
  Bytes data(10, 0xAA);
  Engine e;
  e.download(data, DownloadOp::otp, 0x123456);
  // op F2, packet 0x123456 big-endian, xor = F2^12^34^56 = 82
  play(e, Script{}.host("31 ce").dev("79").host("f2 12 34 56 82").dev("79")
              .host("09 aa aa aa aa aa aa aa aa aa aa 09").dev("79"));
}

TEST(UartEngine, NackIsRetriedThenSucceeds) {
  Bytes data(4, 1);
  Engine e;
  e.download(data);
  std::size_t retries = 0;
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host("03 01 01 01 01 03").dev("1f")
              .host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host("03 01 01 01 01 03").dev("79"),
       &retries);
  EXPECT_EQ(retries, 1u);
  bool saw_retry = false;
  while (auto ev = e.next_event()) saw_retry |= std::holds_alternative<Retrying>(*ev);
  EXPECT_TRUE(saw_retry);
}

TEST(UartEngine, PersistentNackGivesNackErrorNamingThePacket) {
  Bytes data(300, 1);
  Engine e(EngineOptions{.retry = {.attempts = 2}});
  e.download(data);
  Script s;
  s.host("31 ce").dev("79");
  s.host("00 00 00 00 00").dev("79");
  Bytes f0{0xff};
  f0.insert(f0.end(), 256, 1);
  f0.push_back(xor_of(f0));
  s.steps.push_back({true, f0});
  s.dev("79");
  for (int attempt = 0; attempt < 2; ++attempt) {
    s.host("31 ce").dev("79").host("00 00 00 01 01").dev("1f");
  }
  try {
    play(e, s);
    FAIL() << "expected NackError";
  } catch (const NackError& err) {
    EXPECT_EQ(err.context().packet, 1u);
    EXPECT_EQ(err.context().bytes_sent, 256u);
    EXPECT_EQ(err.context().bytes_total, 300u);
    EXPECT_NE(std::string(err.what()).find("packet number stage"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("2 attempts"), std::string::npos) << err.what();
  }
  EXPECT_TRUE(e.failed());
  EXPECT_THROW(e.get_phase(), UsageError);
}

// Packet `p` of `data` as the engine frames it: N-1, the bytes, XOR.
std::string packet_frame(const Bytes& data, std::size_t p) {
  const std::size_t offset = p * 256, n = std::min<std::size_t>(256, data.size() - offset);
  Bytes f{static_cast<std::uint8_t>(n - 1)};
  f.insert(f.end(), data.begin() + static_cast<long>(offset), data.begin() + static_cast<long>(offset + n));
  f.push_back(xor_of(f));
  return to_hex(f);
}

std::vector<std::string> retry_reasons(Engine& e) {
  std::vector<std::string> out;
  while (auto ev = e.next_event())
    if (auto* r = std::get_if<Retrying>(&*ev)) out.push_back(r->reason);
  return out;
}

TEST(UartEngine, LostFinalAckIsRecoveredWhenTheResendIsRefusedAtThePacketNumber) {
  // ROM/TF-A: the device stored packet 5, its final ACK was lost; it now expects packet 6 and
  // refuses the resent number 5 (PROTOCOL.md 2.5.5). The engine goes on with packet 6.
  Bytes data(300);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  Engine e;
  e.download(data, DownloadOp::normal, 5);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 05 05").dev("79").host(packet_frame(data, 0)).dev("")
              .host("31 ce").dev("79").host("00 00 00 05 05").dev("1f")
              .host("31 ce").dev("79").host("00 00 00 06 06").dev("79").host(packet_frame(data, 1)).dev("79"));
  const auto reasons = retry_reasons(e);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[1].find("final ACK of packet 5 lost"), std::string::npos) << reasons[1];
  EXPECT_FALSE(e.busy());
}

TEST(UartEngine, LostFinalAckOfPacketZeroGoesOnWithPacketOneInsteadOfAResend) {
  // U-Boot takes a resent packet 0 as a restart of the phase but keeps appending to its DFU write
  // (PROTOCOL.md 2.5.5): packet 0 would be stored twice. After a silent data stage of packet 0
  // the engine sends packet 1, never packet 0 again.
  Bytes data(300);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 5);
  Engine e;
  e.download(data);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host(packet_frame(data, 0)).dev("")
              .host("31 ce").dev("79").host("00 00 00 01 01").dev("79").host(packet_frame(data, 1)).dev("79"));
  const auto reasons = retry_reasons(e);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("no reply at the data stage of packet 0: going on with packet 1"), std::string::npos)
      << reasons[0];
  EXPECT_FALSE(e.busy());
  EXPECT_FALSE(e.failed());
}

TEST(UartEngine, PacketOneRefusedAfterASilentPacketZeroSendsPacketZeroAgain) {
  // The device never got packet 0 (ROM/TF-A: it refuses number 1 before the second ACK): packet 0
  // is sent again, then packet 1.
  Bytes data(300, 4);
  Engine e;
  e.download(data);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host(packet_frame(data, 0)).dev("")
              .host("31 ce").dev("79").host("00 00 00 01 01").dev("1f")
              .host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host(packet_frame(data, 0)).dev("79")
              .host("31 ce").dev("79").host("00 00 00 01 01").dev("79").host(packet_frame(data, 1)).dev("79"));
  const auto reasons = retry_reasons(e);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[1].find("sending packet 0 again"), std::string::npos) << reasons[1];
  EXPECT_FALSE(e.busy());
}

TEST(UartEngine, NackOfPacketZeroSendsPacketOneThenPacketZeroWhenUbootRefusesIt) {
  // A NACK at the data stage of packet 0: a checksum error (nothing stored) or a garbled ACK (packet
  // 0 stored). Packet 1 tells: U-Boot ACKs its number and refuses it at once (the device's extra
  // NACKs for the data frame, read as commands, are drained), so packet 0 is sent again.
  Bytes data(300, 6);
  Engine e;
  e.download(data);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host(packet_frame(data, 0)).dev("1f")
              .host("31 ce").dev("79").host("00 00 00 01 01").dev("79").host(packet_frame(data, 1)).dev("1f")
              .host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host(packet_frame(data, 0)).dev("79")
              .host("31 ce").dev("79").host("00 00 00 01 01").dev("79").host(packet_frame(data, 1)).dev("79"));
  const auto reasons = retry_reasons(e);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("NACK at the data stage of packet 0: going on with packet 1"), std::string::npos)
      << reasons[0];
  EXPECT_NE(reasons[1].find("sending packet 0 again"), std::string::npos) << reasons[1];
  EXPECT_FALSE(e.busy());
}

TEST(UartEngine, GarbledFinalAckOfPacketZeroIsNotAResend) {
  // The device stored packet 0 but its ACK arrived as another byte: packet 1 is taken.
  Bytes data(300, 8);
  Engine e;
  e.download(data);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 00 00").dev("79").host(packet_frame(data, 0)).dev("7b")
              .host("31 ce").dev("79").host("00 00 00 01 01").dev("79").host(packet_frame(data, 1)).dev("79"));
  EXPECT_EQ(retry_reasons(e).size(), 1u);
  EXPECT_FALSE(e.busy());
  EXPECT_FALSE(e.failed());
}

TEST(UartEngine, LostFinalAckOfTheLastPacketEndsTheDownload) {
  Bytes data(4, 9);
  Engine e;
  e.download(data, DownloadOp::normal, 7);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 07 07").dev("79").host(packet_frame(data, 0)).dev("")
              .host("31 ce").dev("79").host("00 00 00 07 07").dev("1f"));
  EXPECT_FALSE(e.busy());
  EXPECT_FALSE(e.failed());
}

TEST(UartEngine, WrongLostAckGuessIsUndoneWhenTheNextPacketIsRefusedToo) {
  // The NACK of the resend was a corrupted number frame, not a stored packet: the device also
  // refuses packet 6, so the engine sends packet 5 again and then packet 6.
  Bytes data(300, 3);
  Engine e;
  e.download(data, DownloadOp::normal, 5);
  play(e, Script{}.host("31 ce").dev("79").host("00 00 00 05 05").dev("79").host(packet_frame(data, 0)).dev("")
              .host("31 ce").dev("79").host("00 00 00 05 05").dev("1f")
              .host("31 ce").dev("79").host("00 00 00 06 06").dev("1f")
              .host("31 ce").dev("79").host("00 00 00 05 05").dev("79").host(packet_frame(data, 0)).dev("79")
              .host("31 ce").dev("79").host("00 00 00 06 06").dev("79").host(packet_frame(data, 1)).dev("79"));
  const auto reasons = retry_reasons(e);
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_NE(reasons[2].find("sending packet 5 again"), std::string::npos) << reasons[2];
}

TEST(UartEngine, NackAtThePacketNumberWithoutAnEarlierSilenceIsNotTakenAsAck) {
  Bytes data(4, 1);
  Engine e(EngineOptions{.retry = {.attempts = 2}});
  e.download(data);
  Script s;
  for (int attempt = 0; attempt < 2; ++attempt) s.host("31 ce").dev("79").host("00 00 00 00 00").dev("1f");
  EXPECT_THROW(play(e, s), NackError);
}

TEST(UartEngine, UnsolicitedNackAtStageChangeIsAbsorbed) {
  // TF-A starts and sends one NACK (PROTOCOL.md 2.3): it answers our Get Phase in its place.
  Engine e;
  e.get_phase();
  std::size_t retries = 0;
  play(e, Script{}.host("03 fc").dev("1f").host("03 fc").dev("79 05 03 00 00 00 c7 00 79"), &retries);
  EXPECT_EQ(retries, 1u);
  EXPECT_EQ(e.phase_info().phase, 0x03);
}

TEST(UartEngine, SilentDeviceTimesOutNamingTheCommand) {
  Engine e;
  e.get_phase();
  try {
    play(e, Script{}.host("03 fc").dev("").host("03 fc").dev("").host("03 fc").dev(""));
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& err) {
    EXPECT_EQ(err.code(), errc::timeout);
    EXPECT_EQ(err.context().operation, "get_phase");
    EXPECT_NE(std::string(err.what()).find("get_phase"), std::string::npos);
    EXPECT_NE(std::string(err.what()).find("3 attempts"), std::string::npos);
  }
}

TEST(UartEngine, AbortFailsAtOnce) {
  Engine e;
  e.start(0xFFFFFFFF);
  try {
    play(e, Script{}.host("21 de").dev("79").host("ff ff ff ff 00").dev("5f"));
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& err) {
    EXPECT_EQ(err.code(), errc::abort);
  }
}

TEST(UartEngine, UnexpectedByteIsRetried) {
  Engine e;
  e.sync();
  std::size_t retries = 0;
  play(e, Script{}.host("7f").dev("00").host("7f").dev("79"), &retries);
  EXPECT_EQ(retries, 1u);
}

TEST(UartEngine, ReadMemoryAndReadPartitionFrames) {
  Engine e;
  e.read_memory(0xC0000000, 4);
  play(e, Script{}.host("11 ee").dev("79").host("c0 00 00 00 c0").dev("79").host("03 fc").dev("79").dev("01 02 03 04"));
  EXPECT_EQ(to_hex(e.data()), "01 02 03 04");
  e.read_partition(0xF2, 0x100, 2);
  // F2 ^ 00 ^ 00 ^ 01 ^ 00 = F3
  play(e, Script{}.host("12 ed").dev("79").host("f2 00 00 01 00 f3").dev("79").host("01 fe").dev("79").dev("aa bb"));
  EXPECT_EQ(to_hex(e.data()), "aa bb");
}

TEST(UartEngine, StartFrame) {
  Engine e;
  e.start(0x2FFE0000);
  play(e, Script{}.host("21 de").dev("79").host("2f fe 00 00 d1").dev("79"));
}

TEST(UartEngine, RepliesSplitAtEveryByteGiveTheSameResult) {
  Engine e;
  e.get();
  // Feed the body one byte at a time through repeated reads.
  Action a = e.next_action();
  ASSERT_TRUE(std::holds_alternative<Write>(a));
  for (std::uint8_t b : from_hex("79 08 40 00 01 02 03 11 12 21 31 79")) {
    Action r = e.next_action();
    ASSERT_TRUE(std::holds_alternative<Read>(r));
    e.on_bytes(ByteView(&b, 1));
  }
  ASSERT_TRUE(std::holds_alternative<Done>(e.next_action()));
  EXPECT_EQ(e.get_reply().commands.size(), 8u);
}

TEST(UartEngine, MisuseIsAUsageError) {
  Engine e;
  EXPECT_THROW(e.next_action(), UsageError);
  EXPECT_THROW(e.read_memory(0, 0), UsageError);
  EXPECT_THROW(e.read_memory(0, 257), UsageError);
  EXPECT_THROW(e.download({}), UsageError);
  e.get();
  EXPECT_THROW(e.get_phase(), UsageError);
}

// Replays the shared transcript of the MP13 ROM session (device side from PROTOCOL.md 2.5).
TEST(UartEngine, SharedTranscriptRomMp13) {
  std::ifstream in(test::data_dir() / "transcripts" / "rom_mp13_session.txt");
  ASSERT_TRUE(in) << "missing transcript";
  Script s;
  std::string line;
  while (std::getline(in, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    if (line.size() < 2 || (line[0] != '>' && line[0] != '<')) continue;
    s.steps.push_back({line[0] == '>', from_hex(line.substr(1))});
  }
  // Split into commands at each host step that starts a command.
  Engine e;
  std::size_t i = 0;
  int commands = 0;
  while (i < s.steps.size()) {
    ASSERT_TRUE(s.steps[i].host);
    Script one;
    one.steps.push_back(s.steps[i++]);
    while (i < s.steps.size() && !(s.steps[i].host && (s.steps[i].bytes.size() == 2 || s.steps[i].bytes == Bytes{0x7f})))
      one.steps.push_back(s.steps[i++]);
    const std::uint8_t first = one.steps[0].bytes[0];
    switch (first) {
      case 0x7f: e.sync(); break;
      case 0x00: e.get(); break;
      case 0x01: e.get_version(); break;
      case 0x02: e.get_id(); break;
      case 0x03: e.get_phase(); break;
      default: FAIL() << "unexpected command in transcript: " << to_hex(one.steps[0].bytes);
    }
    play(e, one);
    ++commands;
  }
  EXPECT_GE(commands, 5);
  EXPECT_EQ(e.phase_info().address, 0x2FFDFE00u);
}
