// SPDX-License-Identifier: MIT
// PeerUsbPort: the in-process USB transport over sim::UsbBoard. Error mapping (stall,
// disconnected, timeout), re-enumeration (old handle disconnected, wait_for_peer_device opens the
// new one), identity and alternate settings per enumeration, real-time busy times that sleep.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <ctime>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/peer_usb_port.hpp"
#include "support/raw_dfu.hpp"
#include "support/usb_test_util.hpp"

namespace mp1boot::transport {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<sim::UsbBoard> board(const char* soc = "stm32mp135", std::chrono::microseconds block = {}) {
  sim::UsbBoardOptions o;
  o.soc = &soc_by_name(soc);
  o.block_time = block;
  return std::make_shared<sim::UsbBoard>(o);
}

errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return errc::ok;
}

using test::download;
using test::get_phase;

TEST(PeerUsbPort, IdentityAltsAndDescribe) {
  auto b = board();
  PeerUsbPort port(b);
  auto id = port.identity();
  EXPECT_EQ(id.vendor_id, 0x0483);
  EXPECT_EQ(id.product_id, 0xDF11);
  EXPECT_EQ(id.port_path, "1-1");
  EXPECT_EQ(id.serial, "002800423232511538303631");
  EXPECT_EQ(id.transfer_size, 1024);
  EXPECT_EQ(port.describe(), "sim:stm32mp135 usb:1-1 (0483:df11 002800423232511538303631)");
  auto alts = port.alt_settings();
  ASSERT_EQ(alts.size(), 2u);
  EXPECT_EQ(alts[1].number, 1);
  EXPECT_EQ(alts[1].name, "@virtual /0xF1/1*512Ba");
  EXPECT_EQ(get_phase(port, 1), "01 00 fe fd 2f 00 00 00 00");
}

TEST(PeerUsbPort, StallAndBadAltAreTransportErrors) {
  PeerUsbPort port(board());
  std::array<std::uint8_t, 6> st{};
  EXPECT_EQ(code_of([&] { port.control_out({0x21, 1, 0, 0}, {}, 1000ms); }), errc::stall);
  EXPECT_EQ(port.control_in({0xA1, 3, 0, 0}, st, 1000ms), 6u);
  EXPECT_EQ(st[4], 10);  // dfuERROR after the illegal zero-length DNLOAD
  EXPECT_EQ(code_of([&] { port.set_alt_setting(7); }), errc::stall);
  try {
    port.set_alt_setting(9);
    ADD_FAILURE() << "no error for alternate setting 9";
  } catch (const TransportError& e) {
    EXPECT_NE(std::string(e.what()).find("[sim:stm32mp135 usb:1-1"), std::string::npos) << e.what();
  }
}

TEST(PeerUsbPort, DetachDisconnectsAndWaitOpensTheNextEnumeration) {
  auto b = board();
  auto port = std::make_unique<PeerUsbPort>(b);
  download(*port, 0, test::make_fsbl(*b->options().soc, 2000));
  EXPECT_EQ(get_phase(*port, 1), "00 ff ff ff ff 00 00 00 00 01");
  port->control_out({0x21, 0, 1000, 0}, {}, 1000ms);  // DFU_DETACH
  EXPECT_EQ(code_of([&] { port->alt_settings(); }), errc::disconnected);
  EXPECT_EQ(code_of([&] { get_phase(*port, 1); }), errc::disconnected);
  EXPECT_EQ(code_of([&] { PeerUsbPort again(b); }), errc::no_device);

  auto next = wait_for_peer_device(b, {.timeout = 1000ms});
  EXPECT_EQ(next->generation(), 1u);
  EXPECT_EQ(next->identity().address, 3);
  EXPECT_EQ(next->identity().product, "DFU @Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y,");
  EXPECT_EQ(next->alt_settings()[0].name, "@SSBL /0x03/1*16Me");
  EXPECT_EQ(get_phase(*next, 1), "03 00 00 00 c7 00 00 00 00");
  // The board is attached again, but the old handle belongs to the old enumeration.
  EXPECT_EQ(code_of([&] { port->reset(); }), errc::disconnected);
  // Already attached: wait opens the current enumeration.
  EXPECT_EQ(wait_for_peer_device(b, {.timeout = 10ms})->generation(), 1u);
}

TEST(PeerUsbPort, Mp15KeepsTheHandleAcrossTheHandover) {
  auto b = board("stm32mp157");
  PeerUsbPort port(b);
  download(port, 1, test::make_fsbl(*b->options().soc, 2000));
  EXPECT_EQ(b->stage(), "tf-a");
  EXPECT_EQ(get_phase(port, 5), "03 00 00 00 c7 00 00 00 00");
}

TEST(PeerUsbPort, BoardThatNeverReturnsTimesOut) {
  sim::UsbBoardOptions o;
  o.soc = &soc_by_name("stm32mp135");
  o.tfa_enabled = false;
  auto b = std::make_shared<sim::UsbBoard>(o);
  PeerUsbPort port(b);
  download(port, 0, test::make_fsbl(*o.soc, 100));
  port.control_out({0x21, 0, 0, 0}, {}, 1000ms);
  EXPECT_EQ(code_of([&] { wait_for_peer_device(b, {.timeout = 5000ms}); }), errc::timeout);  // virtual time: at once
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of([&] { wait_for_peer_device(b, {.timeout = 30ms}, PeerUsbOptions{true}); }), errc::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  CancelToken cancel;
  cancel.cancel();
  EXPECT_EQ(code_of([&] { wait_for_peer_device(b, {.timeout = 5000ms, .cancel = &cancel}, PeerUsbOptions{true}); }), errc::cancelled);
}

TEST(PeerUsbPort, BusyTimeLongerThanTheTimeoutTimesOut) {
  auto b = board("stm32mp135", 5000us);
  PeerUsbPort fast(b);
  fast.set_alt_setting(0);
  Bytes block(64, 0);
  EXPECT_EQ(code_of([&] { fast.control_out({0x21, 1, 0, 0}, block, 2ms); }), errc::timeout);
  PeerUsbPort real(b, PeerUsbOptions{true});
  auto t0 = std::chrono::steady_clock::now();
  std::array<std::uint8_t, 6> st{};
  real.control_in({0xA1, 3, 0, 0}, st, 1000ms);
  real.control_in({0xA1, 3, 0, 0}, st, 1000ms);
  real.control_out({0x21, 1, 1, 0}, block, 1000ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
}

// CPU time of the calling thread.
std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

TEST(PeerUsbPort, RealTimeBusyTimesSleepWithoutSpinning) {
  // 100 blocks of 3 ms modelled device time each: the download lasts at least their sum, and the
  // thread sleeps through them. A spin to each deadline (the host's bwPollTimeout wait) would
  // cost CPU time for a large part of it, taken from the host the board simulates for. The CPU the
  // download costs without device time (the simulated board runs on this thread; several times more
  // under a sanitizer) is measured first and subtracted: only the waiting is judged.
  const Bytes fsbl = test::make_fsbl(*board()->options().soc, 100 * 1024 - 512);
  const auto blocks = static_cast<int>((fsbl.size() + 1023) / 1024);
  ASSERT_EQ(blocks, 100);
  struct Cost {
    std::chrono::nanoseconds cpu, wall;
  };
  const auto download_cost = [&](std::chrono::microseconds per_block) {
    PeerUsbPort port(board("stm32mp135", per_block), PeerUsbOptions{true});
    const auto t0 = std::chrono::steady_clock::now();
    const auto cpu0 = thread_cpu();
    download(port, 0, fsbl);
    return Cost{thread_cpu() - cpu0, std::chrono::steady_clock::now() - t0};
  };
  const auto work = download_cost(0us).cpu;
  const auto [cpu, wall] = download_cost(3000us);
  EXPECT_GE(wall, blocks * 3ms);
  EXPECT_LT(cpu - work, blocks * 3ms / 4) << "CPU " << cpu.count() / 1000 << " us (" << work.count() / 1000
                                           << " us without device time) for " << blocks * 3 << " ms of device time";
}

TEST(PeerUsbPort, ResetReturnsToIdle) {
  auto b = board();
  PeerUsbPort port(b);
  port.set_alt_setting(0);
  port.control_out({0x21, 1, 0, 0}, Bytes(64, 0), 1000ms);
  port.reset();
  EXPECT_EQ(b->dfu_state(), dfu::State::dfu_idle);
  EXPECT_EQ(b->current_alt(), 0);
  b->unplug();
  EXPECT_EQ(code_of([&] { port.reset(); }), errc::disconnected);
}

}  // namespace
}  // namespace mp1boot::transport
