// SPDX-License-Identifier: MIT
// A DFU_GETSTATUS reply lost on the wire (sim::UsbFaultPlan::lose_status_replies, URL key
// lose_status): the device acted on the request, the host sees a timeout. The engine asks again
// (dfu::Options::status_retries times in a row) and the download goes on; when every re-ask is
// lost too it gives up with a TimeoutError naming the request, the block and the phase. In virtual
// time: no run waits for the real transfer timeouts.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "rig.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/session/connect.hpp"

namespace mp1boot::test {
namespace {

using std::chrono::steady_clock;

// Boots the FSBL over the simulated STM32MP157 ROM with `query`; counts the driver loop's notes of
// timed-out transfers (each one a lost reply that the host waited for).
struct LostStatusBoot {
  int timeouts = 0;
  std::unique_ptr<session::Device> dev;
  explicit LostStatusBoot(const std::string& query) : dev(session::connect("sim:stm32mp157?link=usb" + query)) {
    dev->set_hooks(session::DriveHooks{.trace = [this](char, ByteView, std::string_view note) {
      if (note.find("timed out") != std::string_view::npos) ++timeouts;
    }});
  }
  void boot() { dev->boot(fsbl_mp15(), "tf-a.stm32", {}); }
};

// The MP15 ROM's GETSTATUS requests of the FSBL download: 1 settles after SET_INTERFACE, 2 reports
// dfuDNBUSY after block 0, 3 reports its dfuDNLOAD-IDLE (the device is then in dfuDNLOAD-IDLE).

TEST(DfuLostStatus, ALostReplyIsAskedAgainAndTheBootGoesOn) {
  for (const char* n : {"1", "2", "3"}) {
    SCOPED_TRACE(std::string("lose_status=") + n);
    LostStatusBoot b(std::string("&lose_status=") + n);
    const auto started = steady_clock::now();
    b.boot();
    EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(2));
    EXPECT_EQ(b.timeouts, 1);  // the fault fired, and was recovered
    EXPECT_EQ(b.dev->get_phase().phase, 0x03);  // TF-A runs and asks for the FIP
  }
}

TEST(DfuLostStatus, ThreeLostRepliesInARowAreStillRecovered) {
  LostStatusBoot b("&lose_status=3&lose_status=4&lose_status=5");
  b.boot();
  EXPECT_EQ(b.timeouts, 3);
  EXPECT_EQ(b.dev->get_phase().phase, 0x03);
}

TEST(DfuLostStatus, FourLostRepliesInARowGiveUpNamingTheBlockAndPhase) {
  LostStatusBoot b("&lose_status=3&lose_status=4&lose_status=5&lose_status=6");
  const auto started = steady_clock::now();
  try {
    b.boot();
    FAIL() << "no error";
  } catch (const TimeoutError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("DFU_GETSTATUS after DFU_DNLOAD block 0 timed out 4 times in a row"), std::string::npos)
        << what;
    EXPECT_EQ(e.context().operation, "DFU_GETSTATUS");
    EXPECT_EQ(e.context().phase, 0x01);
    EXPECT_EQ(e.context().packet, 0u);
  }
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(b.timeouts, 4);
}

TEST(DfuLostStatus, TheKeyIsCheckedLikeEveryOther) {
  try {
    session::connect("sim:stm32mp157?link=usb&lose_status=0");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("lose_status"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mp1boot::test
