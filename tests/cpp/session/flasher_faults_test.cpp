// SPDX-License-Identifier: MIT
// The flash runner's verify, resume and fault handling on the simulated STM32MP157 over UART:
// read-back with SHA-256 (and a medium corrupted behind U-Boot's back), Ctrl-C mid-partition then
// a resumed run that skips what was done, and a board that resets mid-partition (the ROM answers
// again: FIELD.md failure mode 10).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/image/flash_layout.hpp"
#include "rig.hpp"

using namespace mp1boot;
namespace fs = std::filesystem;

namespace {
using namespace mp1boot::test;

TEST(FlasherVerify, ReadsEveryProgrammedPartitionBack) {
  Rig rig("flasher-verify");
  auto dev = rig.connect();
  std::vector<std::string> verified;
  session::FlashOptions o;
  o.verify = true;
  o.on_event = [&](const session::FlashEvent& e) {
    if (e.kind == session::FlashEvent::Kind::partition_verified) verified.push_back(e.partition->name);
  };
  const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_TRUE(r.verify);
  EXPECT_EQ(verified, (std::vector<std::string>{"fsbl1", "rootfs"}));
  EXPECT_EQ(part(r, "rootfs").verified, VerifyResult::ok);
  EXPECT_EQ(part(r, "rootfs").readback_sha256, session::sha256_hex(rootfs()));
  EXPECT_EQ(part(r, "fsbl1").readback_sha256, session::sha256_hex(fsbl_mp15()));
  EXPECT_EQ(part(r, "fip-boot").verified, VerifyResult::not_read);  // RAM phases are not read back
  EXPECT_EQ(r.link, Link::uart);
  EXPECT_EQ(r.json()["partitions"].back()["verified"], "ok");
}

TEST(FlasherVerify, CorruptedMediumIsAMismatchNamingPartitionAndOffset) {
  Rig rig("flasher-verify-bad");
  auto dev = rig.connect();
  session::FlashOptions o;
  o.verify = true;
  o.on_event = [&](const session::FlashEvent& e) {
    if (e.kind != session::FlashEvent::Kind::partition_done || e.partition->name != "rootfs") return;
    // The medium loses a byte after U-Boot wrote it (a worn card): flip byte 1234 of rootfs.
    std::fstream f(rig.storage / "mmc0.img", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0x100000 + 1234);
    const char c = static_cast<char>(rootfs()[1234] ^ 0xFF);
    f.write(&c, 1);
  };
  session::Flasher f(*dev, rig.dir / "flash.tsv", o);
  try {
    f.run();
    FAIL() << "no error";
  } catch (const DeviceError& e) {
    EXPECT_EQ(e.code(), errc::verify_mismatch) << e.what();
    EXPECT_NE(e.message().find("rootfs (0x10, mmc0, layout line 5) first difference at offset 0x4d2"), std::string::npos)
        << e.message();
  }
  EXPECT_EQ(part(f.report(), "rootfs").verified, VerifyResult::mismatch);
  EXPECT_EQ(part(f.report(), "fsbl1").verified, VerifyResult::ok);
  EXPECT_EQ(f.report().result, FlashResult::failed);
}

TEST(FlasherResume, CancelMidPartitionThenResumeSkipsWhatWasDone) {
  Rig rig("flasher-resume");
  session::FlashReport first;
  {
    auto dev = rig.connect();
    first = flash_until(*dev, rig.dir / "flash.tsv", [](const Progress& p) {
      return p.partition == "rootfs" && p.bytes_done > 0 && p.bytes_done < p.bytes_total;
    });
  }
  EXPECT_EQ(first.result, FlashResult::failed);
  EXPECT_EQ(part(first, "fsbl1").result, PartitionResult::ok);
  EXPECT_EQ(part(first, "rootfs").result, PartitionResult::failed);

  // Power cycle (a new board on the same storage), resume from the report.
  auto dev = rig.connect();
  session::FlashOptions o;
  o.resume = {first};
  std::vector<std::string> sent;
  o.progress = record_downloads(sent);
  o.verify = true;
  const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(sent, (std::vector<std::string>{"fsbl-boot", "fip-boot", "FlashLayout", "rootfs"}));
  EXPECT_EQ(part(r, "fsbl1").result, PartitionResult::skipped_done_earlier);
  EXPECT_EQ(part(r, "fsbl1").sha256, session::sha256_hex(fsbl_mp15()));
  EXPECT_EQ(part(r, "fsbl1").verified, VerifyResult::ok);  // read back although it was not sent
  EXPECT_EQ(part(r, "fsbl1").readback_sha256, session::sha256_hex(fsbl_mp15()));
  EXPECT_EQ(part(r, "rootfs").result, PartitionResult::ok);
  EXPECT_EQ(part(r, "rootfs").verified, VerifyResult::ok);
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x4400, fsbl_mp15().size()), fsbl_mp15());
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x100000, rootfs().size()), rootfs());
}

TEST(FlasherResume, ChangedFileIsProgrammedAgain) {
  Rig rig("flasher-resume-changed");
  auto dev = rig.connect();
  session::FlashOptions o;
  session::FlashReport earlier;  // this board's earlier run
  const auto link = dev->link_info();
  earlier.link = dev->link();
  earlier.port_path = link.port_path;
  session::PartitionReport done;
  done.phase = 0x04;
  done.result = PartitionResult::ok;
  done.sha256 = std::string(64, '0');  // not the SHA-256 of today's tf-a.stm32
  earlier.partitions.push_back(done);
  o.resume = {earlier};
  std::vector<std::string> sent;
  o.progress = record_downloads(sent);
  const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_EQ(part(r, "fsbl1").result, PartitionResult::ok);
  EXPECT_NE(std::find(sent.begin(), sent.end(), "fsbl1"), sent.end());
}

TEST(FlasherFaults, BoardResetMidPartitionIsNamedWithPhaseAndBytes) {
  Rig rig("flasher-reset");
  auto dev = rig.connect("&reset_phase=0x10&reset_after=3000");
  session::FlashOptions o;
  o.reset_probe = std::chrono::milliseconds(2000);
  session::Flasher f(*dev, rig.dir / "flash.tsv", o);
  try {
    f.run();
    FAIL() << "no error";
  } catch (const DeviceError& e) {
    EXPECT_EQ(e.code(), errc::device_reset) << e.what();
    const std::string m = e.message();
    EXPECT_NE(m.find("phase 0x10 (rootfs)"), std::string::npos) << m;
    EXPECT_NE(m.find("of 10000 bytes were acknowledged"), std::string::npos) << m;
    EXPECT_NE(m.find("--resume"), std::string::npos) << m;
    ASSERT_TRUE(e.context().layout_line.has_value());
    EXPECT_EQ(*e.context().layout_line, 5u);
  }
  EXPECT_EQ(part(f.report(), "fsbl1").result, PartitionResult::ok);
  EXPECT_EQ(part(f.report(), "rootfs").result, PartitionResult::failed);
  // The ROM is what answers now.
  EXPECT_EQ(dev->get_phase().phase, 0x01);
}

TEST(FlasherFaults, FipThatTfaWouldRefuseStopsBeforeAnything) {
  Rig rig("flasher-bad-fip");
  write_file(rig.dir / "fip.bin", Bytes(4096, 0x5a));
  auto dev = rig.connect();
  try {
    session::flash(*dev, rig.dir / "flash.tsv");
    FAIL() << "no error";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::bad_image) << e.what();
    EXPECT_NE(e.message().find("flash.tsv:3"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("not a FIP"), std::string::npos) << e.message();
  }
  EXPECT_EQ(dev->get_phase().phase, 0x01);  // nothing was sent: the ROM still waits for the FSBL
}

TEST(LayoutRewrite, OptionColumnChangesAndEverythingElseStays) {
  const std::string text = "#Opt\tId\tName\r\n-\t0x01\tfsbl\r\nP\t\t0x04\tfsbl1\r\n  PD\t0x10\trootfs";
  const std::string out = image::rewrite_options(text, {{3, "PE"}, {4, "PE"}});
  EXPECT_EQ(out, "#Opt\tId\tName\r\n-\t0x01\tfsbl\r\nPE\t\t0x04\tfsbl1\r\n  PE\t0x10\trootfs");
  EXPECT_THROW(image::rewrite_options(text, {{9, "PE"}}), UsageError);
}

}  // namespace
