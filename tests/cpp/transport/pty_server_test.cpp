// SPDX-License-Identifier: MIT
// PtyServer: clients come and go on the slave, run()/start()/stop(), peer deadlines, peer errors,
// Built only with the serial layer (MP1BOOT_WITH_SERIAL): PtyServer and SerialPort live there.
#if defined(MP1BOOT_HAS_SERIAL)
// and the line timing model (lower bounds only: a correctness check, not a benchmark).
#include "mp1boot/transport/pty_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/serial.hpp"
#include "transport/test_peers.hpp"

namespace mp1boot::transport {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::read_bytes;
using test::TestPeer;

constexpr auto byte_time_115200 = std::chrono::duration<double>(11.0 / 115200.0);

TEST(PtyServer, SlavePathIsAPts) {
  PtyServer server(std::make_shared<TestPeer>());
  EXPECT_EQ(server.slave_path().rfind("/dev/pts/", 0), 0u) << server.slave_path();
  EXPECT_EQ(server.bytes_received(), 0u);
  EXPECT_EQ(server.bytes_sent(), 0u);
  EXPECT_FALSE(server.running());
}

TEST(PtyServer, ClientsMayReopenTheSlave) {
  auto peer = std::make_shared<TestPeer>();
  PtyServer server(peer);
  server.start();
  EXPECT_TRUE(server.running());
  for (int i = 0; i < 3; ++i) {
    SerialPort port(server.slave_path());
    port.flush_input();
    port.write(Bytes{0x7F, static_cast<std::uint8_t>(i)});
    EXPECT_EQ(read_bytes(port, 2), (Bytes{0x79, static_cast<std::uint8_t>(i)})) << "client " << i;
  }
  // Between clients nobody holds the slave but the server: the master must not hang up.
  std::this_thread::sleep_for(60ms);
  EXPECT_TRUE(server.running());
  {
    SerialPort port(server.slave_path());
    port.write(Bytes{0x7F, 3});
    EXPECT_EQ(read_bytes(port, 2), (Bytes{0x79, 3}));
  }
  server.stop();
  EXPECT_FALSE(server.running());
  EXPECT_EQ(server.bytes_received(), 8u);
  EXPECT_EQ(server.bytes_sent(), 8u);
  EXPECT_EQ(peer->received(), (Bytes{0x7F, 0, 0x7F, 1, 0x7F, 2, 0x7F, 3}));
}

TEST(PtyServer, RunServesUntilKeepRunningTurnsFalse) {
  auto peer = std::make_shared<TestPeer>();
  PtyServer server(peer);
  std::atomic<bool> keep{true};
  std::atomic<int> checks{0};
  std::thread serving([&] {
    server.run([&] {
      ++checks;
      return keep.load();
    });
  });
  {
    SerialPort port(server.slave_path());
    port.write(Bytes{0x7F});
    EXPECT_EQ(read_bytes(port, 1), Bytes{0x79});
    EXPECT_THROW(server.start(), UsageError);  // already serving through run()
  }
  // Idle: keep_running is polled every <= 50 ms, but not in a busy loop.
  const int before = checks.load();
  std::this_thread::sleep_for(200ms);
  const int idle_checks = checks.load() - before;
  EXPECT_GE(idle_checks, 2);
  EXPECT_LE(idle_checks, 40);
  const auto t0 = Clock::now();
  keep = false;
  serving.join();
  EXPECT_LT(Clock::now() - t0, 500ms);
}

TEST(PtyServer, StartTwiceIsUsageErrorAndStopIsIdempotent) {
  PtyServer server(std::make_shared<TestPeer>());
  server.start();
  EXPECT_THROW(server.start(), UsageError);
  EXPECT_THROW(server.run([] { return false; }), UsageError);
  const auto t0 = Clock::now();
  server.stop();
  EXPECT_LT(Clock::now() - t0, 200ms);  // stop() wakes the loop
  EXPECT_NO_THROW(server.stop());
  server.start();  // restartable
  SerialPort port(server.slave_path());
  port.write(Bytes{0x7F});
  EXPECT_EQ(read_bytes(port, 1), Bytes{0x79});
}

TEST(PtyServer, InvalidArgumentsAreUsageErrors) {
  EXPECT_THROW(PtyServer(nullptr), UsageError);
  LineTiming timing;
  timing.enabled = true;
  timing.baud = 0;
  EXPECT_THROW(PtyServer(std::make_shared<TestPeer>(), timing), UsageError);
}

TEST(PtyServer, PeerExceptionEndsServingAndStopRethrowsIt) {
  auto peer = std::make_shared<TestPeer>();
  peer->fail_on_receive();
  PtyServer server(peer);
  server.start();
  SerialPort port(server.slave_path());
  port.write(Bytes{0x7F});
  ASSERT_TRUE(test::wait_for([&] { return !server.running(); }));
  EXPECT_THROW(server.stop(), std::runtime_error);
  EXPECT_NO_THROW(server.stop());  // reported once
}

TEST(PtyServer, PeerDeadlineProducesUnpromptedOutput) {
  auto peer = std::make_shared<TestPeer>();
  const auto boot_at = Clock::now() + 60ms;
  peer->schedule(boot_at, Bytes{'B', 'O', 'O', 'T'});
  PtyServer server(peer);
  server.start();
  SerialPort port(server.slave_path());
  EXPECT_EQ(read_bytes(port, 4, 1000ms), (Bytes{'B', 'O', 'O', 'T'}));
  EXPECT_GE(Clock::now(), boot_at);
}

TEST(PtyServer, WithoutTimingTheReplyFollowsTheLastByte) {
  auto peer = std::make_shared<TestPeer>(265);
  PtyServer server(peer);
  server.start();
  SerialPort port(server.slave_path());
  port.write(Bytes(264, 0x55));
  std::uint8_t b = 0;
  EXPECT_EQ(port.read_some(std::span(&b, 1), 50ms), 0u);  // no reply before the 265th byte
  port.write(Bytes{0x55});
  EXPECT_EQ(read_bytes(port, 1), Bytes{0x79});
}

// The line model, not the wall clock, decides when the device sees a byte: each delivery comes
// at least its own bytes' line time after the previous one, none before the host wrote it, and
// the reply only after the last. Only lower bounds (a loaded machine only makes things later) and
// a generous timeout for the reply.
TEST(PtyServer, LineTimingPacesHostToDevice) {
  auto peer = std::make_shared<TestPeer>(265);
  LineTiming timing;
  timing.enabled = true;  // 115200 baud, 11 bits (8E1)
  PtyServer server(peer, timing);
  server.start();
  SerialPort port(server.slave_path());
  const auto t0 = Clock::now();
  port.write(Bytes(265, 0x55));
  EXPECT_EQ(read_bytes(port, 1, 10000ms), Bytes{0x79});
  const auto elapsed = Clock::now() - t0;
  const auto deliveries = peer->deliveries();
  ASSERT_GE(deliveries.size(), 2u);  // paced in groups, not handed over at once
  std::size_t total = 0;
  auto previous = t0;
  for (const auto& [at, n] : deliveries) {
    EXPECT_GE(at - previous, static_cast<double>(n) * byte_time_115200) << "a delivery of " << n << " bytes came early";
    previous = at;
    total += n;
  }
  EXPECT_EQ(total, 265u);
  // 265 bytes in and one byte back, each 11 bits at 115200 baud.
  EXPECT_GE(peer->last_receive() - t0, 265 * byte_time_115200);
  EXPECT_GE(elapsed, 266 * byte_time_115200);
}

TEST(PtyServer, LineTimingPacesDeviceToHost) {
  const Bytes burst(200, 0xA5);
  auto peer = std::make_shared<TestPeer>(1, burst);  // 200 bytes back for every byte in
  LineTiming timing;
  timing.enabled = true;
  timing.baud = 57600;
  timing.bits_per_byte = 10;
  PtyServer server(peer, timing);
  server.start();
  SerialPort port(server.slave_path(), parse_serial_options("baud=57600&parity=none"));
  const auto t0 = Clock::now();
  port.write(Bytes{0x01});
  // The last byte arrives no sooner than 201 characters of 10 bits at 57600 baud.
  EXPECT_EQ(read_bytes(port, burst.size(), 1000ms), burst);
  EXPECT_GE(Clock::now() - t0, 201 * std::chrono::duration<double>(10.0 / 57600.0));
  EXPECT_TRUE(test::wait_for([&] { return server.bytes_sent() == burst.size(); })) << server.bytes_sent();
}

TEST(PtyServer, LineTimingAddsTurnaround) {
  auto peer = std::make_shared<TestPeer>();
  LineTiming timing;
  timing.enabled = true;
  timing.turnaround = 30ms;
  PtyServer server(peer, timing);
  server.start();
  SerialPort port(server.slave_path());
  const auto t0 = Clock::now();
  port.write(Bytes{0x7F});
  EXPECT_EQ(read_bytes(port, 1, 1000ms), Bytes{0x79});
  EXPECT_GE(Clock::now() - t0, 30ms + 2 * byte_time_115200);
}

}  // namespace
}  // namespace mp1boot::transport

#endif  // MP1BOOT_HAS_SERIAL
