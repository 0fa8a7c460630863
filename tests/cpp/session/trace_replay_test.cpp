// SPDX-License-Identifier: MIT
// Field traces: a session recorded with ConnectOptions::record (JSON lines, trace.hpp) replays
// through `sim:replay=FILE` as the recorded device; the replay fails loudly, naming the step and
// the trace line, when the host does something else or stops early.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "rig.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/sim/board_config.hpp"
#include "mp1boot/sim/replay.hpp"
#include "mp1boot/sim/uart_board.hpp"
#include "mp1boot/trace.hpp"

namespace mp1boot::test {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Records a whole flash of the rig's layout on `query`'s board into DIR/trace.jsonl.
fs::path record_flash(const Rig& rig, const std::string& query, bool data = false) {
  const fs::path file = rig.dir / "trace.jsonl";
  session::ConnectOptions o;
  o.record = std::make_shared<trace::Writer>(file, trace::Writer::Options{.data = data, .argv = {"flash", "flash.tsv"}});
  auto dev = session::connect("sim:stm32mp157?storage=" + rig.storage.string() + query, o);
  const auto report = session::flash(*dev, rig.dir / "flash.tsv");
  EXPECT_EQ(report.result, FlashResult::ok);
  dev->close();
  o.record->end("ok");
  return file;
}

session::FlashReport replay_flash(const Rig& rig, const fs::path& file) {
  auto dev = session::connect("sim:replay=" + file.string());
  auto report = session::flash(*dev, rig.dir / "flash.tsv");
  dev->close();  // throws when the host stopped before the trace's end
  return report;
}

TEST(Trace, UartFlashRecordsEveryStageWithPayloadsAsHashes) {
  Rig rig("trace-uart-record");
  const fs::path file = record_flash(rig, "");
  const auto t = trace::read(file);
  EXPECT_EQ(t.header.link, "uart");
  EXPECT_EQ(t.header.version, trace::format_version);
  EXPECT_EQ(t.header.argv, (std::vector<std::string>{"flash", "flash.tsv"}));
  std::size_t hashed = 0, full_writes = 0;
  for (const auto& r : t.records) {
    if (r.kind == trace::Kind::write && !r.data.bytes) ++hashed;
    if (r.kind == trace::Kind::write && r.data.bytes) {
      ++full_writes;
      EXPECT_LE(r.data.size, 6u) << "line " << r.line << ": only commands and addresses are kept in full";
    }
  }
  EXPECT_GT(hashed, 40u);  // every data packet (8 KiB FSBL alone is 33 packets)
  EXPECT_GE(full_writes, 2 * hashed);  // the command and the packet number of each packet
  EXPECT_EQ(t.records.front().kind, trace::Kind::write);  // the sync byte
  EXPECT_EQ(*t.records.front().data.bytes, Bytes{0x7f});
  EXPECT_EQ(t.records.back().kind, trace::Kind::end);
  // Nothing of the files in the trace: a run of the rootfs's bytes never appears as hex.
  const Bytes r = rootfs();
  std::string needle = to_hex(ByteView(r.data() + 100, 12));
  std::erase(needle, ' ');
  EXPECT_EQ(slurp(file).find(needle), std::string::npos);
}

TEST(Trace, UartFlashReplaysAsTheRecordedDevice) {
  Rig rig("trace-uart-replay");
  const fs::path file = record_flash(rig, "");
  const auto report = replay_flash(rig, file);
  EXPECT_EQ(report.result, FlashResult::ok);
  EXPECT_EQ(part(report, "rootfs").result, PartitionResult::ok);
}

TEST(Trace, UsbFlashRecordsEnumerationsAndReplays) {
  Rig rig("trace-usb");
  const fs::path file = record_flash(rig, "&link=usb");
  const auto t = trace::read(file);
  EXPECT_EQ(t.header.link, "usb");
  std::vector<std::string> products;
  for (const auto& r : t.records)
    if (r.kind == trace::Kind::enumerate) products.push_back(r.identity.product);
  ASSERT_GE(products.size(), 3u);  // ROM, TF-A, U-Boot (and U-Boot again after the layout)
  EXPECT_NE(products.front().find("DFU in HS Mode"), std::string::npos) << products.front();
  const auto report = replay_flash(rig, file);
  EXPECT_EQ(report.result, FlashResult::ok);
}

TEST(Trace, ReplayNamesTheStepWhenThePayloadDiffers) {
  for (const std::string link : {"", "&link=usb"}) {
    Rig rig("trace-deviate");
    const fs::path file = record_flash(rig, link);
    Bytes other = rootfs();
    other[5000] ^= 0xFF;
    write_file(rig.dir / "rootfs.ext4", other);
    auto dev = session::connect("sim:replay=" + file.string());
    try {
      session::flash(*dev, rig.dir / "flash.tsv");
      FAIL() << "the replay accepted another rootfs" << link;
    } catch (const ProtocolError& e) {
      EXPECT_EQ(e.code(), errc::replay_mismatch) << e.what();
      const std::string what = e.what();
      EXPECT_NE(what.find("replay: at step "), std::string::npos) << what;
      EXPECT_NE(what.find("trace.jsonl line "), std::string::npos) << what;
      EXPECT_NE(what.find("another payload"), std::string::npos) << what;
    }
  }
}

TEST(Trace, ReplayFailsWhenTheHostStopsEarly) {
  Rig rig("trace-early");
  const fs::path file = record_flash(rig, "&link=usb");
  auto dev = session::connect("sim:replay=" + file.string());
  EXPECT_EQ(dev->get_phase().phase, 0x01);
  try {
    dev->close();
    FAIL() << "close() accepted a replay that stopped after one request";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code(), errc::replay_mismatch);
    EXPECT_NE(std::string(e.what()).find("the host stopped at step"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(dev->closed());
}

TEST(Trace, ALostAckRecoveryReplays) {
  Rig rig("trace-lost-ack");
  const fs::path file = rig.dir / "trace.jsonl";
  auto options = sim::board_config("stm32mp157", {{"storage", rig.storage.string()}}).uart_options();
  options.faults.lose_packet_acks.push_back({0x01, 5});
  session::ConnectOptions o;
  o.record = std::make_shared<trace::Writer>(file, trace::Writer::Options{});
  auto dev = session::connect_board(std::make_shared<sim::UartBoard>(options), o);
  EXPECT_EQ(session::flash(*dev, rig.dir / "flash.tsv").result, FlashResult::ok);
  dev->close();
  o.record.reset();
  std::size_t timeouts = 0;
  for (const auto& r : trace::read(file).records) timeouts += r.kind == trace::Kind::timeout;
  EXPECT_GE(timeouts, 1u);
  EXPECT_EQ(replay_flash(rig, file).result, FlashResult::ok);
}

TEST(Trace, DataOptionKeepsPayloadsInFull) {
  Rig rig("trace-data");
  const fs::path file = record_flash(rig, "&link=usb", true);
  for (const auto& r : trace::read(file).records)
    if (r.kind == trace::Kind::write || r.kind == trace::Kind::read || r.kind == trace::Kind::control)
      EXPECT_TRUE(r.data.bytes.has_value()) << "line " << r.line;
  EXPECT_EQ(replay_flash(rig, file).result, FlashResult::ok);
}

TEST(Trace, BadTraceFilesAreUsageErrorsNamingFileAndLine) {
  const fs::path dir = temp_dir("trace-bad");
  const auto expect_usage = [&](const std::string& text, const std::string& words) {
    write_text(dir / "t.jsonl", text);
    try {
      session::connect("sim:replay=" + (dir / "t.jsonl").string());
      FAIL() << "accepted: " << text;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_usage("", "t.jsonl:1: empty file");
  expect_usage("not json\n", "t.jsonl:1: not a JSON line");
  expect_usage("{\"mp1boot_trace\": 9, \"link\": \"uart\"}\n", "format version 9");
  expect_usage("{\"mp1boot_trace\": 1, \"link\": \"uart\"}\n{\"t\": 0, \"k\": \"zap\"}\n", "t.jsonl:2: unknown record kind");
  expect_usage("{\"mp1boot_trace\": 1, \"link\": \"uart\"}\n{\"t\": 0, \"k\": \"w\", \"hex\": \"zz\"}\n", "t.jsonl:2: bad hex");
  expect_usage("{\"mp1boot_trace\": 1, \"link\": \"usb\"}\n", "does not begin with the enumeration");
  EXPECT_THROW(session::connect("sim:replay=" + (dir / "missing.jsonl").string()), LayoutError);
  EXPECT_THROW(session::check_connect_url("sim:replay="), UsageError);
}

TEST(ReplayUartPeer, BytesAfterAHostTimeoutComeAfterTheRecordedDelay) {
  const auto t = trace::parse(
      "{\"mp1boot_trace\": 1, \"link\": \"uart\"}\n"
      "{\"t\": 0.0, \"k\": \"w\", \"hex\": \"7f\"}\n"
      "{\"t\": 0.05, \"k\": \"timeout\", \"ms\": 50}\n"
      "{\"t\": 0.2, \"k\": \"r\", \"hex\": \"79\"}\n"
      "{\"t\": 0.25, \"k\": \"w\", \"hex\": \"00ff\"}\n"
      "{\"t\": 0.26, \"k\": \"r\", \"hex\": \"79\"}\n",
      "late.jsonl");
  sim::ReplayUartPeer peer(t);
  const auto t0 = transport::BytePeer::Clock::now();
  using std::chrono::milliseconds;
  peer.on_receive(Bytes{0x7f}, t0);
  EXPECT_TRUE(peer.take_output(t0).empty());
  ASSERT_TRUE(peer.next_deadline().has_value());
  EXPECT_EQ(*peer.next_deadline() - t0, std::chrono::duration_cast<transport::BytePeer::Clock::duration>(milliseconds(200)));
  EXPECT_TRUE(peer.take_output(t0 + milliseconds(100)).empty());  // the host's 50 ms read timed out
  EXPECT_EQ(peer.take_output(t0 + milliseconds(200)), Bytes{0x79});
  EXPECT_FALSE(peer.finished());
  peer.on_receive(Bytes{0x00, 0xff}, t0 + milliseconds(250));
  EXPECT_EQ(peer.take_output(t0 + milliseconds(250)), Bytes{0x79});  // no timeout before it: at once
  EXPECT_TRUE(peer.finished());
  EXPECT_NO_THROW(peer.check_finished());
}

TEST(ReplayUartPeer, TheFirstMismatchIsStickyAndNamesStepAndLine) {
  const auto t = trace::parse(
      "{\"mp1boot_trace\": 1, \"link\": \"uart\"}\n"
      "{\"t\": 0.0, \"k\": \"w\", \"hex\": \"7f\"}\n"
      "{\"t\": 0.01, \"k\": \"r\", \"hex\": \"79\"}\n"
      "{\"t\": 0.02, \"k\": \"w\", \"hex\": \"31ce\"}\n",
      "m.jsonl");
  sim::ReplayUartPeer peer(t);
  const auto now = transport::BytePeer::Clock::now();
  peer.on_receive(Bytes{0x7f}, now);
  EXPECT_EQ(peer.take_output(now), Bytes{0x79});
  std::string first;
  try {
    peer.on_receive(Bytes{0x31, 0xcf}, now);
    FAIL() << "accepted 31 cf";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code(), errc::replay_mismatch);
    first = e.what();
    EXPECT_NE(first.find("step 3 (m.jsonl line 4)"), std::string::npos) << first;
    EXPECT_NE(first.find("the host writes 31 ce"), std::string::npos) << first;
    EXPECT_NE(first.find("the host wrote 31 cf"), std::string::npos) << first;
  }
  try {
    (void)peer.take_output(now);  // a host that recovers hears the same mismatch again
    FAIL() << "no error after a mismatch";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(std::string(e.what()), first);
  }
}

TEST(ReplayUsbPeer, AnswersStallsDisconnectsAndReenumeratesAsRecorded) {
  const auto t = trace::parse(
      "{\"mp1boot_trace\": 1, \"link\": \"usb\"}\n"
      "{\"t\": 0.0, \"k\": \"enum\", \"vid\": 1155, \"pid\": 57105, \"product\": \"ROM\", \"serial\": \"S\", "
      "\"alts\": [[0, \"@FSBL /0x01/1*1Me\"]]}\n"
      "{\"t\": 0.001, \"k\": \"ctl\", \"setup\": [161, 3, 0, 0], \"len\": 6, \"res\": \"ok\", \"hex\": \"000100000200\"}\n"
      "{\"t\": 0.002, \"k\": \"ctl\", \"setup\": [33, 1, 0, 0], \"len\": 2, \"res\": \"stall\", \"hex\": \"abcd\"}\n"
      "{\"t\": 0.003, \"k\": \"ctl\", \"setup\": [161, 3, 0, 0], \"len\": 6, \"res\": \"timeout\", \"ms\": 500}\n"
      "{\"t\": 0.004, \"k\": \"ctl\", \"setup\": [33, 0, 0, 0], \"len\": 0, \"res\": \"disconnected\", \"hex\": \"\"}\n"
      "{\"t\": 0.504, \"k\": \"enum\", \"vid\": 1155, \"pid\": 57105, \"product\": \"TFA\", \"serial\": \"S\", "
      "\"alts\": [[0, \"@FIP /0x03/1*16Me\"]]}\n",
      "u.jsonl");
  sim::ReplayUsbPeer peer(t);
  EXPECT_EQ(peer.identity().product, "ROM");
  EXPECT_EQ(peer.alt_settings().at(0).name, "@FSBL /0x01/1*1Me");
  auto r = peer.control({0xA1, 3, 0, 0}, {}, 6);
  EXPECT_EQ(r.kind, transport::UsbPeer::Reply::Kind::ok);
  EXPECT_EQ(r.data, (Bytes{0, 1, 0, 0, 2, 0}));
  EXPECT_EQ(peer.control({0x21, 1, 0, 0}, Bytes{0xab, 0xcd}, 0).kind, transport::UsbPeer::Reply::Kind::stall);
  EXPECT_GT(peer.control({0xA1, 3, 0, 0}, {}, 6).busy, std::chrono::milliseconds(500));  // a timeout
  EXPECT_EQ(peer.control({0x21, 0, 0, 0}, {}, 0).kind, transport::UsbPeer::Reply::Kind::disconnected);
  EXPECT_FALSE(peer.attached());
  ASSERT_TRUE(peer.pending_reattach().has_value());
  EXPECT_EQ(*peer.pending_reattach(), std::chrono::microseconds(500000));
  EXPECT_TRUE(peer.reattach());
  EXPECT_EQ(peer.generation(), 1u);
  EXPECT_EQ(peer.identity().product, "TFA");
  EXPECT_TRUE(peer.finished());
  try {
    (void)peer.control({0xA1, 3, 0, 0}, {}, 6);
    FAIL() << "a request past the end was answered";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("the end of u.jsonl (6 steps)"), std::string::npos) << e.what();
  }
}

TEST(Trace, NumbersOutOfRangeAreRefusedNotCut) {
  EXPECT_THROW(trace::parse("{\"mp1boot_trace\": 1, \"link\": \"usb\"}\n"
                            "{\"t\": 0, \"k\": \"alt\", \"alt\": 300, \"res\": \"ok\"}\n", "x.jsonl"),
               UsageError);
  EXPECT_THROW(trace::parse("{\"mp1boot_trace\": 1, \"link\": \"usb\"}\n"
                            "{\"t\": 0, \"k\": \"ctl\", \"setup\": [161, 3, 70000, 0], \"len\": 6, \"res\": \"ok\"}\n",
                            "x.jsonl"),
               UsageError);
}

}  // namespace
}  // namespace mp1boot::test
