// SPDX-License-Identifier: MIT
// PeerStream: the in-process ByteStream over a BytePeer, with virtual-time timeouts.
#include "mp1boot/transport/peer_stream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "mp1boot/error.hpp"
#include "transport/test_peers.hpp"

namespace mp1boot::transport {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::TestPeer;

TEST(PeerStream, WriteReachesPeerAndReplyIsRead) {
  auto peer = std::make_shared<TestPeer>();
  PeerStream s(peer, "sim:stm32mp135");
  s.write(Bytes{0x7F, 0x31});
  EXPECT_EQ(peer->received(), (Bytes{0x7F, 0x31}));
  std::uint8_t buf[8];
  ASSERT_EQ(s.read_some(buf, 0ms), 2u);
  EXPECT_EQ(buf[0], 0x79);
  EXPECT_EQ(buf[1], 0x31);
  EXPECT_EQ(s.describe(), "sim:stm32mp135");
  EXPECT_EQ(s.peer(), peer);
}

TEST(PeerStream, SmallBuffersReadPendingBytesInOrder) {
  auto peer = std::make_shared<TestPeer>();
  PeerStream s(peer, "sim:test");
  s.write(Bytes{1, 2, 3, 4, 5});
  std::uint8_t buf[2];
  Bytes got;
  for (int i = 0; i < 3; ++i) {
    const std::size_t n = s.read_some(buf, 0ms);
    got.insert(got.end(), buf, buf + n);
  }
  EXPECT_EQ(got, (Bytes{1, 2, 3, 4, 5}));
  EXPECT_EQ(s.pending(), 0u);
  EXPECT_EQ(s.read_some(std::span<std::uint8_t>{}, 0ms), 0u);
}

TEST(PeerStream, SilentPeerTimesOutInstantly) {
  PeerStream s(std::make_shared<TestPeer>(), "sim:test");
  std::uint8_t buf[4];
  const auto t0 = Clock::now();
  EXPECT_EQ(s.read_some(buf, 10s), 0u);
  EXPECT_LT(Clock::now() - t0, 100ms);
  EXPECT_TRUE(s.instant_timeouts());
  EXPECT_EQ(s.line_rate(), 0.0);
}

TEST(PeerStream, WaitsForAPeerDeadlineWithinTheTimeout) {
  auto peer = std::make_shared<TestPeer>();
  const auto boot_at = Clock::now() + 30ms;
  peer->schedule(boot_at, Bytes{0x1F});
  PeerStream s(peer, "sim:test");
  std::uint8_t buf[4];
  ASSERT_EQ(s.read_some(buf, 1s), 1u);
  EXPECT_EQ(buf[0], 0x1F);
  EXPECT_GE(Clock::now(), boot_at);
  EXPECT_LT(Clock::now() - boot_at, 500ms);
}

TEST(PeerStream, DeadlineBeyondTheTimeoutCostsOnlyTheTimeout) {
  auto peer = std::make_shared<TestPeer>();
  peer->schedule(Clock::now() + 300ms, Bytes{0x1F});
  PeerStream s(peer, "sim:test");
  std::uint8_t buf[4];
  const auto t0 = Clock::now();
  EXPECT_EQ(s.read_some(buf, 20ms), 0u);
  const auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 20ms);
  EXPECT_LT(elapsed, 250ms);
  EXPECT_EQ(s.read_some(buf, 0ms), 0u);  // zero timeout never sleeps
}

TEST(PeerStream, FlushInputDropsPendingOutput) {
  auto peer = std::make_shared<TestPeer>();
  PeerStream s(peer, "sim:test");
  s.write(Bytes{0x7F, 0x7F, 0x7F});
  std::uint8_t buf[1];
  ASSERT_EQ(s.read_some(buf, 0ms), 1u);  // two left pending in the stream
  EXPECT_EQ(s.pending(), 2u);
  s.flush_input();
  EXPECT_EQ(s.pending(), 0u);
  EXPECT_EQ(s.read_some(buf, 0ms), 0u);
  s.write(Bytes{0x7F});
  s.flush_input();  // also drops what the peer produced but the stream had not collected
  EXPECT_EQ(s.read_some(buf, 0ms), 0u);
}

TEST(PeerStream, NullPeerIsUsageError) {
  EXPECT_THROW(PeerStream(nullptr, "sim:none"), UsageError);
}

}  // namespace
}  // namespace mp1boot::transport
