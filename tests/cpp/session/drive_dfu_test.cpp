// SPDX-License-Identifier: MIT
// session::drive_dfu answers a streamed download's NeedData from the caller's DataReader, one
// bounded window at a time (a window the caller keeps is reused by every call), names the phase of
// the selected alt and the block in an upload's error, and refuses a streamed download without a
// reader with a typed error.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "rig.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/drive.hpp"
#include "mp1boot/session/usb_device.hpp"

namespace mp1boot::test {
namespace {

// The simulated STM32MP157 on USB, booted to TF-A (which asks for the FIP, phase 0x03).
std::unique_ptr<session::Device> tfa_board() {
  auto dev = session::connect("sim:stm32mp157?link=usb");
  dev->boot(fsbl_mp15(), "tf-a.stm32", {});
  return dev;
}

TEST(DriveDfu, StreamedDownloadReadsTheReaderInWindowsOfAtMostOneMebibyte) {
  auto dev = tfa_board();
  const Bytes image = fip((3u << 20) + 5);
  std::vector<std::pair<std::uint64_t, std::size_t>> reads;
  const session::DataReader reader = [&](std::uint64_t offset, std::span<std::uint8_t> out) {
    reads.emplace_back(offset, out.size());
    std::copy_n(image.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
  };
  dev->download_stream(reader, image.size(), {.phase = 0x03, .name = "fip.bin"});
  ASSERT_EQ(reads.size(), 4u);
  std::uint64_t next = 0;
  for (const auto& [offset, size] : reads) {
    EXPECT_EQ(offset, next);
    EXPECT_LE(size, 1u << 20);
    next = offset + size;
  }
  EXPECT_EQ(next, image.size());
}

TEST(DriveDfu, AWindowPassedToEveryCallIsReusedWithoutReallocation) {
  const Bytes image = fip((2u << 20) + 7);
  std::vector<const std::uint8_t*> windows;
  const session::DataReader reader = [&](std::uint64_t offset, std::span<std::uint8_t> out) {
    windows.push_back(out.data());
    std::copy_n(image.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
  };
  Bytes window;
  session::VirtualClock clock;
  for (int run = 0; run < 2; ++run) {  // two boards, two calls, one window
    SCOPED_TRACE(run);
    auto dev = tfa_board();
    auto& usb = dynamic_cast<session::UsbDevice&>(*dev);
    dfu::Engine engine;
    engine.download_streamed(0x03, usb.port().alt_settings(), image.size(), 4096);
    session::drive_dfu(engine, usb.port(), session::DriveHooks{.clock = &clock}, {}, &reader, &window);
  }
  ASSERT_EQ(windows.size(), 6u);  // 1 MiB + 1 MiB + 7 bytes, twice
  for (const auto* w : windows) EXPECT_EQ(w, windows.front());
  EXPECT_GE(window.capacity(), 1u << 20);
}

TEST(DriveDfu, AnUploadErrorNamesThePhaseOfTheSelectedAltAndTheBlock) {
  auto dev = tfa_board();
  auto& usb = dynamic_cast<session::UsbDevice&>(*dev);
  const auto alts = usb.port().alt_settings();
  const usb::AltSetting* fip_alt = dfu::find_alt(alts, 0x03);
  ASSERT_NE(fip_alt, nullptr);
  dfu::Engine engine;
  engine.upload(fip_alt->number, 1024);  // an upload takes an alt number, not a phase
  session::VirtualClock clock;
  try {
    session::drive_dfu(engine, usb.port(), session::DriveHooks{.clock = &clock});
    FAIL() << "TF-A answered an upload of its FIP alt";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().phase, 0x03) << e.what();  // from the alt's name "/0x03/"
    EXPECT_EQ(e.context().packet, 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("phase 0x03"), std::string::npos) << e.what();
  }
}

TEST(DriveDfu, StreamedDownloadWithoutAReaderIsAUsageErrorWithContext) {
  auto dev = tfa_board();
  auto& usb = dynamic_cast<session::UsbDevice&>(*dev);
  dfu::Engine engine;
  engine.download_streamed(0x03, usb.port().alt_settings(), 4096, 1024);
  session::VirtualClock clock;
  try {
    session::drive_dfu(engine, usb.port(), session::DriveHooks{.clock = &clock});
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("without a data reader"), std::string::npos) << e.what();
    EXPECT_EQ(e.context().phase, 0x03);
    EXPECT_EQ(e.context().transport, usb.port().describe());
  }
}

}  // namespace
}  // namespace mp1boot::test
