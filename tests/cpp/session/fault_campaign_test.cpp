// SPDX-License-Identifier: MIT
// Seeded random fault campaign: many short flashes of a small layout on the simulated boards
// (UART and USB, STM32MP13 and STM32MP15), each with one random fault of the board's fault plan or
// none. UART: a board reset (flash layout 0x00, fsbl1 0x04, rootfs 0x10), a NACKed data packet, a
// lost final ACK, a dropped, corrupted or last byte from the device (the line goes dead), in any
// phase (ROM 0x01, TF-A 0x03, U-Boot 0x00/0x04/0x10) and at a random packet or byte. USB: a
// board reset or a drop off the bus at a random byte of a phase, a stalled or a never-completing
// control transfer, an error status for a DNLOAD block. Every run must end within a bound, either
// in success with storage equal to the inputs, or in a typed mp1boot::Error naming the phase
// after which a resumed run (new power cycle, same storage) gives storage equal to the inputs.
// Never a hang, never success with wrong storage.
// MP1BOOT_CAMPAIGN_SEED and MP1BOOT_CAMPAIGN_RUNS choose the campaign (`make soak` runs a long
// one with a random seed); the seed of every run is printed with its failure.
// MP1BOOT_CAMPAIGN_VERBOSE=1 prints the error of every run that failed (and was resumed).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flasher.hpp"
#include "mp1boot/sim/board_config.hpp"
#include "mp1boot/sim/uart_board.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"

using namespace mp1boot;
namespace fs = std::filesystem;

namespace {

Bytes pattern(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  std::mt19937 rng(seed);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

struct Inputs {
  Bytes fsbl, fip, rootfs;
  std::string layout;
};

Inputs inputs_for(const char* soc, std::uint32_t seed) {
  Inputs in;
  auto o = image::wrap_options_for(soc_by_name(soc));
  in.fsbl = image::wrap(pattern(6000, seed), o);
  in.fip = pattern(3000, seed + 1);
  const std::uint8_t toc[8] = {0x01, 0x00, 0x64, 0xaa, 0x78, 0x56, 0x34, 0x12};
  std::copy(std::begin(toc), std::end(toc), in.fip.begin());
  in.rootfs = pattern(5000 + seed % 3000, seed + 2);
  in.layout =
      "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
      "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
      "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
      "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
      "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n";
  return in;
}

std::string describe(std::uint32_t seed, const std::string& what) {
  return "campaign run seed " + std::to_string(seed) + " (" + what + "); replay with MP1BOOT_CAMPAIGN_SEED=" +
         std::to_string(seed) + " MP1BOOT_CAMPAIGN_RUNS=1";
}

void expect_storage(const fs::path& storage, const Inputs& in, const std::string& where) {
  EXPECT_EQ(test::read_range(storage / "mmc0.img", 0x4400, in.fsbl.size()), in.fsbl) << where;
  EXPECT_EQ(test::read_range(storage / "mmc0.img", 0x100000, in.rootfs.size()), in.rootfs) << where;
}

// Bytes of what the host sends for `phase` (the layout, the FSBL, the FIP, fsbl1, rootfs).
std::size_t phase_size(const Inputs& in, std::uint8_t phase) {
  switch (phase) {
    case 0x00: return in.layout.size();
    case 0x03: return in.fip.size();
    case 0x10: return in.rootfs.size();
    default: return in.fsbl.size();  // 0x01 and 0x04
  }
}

// One board of the campaign, built from the sim: vocabulary and then given a fault plan. Kept by
// the run, so that the size of a clean exchange can be read from it.
struct Board {
  std::shared_ptr<sim::UartBoard> uart;
  std::shared_ptr<sim::UsbBoard> usb;

  Board(const char* soc, bool over_usb, const fs::path& storage, const sim::UartFaultPlan& uf,
        const sim::UsbFaultPlan& sf) {
    sim::BoardConfig c = sim::board_config(soc, {{"storage", storage.string()}, {"link", over_usb ? "usb" : "uart"}});
    c.uart.faults = uf;
    c.usb.faults = sf;
    if (over_usb) usb = std::make_shared<sim::UsbBoard>(c.usb_options());
    else uart = std::make_shared<sim::UartBoard>(c.uart_options());
  }
  // UART reply timeouts of 150 ms instead of 1 s: the simulated board answers at once, and the
  // runs whose line goes dead wait out every retry.
  std::unique_ptr<session::Device> connect() const {
    if (usb) return session::connect_board(usb);
    session::ConnectOptions o;
    o.uart.timeouts.reply = std::chrono::milliseconds(150);
    o.uart.timeouts.sync = std::chrono::milliseconds(150);
    return session::connect_board(uart, o);
  }
  // UART: bytes the device sent; USB: control transfers the device saw.
  std::uint64_t exchange_size() const {
    std::uint64_t n = 0;
    if (usb) {
      for (const auto& e : usb->log()) n = std::max(n, e.n);
      return n;
    }
    for (const auto& e : uart->recorder().entries())
      if (e.kind == sim::Recorder::Entry::Kind::tx) n += e.bytes.size();
    return n;
  }
};

struct Run {
  fs::path dir, storage;
  Inputs in;
};

Run prepare(const char* soc, std::uint32_t seed) {
  Run r{.dir = test::temp_dir("campaign"), .storage = {}, .in = inputs_for(soc, seed)};
  r.storage = r.dir / "storage";
  fs::create_directories(r.storage);
  test::write_file(r.dir / "tf-a.stm32", r.in.fsbl);
  test::write_file(r.dir / "fip.bin", r.in.fip);
  test::write_file(r.dir / "rootfs.ext4", r.in.rootfs);
  test::write_text(r.dir / "flash.tsv", r.in.layout);
  return r;
}

// The exchange size of a run without a fault (cached per SoC and link), to aim byte and transfer
// faults inside the exchange.
std::uint64_t clean_exchange_size(const char* soc, bool usb) {
  static std::map<std::pair<std::string, bool>, std::uint64_t> cache;
  auto [it, fresh] = cache.try_emplace({soc, usb}, 0);
  if (!fresh) return it->second;
  const Run r = prepare(soc, 1);
  const Board b(soc, usb, r.storage, {}, {});
  const auto report = session::flash(*b.connect(), r.dir / "flash.tsv", {});
  EXPECT_EQ(report.result, "ok") << soc << (usb ? " usb" : " uart") << ": the clean run failed: " << report.error;
  return it->second = b.exchange_size();
}

// One random fault for a run: the plans and a short name of the fault kind, and its details.
struct Fault {
  std::string kind, detail;
  sim::UartFaultPlan uart;
  sim::UsbFaultPlan usb;
};

Fault draw_fault(std::mt19937& rng, const char* soc, bool usb, const Inputs& in) {
  static const std::uint8_t all_phases[] = {0x00, 0x01, 0x03, 0x04, 0x10};
  static const std::uint8_t uboot_phases[] = {0x00, 0x04, 0x10};
  const std::uint8_t phase = all_phases[rng() % 5];
  const std::uint8_t uboot_phase = uboot_phases[rng() % 3];
  const std::uint64_t byte = rng() % phase_size(in, phase);
  std::ostringstream d;
  Fault f;
  auto& u = f.uart;
  auto& s = f.usb;
  if (!usb) {
    const std::uint32_t packet = static_cast<std::uint32_t>(rng() % (phase_size(in, phase) / 256 + 1));
    const std::uint64_t tx = rng() % std::max<std::uint64_t>(clean_exchange_size(soc, false), 1);
    switch (rng() % 7) {
      case 0: return {"none", "", {}, {}};
      case 1:
        u.reset_during = {uboot_phase, rng() % phase_size(in, uboot_phase)};
        d << "phase " << hex8(uboot_phase) << " byte " << u.reset_during->after_bytes;
        f.kind = "reset";
        break;
      case 2:
        u.nack_packets = {{phase, packet}};
        d << "phase " << hex8(phase) << " packet " << packet;
        f.kind = "nack";
        break;
      case 3:
        u.lose_packet_acks = {{phase, packet}};
        d << "phase " << hex8(phase) << " packet " << packet;
        f.kind = "lost-ack";
        break;
      case 4:
        u.drop_tx_bytes = {tx};
        d << "device byte " << tx;
        f.kind = "drop-byte";
        break;
      case 5: {
        static const std::uint8_t values[] = {0x79, 0x1F, 0x00, 0xFF};
        const std::uint8_t v = values[rng() % 4];
        u.corrupt_tx_bytes = {{tx, v}};
        d << "device byte " << tx << " -> " << hex8(v);
        f.kind = "corrupt-byte";
        break;
      }
      default:
        u.silent_after_tx_bytes = tx;
        d << "line dead after device byte " << tx;
        f.kind = "dead-line";
        break;
    }
  } else {
    const std::uint64_t transfer = 1 + rng() % std::max<std::uint64_t>(clean_exchange_size(soc, true), 1);
    switch (rng() % 7) {
      case 0: return {"none", "", {}, {}};
      case 1:
        s.reset_during = {phase, byte};
        d << "phase " << hex8(phase) << " byte " << byte;
        f.kind = "reset";
        break;
      case 2:
        s.drop_during = {phase, byte};
        d << "phase " << hex8(phase) << " byte " << byte;
        f.kind = "drop-off-bus";
        break;
      case 3:
        s.stall_transfers = {transfer};
        d << "transfer " << transfer;
        f.kind = "stall";
        break;
      case 4:
        s.fail_transfers = {transfer};
        d << "transfer " << transfer;
        f.kind = "failed-transfer";
        break;
      default: {
        static const dfu::Status statuses[] = {dfu::Status::err_write, dfu::Status::err_verify, dfu::Status::err_file};
        s.status_at_block = sim::UsbFaultPlan::StatusAtBlock{
            .block = rng() % 3, .status = statuses[rng() % 3], .phase = phase};
        d << "phase " << hex8(phase) << " block " << s.status_at_block->block << " "
          << dfu::status_name(s.status_at_block->status);
        f.kind = "dfu-status";
        break;
      }
    }
  }
  f.detail = d.str();
  return f;
}

// One run: returns "<link> <fault kind> ok" or "... failed+resumed" (after a typed error), or
// fails the test.
std::string one_run(std::uint32_t seed) {
  std::mt19937 rng(seed);
  const char* soc = rng() % 2 ? "stm32mp157" : "stm32mp135";
  const bool usb = rng() % 2;
  const Run run = prepare(soc, seed);
  const Fault fault = draw_fault(rng, soc, usb, run.in);
  const std::string label = std::string(usb ? "usb " : "uart ") + fault.kind;
  const std::string where = describe(seed, std::string(soc) + " " + label + " " + fault.detail);
  const auto start = std::chrono::steady_clock::now();
  session::FlashOptions o;
  o.reset_probe = std::chrono::milliseconds(300);  // the simulated ROM answers at once; a dead line waits it out
  session::FlashReport report;
  bool failed = false;
  try {
    const Board board(soc, usb, run.storage, fault.uart, fault.usb);
    auto dev = board.connect();
    session::Flasher f(*dev, run.dir / "flash.tsv", o);
    try {
      report = f.run();
    } catch (...) {
      report = f.report();
      throw;
    }
  } catch (const Error& e) {
    failed = true;
    if (std::getenv("MP1BOOT_CAMPAIGN_VERBOSE")) std::printf("%s: %s\n", where.c_str(), e.what());
    // Typed, and saying where: the phase (or, before any phase, the operation and the transport).
    EXPECT_TRUE(e.context().phase.has_value() || !e.context().operation.empty()) << where << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << ": untyped exception " << e.what();
    return "untyped";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0) << where;
  if (!failed) {
    EXPECT_EQ(report.result, "ok") << where;
    expect_storage(run.storage, run.in, where + " (exit 0)");
    EXPECT_NE(fault.kind, "reset") << where << ": the reset never fired";
    return label + " ok";
  }
  EXPECT_EQ(report.result, "failed") << where;
  EXPECT_FALSE(report.error.empty()) << where;
  // Power cycle and resume from the report, without the fault.
  session::FlashOptions again;
  again.resume = {report};  // the same board, the same port: its earlier report
  try {
    const Board board(soc, usb, run.storage, {}, {});
    const auto r = session::flash(*board.connect(), run.dir / "flash.tsv", again);
    EXPECT_EQ(r.result, "ok") << where << ": resume: " << r.error;
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << ": resume failed: " << e.what();
  }
  expect_storage(run.storage, run.in, where + " (after resume)");
  return label + " failed+resumed";
}

TEST(FaultCampaign, EveryRunSucceedsOrFailsTypedAndResumes) {
  std::uint32_t seed = 1206;
  int runs = 120;
  if (const char* s = std::getenv("MP1BOOT_CAMPAIGN_SEED")) seed = static_cast<std::uint32_t>(std::strtoul(s, nullptr, 0));
  if (const char* s = std::getenv("MP1BOOT_CAMPAIGN_RUNS")) runs = std::atoi(s);
  std::map<std::string, int> counts;
  for (int i = 0; i < runs && !HasFailure(); ++i) ++counts[one_run(seed + static_cast<std::uint32_t>(i))];
  std::printf("fault campaign: seed %u, %d runs:", seed, runs);
  for (const auto& [k, v] : counts) std::printf(" [%s] %d", k.c_str(), v);
  std::printf("\n");
  // The campaign is as wide as it says: every fault kind of both links drawn, and some of them
  // failing (and resumed) on each link.
  std::map<std::string, int> failed;
  std::set<std::string> kinds;
  for (const auto& [label, n] : counts) {
    const auto cut = label.rfind(' ');
    kinds.insert(label.substr(0, cut));
    if (label.substr(cut + 1) == "failed+resumed") failed[label.substr(0, label.find(' '))] += n;
  }
  if (runs >= 100) {
    for (const char* k : {"uart none", "uart reset", "uart nack", "uart lost-ack", "uart drop-byte", "uart corrupt-byte",
                          "uart dead-line", "usb none", "usb reset", "usb drop-off-bus", "usb stall",
                          "usb failed-transfer", "usb dfu-status"})
      EXPECT_TRUE(kinds.count(k)) << "no run of " << k;
  }
  EXPECT_GT(failed["uart"], 0);
  EXPECT_GT(failed["usb"], 0);
}

}  // namespace
