// SPDX-License-Identifier: MIT
// The simulated U-Boot's time model against the host's bounds (in process, virtual time: device
// busy times are compared with the transfer timeouts, not slept): a deferred flush longer than the
// engine's ordinary busy timeout (30 s) completes because the host derives the manifestation bound
// from the download, medium writes that stall DNLOAD requests complete, and a device stuck in its
// flush ends in a TimeoutError that states the bound.
#include <gtest/gtest.h>

#include "mp1boot/dfu/engine.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/session/flasher.hpp"
#include "rig.hpp"

using namespace mp1boot;

namespace {
using namespace mp1boot::test;

TEST(FlasherTiming, FlushLongerThanTheOldTimeoutCompletes) {
  ASSERT_LT(dfu::Options{}.busy_timeout, std::chrono::milliseconds(45000));
  Rig rig("timing-flush");
  auto dev = rig.connect("&link=usb&flush_ms=45000&medium_bps=1000000");
  const auto r = session::flash(*dev, rig.dir / "flash.tsv");
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x100000, rootfs().size()), rootfs());
}

TEST(FlasherTiming, DeviceStuckInTheFlushEndsInATypedErrorNamingTheBound) {
  Rig rig("timing-stuck");
  auto dev = rig.connect("&link=usb&flush_ms=3600000");
  session::FlashOptions o;
  o.reset_probe = std::chrono::milliseconds(100);
  try {
    session::flash(*dev, rig.dir / "flash.tsv", o);
    FAIL() << "no error";
  } catch (const TimeoutError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("DFU_GETSTATUS during manifestation timed out after 60 s: the device was still writing"),
              std::string::npos)
        << m;
    EXPECT_EQ(e.context().phase, 0x00) << m;  // U-Boot's first flush: the layout
  }
}

}  // namespace
