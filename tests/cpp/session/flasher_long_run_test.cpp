// SPDX-License-Identifier: MIT
// Over UART every byte crosses the line at the protocol bound: before the first download the run
// reports its estimate, and one longer than FlashOptions::long_run_limit needs the go-ahead
// (long_run_consent, `--yes`, or a confirm callback that agrees); otherwise needs_consent with
// nothing downloaded. The limit is lowered to 0 s here so the small test layout exceeds it.
#include <gtest/gtest.h>

#include <chrono>

#include "mp1boot/error.hpp"
#include "rig.hpp"

using namespace mp1boot;

namespace {
using namespace mp1boot::test;
using namespace std::chrono_literals;

struct Seen {
  int estimates = 0;
  session::FlashEstimate estimate;
  std::vector<std::string> questions;
};

session::FlashOptions watched(Seen& seen) {
  session::FlashOptions o;
  o.long_run_limit = 0s;
  o.on_event = [&seen](const session::FlashEvent& e) {
    if (e.kind != session::FlashEvent::Kind::estimate) return;
    ++seen.estimates;
    seen.estimate = *e.estimate;
  };
  return o;
}

TEST(FlasherLongRun, UartRunOverTheLimitIsRefusedWithoutConsentAndNothingIsDownloaded) {
  Rig rig("flasher-long-run-refused");
  auto dev = rig.connect();
  Seen seen;
  session::Flasher f(*dev, rig.dir / "flash.tsv", watched(seen));
  try {
    f.run();
    FAIL() << "a UART run over the limit went ahead without consent";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.code(), errc::needs_consent) << e.what();
    EXPECT_NE(e.message().find("MB over UART at"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("pass --yes"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("--port usb"), std::string::npos) << e.message();
  }
  EXPECT_EQ(seen.estimates, 1);
  EXPECT_GT(seen.estimate.bytes, 0u);
  EXPECT_GT(seen.estimate.eta_seconds, 0.0);
  EXPECT_EQ(f.report().error_code, "needs_consent");
  for (const auto& p : f.report().partitions) EXPECT_EQ(p.result, PartitionResult::skipped) << p.name;
  EXPECT_EQ(dev->get_phase().phase, 0x01);  // the ROM still waits for the FSBL: nothing was sent
}

TEST(FlasherLongRun, ConsentOrAConfirmingCallbackLetsItRun) {
  {
    Rig rig("flasher-long-run-yes");
    auto dev = rig.connect();
    Seen seen;
    auto o = watched(seen);
    o.long_run_consent = true;
    o.confirm = [&seen](const std::string& q) {
      seen.questions.push_back(q);
      return false;
    };
    EXPECT_EQ(session::flash(*dev, rig.dir / "flash.tsv", o).result, FlashResult::ok);
    EXPECT_EQ(seen.estimates, 1);
    EXPECT_TRUE(seen.questions.empty()) << "consent given: nobody is asked";
  }
  {
    Rig rig("flasher-long-run-confirm");
    auto dev = rig.connect();
    Seen seen;
    auto o = watched(seen);
    o.confirm = [&seen](const std::string& q) {
      seen.questions.push_back(q);
      return true;
    };
    EXPECT_EQ(session::flash(*dev, rig.dir / "flash.tsv", o).result, FlashResult::ok);
    ASSERT_EQ(seen.questions.size(), 1u);
    EXPECT_NE(seen.questions[0].find("flash.tsv sends"), std::string::npos) << seen.questions[0];
    EXPECT_NE(seen.questions[0].find("USB (--port usb)"), std::string::npos) << seen.questions[0];
  }
  {
    Rig rig("flasher-long-run-declined");
    auto dev = rig.connect();
    Seen seen;
    auto o = watched(seen);
    o.confirm = [](const std::string&) { return false; };
    try {
      session::flash(*dev, rig.dir / "flash.tsv", o);
      FAIL() << "a declined run went ahead";
    } catch (const UsageError& e) {
      EXPECT_EQ(e.code(), errc::needs_consent) << e.what();
    }
  }
}

TEST(FlasherLongRun, UnderTheLimitNobodyIsAskedAndUsbHasNoEstimate) {
  {
    Rig rig("flasher-long-run-short");
    auto dev = rig.connect();
    Seen seen;
    auto o = watched(seen);
    o.long_run_limit = 3600s;
    o.confirm = [&seen](const std::string& q) {
      seen.questions.push_back(q);
      return false;
    };
    EXPECT_EQ(session::flash(*dev, rig.dir / "flash.tsv", o).result, FlashResult::ok);
    EXPECT_EQ(seen.estimates, 1);
    EXPECT_TRUE(seen.questions.empty());
    // The estimate counts every file the run downloads at 256 payload bytes per 268 on the wire.
    EXPECT_NEAR(seen.estimate.eta_seconds, double(seen.estimate.bytes) / (115200.0 / 11 * 256 / 268), 1e-6);
  }
  {
    Rig rig("flasher-long-run-usb");
    auto dev = rig.connect("&link=usb");
    Seen seen;
    EXPECT_EQ(session::flash(*dev, rig.dir / "flash.tsv", watched(seen)).result, FlashResult::ok);
    EXPECT_EQ(seen.estimates, 0);
  }
}

}  // namespace
