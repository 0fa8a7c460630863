// SPDX-License-Identifier: MIT
// The C++ API does the whole job: flash_many (a thread per board, reports keyed by board identity,
// a failing board does not stop the others, a shared cancel token stops all), the plan with ETA,
// and what a USB identity says about a board (stage, SoC).
#include <gtest/gtest.h>

#include <atomic>

#include "mp1boot/error.hpp"
#include "mp1boot/session/board.hpp"
#include "mp1boot/session/flash_many.hpp"
#include "mp1boot/session/plan.hpp"
#include "rig.hpp"

using namespace mp1boot;

namespace {
using namespace mp1boot::test;

TEST(FlashMany, BoardsInParallelKeyedByIdentityAndOneFailureStopsNoOther) {
  Rig rig("flash-many");
  fs::create_directories(rig.storage / "a");
  fs::create_directories(rig.storage / "b");
  // realtime=1: this board's modelled times (re-enumerations, polls) pass in real time, so the
  // run outlasts the 1 ms wait interval (on virtual time it may finish before the first one).
  const std::string a = "sim:stm32mp157?link=usb&realtime=1&serial=A1&storage=" + (rig.storage / "a").string();
  const std::string b = "sim:stm32mp157?storage=" + (rig.storage / "b").string();
  const std::string bad = "sim:stm32mp999";
  session::FlashManyOptions o;
  std::atomic<int> events{0}, waits{0};
  o.on_event = [&](const std::string&, const session::FlashEvent&) { ++events; };
  o.while_waiting = [&] { ++waits; };
  o.wait_interval = std::chrono::milliseconds(1);
  const auto r = session::flash_many({a, b, bad}, rig.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::failed);
  ASSERT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.boards.at("usb:1-1").result, FlashResult::ok) << r.boards.at("usb:1-1").error;
  EXPECT_EQ(r.boards.at("usb:1-1").serial, "A1");
  EXPECT_EQ(r.boards.at("usb:1-1").port, a);
  const auto& uart = r.boards.at("sim:stm32mp157");  // UART: the port is the identity
  EXPECT_EQ(uart.result, FlashResult::ok) << uart.error;
  EXPECT_EQ(r.boards.at(bad).result, FlashResult::failed);
  EXPECT_EQ(r.boards.at(bad).error_code, "usage");
  EXPECT_GT(events.load(), 10);
  EXPECT_GT(waits.load(), 0);
  EXPECT_EQ(read_range(rig.storage / "a" / "mmc0.img", 0x100000, rootfs().size()), rootfs());
  EXPECT_EQ(read_range(rig.storage / "b" / "mmc0.img", 0x100000, rootfs().size()), rootfs());
  const auto j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j["boards"]["usb:1-1"]["board"], "usb:1-1");
  EXPECT_THROW(session::flash_many({a, a}, rig.dir / "flash.tsv"), UsageError);
}

TEST(FlashMany, SharedCancelTokenStopsEveryBoard) {
  Rig rig("flash-many-cancel");
  CancelToken cancel;
  session::FlashManyOptions o;
  o.cancel = &cancel;
  o.progress = [&](const std::string&, const Progress& p) {
    if (p.partition == "fip-boot") cancel.cancel();
  };
  const auto r = session::flash_many({"sim:stm32mp157?link=usb&serial=C1", "sim:stm32mp157?link=usb&serial=C2"},
                                     rig.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::failed);
  for (const auto& [key, board] : r.boards) EXPECT_EQ(board.error_code, "cancelled") << key;
}

TEST(FlashMany, WhileWaitingErrorCancelsAndIsRethrown) {
  Rig rig("flash-many-hook");
  session::FlashManyOptions o;
  o.while_waiting = [] { throw std::runtime_error("signal"); };
  o.wait_interval = std::chrono::milliseconds(0);
  EXPECT_THROW(session::flash_many({"sim:stm32mp157?link=usb&uboot_block_us=2000&realtime=1"}, rig.dir / "flash.tsv", o),
               std::runtime_error);
}

TEST(Plan, StepsInTheDeviceOrderWithEta) {
  Rig rig("plan");
  auto dev = rig.connect();
  const auto plan = session::plan_flash(*dev, rig.dir / "flash.tsv");
  ASSERT_EQ(plan.steps.size(), 5u);
  EXPECT_EQ(plan.steps[0].phase, 0x01);
  EXPECT_EQ(plan.steps[2].phase, 0x00);
  EXPECT_EQ(plan.steps[2].device, "ram");
  EXPECT_EQ(plan.steps[4].name, "rootfs");
  EXPECT_EQ(plan.steps[4].bytes, 10000u);
  EXPECT_NEAR(plan.steps[4].eta_seconds, 10000 / (115200.0 / 11 * 256 / 268), 1e-6);  // UART at 115200
  EXPECT_EQ(plan.soc, "STM32MP15x");
  EXPECT_EQ(dev->get_phase().phase, 0x01);  // nothing was sent
  EXPECT_DOUBLE_EQ(session::eta_rate(Link::usb, 0, 0x10), 2e6);
  EXPECT_EQ(plan.json()["steps"][4]["device"], "mmc0");
  EXPECT_EQ(plan.link, Link::uart);
  EXPECT_EQ(plan.json()["link"], "uart");
  // One ETA per step, for the plan and the Flasher's UART estimate alike.
  const session::EtaModel eta = session::eta_model(*dev);
  EXPECT_EQ(eta.link, Link::uart);
  EXPECT_DOUBLE_EQ(eta.baud, 115200);
  for (const auto& step : plan.steps) EXPECT_DOUBLE_EQ(eta.seconds(step.phase, step.bytes), step.eta_seconds);
  EXPECT_DOUBLE_EQ((session::EtaModel{Link::usb, 0}).seconds(0x01, 200'000), 1.0);  // into the ROM
}

TEST(BoardListing, StageAndSocFromTheProductString) {
  usb::Identity id;
  id.port_path = "1-1.4";
  id.serial = "0000";
  id.product = "DFU in HS Mode @Device ID /0x500, @Revision ID /0x0000";
  const auto b = session::describe_board(id);
  EXPECT_EQ(b.stage, Stage::rom);
  EXPECT_EQ(b.device_id, 0x500);
  EXPECT_EQ(b.soc, "STM32MP15x");
  EXPECT_EQ(b.identity.key(), "usb:1-1.4");
}

}  // namespace
