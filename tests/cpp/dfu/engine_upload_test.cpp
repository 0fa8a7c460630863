// SPDX-License-Identifier: MIT
// dfu::Engine: DFU_UPLOAD until a short block or a maximum length.
// Driven purely through next_action() and its inputs against the scripted device of
// engine_script.hpp.
#include <gtest/gtest.h>

#include "engine_script.hpp"

namespace mp1boot::dfu {
namespace {

// ---- upload ------------------------------------------------------------------------------------------

TEST(DfuEngine, UploadUntilAShortBlock) {
  Engine e;
  e.upload(2, 4096);
  Bytes b0 = pattern(4096), b1 = pattern(4096), b2 = pattern(100);
  Driver d{e, {ok(), status(State::dfu_idle), data(b0), data(b1), data(b2)}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 2", getstatus, "IN a1 02 v=0 i=0 len=4096",
                                          "IN a1 02 v=1 i=0 len=4096", "IN a1 02 v=2 i=0 len=4096", "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(e.uploaded().size(), 8292u);
  EXPECT_EQ(d.events_of<BlockUploaded>().back().bytes_done, 8292u);
  EXPECT_EQ(e.device_state(), State::dfu_idle);
}

TEST(DfuEngine, UploadEventsCarryEachBlockAndLastBlockKeepsOnlyTheLatest) {
  Bytes b0 = pattern(4096), b1 = pattern(4096), b2 = pattern(100);
  for (auto& x : b1) x ^= 0xFF;
  Bytes all = b0;
  all.insert(all.end(), b1.begin(), b1.end());
  all.insert(all.end(), b2.begin(), b2.end());
  for (UploadKeep keep : {UploadKeep::all, UploadKeep::last_block}) {
    Engine e;
    e.upload(2, 4096, UINT64_MAX, keep);
    Driver d{e, {ok(), status(State::dfu_idle), data(b0), data(b1), data(b2)}};
    d.run();
    EXPECT_EQ(d.received, all);
    EXPECT_EQ(d.events_of<BlockUploaded>().back().bytes_done, 8292u);
    EXPECT_EQ(e.uploaded(), keep == UploadKeep::all ? all : b2);
  }
  // With a maximum length, the count (not the kept bytes) decides when to abort.
  Engine e;
  e.upload(4, 4096, 6000, UploadKeep::last_block);
  Driver d{e, {ok(), status(State::dfu_idle), data(pattern(4096)), data(pattern(1904)), ok()}};
  d.run();
  EXPECT_EQ(d.log.at(d.log.size() - 2), abort_req);
  EXPECT_EQ(d.received.size(), 6000u);
  EXPECT_EQ(e.uploaded().size(), 1904u);
}

TEST(DfuEngine, UploadStopsAtMaxLengthWithAbort) {
  Engine e;
  e.upload(4, 4096, 6000);
  Driver d{e, {ok(), status(State::dfu_idle), data(pattern(4096)), data(pattern(1904)), ok()}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 4", getstatus, "IN a1 02 v=0 i=0 len=4096",
                                          "IN a1 02 v=1 i=0 len=1904", abort_req, "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(e.uploaded().size(), 6000u);
}

}  // namespace
}  // namespace mp1boot::dfu
