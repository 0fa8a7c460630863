// SPDX-License-Identifier: MIT
// The board vanishes in the middle of a USB DFU download (cable pulled): session::UsbDevice over
// the in-process simulated board (sim::UsbBoard + transport::PeerUsbPort) must fail with
// errc::disconnected, and the error must name the DFU block that failed and the bytes the
// device had acknowledged, so the user knows how far the download got.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "mp1boot/soc.hpp"
#include "mp1boot/transport/peer_usb_port.hpp"

namespace mp1boot::session {
namespace {

TEST(UsbVanish, UnplugMidDownloadNamesBlockAndBytesAcknowledged) {
  const SocInfo& soc = soc_by_name("stm32mp135");
  sim::UsbBoardOptions bo;
  bo.soc = &soc;
  auto board = std::make_shared<sim::UsbBoard>(bo);

  UsbDevice::Reopen reopen = [](const usb::Identity&, std::chrono::milliseconds,
                                const CancelToken*) -> std::unique_ptr<transport::UsbControlPort> {
    throw TransportError(errc::no_device, "reopen is not expected in this test");
  };
  UsbDevice device(std::make_unique<transport::PeerUsbPort>(board), reopen, UsbDevice::Options{});

  Bytes payload(48 * 1024);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const Bytes fsbl = image::wrap(payload, image::wrap_options_for(soc));
  ASSERT_GT(fsbl.size(), 32u * 1024);

  std::optional<std::uint64_t> unplugged_at;  // bytes acknowledged when the cable was pulled
  DownloadOptions opts;
  opts.phase = 0x01;
  opts.name = "fsbl1";
  opts.progress = [&](const Progress& p) {
    if (!unplugged_at && p.bytes_done > 16 * 1024 && p.bytes_done < p.bytes_total) {
      unplugged_at = p.bytes_done;
      board->unplug();
    }
  };

  try {
    device.download(fsbl, opts);
    FAIL() << "the download went through although the board was unplugged";
  } catch (const Error& e) {
    ASSERT_TRUE(unplugged_at.has_value()) << e.what();
    EXPECT_EQ(e.code(), errc::disconnected) << e.what();
    const ErrorContext& c = e.context();
    ASSERT_TRUE(c.packet.has_value()) << e.what();
    const std::uint32_t block = *c.packet;
    EXPECT_GE(block, 16u) << e.what();
    // Every block before the failed one was a full 1024-byte block, acknowledged by the ROM.
    ASSERT_TRUE(c.bytes_sent.has_value()) << e.what();
    EXPECT_EQ(*c.bytes_sent, std::uint64_t{block} * 1024) << e.what();
    EXPECT_EQ(*c.bytes_sent, *unplugged_at) << e.what();
    ASSERT_TRUE(c.bytes_total.has_value()) << e.what();
    EXPECT_EQ(*c.bytes_total, fsbl.size());
    ASSERT_TRUE(c.phase.has_value()) << e.what();
    EXPECT_EQ(*c.phase, 0x01);
    const std::string what = e.what();
    EXPECT_NE(what.find("packet " + std::to_string(block)), std::string::npos) << what;
    EXPECT_NE(what.find("bytes acknowledged"), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(block * 1024) + "/" + std::to_string(fsbl.size())), std::string::npos)
        << what;
  }
  EXPECT_FALSE(board->attached());
  EXPECT_TRUE(board->received_images().empty());
}

}  // namespace
}  // namespace mp1boot::session
