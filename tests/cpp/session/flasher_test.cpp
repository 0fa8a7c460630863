// SPDX-License-Identifier: MIT
// session::Flasher end to end on the simulated STM32MP157 (ROM -> TF-A -> U-Boot over UART, in
// process): a full flash lands in mmc0.img at the layout's offsets with a complete report; layout
// and file problems stop the run before a single byte reaches the device.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flasher.hpp"
#include "support/paths.hpp"
#include "rig.hpp"

using namespace mp1boot;
namespace fs = std::filesystem;

namespace {
using namespace mp1boot::test;

TEST(Flasher, FullFlashOfASmallLayoutLandsInMmc0) {
  Rig rig("flasher-full");
  auto dev = rig.connect();
  std::vector<FlashStep> stages;
  std::vector<std::string> done, progress_names;
  std::vector<std::uint64_t> estimates;  // UART: one, before the first download
  session::FlashOptions o;
  o.on_event = [&](const session::FlashEvent& e) {
    if (e.kind == session::FlashEvent::Kind::stage) stages.push_back(e.stage);
    else if (e.partition) done.push_back(e.partition->name);
    else estimates.push_back(e.estimate->bytes);
  };
  o.progress = [&](const Progress& p) {
    if (progress_names.empty() || progress_names.back() != p.partition) progress_names.push_back(p.partition);
  };
  const session::FlashReport r = session::flash(*dev, rig.dir / "flash.tsv", o);

  EXPECT_EQ(r.result, FlashResult::ok);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.soc, "STM32MP15x");
  EXPECT_EQ(r.device_id, 0x500);
  EXPECT_EQ(r.transport, dev->describe());
  ASSERT_EQ(r.partitions.size(), 5u);
  const std::vector<int> phases = {0x01, 0x03, 0x00, 0x04, 0x10};
  for (std::size_t i = 0; i < phases.size(); ++i) {
    EXPECT_EQ(r.partitions[i].phase, phases[i]);
    EXPECT_EQ(r.partitions[i].result, PartitionResult::ok) << r.partitions[i].name;
  }
  EXPECT_EQ(r.partitions[4].name, "rootfs");
  EXPECT_EQ(r.partitions[4].ip, "mmc0");
  EXPECT_EQ(r.partitions[4].offset, "0x00100000");
  EXPECT_EQ(r.partitions[4].size, 10000u);
  EXPECT_EQ(r.partitions[4].sha256, session::sha256_hex(rootfs()));
  EXPECT_EQ(r.partitions[2].name, "FlashLayout");
  EXPECT_EQ(r.partitions[2].size, std::string(kLayout).size());
  EXPECT_EQ(stages, (std::vector<FlashStep>{FlashStep::check, FlashStep::fsbl, FlashStep::fip, FlashStep::layout,
                                            FlashStep::partitions, FlashStep::done}));
  EXPECT_EQ(estimates.size(), 1u);
  EXPECT_EQ(done, (std::vector<std::string>{"fsbl-boot", "fip-boot", "FlashLayout", "fsbl1", "rootfs"}));
  EXPECT_EQ(progress_names, done);

  const Bytes fsbl = fsbl_mp15(), rfs = rootfs();
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x4400, fsbl.size()), fsbl);
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x100000, rfs.size()), rfs);

  const auto json = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(json["result"], "ok") << json;
  EXPECT_EQ(json["device_id"], 0x500) << json;
  EXPECT_EQ(json["partitions"].back()["sha256"], session::sha256_hex(rfs)) << json;
}

TEST(Flasher, LayoutErrorStopsBeforeAnyDownload) {
  std::string bad = kLayout;
  bad.replace(bad.find("P\t0x10\trootfs"), 13, "P\t0x04\trootfs");  // duplicate id
  Rig rig("flasher-bad-layout", bad);
  auto dev = rig.connect();
  bool progressed = false;
  session::FlashOptions o;
  o.progress = [&](const Progress&) { progressed = true; };
  session::Flasher f(*dev, rig.dir / "flash.tsv", o);
  try {
    f.run();
    FAIL() << "no error";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::layout_rule) << e.what();
    EXPECT_NE(std::string(e.what()).find("flash.tsv:4"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(progressed);
  EXPECT_EQ(f.report().result, FlashResult::failed);
  EXPECT_NE(f.report().error, "");
  // The board still waits for its FSBL: nothing was sent.
  EXPECT_EQ(dev->get_phase().phase, 0x01);
}

TEST(Flasher, MissingBinaryNamesTheLine) {
  Rig rig("flasher-missing");
  fs::remove(rig.dir / "rootfs.ext4");
  auto dev = rig.connect();
  try {
    session::flash(*dev, rig.dir / "flash.tsv");
    FAIL() << "no error";
  } catch (const LayoutError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("flash.tsv:5"), std::string::npos) << what;
    EXPECT_NE(what.find("rootfs.ext4"), std::string::npos) << what;
  }
  EXPECT_EQ(dev->get_phase().phase, 0x01);
}

TEST(Flasher, FsblForTheWrongSocIsRefusedBeforeAnything) {
  Rig rig("flasher-wrong-soc");
  Bytes payload(1024, 0x5a);
  write_file(rig.dir / "tf-a.stm32", image::wrap(payload, image::wrap_options_for(soc_by_name("stm32mp135"))));
  auto dev = rig.connect();
  try {
    session::flash(*dev, rig.dir / "flash.tsv");
    FAIL() << "no error";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::bad_image) << e.what();
    ASSERT_TRUE(e.context().layout_line.has_value());
    EXPECT_EQ(*e.context().layout_line, 2u);
  }
  EXPECT_EQ(dev->get_phase().phase, 0x01);
}

TEST(Flasher, DeviceErrorCarriesTheDeviceMessageAndPhase) {
  // U-Boot refuses a device the board does not have (the host checker cannot know the board).
  std::string layout = kLayout;
  layout.replace(layout.find("FileSystem\tmmc0"), 15, "FileSystem\tmmc2");
  Rig rig("flasher-device-error", layout);
  auto dev = rig.connect();
  session::Flasher f(*dev, rig.dir / "flash.tsv");
  try {
    f.run();
    FAIL() << "no error";
  } catch (const DeviceError& e) {
    EXPECT_EQ(e.code(), errc::device_reported) << e.what();
    EXPECT_FALSE(e.message().empty());
    EXPECT_NE(e.message().back(), '\n');
    ASSERT_TRUE(e.context().phase.has_value());
    EXPECT_EQ(*e.context().phase, 0x00);  // the layout was the last phase served
    EXPECT_NE(e.message().find("mmc device 2"), std::string::npos) << e.message();  // verbatim
  } catch (const Error& e) {
    FAIL() << e.kind() << ": " << e.what();
  }
  EXPECT_EQ(f.report().result, FlashResult::failed);
  ASSERT_EQ(f.report().partitions.size(), 5u);
  EXPECT_EQ(f.report().partitions[2].phase, 0x00);
  EXPECT_EQ(f.report().partitions[2].result, PartitionResult::ok);
  EXPECT_EQ(f.report().partitions[3].result, PartitionResult::skipped);
  EXPECT_NE(f.report().error.find("mmc device 2"), std::string::npos);
}

}  // namespace
