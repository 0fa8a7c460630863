// SPDX-License-Identifier: MIT
// dfu::Engine: Get Phase (PROTOCOL.md 3.5) on the virtual alt.
// Driven purely through next_action() and its inputs against the scripted device of
// engine_script.hpp.
#include <gtest/gtest.h>

#include "engine_script.hpp"

namespace mp1boot::dfu {
namespace {

// ---- Get Phase ------------------------------------------------------------------------------------

TEST(DfuEngine, GetPhaseOnTheVirtualAlt) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("03 00 00 00 C7 00 00 00 00"))}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 1", getstatus, "IN a1 02 v=0 i=0 len=512", "DONE"};
  EXPECT_EQ(d.log, expected);
  ASSERT_TRUE(e.phase_info());
  EXPECT_EQ(e.phase_info()->phase, 0x03);
  EXPECT_EQ(e.phase_info()->address, 0xC7000000u);
  EXPECT_FALSE(e.phase_info()->detach_requested);
  auto reported = d.events_of<PhaseReported>();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].info, *e.phase_info());
  EXPECT_EQ(e.device_state(), State::dfu_idle);  // a short UPLOAD ends in dfuIDLE
}

TEST(DfuEngine, GetPhaseDetachFlagAndErrorMessage) {
  Engine e;
  e.get_phase(uboot_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("00 00 00 00 C2 00 00 00 00 01"))}};
  d.run();
  EXPECT_EQ(d.log[0], "SET_INTERFACE 3");
  EXPECT_TRUE(e.phase_info()->detach_requested);
  EXPECT_TRUE(needs_detach(*e.phase_info()));

  Bytes err = from_hex("FF FF FF FF FF 00 00 00 00");
  for (char c : std::string("Layout line 4: duplicate Id")) err.push_back(static_cast<std::uint8_t>(c));
  e.get_phase(uboot_alts);
  Driver d2{e, {ok(), status(State::dfu_idle), data(err)}};
  d2.run();
  EXPECT_EQ(e.phase_info()->phase, 0xFF);
  EXPECT_EQ(e.phase_info()->message, "Layout line 4: duplicate Id");
}

TEST(DfuEngine, GetPhaseWithoutStatusAndWithAFullReply) {
  Options o;
  o.status_before_get_phase = false;
  o.phase_reply_length = 64;
  Engine e(o);
  e.get_phase(rom15_alts);
  Bytes full = from_hex("01 00 24 FC 2F 00 00 00 00");
  full.resize(64, 0);
  Driver d{e, {ok(), data(full), ok()}};
  d.run();
  // A reply of exactly wLength leaves dfuUPLOAD-IDLE: the engine ends the transfer with ABORT.
  const std::vector<std::string> expected{"SET_INTERFACE 5", "IN a1 02 v=0 i=0 len=64", abort_req, "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(e.phase_info()->address, 0x2FFC2400u);
  EXPECT_EQ(e.device_state(), State::dfu_idle);
}

TEST(DfuEngine, GetPhaseReplyTooShort) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("03 00 00"))}};
  EXPECT_THROW(d.run(), ProtocolError);
  EXPECT_TRUE(e.failed());
}

}  // namespace
}  // namespace mp1boot::dfu
