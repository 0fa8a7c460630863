// SPDX-License-Identifier: MIT
// Seeded random fault campaign: many short flashes of a small layout on the simulated boards
// (UART and USB, STM32MP13 and STM32MP15), each with a random fault or none: a board reset at a
// random phase (flash layout 0x00, fsbl1 0x04, rootfs 0x10) and a random byte of it. Every run
// must end within a bound, either in success with storage equal to the inputs, or in a typed
// mp1boot::Error after which a resumed run (new power cycle, same storage) gives storage equal to
// the inputs. Never a hang, never success with wrong storage.
// MP1BOOT_CAMPAIGN_SEED and MP1BOOT_CAMPAIGN_RUNS choose the campaign (`make soak` runs a long
// one with a random seed); the seed of every run is printed with its failure.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flasher.hpp"
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

struct RunResult {
  std::string outcome;  // "ok", "error+resumed"
};

std::string describe(std::uint32_t seed, const std::string& url) {
  return "campaign run seed " + std::to_string(seed) + " (" + url + "); replay with MP1BOOT_CAMPAIGN_SEED=" +
         std::to_string(seed) + " MP1BOOT_CAMPAIGN_RUNS=1";
}

void expect_storage(const fs::path& storage, const Inputs& in, const std::string& where) {
  EXPECT_EQ(test::read_range(storage / "mmc0.img", 0x4400, in.fsbl.size()), in.fsbl) << where;
  EXPECT_EQ(test::read_range(storage / "mmc0.img", 0x100000, in.rootfs.size()), in.rootfs) << where;
}

// One run: returns "ok" or "resumed" (after a typed error), or fails the test.
std::string one_run(std::uint32_t seed) {
  std::mt19937 rng(seed);
  const char* soc = rng() % 2 ? "stm32mp157" : "stm32mp135";
  const bool usb = rng() % 2;
  const Inputs in = inputs_for(soc, seed);
  const fs::path dir = test::temp_dir("campaign");
  const fs::path storage = dir / "storage";
  fs::create_directories(storage);
  test::write_file(dir / "tf-a.stm32", in.fsbl);
  test::write_file(dir / "fip.bin", in.fip);
  test::write_file(dir / "rootfs.ext4", in.rootfs);
  test::write_text(dir / "flash.tsv", in.layout);

  const std::string base = std::string("sim:") + soc + "?storage=" + storage.string() + (usb ? "&link=usb" : "");
  std::string url = base;
  const unsigned kind = rng() % 4;  // 0: no fault; else a reset in phase 0x00 / 0x04 / 0x10
  static const std::uint8_t phases[] = {0x00, 0x04, 0x10};
  const std::uint8_t phase = kind ? phases[kind - 1] : 0;
  if (kind != 0) {
    const std::size_t size = phase == 0x00 ? in.layout.size() : phase == 0x04 ? in.fsbl.size() : in.rootfs.size();
    std::ostringstream q;
    q << "&reset_phase=0x" << std::hex << int(phase) << std::dec << "&reset_after=" << rng() % size;
    url += q.str();
  }
  const std::string where = describe(seed, url);
  const auto start = std::chrono::steady_clock::now();
  session::FlashOptions o;
  o.reset_probe = std::chrono::milliseconds(1500);
  session::FlashReport report;
  bool failed = false;
  try {
    auto dev = session::connect(url);
    session::Flasher f(*dev, dir / "flash.tsv", o);
    try {
      report = f.run();
    } catch (...) {
      report = f.report();
      throw;
    }
  } catch (const Error& e) {
    failed = true;
    EXPECT_FALSE(e.context().operation.empty() && e.context().file.empty()) << where << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << ": untyped exception " << e.what();
    return "untyped";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0) << where;
  if (!failed) {
    EXPECT_EQ(report.result, "ok") << where;
    expect_storage(storage, in, where + " (exit 0)");
    EXPECT_EQ(kind, 0u) << where << ": the reset never fired";
    return std::string(usb ? "usb" : "uart") + (kind ? " reset " + hex8(phase) + " not fired, " : " ") + "ok";
  }
  EXPECT_EQ(report.result, "failed") << where;
  // Power cycle and resume from the report, without the fault.
  session::FlashOptions again;
  again.resume = {report};  // the same board, the same port: its earlier report
  try {
    auto dev = session::connect(base);
    const auto r = session::flash(*dev, dir / "flash.tsv", again);
    EXPECT_EQ(r.result, "ok") << where << ": resume: " << r.error;
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << ": resume failed: " << e.what();
  }
  expect_storage(storage, in, where + " (after resume)");
  return std::string(usb ? "usb" : "uart") + " failed+resumed";
}

TEST(FaultCampaign, EveryRunSucceedsOrFailsTypedAndResumes) {
  std::uint32_t seed = 1206;
  int runs = 300;
  if (const char* s = std::getenv("MP1BOOT_CAMPAIGN_SEED")) seed = static_cast<std::uint32_t>(std::strtoul(s, nullptr, 0));
  if (const char* s = std::getenv("MP1BOOT_CAMPAIGN_RUNS")) runs = std::atoi(s);
  std::map<std::string, int> counts;
  for (int i = 0; i < runs && !HasFailure(); ++i) ++counts[one_run(seed + static_cast<std::uint32_t>(i))];
  std::printf("fault campaign: seed %u, %d runs:", seed, runs);
  for (const auto& [k, v] : counts) std::printf(" [%s] %d", k.c_str(), v);
  std::printf("\n");
  EXPECT_GT(counts["uart failed+resumed"] + counts["usb failed+resumed"], 0);
}

}  // namespace
