// SPDX-License-Identifier: MIT
// Host and simulated board end to end in memory (HostSimPair): UartDevice -> drive -> engine ->
// PeerStream -> sim::UartBoard. Fault matrices inject one fault at the Nth packet or byte and
// check that the flow either succeeds (retry) or fails with a typed error, and never hangs.
#include <gtest/gtest.h>

#include <memory>

#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/uart_device.hpp"
#include "mp1boot/sim/uart_board.hpp"
#include "mp1boot/transport/peer_stream.hpp"
#include "support/sim_helpers.hpp"

using namespace mp1boot;

namespace {

struct HostSimPair {
  std::shared_ptr<sim::UartBoard> board;
  std::unique_ptr<session::UartDevice> host;

  explicit HostSimPair(const char* soc, sim::UartFaultPlan faults = {}, uart::EngineOptions eo = {}) {
    sim::UartBoardOptions o;
    o.soc = &soc_by_name(soc);
    o.faults = std::move(faults);
    board = std::make_shared<sim::UartBoard>(o);
    host = std::make_unique<session::UartDevice>(std::make_unique<transport::PeerStream>(board, "sim:test"), eo);
  }
};

Bytes fsbl_for(const char* soc, std::size_t payload_size) {
  Bytes payload(payload_size);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 3 + 1);
  auto o = image::wrap_options_for(soc_by_name(soc));
  o.load_address = o.entry_point = soc_by_name(soc).sysram_base;
  return image::wrap(payload, o);
}

uart::EngineOptions fast_retries() {
  uart::EngineOptions eo;
  eo.retry.quiet = std::chrono::milliseconds(1);
  return eo;
}

}  // namespace

TEST(HostSim, BootMp13AndMp15) {
  for (const char* soc : {"stm32mp135", "stm32mp157"}) {
    HostSimPair p(soc);
    p.host->sync();
    const Bytes img = fsbl_for(soc, 5000);
    std::vector<std::uint64_t> progress;
    auto r = p.host->boot(img, "fsbl.stm32", [&](const Progress& pr) { progress.push_back(pr.bytes_done); });
    EXPECT_EQ(r.transfer.bytes, img.size());
    EXPECT_EQ(p.board->received_images().at(0x01), img) << soc;
    EXPECT_EQ(p.board->stage(), "tf-a") << soc;
    EXPECT_EQ(progress.front(), 0u);
    EXPECT_EQ(progress.back(), img.size());
    auto phase = p.host->get_phase();  // absorbs TF-A's unsolicited NACK
    EXPECT_EQ(phase.phase, 0x03);
    EXPECT_EQ(phase.address, 0xC7000000u);
  }
}

TEST(HostSim, ImageForTheOtherSocIsRefusedBeforeAnyDownload) {
  HostSimPair p("stm32mp135");
  p.host->sync();
  const Bytes img = fsbl_for("stm32mp157", 1000);
  try {
    p.host->boot(img, "tf-a-mp15.stm32", {});
    FAIL() << "expected LayoutError";
  } catch (const LayoutError& e) {
    EXPECT_NE(std::string(e.what()).find("tf-a-mp15.stm32"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(p.board->received_images().empty());
  EXPECT_EQ(p.board->stage(), "rom");
}

// A NACK on packet n (once) is absorbed by the retry policy, whatever n is.
class NackMatrix : public ::testing::TestWithParam<int> {};
TEST_P(NackMatrix, OneNackAnywhereIsRetried) {
  sim::UartFaultPlan f;
  f.nack_packets.push_back({0x01, static_cast<std::uint32_t>(GetParam())});
  HostSimPair p("stm32mp135", f, fast_retries());
  p.host->sync();
  const Bytes img = fsbl_for("stm32mp135", 6 * 256);  // 512-byte header + 6 packets = 8 packets
  p.host->boot(img, "fsbl", {});
  EXPECT_EQ(p.board->received_images().at(0x01), img);
}
INSTANTIATE_TEST_SUITE_P(EveryPacket, NackMatrix, ::testing::Range(0, 8));

// The final ACK of packet n is lost (the board stored the packet): the host times out, the
// board refuses the resend at the packet-number stage and the engine goes on with n+1
// (PROTOCOL.md 2.5.5). ROM (FSBL, both SoCs) and TF-A (FIP) end with the image intact.
class LostAckMatrix : public ::testing::TestWithParam<std::tuple<const char*, int>> {};
TEST_P(LostAckMatrix, LostFinalAckIsRecovered) {
  const auto [soc, n] = GetParam();
  sim::UartFaultPlan f;
  f.lose_packet_acks.push_back({0x01, static_cast<std::uint32_t>(n)});
  f.lose_packet_acks.push_back({0x03, static_cast<std::uint32_t>(n % 4)});
  HostSimPair p(soc, f, fast_retries());
  p.host->sync();
  const Bytes img = fsbl_for(soc, 7 * 256);  // 8 packets (MP15) or 9 (MP13)
  p.host->boot(img, "fsbl", {});
  EXPECT_EQ(p.board->received_images().at(0x01), img);
  EXPECT_EQ(p.host->get_phase().phase, 0x03);
  const Bytes fip = sim::test::make_fip(1000);  // 4 packets
  p.host->download(fip, {.phase = 0x03, .name = "fip"});
  p.host->start(start_downloaded_image);
  EXPECT_EQ(p.board->received_images().at(0x03), fip);
}
INSTANTIATE_TEST_SUITE_P(EveryPacket, LostAckMatrix,
                         ::testing::Combine(::testing::Values("stm32mp135", "stm32mp157"), ::testing::Range(0, 8)));

// A byte the board sends is lost or corrupted: the flow either completes with the image intact
// or fails with a typed mp1boot::Error naming the operation. It never hangs (the in-process
// stream's timeouts are virtual) and never reports success with a wrong image.
class TxFaultMatrix : public ::testing::TestWithParam<std::tuple<int, bool>> {};
TEST_P(TxFaultMatrix, TypedErrorOrSuccessNeverSilentCorruption) {
  const auto [n, corrupt] = GetParam();
  sim::UartFaultPlan f;
  if (corrupt) f.corrupt_tx_bytes.push_back({static_cast<std::uint64_t>(n), 0x1F});
  else f.drop_tx_bytes.push_back(static_cast<std::uint64_t>(n));
  HostSimPair p("stm32mp157", f, fast_retries());
  const Bytes img = fsbl_for("stm32mp157", 3 * 256);
  try {
    p.host->sync();
    p.host->boot(img, "fsbl", {});
    EXPECT_EQ(p.board->received_images().at(0x01), img);
    EXPECT_EQ(p.board->stage(), "tf-a");
  } catch (const Error& e) {
    EXPECT_FALSE(e.context().operation.empty()) << e.what();
    EXPECT_FALSE(e.context().transport.empty()) << e.what();
    SUCCEED() << "typed error: " << e.what();
  }
}
INSTANTIATE_TEST_SUITE_P(EveryReplyByte, TxFaultMatrix,
                         ::testing::Combine(::testing::Range(0, 48), ::testing::Bool()));

TEST(HostSim, DeadLineGivesTimeoutNamingTheOperationAndPacket) {
  sim::UartFaultPlan f;
  f.silent_after_tx_bytes = 1 + 9 + 5 + 10 + 10 + 3 * 3;  // sync, Get ID, Get Phase replies, then 3 packets
  HostSimPair p("stm32mp135", f, fast_retries());
  p.host->sync();
  const Bytes img = fsbl_for("stm32mp135", 10 * 256);
  try {
    p.host->boot(img, "fsbl.stm32", {});
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& e) {
    EXPECT_EQ(e.context().operation, "download");
    ASSERT_TRUE(e.context().packet.has_value());
    ASSERT_TRUE(e.context().bytes_sent.has_value());
    EXPECT_EQ(*e.context().bytes_sent, std::uint64_t(*e.context().packet) * 256);
    EXPECT_EQ(e.context().partition, "fsbl.stm32");
    EXPECT_EQ(e.context().transport, "sim:test");
  }
}

TEST(HostSim, CancelTokenStopsADownload) {
  HostSimPair p("stm32mp135");
  p.host->sync();
  CancelToken cancel;
  session::DriveHooks h;
  h.cancel = &cancel;
  p.host->set_hooks(h);
  const Bytes img = fsbl_for("stm32mp135", 20 * 256);
  try {
    p.host->boot(img, "fsbl", [&](const Progress& pr) {
      if (pr.bytes_done >= 5 * 256) cancel.cancel();
    });
    FAIL() << "expected CancelledError";
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.context().operation, "download");
    EXPECT_GE(*e.context().bytes_sent, 5u * 256);
    EXPECT_LT(*e.context().bytes_sent, img.size());
  }
}
