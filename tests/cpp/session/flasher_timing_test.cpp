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
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/plan.hpp"
#include "mp1boot/image/flash_layout.hpp"
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
  // 8 GiB at 50 MB/s: about 172 s off the bus, far past the 15 s a plain re-enumeration after the
  // layout may take: the host adds the layout's erase allowance (rootfs, the last mmc0 partition,
  // counted as the largest eMMC planned for: 64 GiB at 32 MiB/s, 2048 s).
  Rig rig("timing-erase", pd_layout());
  auto dev = rig.connect("&link=usb&erase_bps_mmc=50000000");
  const auto r = session::flash(*dev, rig.dir / "flash.tsv");
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x100000, rootfs().size()), rootfs());
}

TEST(FlasherTiming, LongPdEraseCompletesOverUart) {
  // Over UART U-Boot holds the final ACK of the Start that ends the layout phase while it erases
  // (real time on the in-process pty board: a 2 s erase against a Start bound shortened to 1 s).
  Rig rig("timing-erase-uart", pd_layout());
  session::ConnectOptions o;
  o.uart.timeouts.start = std::chrono::milliseconds(1000);
  auto dev = session::connect("sim:stm32mp157?storage=" + rig.storage.string() + "&erase_bps_mmc=4300000000", o);
  const auto r = session::flash(*dev, rig.dir / "flash.tsv");
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x100000, rootfs().size()), rootfs());
}

TEST(FlasherTiming, BoardStuckInThePdEraseEndsInATypedErrorNamingTheBound) {
  // 8 GiB at 1 MB/s: over two hours, past the 15 s + 2048 s the host allows.
  const auto e = flash_times_out(Rig("timing-erase-stuck", pd_layout()), "&erase_bps_mmc=1000000");
  ASSERT_TRUE(e);
  const std::string m = e->what();
  EXPECT_NE(m.find("left the bus after the u-boot stage and did not come back"), std::string::npos) << m;
  EXPECT_NE(m.find("within 2063000 ms (2048000 ms of it allowed for erasing the layout's 'D' partitions)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("preparing the devices may have failed or hung"), std::string::npos) << m;
}

TEST(FlasherTiming, EraseAllowanceFollowsTheLayoutsDLinesAndTheirMedia) {
  auto layout = [](const std::string& lines) {
    return image::parse_layout("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n" + lines, "erase.tsv");
  };
  using std::chrono::milliseconds;
  // No 'D' line: nothing to wait for.
  EXPECT_EQ(session::erase_allowance(layout("P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\tr.ext4\n")),
            milliseconds(0));
  // 32 MiB on eMMC between two partitions: 1 s at 32 MiB/s; the next line is not erased.
  EXPECT_EQ(session::erase_allowance(layout("PD\t0x10\ta\tFileSystem\tmmc1\t0x00100000\ta.ext4\n"
                                            "P\t0x11\tb\tFileSystem\tmmc1\t0x02100000\tb.ext4\n")),
            milliseconds(1000));
  // 1 MiB of NOR: 32 s at 32 KiB/s; a RAM line costs nothing.
  EXPECT_EQ(session::erase_allowance(layout("PED\t0x10\tenv\tBinary\tnor0\t0x00100000\tnone\n"
                                            "P\t0x11\tfip\tFIP\tnor0\t0x00200000\tfip.bin\n")),
            milliseconds(32000));
  // ST's delete-all layout: eMMC boot1/boot2 (32 MiB each at most), then the whole of each device
  // (sizes unknown to the host: the largest planned for, 64 GiB eMMC/SD, 4 GiB NAND, 256 MiB NOR).
  const auto all = layout(
      "PED\t0x04\temmcboot0\tBinary\tmmc1\tboot1\tnone\n"
      "PED\t0x05\temmcboot1\tBinary\tmmc1\tboot2\tnone\n"
      "PED\t0x10\temmcall\tRawImage\tmmc1\t0x0\tnone\n"
      "PED\t0x11\tnandall\tRawImage\tnand0\t0x0\tnone\n"
      "PED\t0x12\tnorall\tRawImage\tnor0\t0x0\tnone\n"
      "PED\t0x13\tsdcardall\tRawImage\tmmc0\t0x0\tnone\n");
  EXPECT_EQ(session::erase_allowance(all), milliseconds(1000 + 1000 + 2048000 + 1024000 + 8192000 + 2048000));
}

}  // namespace
