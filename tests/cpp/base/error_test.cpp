// SPDX-License-Identifier: MIT
// Error category and context rendering.
#include <gtest/gtest.h>

#include "mp1boot/error.hpp"

using namespace mp1boot;

TEST(Error, EveryCodeHasAMessageAndName) {
  for (int i = 0; i <= static_cast<int>(errc_last); ++i) {
    auto e = static_cast<errc>(i);
    EXPECT_NE(make_error_code(e).message(), "unknown mp1boot error") << i;
    EXPECT_STRNE(errc_name(e), "unknown") << i;
  }
  EXPECT_STREQ(mp1boot_category().name(), "mp1boot");
}

TEST(Error, WhatReadsLikeASentence) {
  ErrorContext c;
  c.operation = "download";
  c.phase = 0x01;
  c.partition = "fsbl1";
  c.packet = 37;
  c.bytes_sent = 9472;
  c.bytes_total = 262400;
  c.transport = "serial:/dev/ttyACM0@115200";
  NackError e(errc::nack, "download refused by device (NACK)", c);
  EXPECT_STREQ(e.what(),
               "download refused by device (NACK): phase 0x01 \"fsbl1\", packet 37, 9472/262400 bytes "
               "acknowledged [serial:/dev/ttyACM0@115200]");
  EXPECT_STREQ(e.kind(), "NackError");
  EXPECT_EQ(e.code(), errc::nack);
}

TEST(Error, APhaseThatCannotBeKnownYetIsSaidToBeUnknownUntilOneIsNamed) {
  TimeoutError e(errc::timeout, "DFU_UPLOAD (Get Phase) timed out", ErrorContext{.packet = 0});
  e.add_context(ErrorContext{.phase_unknown = true});
  EXPECT_STREQ(e.what(), "DFU_UPLOAD (Get Phase) timed out: phase unknown (before the first Get Phase), packet 0");
  e.add_context(ErrorContext{.phase = 0x01});  // a named phase wins
  EXPECT_STREQ(e.what(), "DFU_UPLOAD (Get Phase) timed out: phase 0x01, packet 0");
}

TEST(Error, AddContextFillsOnlyMissingFields) {
  TimeoutError e(errc::timeout, "no reply to Get Phase", ErrorContext{.operation = "get_phase"});
  ErrorContext more;
  more.operation = "other";
  more.transport = "sim:stm32mp135";
  e.add_context(more);
  EXPECT_EQ(e.context().operation, "get_phase");
  EXPECT_EQ(e.context().transport, "sim:stm32mp135");
  EXPECT_NE(std::string(e.what()).find("[sim:stm32mp135]"), std::string::npos);
}
