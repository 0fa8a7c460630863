// SPDX-License-Identifier: MIT
// Real-world flash layouts (tests/data/layouts/real, copied byte for byte; see SOURCES.md there):
// the verdict for each file written out explicitly, with the binary checks off because the
// binaries are not shipped. Placeholder layouts are checked with and without their defines.
#include <gtest/gtest.h>

#include <cctype>
#include <set>

#include "layout_test_util.hpp"
#include "mp1boot/error.hpp"
#include "support/paths.hpp"

namespace mp1boot::image::test {
namespace {

using V = std::vector<std::string>;

struct Verdict {
  std::string file;
  std::map<std::string, std::string> defines;
  std::size_t entries;
  V errors;    // "rule@line", sorted
  V warnings;  // "rule@line", sorted
  std::vector<std::uint32_t> order;  // programming_order phases
  ProgrammingService service = ProgrammingService::u_boot_stm32prog;
};

const std::map<std::string, std::string> mp1_defines = {{"ATFBIN", "tf-a.stm32"}, {"FIPBIN", "fip.bin"}};
const std::map<std::string, std::string> mp2_defines = {
    {"ATFBIN", "tf-a.stm32"}, {"FIPBIN", "fip.bin"}, {"FIPDDRBIN", "fip-ddr.bin"}};

const std::string meta = "STMicroelectronics__meta-st-stm32mp__files__flashlayouts__";

// The verdict table.
const std::vector<Verdict>& verdicts() {
  static const std::vector<Verdict> table = {
      // Only data line ends with TABs: U-Boot drops it (no partition); the ROM phase names no file.
      {"KubaTaba1uga__learning_stm32mp135f_baremetal__flash.tsv", {}, 1,
       {"empty-binary@2", "no-partition@0"}, {"trailing-tab@2"}, {0x01, 0x00}},
      // ST's OpenBL + external loader flow: 'P' on none lines, two nor0 lines at 0x0.
      {"STMicroelectronics__STM32CubeMP13__Projects__STM32MP13XX_CUSTOM_HW__External_Loader__SNOR_Ext_Loader__"
       "FlashLayout_OpenBL_ExtLoaderSNOR_SerialBoot.tsv", {}, 4,
       {"same-address@4", "selected-none@2", "selected-none@3"}, {"external-loader@2"}, {0x01, 0x03, 0x00, 0x04, 0x05},
       ProgrammingService::st_external_loader},
      // ST's OTP/PMIC utility: one 'P' none line, no final newline.
      {"STMicroelectronics__STM32PRGFW-UTIL__Projects__STM32MP15xx__Binary__FlashLayout_STM32PRGFW_UTIL.tsv", {}, 1,
       {"selected-none@2"}, {"external-loader@2"}, {0x01, 0x00}, ProgrammingService::st_external_loader},
      {meta + "FlashLayout_delete-all_stm32mp157f-ev1_sample.tsv", {}, 8, {}, {}, {0x01, 0x03, 0x00}},
      {meta + "FlashLayout_emmc_stm32mp157c-ev1_sample.tsv", {}, 9, {}, {},
       {0x01, 0x03, 0x00, 0x04, 0x05, 0x06, 0x10, 0x11, 0x12, 0x13}},
      {meta + "FlashLayout_emmc_stm32mp157f-ev1_sample.tsv", {}, 13, {}, {},
       {0x01, 0x03, 0x00, 0x04, 0x05, 0x06, 0x07, 0x08, 0x10, 0x11, 0x12, 0x13}},
      {meta + "FlashLayout_nand-4-256-1024_stm32mp157f-ev1_sample.tsv", {}, 11, {}, {},
       {0x01, 0x03, 0x00, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10}},
      {meta + "FlashLayout_nor-nand-4-256_stm32mp157c-ev1_sample.tsv", {}, 15, {}, {},
       {0x01, 0x03, 0x00, 0x04, 0x05, 0x06, 0x21}},
      {meta + "FlashLayout_nor-sdcard_stm32mp157f-ev1_sample.tsv", {}, 14, {}, {},
       {0x01, 0x03, 0x00, 0x04, 0x05, 0x06, 0x07, 0x08, 0x10, 0x11, 0x12, 0x13}},
      {meta + "FlashLayout_sdcard_stm32mp157f-ev1_sample.tsv", {}, 13, {}, {},
       {0x01, 0x03, 0x00, 0x04, 0x05, 0x06, 0x07, 0x08, 0x10, 0x11, 0x12, 0x13}},
      // Buildroot: placeholders filled by the build system.
      {"bootlin__buildroot-external-st__board__stmicroelectronics__stm32mp1__flash.tsv", {}, 3,
       {"unresolved-placeholder@2", "unresolved-placeholder@3"}, {}, {0x01, 0x03, 0x00, 0x10}},
      {"bootlin__buildroot-external-st__board__stmicroelectronics__stm32mp1__flash.tsv", mp1_defines, 3, {}, {},
       {0x01, 0x03, 0x00, 0x10}},
      {"bootlin__buildroot-external-st__board__stmicroelectronics__stm32mp2__flash.tsv", {}, 4,
       {"unresolved-placeholder@2", "unresolved-placeholder@3", "unresolved-placeholder@4"}, {},
       {0x01, 0x02, 0x03, 0x00, 0x10}},
      {"bootlin__buildroot-external-st__board__stmicroelectronics__stm32mp2__flash.tsv", mp2_defines, 4, {}, {},
       {0x01, 0x02, 0x03, 0x00, 0x10}},
      {"bootlin__buildroot-external-st__board__stmicroelectronics__stm32mp2__flash_nor_emmc.tsv", {}, 5,
       {"unresolved-placeholder@2", "unresolved-placeholder@3", "unresolved-placeholder@4"}, {},
       {0x01, 0x02, 0x03, 0x00, 0x04, 0x10}},
      {"bootlin__buildroot-external-st__board__stmicroelectronics__stm32mp2__flash_nor_emmc.tsv", mp2_defines, 5, {}, {},
       {0x01, 0x02, 0x03, 0x00, 0x04, 0x10}},
      // CRLF, SPDX comments, a blank line; one none line: an "empty" layout U-Boot accepts.
      {"js216__stm32mp135_test_board__baremetal__msc_boot__scripts__flash.tsv", {}, 1, {}, {}, {0x01, 0x00}},
      // User eMMC layout; device phase 0x02 is programmed by U-Boot right after the layout.
      {"ravi-chandra-t__sts-test__flash.tsv", {}, 5,
       {"unresolved-placeholder@2", "unresolved-placeholder@4", "unresolved-placeholder@5"}, {},
       {0x01, 0x03, 0x00, 0x02, 0x04, 0x10}},
      {"ravi-chandra-t__sts-test__flash.tsv", {{"ATFBIN", "tf-a.stm32"}}, 5, {}, {}, {0x01, 0x03, 0x00, 0x02, 0x04, 0x10}},
  };
  return table;
}

std::filesystem::path real_dir() { return mp1boot::test::data_dir() / "layouts" / "real"; }

class RealLayout : public ::testing::TestWithParam<Verdict> {};

TEST_P(RealLayout, Verdict) {
  const Verdict& v = GetParam();
  ParseOptions parse_options;
  parse_options.defines = v.defines;
  const FlashLayout layout = load_layout(real_dir() / v.file, parse_options);
  const auto checks = check_layout(layout, no_binaries());
  EXPECT_EQ(layout.entries.size(), v.entries);
  EXPECT_EQ(findings(layout, checks, Severity::error), v.errors);
  EXPECT_EQ(findings(layout, checks, Severity::warning), v.warnings);
  std::vector<std::uint32_t> order;
  for (const auto& step : programming_order(layout)) order.push_back(step.phase);
  EXPECT_EQ(order, v.order);
  EXPECT_EQ(intended_service(layout), v.service);
  if (v.errors.empty()) {
    EXPECT_NO_THROW(require_ok(layout, checks));
  } else {
    EXPECT_THROW(require_ok(layout, checks), LayoutError);
  }
}

std::string test_name(const ::testing::TestParamInfo<Verdict>& info) {
  std::string name = std::to_string(info.index) + "_";
  for (char c : info.param.file) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name.substr(0, 80);
}

INSTANTIATE_TEST_SUITE_P(Files, RealLayout, ::testing::ValuesIn(verdicts()), test_name);

TEST(RealLayouts, EveryFileHasAVerdict) {
  std::set<std::string> in_table;
  for (const auto& v : verdicts()) in_table.insert(v.file);
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(real_dir()))
    if (entry.path().extension() == ".tsv") on_disk.insert(entry.path().filename().string());
  EXPECT_EQ(on_disk.size(), 15u);
  EXPECT_EQ(in_table, on_disk);
  EXPECT_TRUE(std::filesystem::exists(real_dir() / "SOURCES.md"));
}

// Facts the files were chosen for.
TEST(RealLayouts, SixtyFourBitOffsetsAndBootPartitions) {
  const auto sd = load_layout(real_dir() / (meta + "FlashLayout_sdcard_stm32mp157f-ev1_sample.tsv"));
  ASSERT_NE(sd.find(0x13), nullptr);
  EXPECT_EQ(sd.find(0x13)->offset, 0x105984400ull);
  EXPECT_EQ(sd.find(0x13)->line, 14u);
  const auto emmc = load_layout(real_dir() / (meta + "FlashLayout_emmc_stm32mp157f-ev1_sample.tsv"));
  EXPECT_EQ(emmc.find(0x04)->hw_partition, 1);
  EXPECT_EQ(emmc.find(0x05)->hw_partition, 2);
}

TEST(RealLayouts, SdCardLayoutOnASmallCard) {
  const auto sd = load_layout(real_dir() / (meta + "FlashLayout_sdcard_stm32mp157f-ev1_sample.tsv"));
  CheckOptions o = no_binaries();
  o.device_sizes["mmc0"] = 4ull << 30;  // userfs starts above 4 GiB
  EXPECT_EQ(findings(check_layout(sd, o), Severity::error), V({"offset-beyond-device@14"}));
  o.device_sizes["mmc0"] = 8ull << 30;
  EXPECT_TRUE(check_layout(sd, o).empty());
  EXPECT_EQ(partition_size(sd, *sd.find(0x13), o), (8ull << 30) - 35 * 512 - 0x105984400ull);
}

TEST(RealLayouts, EmmcLayoutsKeepTheEmmcEraseGroup) {
  CheckOptions o = no_binaries();
  o.erase_sizes["mmc1"] = 512 * 1024;
  for (const char* f : {"FlashLayout_emmc_stm32mp157f-ev1_sample.tsv", "FlashLayout_emmc_stm32mp157c-ev1_sample.tsv"}) {
    const auto l = load_layout(real_dir() / (meta + f));
    EXPECT_TRUE(check_layout(l, o).empty()) << f;
  }
}

TEST(RealLayouts, MickledoreTypesNeedUBoot2023_10) {
  const auto l = load_layout(real_dir() / (meta + "FlashLayout_emmc_stm32mp157f-ev1_sample.tsv"));
  CheckOptions o = no_binaries();
  o.uboot_version = "2022.10";
  EXPECT_EQ(findings(check_layout(l, o), Severity::error),
            V({"type-too-new@10", "type-too-new@6", "type-too-new@7"}));
}

TEST(RealLayouts, NandLayoutFitsA256MiBNand) {
  const auto l = load_layout(real_dir() / (meta + "FlashLayout_nand-4-256-1024_stm32mp157f-ev1_sample.tsv"));
  CheckOptions o = no_binaries();
  o.device_sizes["nand0"] = 256ull << 20;
  o.erase_sizes["nand0"] = 256 * 1024;
  EXPECT_TRUE(check_layout(l, o).empty());
  EXPECT_EQ(partition_size(l, *l.find(0x04), o), 0x80000u);
  EXPECT_EQ(partition_size(l, *l.find(0x10), o), (256ull << 20) - 0x01200000);
}

}  // namespace
}  // namespace mp1boot::image::test
