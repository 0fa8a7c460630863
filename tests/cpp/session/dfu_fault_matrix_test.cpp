// SPDX-License-Identifier: MIT
// DFU fault matrix (like Beast's fail_count tests): a short flash over USB (STM32MP157: ROM, TF-A,
// U-Boot layout, two partitions read back) is run once cleanly to count its control transfers,
// then once per transfer N with that transfer failing (timeout) and once with it stalled, through
// sim::UsbFaultPlan. Every run must end, in virtual time, either in a complete flash (the stack
// retried) or in a typed mp1boot::Error that names the phase and the DFU block, for downloads,
// uploads (Get Phase, read-back) and the ROM's first transfers alike (there, before the first Get
// Phase answer of the MP15 ROM, whose alts offer several phases, the error says the phase is
// unknown); never a hang, never another exception type, never a "success" with partitions missing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "rig.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/session/flasher.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "mp1boot/transport/peer_usb_port.hpp"

namespace mp1boot::test {
namespace {

struct Outcome {
  bool ok = false;
  std::string error;              // what() of the error
  bool error_names_phase = false;
  bool phase_unknown = false;     // the error says the phase cannot be known yet
  bool error_names_block = false;
  std::uint64_t transfers = 0;
  std::uint64_t first_phase_reply = 0;  // transfer that carried the first Get Phase reply
  std::uint64_t status_requests = 0;    // DFU_GETSTATUS requests the board saw
};

// One flash of the rig's layout over an in-process USB board with `faults`.
Outcome flash_with(const Rig& rig, const sim::UsbFaultPlan& faults, bool verify = false) {
  sim::UsbBoardOptions bo;
  bo.soc = &soc_by_name("stm32mp157");
  bo.uboot.emplace();
  bo.uboot->storage.dir = rig.storage.string();
  bo.faults = faults;
  auto board = std::make_shared<sim::UsbBoard>(bo);
  session::UsbDevice::Reopen reopen = [board](const usb::Identity&, std::chrono::milliseconds timeout,
                                              const CancelToken* cancel) -> std::unique_ptr<transport::UsbControlPort> {
    return transport::wait_for_peer_device(board, {.timeout = timeout, .cancel = cancel});
  };
  session::UsbDevice dev(std::make_unique<transport::PeerUsbPort>(board), reopen, {});
  session::FlashOptions o;
  o.reset_probe = std::chrono::milliseconds(100);
  o.verify = verify;
  Outcome out;
  const auto started = std::chrono::steady_clock::now();
  try {
    const auto report = session::Flasher(dev, rig.dir / "flash.tsv", o).run();
    out.ok = report.result == FlashResult::ok;
    EXPECT_TRUE(out.ok) << report.error;
    for (const auto& p : report.partitions) EXPECT_EQ(p.result, PartitionResult::ok) << p.name;
  } catch (const Error& e) {
    out.error = e.what();
    out.error_names_phase = e.context().phase.has_value();
    out.phase_unknown = e.context().phase_unknown;
    out.error_names_block = e.context().packet.has_value();
    if (out.phase_unknown)
      EXPECT_NE(out.error.find("phase unknown (before the first Get Phase)"), std::string::npos) << out.error;
  }
  // Virtual time: no run waits for real timeouts or re-enumeration delays.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  out.transfers = board->log().empty() ? 0 : board->log().back().n;
  for (const auto& entry : board->log()) {
    const auto j = nlohmann::json::parse(entry.text, nullptr, false);
    if (!j.is_object()) continue;
    if (j.value("setup", "").rfind("a1 02", 0) == 0 && j.value("reply", "") == "ok" && !out.first_phase_reply)
      out.first_phase_reply = entry.n;
    if (j.value("setup", "").rfind("a1 03", 0) == 0) ++out.status_requests;
  }
  return out;
}

TEST(DfuFaultMatrix, EveryTransferFailedOrStalledEndsInSuccessOrATypedError) {
  Rig rig("dfu-fault-matrix");
  const Outcome clean = flash_with(rig, {}, true);
  ASSERT_TRUE(clean.ok) << clean.error;
  ASSERT_GT(clean.transfers, 20u);
  ASSERT_GT(clean.first_phase_reply, 1u);
  std::size_t failed_runs = 0, recovered_runs = 0, unknown_phase_runs = 0;
  for (std::uint64_t n = 1; n <= clean.transfers; ++n) {
    for (const bool stall : {false, true}) {
      SCOPED_TRACE((stall ? "stall_transfer=" : "fail_transfer=") + std::to_string(n));
      sim::UsbFaultPlan f;
      (stall ? f.stall_transfers : f.fail_transfers).push_back(n);
      const Outcome o = flash_with(rig, f, true);
      (o.ok ? recovered_runs : failed_runs)++;
      if (o.ok) continue;
      // Every error names the DFU block and the phase; only before the board first told its
      // phase may the phase be unknown, and then the error says so.
      EXPECT_TRUE(o.error_names_block) << o.error;
      if (n > clean.first_phase_reply) EXPECT_TRUE(o.error_names_phase) << o.error;
      else EXPECT_TRUE(o.error_names_phase || o.phase_unknown) << o.error;
      EXPECT_FALSE(o.error_names_phase && o.phase_unknown) << o.error;
      if (o.phase_unknown) ++unknown_phase_runs;
    }
  }
  // The ROM's first transfers failed before it told its phase, and said so.
  EXPECT_GT(unknown_phase_runs, 0u);
  // The matrix really injected faults. The DFU engine asks a timed-out GETSTATUS again
  // (dfu::Options::status_retries), so the failed GETSTATUS outside manifestation are recovered;
  // every other injected transfer fault ends in a typed error.
  EXPECT_GT(failed_runs, clean.transfers);
  EXPECT_GT(recovered_runs, 0u);
  EXPECT_EQ(failed_runs + recovered_runs, 2 * clean.transfers);
}

TEST(DfuFaultMatrix, EveryGetStatusReplyLostOnceIsRecoveredOutsideManifestation) {
  Rig rig("dfu-lost-status-matrix");
  const Outcome clean = flash_with(rig, {});
  ASSERT_TRUE(clean.ok) << clean.error;
  ASSERT_GT(clean.status_requests, 10u);
  std::size_t failed_runs = 0, recovered_runs = 0;
  for (std::uint64_t n = 1; n <= clean.status_requests; ++n) {
    SCOPED_TRACE("lose_status=" + std::to_string(n));
    sim::UsbFaultPlan f;
    f.lose_status_replies.push_back(n);
    const Outcome o = flash_with(rig, f);
    if (o.ok) {
      ++recovered_runs;
      // The lost one is asked again; when it had said dfuDNBUSY, the re-ask already finds the
      // block written, so one poll less follows.
      EXPECT_GE(o.status_requests, clean.status_requests);
      EXPECT_LE(o.status_requests, clean.status_requests + 1);
    } else {
      ++failed_runs;
      // Only the manifestation's status is not asked again (its timeout is the flush bound).
      EXPECT_NE(o.error.find("during manifestation"), std::string::npos) << o.error;
      EXPECT_TRUE(o.error_names_phase) << o.error;
    }
  }
  EXPECT_GT(recovered_runs, 2 * failed_runs);
  EXPECT_GT(failed_runs, 0u);
}

TEST(DfuFaultMatrix, GetStatusErrorAtEachBlockOfThePartition) {
  Rig rig("dfu-status-matrix");
  // rootfs is 10000 bytes: blocks 0..2 of 4096 bytes, then the zero-length block.
  for (std::uint64_t block = 0; block < 3; ++block) {
    SCOPED_TRACE("status_block=" + std::to_string(block));
    sim::UsbFaultPlan f;
    f.status_at_block = sim::UsbFaultPlan::StatusAtBlock{block, dfu::Status::err_write, 0x10};
    const Outcome o = flash_with(rig, f);
    ASSERT_FALSE(o.ok);
    EXPECT_NE(o.error.find("errWRITE"), std::string::npos) << o.error;
    EXPECT_NE(o.error.find("0x10"), std::string::npos) << o.error;
  }
}

TEST(DfuFaultMatrix, DropAndNoReenumerationAreNamedAfterTheStage) {
  Rig rig("dfu-drop");
  sim::UsbFaultPlan drop;
  drop.drop_during = sim::UsbFaultPlan::Drop{0x10, 4096};
  Outcome o = flash_with(rig, drop);
  ASSERT_FALSE(o.ok);
  EXPECT_NE(o.error.find("0x10"), std::string::npos) << o.error;

  // The host waits 30 s for U-Boot after TF-A (ReconnectTimeouts::after_tfa): in virtual time.
  sim::UsbFaultPlan gone;
  gone.never_reenumerate_after = Stage::tfa;
  const auto started = std::chrono::steady_clock::now();
  o = flash_with(rig, gone);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  ASSERT_FALSE(o.ok);
  EXPECT_NE(o.error.find("within 30000 ms"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find("after the tf-a stage and did not come back"), std::string::npos) << o.error;
}

TEST(DfuFaultMatrix, ResetDuringTheFlashLayoutOverUsb) {
  Rig rig("dfu-reset-layout");
  sim::UsbFaultPlan f;
  f.reset_during = sim::UsbFaultPlan::Reset{0x00, 0};
  const Outcome o = flash_with(rig, f);
  ASSERT_FALSE(o.ok);
  EXPECT_NE(o.error.find("0x00"), std::string::npos) << o.error;
}

}  // namespace
}  // namespace mp1boot::test
