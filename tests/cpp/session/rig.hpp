// SPDX-License-Identifier: MIT
// Shared fixtures of the flash-runner tests: a folder with a small STM32MP157 layout (FSBL, FIP,
// fsbl1 and rootfs on mmc0) and its files, and helpers to read the simulated board's storage.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flasher.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"

namespace mp1boot::test {
namespace fs = std::filesystem;

inline Bytes fsbl_mp15() {
  Bytes payload(8 * 1024);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + 1);
  auto o = image::wrap_options_for(soc_by_name("stm32mp157"));
  return image::wrap(payload, o);
}

inline Bytes fip(std::size_t size = 4096) {
  Bytes f(size);
  for (std::size_t i = 0; i < size; ++i) f[i] = static_cast<std::uint8_t>(i * 3);
  const std::uint8_t toc[8] = {0x01, 0x00, 0x64, 0xaa, 0x78, 0x56, 0x34, 0x12};
  std::copy(std::begin(toc), std::end(toc), f.begin());
  return f;
}

inline Bytes rootfs() {
  Bytes r(10000);
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = static_cast<std::uint8_t>(i * 11);
  return r;
}

inline const char* kLayout =
    "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
    "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
    "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
    "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
    "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n";

/// The record of partition `name` in a report.
inline const session::PartitionReport& part(const session::FlashReport& r, const std::string& name) {
  for (const auto& p : r.partitions)
    if (p.name == name) return p;
  throw std::runtime_error("no partition " + name + " in the report");
}

/// A folder with the layout and its files; `storage` is where the board keeps its devices.
struct Rig {
  fs::path dir, storage;
  explicit Rig(const char* tag, const std::string& layout = kLayout) {
    dir = temp_dir(tag);
    storage = dir / "storage";
    fs::create_directories(storage);
    write_file(dir / "tf-a.stm32", fsbl_mp15());
    write_file(dir / "fip.bin", fip());
    write_file(dir / "rootfs.ext4", rootfs());
    write_text(dir / "flash.tsv", layout);
  }
  /// The simulated STM32MP157 over UART, keeping its storage in `storage`; `query` adds URL
  /// options ("&reset_phase=0x10&reset_after=2000"), a `link=usb` one selects the USB board.
  std::unique_ptr<session::Device> connect(const std::string& query = "") const {
    return session::connect("sim:stm32mp157?storage=" + storage.string() + query);
  }
};

/// Runs `layout` on `device` and cancels the run at the first progress report for which `stop`
/// is true; the run must end in CancelledError. Returns its report (what a user resumes from).
inline session::FlashReport flash_until(session::Device& device, const fs::path& layout,
                                        const std::function<bool(const Progress&)>& stop) {
  CancelToken cancel;
  session::DriveHooks hooks;
  hooks.cancel = &cancel;
  device.set_hooks(hooks);
  session::FlashOptions o;
  o.progress = [&](const Progress& p) {
    if (stop(p)) cancel.cancel();
  };
  session::Flasher f(device, layout, o);
  EXPECT_THROW(f.run(), CancelledError);
  device.set_hooks({});
  return f.report();
}

/// A FlashOptions::progress that appends each partition whose download starts to `names`
/// (read-backs are not counted).
inline ProgressFn record_downloads(std::vector<std::string>& names) {
  return [&names](const Progress& p) {
    if (p.stage == "download" && (names.empty() || names.back() != p.partition)) names.push_back(p.partition);
  };
}

}  // namespace mp1boot::test
