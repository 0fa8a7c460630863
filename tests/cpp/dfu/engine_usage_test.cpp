// SPDX-License-Identifier: MIT
// dfu::Engine: misuse of the API (missing alt, bad arguments, a request while busy) and reuse.
// Driven purely through next_action() and its inputs against the scripted device of
// engine_script.hpp.
#include <gtest/gtest.h>

#include "engine_script.hpp"

namespace mp1boot::dfu {
namespace {

// ---- misuse ---------------------------------------------------------------------------------------

TEST(DfuEngineUsage, MissingAltListsTheAlts) {
  Engine e;
  try {
    const Bytes data10 = pattern(10);
    e.download(0x03, rom13_alts, data10, 1024);
    FAIL() << "expected UsageError";
  } catch (const UsageError& err) {
    EXPECT_EQ(err.code(), errc::unsupported);
    EXPECT_EQ(err.message(),
              "no alternate setting for phase 0x03 (alts: 0 \"@FSBL /0x01/1*128Ke\", 1 \"@virtual /0xF1/1*512Ba\")");
  }
  EXPECT_TRUE(e.failed());
  EXPECT_THROW(e.next_action(), UsageError);
}

TEST(DfuEngineUsage, MissingVirtualAlt) {
  Engine e;
  const std::vector<usb::AltSetting> alts{{0, "@FSBL /0x01/1*1Me"}};
  try {
    e.get_phase(alts);
    FAIL() << "expected UsageError";
  } catch (const UsageError& err) {
    EXPECT_EQ(err.code(), errc::unsupported);
    EXPECT_NE(err.message().find("0xf1"), std::string::npos);
  }
}

TEST(DfuEngineUsage, BadArguments) {
  {
    Engine e;
    EXPECT_THROW(e.download(0x01, rom13_alts, {}, 1024), UsageError);
  }
  {
    Engine e;
    const Bytes data10 = pattern(10);
    EXPECT_THROW(e.download(0x01, rom13_alts, data10, 0), UsageError);
  }
  {
    Engine e;
    EXPECT_THROW(e.upload(0, 4096, 0), UsageError);
  }
}

TEST(DfuEngineUsage, RequestWhileBusyAndInputsWithoutAction) {
  {
    Engine e;
    EXPECT_EQ(e.next_action(), Action{Done{}});
    EXPECT_THROW(e.on_control_in(from_hex("00 00 00 00 02 00")), UsageError);
    EXPECT_TRUE(e.failed());
  }
  {
    Engine e;
    e.get_phase(tfa13_alts);
    EXPECT_THROW(e.get_phase(tfa13_alts), UsageError);
    EXPECT_TRUE(e.failed());
  }
  {
    Engine e;
    e.get_phase(tfa13_alts);  // pending: SetAlt
    EXPECT_THROW(e.on_control_in(from_hex("00 00 00 00 02 00")), UsageError);
  }
  {
    Engine e;
    e.get_status();  // pending: ControlIn
    EXPECT_THROW(e.on_sleep_done(), UsageError);
  }
  {
    Engine e;
    e.get_phase(tfa13_alts);
    e.on_control_out_done();  // SetAlt done -> GETSTATUS
    EXPECT_THROW(e.on_control_in(Bytes(7, 0)), ProtocolError);  // more than wLength
  }
}

TEST(DfuEngineUsage, EngineIsReusableAfterDone) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("03 00 00 00 C7 00 00 00 00"))}};
  d.run();
  const Bytes data10 = pattern(10);
  e.download(0x03, tfa13_alts, data10, 1024);
  Driver d2{e, {ok(), status(State::dfu_idle), ok(), status(State::dnload_sync), status(State::dnload_idle), ok(),
                status(State::manifest, 1), status(State::dfu_idle)}};
  EXPECT_EQ(d2.run(), Done{});
  EXPECT_EQ(d2.events_of<BlockAcked>().size(), 1u);
}

}  // namespace
}  // namespace mp1boot::dfu
