// SPDX-License-Identifier: MIT
// SerialPort over a real pseudo-terminal served by PtyServer, and serial option parsing.
// Built only with the serial layer (MP1BOOT_WITH_SERIAL): PtyServer and SerialPort live there.
#if defined(MP1BOOT_HAS_SERIAL)
#include "mp1boot/transport/serial.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/pty_server.hpp"
#include "transport/test_peers.hpp"

namespace mp1boot::transport {
namespace {

using namespace std::chrono_literals;
using test::read_bytes;
using test::TestPeer;
using Parity = SerialOptions::Parity;

// ---- options ----------------------------------------------------------------------------------

TEST(SerialOptions, EmptyQueryGivesRomDefaults8E1) {
  EXPECT_EQ(parse_serial_options(""), SerialOptions{});
  EXPECT_EQ(parse_serial_options("?"), SerialOptions{});
  const SerialOptions d;
  EXPECT_EQ(d.baud, 115200u);
  EXPECT_EQ(d.parity, Parity::even);
  EXPECT_EQ(framing_string(d), "8E1");
  EXPECT_EQ(bits_per_character(d), 11u);
  EXPECT_TRUE(d.exclusive);
  EXPECT_FALSE(d.low_latency);
}

TEST(SerialOptions, ParsesEveryKey) {
  const auto o = parse_serial_options("?baud=921600&parity=none&data_bits=7&stop_bits=2&low_latency=1&exclusive=no");
  EXPECT_EQ(o.baud, 921600u);
  EXPECT_EQ(o.parity, Parity::none);
  EXPECT_EQ(o.data_bits, 7u);
  EXPECT_EQ(o.stop_bits, 2u);
  EXPECT_TRUE(o.low_latency);
  EXPECT_FALSE(o.exclusive);
  EXPECT_EQ(framing_string(o), "7N2");
  EXPECT_EQ(bits_per_character(o), 10u);

  EXPECT_EQ(parse_serial_options("parity=o").parity, Parity::odd);
  EXPECT_EQ(parse_serial_options("baud=9600&&parity=E").parity, Parity::even);
  const auto f = parse_serial_options("framing=8N1&baud=57600");
  EXPECT_EQ(framing_string(f), "8N1");
  EXPECT_EQ(f.baud, 57600u);
}

TEST(SerialOptions, BadKeyOrValueIsUsageErrorNamingIt) {
  const std::pair<const char*, const char*> cases[] = {
      {"baud=fast", "baud=fast"},         {"baud=0", "baud=0"},
      {"baud=-5", "baud=-5"},             {"parity=mark", "parity=mark"},
      {"speed=9600", "speed"},            {"data_bits=9", "data_bits=9"},
      {"stop_bits=3", "stop_bits=3"},     {"low_latency=maybe", "low_latency=maybe"},
      {"baud", "baud"},                   {"framing=8X1", "framing=8X1"},
      {"baud=115200x", "baud=115200x"},
  };
  for (const auto& [query, named] : cases) {
    try {
      parse_serial_options(query);
      ADD_FAILURE() << query << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_EQ(e.code(), errc::usage) << query;
      EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << query << " -> " << e.what();
    }
  }
}

// ---- SerialPort on a pty ----------------------------------------------------------------------

struct PtyFixture : ::testing::Test {
  std::shared_ptr<TestPeer> peer = std::make_shared<TestPeer>();
  std::optional<PtyServer> server;
  void SetUp() override {
    server.emplace(peer);
    server->start();
  }
  void TearDown() override {
    if (server) server->stop();
  }
};

using SerialPortPty = PtyFixture;

TEST_F(SerialPortPty, WriteReadRoundTrip) {
  SerialPort port(server->slave_path());
  const Bytes msg{0x7F, 0x01, 0x02, 0xFE, 0x00, 0x0A, 0x0D, 0x11, 0x13};  // raw: no CR/LF/XON
  port.write(msg);
  const Bytes got = read_bytes(port, msg.size());
  EXPECT_EQ(got, (Bytes{0x79, 0x01, 0x02, 0xFE, 0x00, 0x0A, 0x0D, 0x11, 0x13}));
  EXPECT_EQ(peer->received(), msg);
  EXPECT_EQ(server->bytes_received(), msg.size());
  // The counter moves after write() returned in the server thread, possibly after our read.
  EXPECT_TRUE(test::wait_for([&] { return server->bytes_sent() == msg.size(); })) << server->bytes_sent();
}

TEST_F(SerialPortPty, EvenParityIsAcceptedOnAPty) {
  // The pty clears PARENB; the port must neither fail nor check it (PITFALLS.md).
  SerialPort port(server->slave_path(), parse_serial_options("parity=even"));
  EXPECT_EQ(port.options().parity, Parity::even);
  port.write(Bytes{0x7F});
  EXPECT_EQ(read_bytes(port, 1), Bytes{0x79});

  SerialOptions odd;
  odd.parity = Parity::odd;
  odd.exclusive = false;
  SerialPort other(server->slave_path(), odd);
  EXPECT_EQ(other.describe(), "serial:" + server->slave_path() + "@115200 8O1");
}

TEST_F(SerialPortPty, LargeWriteArrivesWhole) {
  SerialPort port(server->slave_path());
  Bytes big(3000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7 + 1) & 0x7E;
  port.write(big);
  EXPECT_EQ(read_bytes(port, big.size(), 1500ms), big);
}

TEST_F(SerialPortPty, ReadTimesOutWithZero) {
  SerialPort port(server->slave_path());
  std::uint8_t buf[8];
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(port.read_some(buf, 100ms), 0u);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 95ms);
  EXPECT_LT(elapsed, 1000ms);

  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(port.read_some(buf, 0ms), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);

  // A read after timeouts still works.
  port.write(Bytes{0x7F});
  EXPECT_EQ(read_bytes(port, 1), Bytes{0x79});
}

TEST_F(SerialPortPty, ZeroTimeoutReturnsBytesAlreadyThere) {
  SerialPort port(server->slave_path());
  port.write(Bytes{0x7F, 0x7F});
  ASSERT_TRUE(test::wait_for([&] { return server->bytes_sent() == 2; }));
  std::this_thread::sleep_for(20ms);
  std::uint8_t buf[8];
  std::size_t n = 0;
  ASSERT_TRUE(test::wait_for([&] {
    n += port.read_some(std::span(buf + n, sizeof buf - n), 0ms);
    return n >= 2;
  }));
  EXPECT_EQ(n, 2u);
}

TEST_F(SerialPortPty, FlushInputDiscardsReceivedBytes) {
  SerialPort port(server->slave_path());
  port.write(Bytes(10, 0x7F));
  ASSERT_TRUE(test::wait_for([&] { return server->bytes_sent() == 10; }));
  std::this_thread::sleep_for(30ms);  // let the pty hand the bytes to the slave's input queue
  port.flush_input();
  std::uint8_t buf[16];
  EXPECT_EQ(port.read_some(buf, 50ms), 0u);
  port.write(Bytes{0x42});
  EXPECT_EQ(read_bytes(port, 1), Bytes{0x42});
}

TEST_F(SerialPortPty, DescribeShowsPathBaudAndFraming) {
  SerialPort port(server->slave_path());
  EXPECT_EQ(port.describe(), "serial:" + server->slave_path() + "@115200 8E1");
  EXPECT_EQ(port.path(), server->slave_path());
  SerialPort slow(server->slave_path(), [] {
    auto o = parse_serial_options("baud=9600&parity=none&exclusive=0");
    return o;
  }());
  EXPECT_EQ(slow.describe(), "serial:" + server->slave_path() + "@9600 8N1");
  EXPECT_DOUBLE_EQ(port.line_rate(), 115200.0 / 11);
  EXPECT_DOUBLE_EQ(slow.line_rate(), 9600.0 / 10);
  EXPECT_FALSE(port.instant_timeouts());
}

TEST_F(SerialPortPty, SecondExclusiveOpenIsPortBusy) {
  std::optional<SerialPort> first;
  first.emplace(server->slave_path());
  try {
    SerialPort second(server->slave_path());
    ADD_FAILURE() << "second open succeeded";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), errc::port_busy) << e.what();
    EXPECT_NE(std::string(e.what()).find("is busy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(server->slave_path()), std::string::npos) << e.what();
  }
  first.reset();
  // The lock and TIOCEXCL go away with the first port.
  SerialPort again(server->slave_path());
  again.write(Bytes{0x7F});
  EXPECT_EQ(read_bytes(again, 1), Bytes{0x79});
}

TEST_F(SerialPortPty, NonExclusivePortsMayShare) {
  SerialOptions shared;
  shared.exclusive = false;
  SerialPort a(server->slave_path(), shared);
  EXPECT_NO_THROW(SerialPort(server->slave_path(), shared));
  EXPECT_FALSE(a.options().exclusive);
}

TEST_F(SerialPortPty, LowLatencyIsBestEffortOnAPty) {
  SerialOptions o;
  o.low_latency = true;
  SerialPort port(server->slave_path(), o);
  EXPECT_FALSE(port.low_latency_active());  // ptys have neither ASYNC_LOW_LATENCY nor a latency timer
  port.write(Bytes{0x7F});
  EXPECT_EQ(read_bytes(port, 1), Bytes{0x79});
}

TEST_F(SerialPortPty, UnsupportedBaudIsUsageError) {
  SerialOptions o;
  o.baud = 12345;
  EXPECT_THROW(SerialPort(server->slave_path(), o), UsageError);
  o.baud = 115200;
  o.data_bits = 9;
  EXPECT_THROW(SerialPort(server->slave_path(), o), UsageError);
  // Nothing stayed locked by the failed attempts.
  EXPECT_NO_THROW(SerialPort(server->slave_path()));
}

TEST_F(SerialPortPty, ServerGoneIsDisconnected) {
  SerialPort port(server->slave_path());
  port.write(Bytes{0x7F});
  EXPECT_EQ(read_bytes(port, 1), Bytes{0x79});
  server.reset();  // closes the master: the slave hangs up
  std::uint8_t buf[4];
  try {
    port.read_some(buf, 200ms);
    ADD_FAILURE() << "read after hang-up returned";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), errc::disconnected) << e.what();
    EXPECT_NE(std::string(e.what()).find("[serial:"), std::string::npos) << e.what();
  }
  try {
    port.write(Bytes{0x7F});
    ADD_FAILURE() << "write after hang-up returned";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), errc::disconnected) << e.what();
  }
}

// ---- open errors without a pty ----------------------------------------------------------------

TEST(SerialPortOpen, NonexistentPathIsNoDevice) {
  try {
    SerialPort port("/dev/ttyMP1BOOT-does-not-exist");
    ADD_FAILURE() << "opened";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), errc::no_device);
    EXPECT_NE(std::string(e.what()).find("serial port /dev/ttyMP1BOOT-does-not-exist does not exist"),
              std::string::npos)
        << e.what();
  }
}

TEST(SerialPortOpen, NonTerminalIsNoDevice) {
  try {
    SerialPort port("/dev/null");
    ADD_FAILURE() << "opened";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), errc::no_device);
    EXPECT_NE(std::string(e.what()).find("not a serial port"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mp1boot::transport

#endif  // MP1BOOT_HAS_SERIAL
