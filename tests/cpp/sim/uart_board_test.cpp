// SPDX-License-Identifier: MIT
// UartBoard as a whole: a full ROM -> TF-A -> FIP session on both SoCs, the same session with
// input split byte by byte, recording files, line faults, and the shared sample images.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/peer_stream.hpp"
#include "support/sim_helpers.hpp"
#include "support/paths.hpp"

namespace mp1boot::sim::test {
namespace {

Bytes read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string read_text(const std::filesystem::path& p) {
  Bytes b = read_all(p);
  return std::string(b.begin(), b.end());
}

/// The whole UART boot: sync, Get Phase, FSBL, Start, re-sync, Get Phase, FIP, Start. Returns
/// every device byte in order.
Bytes full_session(UartBoard& board, const Bytes& fsbl, const Bytes& fip, bool split) {
  Host host(board);
  Bytes all;
  auto keep = [&](const std::string& hex) {
    Bytes b = from_hex(hex);
    all.insert(all.end(), b.begin(), b.end());
  };
  keep(host.exchange("7f", 1, split));
  keep(host.exchange("03 fc", 10, split));
  EXPECT_TRUE(download(host, fsbl, split));
  keep(start(host, 0xFFFFFFFF, split));
  keep(host.exchange("7f", 1, split));
  keep(host.exchange("03 fc", 9, split));
  EXPECT_TRUE(download(host, fip, split));
  keep(start(host, 0xFFFFFFFF, split));
  return all;
}

class BoardBoth : public ::testing::TestWithParam<const char*> {};

TEST_P(BoardBoth, FullSessionChunkedAndByteByByteAgree) {
  const SocInfo& soc = soc_by_name(GetParam());
  Bytes fsbl = make_fsbl(soc, 4000);
  Bytes fip = make_fip(2000);
  UartBoard chunked(options_for(GetParam()));
  UartBoard split(options_for(GetParam()));
  Bytes a = full_session(chunked, fsbl, fip, false);
  Bytes b = full_session(split, fsbl, fip, true);
  EXPECT_EQ(to_hex(a), to_hex(b));
  for (UartBoard* board : {&chunked, &split}) {
    EXPECT_EQ(board->stage(), "booted");
    EXPECT_EQ(board->received_images().at(0x01), fsbl);
    EXPECT_EQ(board->received_images().at(0x03), fip);
  }
  // Start ACKs: "79 79 1f" (ROM, then TF-A's NACK) and "79 79" (TF-A).
  std::string hex = to_hex(a);
  EXPECT_NE(hex.find("79 79 1f 79 79 05 03 00 00 00 c7 00 79"), std::string::npos) << hex;
}

INSTANTIATE_TEST_SUITE_P(Socs, BoardBoth, ::testing::Values("stm32mp135", "stm32mp157"));

TEST(UartBoard, SampleImagesOfTheImageTests) {
  // The shared sample images (tests/data/images, made by an independent Python script).
  struct Case { const char* soc; const char* file; const char* reply; };
  for (const Case& c : {Case{"stm32mp157", "v1_mp15.stm32", "79 79 1f"},
                        Case{"stm32mp135", "v2_mp13.stm32", "79 79 1f"},
                        Case{"stm32mp157", "v1_mp15_bad_checksum.stm32", "79 1f"},
                        Case{"stm32mp157", "v1_mp15_truncated.stm32", "79 1f"},
                        Case{"stm32mp135", "v1_mp15.stm32", "79 1f"},
                        Case{"stm32mp157", "v2_2_mp25.stm32", "79 1f"},
                        Case{"stm32mp157", "not_stm32.bin", "79 1f"}}) {
    Bytes image = read_all(mp1boot::test::data_dir() / "images" / c.file);
    ASSERT_FALSE(image.empty()) << c.file;
    UartBoard board(options_for(c.soc));
    Host host(board);
    host.exchange("7f", 1);
    ASSERT_TRUE(download(host, image)) << c.file;
    EXPECT_EQ(start(host), c.reply) << c.soc << " " << c.file;
  }
}

TEST(UartBoard, RecordsImagesAndExchange) {
  auto dir = mp1boot::test::temp_dir("simrec");
  const SocInfo& soc = soc_by_name("stm32mp135");
  Bytes fsbl = make_fsbl(soc, 700);
  Bytes fip = make_fip(300);
  {
    auto o = options_for("stm32mp135");
    o.record_dir = (dir / "explicit").string();
    UartBoard board(o);
    full_session(board, fsbl, fip, false);
    board.write_records();
    EXPECT_EQ(read_all(dir / "explicit" / "phase-0x01.bin"), fsbl);
    EXPECT_EQ(read_all(dir / "explicit" / "phase-0x03.bin"), fip);
    std::string json = read_text(dir / "explicit" / "exchange.json");
    EXPECT_EQ(json, board.recorder().exchange_json());
    EXPECT_EQ(json.rfind("[\n  {\"t\":0.0,\"stage\":\"rom\",\"phase\":\"0x01\"},\n"
                         "  {\"t\":0.0,\"dir\":\"rx\",\"hex\":\"7f\"},\n"
                         "  {\"t\":0.0,\"dir\":\"tx\",\"hex\":\"79\"},\n", 0),
              0u) << json.substr(0, 300);
    EXPECT_NE(json.find("{\"t\":0.0,\"stage\":\"tf-a\",\"phase\":\"0x03\"}"), std::string::npos);
    EXPECT_NE(json.find("\"stage\":\"booted\",\"phase\":\"0xfe\""), std::string::npos);
    EXPECT_NE(json.find("\"hex\":\"21 de\""), std::string::npos);
    EXPECT_TRUE(nlohmann::json::parse(json).is_array());  // built by nlohmann_json, parses back
  }
  {
    // Written by the destructor too.
    auto o = options_for("stm32mp135");
    o.record_dir = (dir / "at-exit").string();
    UartBoard board(o);
    Host host(board);
    host.exchange("7f", 1);
    ASSERT_TRUE(download(host, fsbl));
    start(host);
    host.wait(1500ms);
    host.exchange("03 fc", 9);
  }
  EXPECT_EQ(read_all(dir / "at-exit" / "phase-0x01.bin"), fsbl);
  EXPECT_FALSE(std::filesystem::exists(dir / "at-exit" / "phase-0x03.bin"));
  std::string json = read_text(dir / "at-exit" / "exchange.json");
  EXPECT_NE(json.find("{\"t\":1.5,\"dir\":\"rx\",\"hex\":\"03 fc\"}"), std::string::npos) << json;
}

TEST(UartBoard, RecordingErrorsAreReported) {
  auto dir = mp1boot::test::temp_dir("simrec-bad");
  std::ofstream(dir / "file") << "x";
  auto o = options_for("stm32mp135");
  o.record_dir = (dir / "file" / "sub").string();  // a path below a regular file
  UartBoard board(o);
  EXPECT_THROW(board.write_records(), TransportError);
}

TEST(UartBoard, NoRecordDirWritesNothing) {
  UartBoard board(options_for("stm32mp157"));
  Host host(board);
  host.exchange("7f", 1);
  EXPECT_NO_THROW(board.write_records());
  EXPECT_TRUE(board.recorder().dir().empty());
  ASSERT_EQ(board.recorder().entries().size(), 3u);  // stage, rx, tx
  EXPECT_EQ(to_hex(board.recorder().entries()[1].bytes), "7f");
}

TEST(UartBoard, LineFaults) {
  auto o = options_for("stm32mp135");
  o.faults.drop_tx_bytes = {1};                 // the ACK of the first Get Phase
  o.faults.corrupt_tx_bytes = {{3, 0x07}};      // its phase byte
  o.faults.silent_after_tx_bytes = 12;
  UartBoard board(o);
  Host host(board);
  EXPECT_EQ(host.exchange("7f", 1), "79");                          // byte 0
  EXPECT_EQ(host.exchange("03 fc", 9), "06 07 00 fe fd 2f 01 00 79"); // bytes 1..10, 1 dropped
  EXPECT_EQ(host.exchange("7f", 1), "79");                          // byte 11
  EXPECT_EQ(host.exchange("7f", 1), "");                            // byte 12: line dead
  EXPECT_EQ(board.stage(), "rom");
}

TEST(UartBoard, ServedThroughPeerStreamInRealTime) {
  // The BytePeer contract as the in-process transport uses it (steady_clock, real sleeps).
  auto o = options_for("stm32mp135");
  o.start_stage = StartStage::tfa;
  auto board = std::make_shared<UartBoard>(o);
  transport::PeerStream stream(board, "sim:stm32mp135");
  std::uint8_t buf[16];
  auto read = [&](std::chrono::milliseconds timeout) {
    std::size_t n = stream.read_some(buf, timeout);
    return to_hex(ByteView(buf, n));
  };
  // The timeouts are upper bounds for a loaded machine (reads return as soon as bytes are there).
  EXPECT_EQ(read(2000ms), "1f");  // TF-A's NACK as soon as it is asked
  stream.write(from_hex("44 bb"));
  auto before = Clock::now();
  EXPECT_EQ(read(2000ms), "1f");  // after TF-A's 3 ms bad-command delay
  EXPECT_GE(Clock::now() - before, 3ms);
  stream.write(from_hex("02 fd"));
  std::string id;
  for (const auto until = Clock::now() + 5s; id.size() < 14 && Clock::now() < until;)
    if (const std::string got = read(100ms); !got.empty()) id += (id.empty() ? "" : " ") + got;
  EXPECT_EQ(id, "79 02 05 01 79");
  EXPECT_EQ(read(10ms), "");
}

TEST(UartBoard, DeadlinesAndIdleBoard) {
  UartBoard board(options_for("stm32mp157"));
  EXPECT_FALSE(board.next_deadline().has_value());
  EXPECT_FALSE(board.booting());
  EXPECT_EQ(board.stage(), "rom");
  EXPECT_EQ(board.current_phase(), 0x01);
  EXPECT_TRUE(board.take_output(t0()).empty());
  EXPECT_TRUE(board.received_images().empty());
  EXPECT_EQ(board.options().soc->device_id, 0x500);
}

}  // namespace
}  // namespace mp1boot::sim::test
