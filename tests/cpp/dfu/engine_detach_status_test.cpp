// SPDX-License-Identifier: MIT
// dfu::Engine: DFU_DETACH (and the MP13 ROM start that needs it), DFU_GETSTATUS,
// DFU_CLRSTATUS, DFU_ABORT and ensure_idle as requests of their own.
// Driven purely through next_action() and its inputs against the scripted device of
// engine_script.hpp.
#include <gtest/gtest.h>

#include "engine_script.hpp"

namespace mp1boot::dfu {
namespace {

// ---- detach, status, clear, abort -------------------------------------------------------------------

TEST(DfuEngine, DetachFromKnownIdle) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("00 FF FF FF FF 00 00 00 00 01"))}};
  d.run();
  e.detach(1000);
  Driver d2{e, std::deque<Answer>{ok()}};
  EXPECT_EQ(d2.run(), (Done{true, false}));
  EXPECT_EQ(d2.log, (std::vector<std::string>{"OUT 21 00 v=1000 i=0 len=0", "DONE left"}));
  EXPECT_EQ(d2.events_of<Detached>().size(), 1u);
  EXPECT_FALSE(e.device_state());
}

TEST(DfuEngine, DetachFromUnknownStateSettlesFirstAndToleratesDisconnect) {
  Engine e;
  e.detach(255);
  Driver d{e, {status(State::upload_idle), ok(), status(State::dfu_idle), disconnect()}};
  EXPECT_EQ(d.run(), (Done{true, false}));
  EXPECT_EQ(d.log, (std::vector<std::string>{getstatus, abort_req, getstatus, "OUT 21 00 v=255 i=0 len=0", "DONE left"}));
}

TEST(DfuEngine, RomMp13NeedsDetachAfterFsbl) {
  // ROM MP13: manifestation returns to dfuIDLE, then DFU_DETACH starts the FSBL (PROTOCOL.md 3.4.1).
  ASSERT_TRUE(needs_detach_after_fsbl(SocFamily::stm32mp13));
  Engine e;
  const Bytes data1024 = pattern(1024);
  e.download(0x01, rom13_alts, data1024, 1024);
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnbusy, 1), status(State::dnload_idle, 1), ok(),
               status(State::manifest, 1), status(State::dfu_idle)}};
  EXPECT_EQ(d.run(), Done{});
  e.detach();
  Driver d2{e, std::deque<Answer>{ok()}};
  EXPECT_EQ(d2.run(), (Done{true, false}));
  EXPECT_EQ(d2.log.front(), "OUT 21 00 v=1000 i=0 len=0");
}

TEST(DfuEngine, SmallRequests) {
  Engine e;
  e.get_status();
  Driver d{e, {status(State::error, 0, Status::err_write)}};
  d.run();  // a status read is not an error
  EXPECT_EQ(e.last_status()->status, Status::err_write);
  EXPECT_EQ(e.device_state(), State::error);
  e.clear_status();
  Driver d2{e, std::deque<Answer>{ok()}};
  d2.run();
  EXPECT_EQ(d2.log.front(), clrstatus);
  EXPECT_EQ(e.device_state(), State::dfu_idle);
  e.abort();
  Driver d3{e, std::deque<Answer>{ok()}};
  d3.run();
  EXPECT_EQ(d3.log.front(), abort_req);
  e.ensure_idle();
  Driver d4{e, {status(State::manifest_sync, 0), status(State::manifest, 2), status(State::dfu_idle)}};
  d4.run();
  EXPECT_EQ(d4.log, (std::vector<std::string>{getstatus, getstatus, "SLEEP 2", getstatus, "DONE"}));
}

}  // namespace
}  // namespace mp1boot::dfu
