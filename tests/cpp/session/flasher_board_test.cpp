// SPDX-License-Identifier: MIT
// No silent false pass: a board that is not at a stage that programs the layout (U-Boot already
// done at 0xFE, or inside an earlier session) is a board_state error, and a resume report only
// skips partitions on the board it names (USB port path + serial), unless resume_any_board.
// Also the report's JSON round trip through nlohmann::json.
#include <gtest/gtest.h>

#include "mp1boot/error.hpp"
#include "mp1boot/session/board.hpp"
#include "rig.hpp"

using namespace mp1boot;

namespace {
using namespace mp1boot::test;

TEST(FlasherBoardState, BoardThatAlreadyFinishedIsAnErrorNotOk) {
  Rig rig("flasher-done-board");
  auto dev = rig.connect();
  ASSERT_EQ(session::flash(*dev, rig.dir / "flash.tsv").result, FlashResult::ok);
  ASSERT_EQ(dev->get_phase().phase, 0xFE);
  session::Flasher again(*dev, rig.dir / "flash.tsv");
  try {
    again.run();
    FAIL() << "a board at 0xFE was reported as flashed";
  } catch (const DeviceError& e) {
    EXPECT_EQ(e.code(), errc::board_state) << e.what();
    EXPECT_NE(e.message().find("phase 0xFE (done)"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("Reset the board"), std::string::npos) << e.message();
  }
  EXPECT_EQ(again.report().result, FlashResult::failed);
  EXPECT_EQ(again.report().error_code, "board_state");
  for (const auto& p : again.report().partitions) EXPECT_EQ(p.result, PartitionResult::skipped) << p.name;
}

TEST(FlasherBoardState, BoardInsideAnEarlierSessionIsAnError) {
  Rig rig("flasher-mid-session");
  auto dev = rig.connect();
  session::FlashOptions o;
  CancelToken cancel;
  session::DriveHooks hooks;
  hooks.cancel = &cancel;
  dev->set_hooks(hooks);
  o.on_event = [&](const session::FlashEvent& e) {
    if (e.kind == session::FlashEvent::Kind::partition_done && e.partition->name == "FlashLayout") cancel.cancel();
  };
  EXPECT_THROW(session::flash(*dev, rig.dir / "flash.tsv", o), CancelledError);
  dev->set_hooks({});
  const auto phase = dev->get_phase().phase;
  ASSERT_EQ(phase, 0x04);  // U-Boot waits for the first partition of the layout it received
  try {
    session::flash(*dev, rig.dir / "flash.tsv");
    FAIL() << "a board inside an earlier session was flashed";
  } catch (const DeviceError& e) {
    EXPECT_EQ(e.code(), errc::board_state) << e.what();
    EXPECT_NE(e.message().find("asks for phase 0x04"), std::string::npos) << e.message();
  }
  EXPECT_EQ(dev->get_phase().phase, 0x04);  // nothing was sent
}

TEST(FlasherResume, ReportOfAnotherBoardIsRefused) {
  Rig rig("flasher-resume-other");
  session::FlashReport first;
  {
    auto dev = rig.connect("&link=usb&serial=AAAA0001");
    first = session::flash(*dev, rig.dir / "flash.tsv");
    ASSERT_EQ(first.result, FlashResult::ok) << first.error;
    EXPECT_EQ(first.board().key(), "usb:1-1");
    EXPECT_EQ(first.serial, "AAAA0001");
  }
  Rig fresh("flasher-resume-other-b");
  auto dev = fresh.connect("&link=usb&serial=BBBB0002");  // a blank board on the same port
  session::FlashOptions o;
  o.resume = {first};
  session::Flasher f(*dev, fresh.dir / "flash.tsv", o);
  try {
    f.run();
    FAIL() << "resumed onto another board";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.code(), errc::other_board) << e.what();
    EXPECT_NE(e.message().find("serial AAAA0001"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("serial BBBB0002"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("--resume-any-board"), std::string::npos) << e.message();
  }
  EXPECT_EQ(dev->get_phase().phase, 0x01);  // nothing was sent

  // The operator says it is the same board: allowed, and the skipped ones are named as such.
  o.resume_any_board = true;
  const auto r = session::flash(*dev, fresh.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(part(r, "rootfs").result, PartitionResult::skipped_done_earlier);
}

TEST(FlasherResume, VerifyOfSkippedPartitionsCatchesABlankBoard) {
  Rig rig("flasher-resume-verify");
  session::FlashReport first;
  {
    auto dev = rig.connect("&link=usb&serial=AAAA0001");
    first = session::flash(*dev, rig.dir / "flash.tsv");
    ASSERT_EQ(first.result, FlashResult::ok) << first.error;
  }
  Rig fresh("flasher-resume-verify-b");
  auto dev = fresh.connect("&link=usb&serial=BBBB0002");
  session::FlashOptions o;
  o.resume = {first};
  o.resume_any_board = true;
  o.verify = true;
  session::Flasher f(*dev, fresh.dir / "flash.tsv", o);
  try {
    f.run();
    FAIL() << "verify passed on a board that never got the skipped partitions";
  } catch (const DeviceError& e) {
    EXPECT_EQ(e.code(), errc::verify_mismatch) << e.what();
  }
  EXPECT_EQ(part(f.report(), "rootfs").result, PartitionResult::skipped_done_earlier);
  EXPECT_EQ(part(f.report(), "rootfs").verified, VerifyResult::mismatch);
}

TEST(FlasherResume, MultiBoardReportPicksThisBoardsEntry) {
  Rig rig("flasher-resume-multi");
  session::FlashReport mine;
  {
    auto dev = rig.connect("&link=usb&serial=AAAA0001");
    mine = session::flash(*dev, rig.dir / "flash.tsv");
  }
  session::FlashReport other = mine;
  other.serial = "CCCC0003";
  other.port_path = "1-2";
  for (auto& p : other.partitions) p.sha256 = std::string(64, 'f');
  nlohmann::json many{{"result", "ok"}, {"boards", {{other.board().key(), other.json()}, {mine.board().key(), mine.json()}}}};
  session::FlashOptions o;
  o.resume = session::reports_from_json(many);
  ASSERT_EQ(o.resume.size(), 2u);
  auto dev = rig.connect("&link=usb&serial=AAAA0001");
  const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_EQ(part(r, "rootfs").result, PartitionResult::skipped_done_earlier);
  EXPECT_EQ(part(r, "fsbl1").result, PartitionResult::skipped_done_earlier);
}

TEST(BoardIdentity, PortPathIsTheIdentitySerialACrossCheck) {
  const session::BoardIdentity a{Link::usb, "1-1.4", "0028004232325115"};
  EXPECT_EQ(a.key(), "usb:1-1.4");
  EXPECT_TRUE(a.same_board(a));
  EXPECT_FALSE(a.same_board({Link::usb, "1-1.3", "0028004232325115"}));  // same serial, other port
  EXPECT_FALSE(a.same_board({Link::usb, "1-1.4", "0028004232325116"}));  // serials disagree
  EXPECT_TRUE(a.same_board({Link::usb, "1-1.4", "000000000000"}));       // the ROM reports zeros
  EXPECT_FALSE(a.same_board({Link::uart, "1-1.4", "0028004232325115"}));
  EXPECT_EQ((session::BoardIdentity{Link::uart, "serial:/dev/ttyUSB0", ""}).key(), "serial:/dev/ttyUSB0");
}

TEST(FlashReportJson, RoundTripsThroughNlohmannJson) {
  session::FlashReport r;
  r.tool_version = "1.2.3";
  r.device_id = 0x500;
  r.link = Link::usb;
  r.serial = "S\"1";
  r.port_path = "1-2";
  r.result = FlashResult::ok;
  session::PartitionReport p;
  p.phase = 0x10;
  p.name = "rootfs";
  p.size = 1ull << 33;
  p.result = PartitionResult::skipped_done_earlier;
  r.partitions.push_back(p);
  const nlohmann::json j = r;
  EXPECT_EQ(j["device_id"], 0x500);
  EXPECT_EQ(j["board"], "usb:1-2");
  EXPECT_EQ(j["partitions"][0]["size"], 1ull << 33);
  const auto back = session::FlashReport::from_json(nlohmann::json::parse(r.to_json()));
  EXPECT_EQ(back.device_id, 0x500);
  EXPECT_EQ(back.serial, "S\"1");
  EXPECT_EQ(back.partitions.at(0).result, PartitionResult::skipped_done_earlier);
  EXPECT_EQ(back.partitions.at(0).size, 1ull << 33);
  try {
    session::FlashReport::from_json(nlohmann::json{{"partitions", "nope"}});
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(e.message().find("\"partitions\""), std::string::npos) << e.message();
  }
}

// Each report of `bad` is refused with a UsageError whose message contains its text.
template <std::size_t N>
void expect_refused(const std::pair<nlohmann::json, const char*> (&bad)[N]) {
  for (const auto& [json, text] : bad) {
    try {
      session::reports_from_json(json);
      ADD_FAILURE() << "accepted " << json.dump();
    } catch (const UsageError& e) {
      EXPECT_NE(e.message().find(text), std::string::npos) << e.message();
    }
  }
}

// The vocabulary enums are written with today's strings and read back only from them (an older
// report's "resumed" still reads as done earlier); any other value is refused, naming the field
// and the allowed values.
TEST(FlashReportJson, VocabularyWordsKeepTheirStrings) {
  session::FlashReport r;
  EXPECT_EQ(r.json()["link"], "");  // not connected yet
  r.link = Link::uart;
  session::PartitionReport p;
  EXPECT_EQ(nlohmann::json(p)["result"], "skipped");
  EXPECT_EQ(nlohmann::json(p)["verified"], "");
  p.result = PartitionResult::failed;
  p.verified = VerifyResult::mismatch;
  r.partitions.push_back(p);
  const nlohmann::json j = r.json();
  EXPECT_EQ(j["link"], "uart");
  EXPECT_EQ(j["partitions"][0]["result"], "failed");
  EXPECT_EQ(j["partitions"][0]["verified"], "mismatch");
  const auto back = session::FlashReport::from_json(j);
  EXPECT_EQ(back.link, Link::uart);
  EXPECT_EQ(back.partitions.at(0).result, PartitionResult::failed);
  EXPECT_EQ(back.partitions.at(0).verified, VerifyResult::mismatch);
  EXPECT_EQ(back.json(), j);

  const auto old = session::FlashReport::from_json({{"partitions", {{{"result", "resumed"}}}}});
  EXPECT_EQ(old.partitions.at(0).result, PartitionResult::skipped_done_earlier);

  const std::pair<nlohmann::json, const char*> bad[] = {
      {{{"link", "USB"}}, "field \"link\" is \"USB\", not one of \"\", \"uart\", \"usb\""},
      {{{"link", 1}}, "field \"link\" is 1"},
      {{{"partitions", {{{"result", "done"}}}}}, "\"ok\", \"failed\", \"skipped\", \"skipped-done-earlier\""},
      {{{"partitions", {{{"verified", "yes"}}}}}, "field \"verified\" is \"yes\""},
  };
  expect_refused(bad);
}

// Found by tests/fuzz/fuzz_report: a number out of a field's range was cast (1e34 as device_id is
// undefined behaviour, a phase of 300 became 44, a size of -1 wrapped). Each is refused, naming
// the field; the largest value of each type still reads back.
TEST(FlashReportJson, NumbersOutOfRangeAreRefusedNamingTheField) {
  const std::pair<nlohmann::json, const char*> bad[] = {
      {{{"device_id", 1.3e34}}, "\"device_id\""},
      {{{"device_id", 0x10000}}, "\"device_id\""},
      {{{"device_id", "0x12345"}}, "\"device_id\""},
      {{{"device_id", "-1"}}, "\"device_id\""},
      {{{"device_id", "12ab"}}, "\"device_id\""},
      {{{"partitions", {{{"phase", 300}}}}}, "\"phase\""},
      {{{"partitions", {{{"size", -1}}}}}, "\"size\""},
      {{{"partitions", {{{"bytes_sent", 1e300}}}}}, "\"bytes_sent\""},
      {{{"partitions", {{{"layout_line", 2.5}}}}}, "\"layout_line\""},
  };
  expect_refused(bad);
  const auto r = session::FlashReport::from_json(
      {{"device_id", "0xFFFF"}, {"partitions", {{{"phase", 255}, {"size", UINT64_MAX}, {"layout_line", 0xFFFFFFFFu}}}}});
  EXPECT_EQ(r.device_id, 0xFFFF);
  EXPECT_EQ(r.partitions.at(0).phase, 255);
  EXPECT_EQ(r.partitions.at(0).size, UINT64_MAX);
  EXPECT_EQ(r.partitions.at(0).layout_line, 0xFFFFFFFFu);
}

}  // namespace
