// SPDX-License-Identifier: MIT
// The simulated U-Boot's time model against the host's bounds (in process, virtual time: device
// busy times are compared with the transfer timeouts, not slept): a deferred flush longer than the
// engine's ordinary busy timeout (30 s) completes because the host derives the manifestation bound
// from the download, medium writes that stall DNLOAD requests complete, and a device stuck in its
// flush ends in a TimeoutError that states the bound; the same for the erase of the layout's 'PD'
// lines, which U-Boot runs off the bus before the partition enumeration.
#include <gtest/gtest.h>

#include <optional>

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

// Flashes rig's layout on a USB board with these URL options; the run must end in a TimeoutError,
// returned (an empty message when it did not).
std::optional<TimeoutError> flash_times_out(const Rig& rig, const std::string& query) {
  auto dev = rig.connect("&link=usb" + query);
  session::FlashOptions o;
  o.reset_probe = std::chrono::milliseconds(100);
  try {
    session::flash(*dev, rig.dir / "flash.tsv", o);
  } catch (const TimeoutError& e) {
    return e;
  }
  ADD_FAILURE() << "no timeout with " << query;
  return std::nullopt;
}

TEST(FlasherTiming, DeviceStuckInTheFlushEndsInATypedErrorNamingTheBound) {
  const auto e = flash_times_out(Rig("timing-stuck"), "&flush_ms=3600000");
  ASSERT_TRUE(e);
  const std::string m = e->what();
  EXPECT_NE(m.find("DFU_GETSTATUS during manifestation timed out after 60 s: the device was still writing"),
            std::string::npos)
      << m;
  EXPECT_EQ(e->context().phase, 0x00) << m;  // U-Boot's first flush: the layout
}

// The rootfs line with 'PD': U-Boot erases it (to the end of the 8 GiB mmc0) off the bus, between
// the layout's DETACH and the partition enumeration.
std::string pd_layout() {
  std::string layout = kLayout;
  layout.replace(layout.find("P\t0x10"), 1, "PD");
  return layout;
}

TEST(FlasherTiming, LongPdEraseCompletesOverUsb) {
  // 8 GiB at 700 MB/s: about 12 s off the bus, longer than the ROM's and the busy bounds would
  // allow a plain re-enumeration, within the host's bound after the layout.
  Rig rig("timing-erase", pd_layout());
  auto dev = rig.connect("&link=usb&erase_bps_mmc=700000000");
  const auto r = session::flash(*dev, rig.dir / "flash.tsv");
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x100000, rootfs().size()), rootfs());

  // The erase really keeps the board away for those ~12 s: a host that waits only 12 s after the
  // layout gives up (the reconnect_ms triple: after the ROM, TF-A, U-Boot's layout).
  EXPECT_TRUE(flash_times_out(Rig("timing-erase-12s", pd_layout()),
                              "&erase_bps_mmc=700000000&reconnect_ms=10000,30000,12000"));
}

TEST(FlasherTiming, BoardStuckInThePdEraseEndsInATypedErrorNamingTheBound) {
  // 8 GiB at 1 MB/s: over two hours.
  const auto e = flash_times_out(Rig("timing-erase-stuck", pd_layout()), "&erase_bps_mmc=1000000");
  ASSERT_TRUE(e);
  const std::string m = e->what();
  EXPECT_NE(m.find("left the bus after the u-boot stage and did not come back"), std::string::npos) << m;
  EXPECT_NE(m.find("within 15000 ms"), std::string::npos) << m;
  EXPECT_NE(m.find("preparing the devices may have failed or hung"), std::string::npos) << m;
}

}  // namespace
