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
  EXPECT_EQ(report.result, "ok");
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
  EXPECT_EQ(report.result, "ok");
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
  EXPECT_EQ(report.result, "ok");
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
  EXPECT_EQ(session::flash(*dev, rig.dir / "flash.tsv").result, "ok");
  dev->close();
  o.record.reset();
  std::size_t timeouts = 0;
  for (const auto& r : trace::read(file).records) timeouts += r.kind == trace::Kind::timeout;
  EXPECT_GE(timeouts, 1u);
  EXPECT_EQ(replay_flash(rig, file).result, "ok");
}

TEST(Trace, DataOptionKeepsPayloadsInFull) {
  Rig rig("trace-data");
  const fs::path file = record_flash(rig, "&link=usb", true);
  for (const auto& r : trace::read(file).records)
    if (r.kind == trace::Kind::write || r.kind == trace::Kind::read || r.kind == trace::Kind::control)
      EXPECT_TRUE(r.data.bytes.has_value()) << "line " << r.line;
  EXPECT_EQ(replay_flash(rig, file).result, "ok");
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

}  // namespace
}  // namespace mp1boot::test
