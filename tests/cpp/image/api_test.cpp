// SPDX-License-Identifier: MIT
// Flash layout API around the rules: loading a file, finding lines, the order the device asks for
// them, partition sizes, and the exception require_ok throws.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "layout_test_util.hpp"
#include "mp1boot/error.hpp"
#include "support/paths.hpp"

namespace mp1boot::image::test {
namespace {

std::vector<std::uint32_t> phases(const FlashLayout& l) {
  std::vector<std::uint32_t> out;
  for (const auto& s : programming_order(l)) out.push_back(s.phase);
  return out;
}

TEST(LayoutLoad, SampleFileWithItsBinaries) {
  const auto dir = mp1boot::test::data_dir() / "layouts" / "sample";
  const auto l = load_layout(dir / "flash.tsv");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 7u);
  EXPECT_EQ(l.file, dir / "flash.tsv");
  EXPECT_EQ(l.find(0x10)->binary_path, dir / "images" / "bootfs.img");
  EXPECT_TRUE(check_layout(l).empty());  // binaries present and fitting
}

TEST(LayoutLoad, OversizedLayoutIsRefusedBeforeReadingAndNonFilesAreErrors) {
  const auto dir = mp1boot::test::temp_dir("layout-kinds");
  const auto big = dir / "big.tsv";
  { std::ofstream(big, std::ios::binary).put('#'); }
  std::filesystem::resize_file(big, 4ull << 30);  // sparse: reading it would take 4 GiB
  const FlashLayout l = load_layout(big);
  EXPECT_EQ(findings(l.diagnostics, Severity::error), std::vector<std::string>({"layout-too-large@0"}));
  EXPECT_NE(l.diagnostics.at(0).message.find("4294967296 bytes"), std::string::npos) << l.diagnostics.at(0).message;
  const auto fifo = dir / "pipe.tsv";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::filesystem::path p : {fifo, dir, std::filesystem::path("/dev/null")}) {
    try {
      load_layout(p);
      FAIL() << p << ": no exception";
    } catch (const LayoutError& e) {
      EXPECT_EQ(e.code(), errc::file_not_found) << e.what();
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
      EXPECT_EQ(e.context().file, p.string());
    }
  }
}

TEST(LayoutLoad, MissingFileThrowsFileNotFound) {
  const auto path = mp1boot::test::temp_dir("layout-missing") / "nope.tsv";
  try {
    load_layout(path);
    FAIL() << "no exception";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::file_not_found);
    EXPECT_EQ(e.context().file, path.string());
    EXPECT_NE(std::string(e.what()).find("nope.tsv"), std::string::npos);
  }
}

TEST(LayoutFind, FirstLineWithTheIdAndFirstNoneLine) {
  const auto l = parse("P\t0x03\tfip-a\tFIP\tmmc0\t0x4400\ta\n-\t0x03\tfip\tFIP\tnone\t0x0\tb\n-\t0x03\tfip2\tFIP\tnone\t0x0\tc\n");
  ASSERT_NE(l.find(0x03), nullptr);
  EXPECT_EQ(l.find(0x03)->line, 1u);
  EXPECT_EQ(l.find_none(0x03)->line, 2u);
  EXPECT_EQ(l.find(0x04), nullptr);
  EXPECT_EQ(l.find_none(0x04), nullptr);
}

TEST(LayoutOrder, RomAndTfaPhasesThenLayoutThenAscendingIds) {
  const auto l = parse(
      "P\t0x21\tubifs\tSystem\tnand0\t0x600000\tu\n"
      "-\t0x03\tfip\tFIP\tnone\t0x0\tf\n"
      "-\t0x01\tfsbl\tBinary\tnone\t0x0\tt\n"
      "P\t0x10\tboot\tSystem\tnand0\t0x200000\tb\n"
      "PE\t0x11\tempty\tSystem\tnand0\t0x400000\tnone\n"
      "PED\t0x12\tgone\tSystem\tnand0\t0x500000\tnone\n"
      "-\t0x13\tkeep\tSystem\tnand0\t0x580000\tk\n"
      "PD\t0x04\tfsbl1\tBinary\tnand0\t0x0\tt\n");
  EXPECT_EQ(phases(l), (std::vector<std::uint32_t>{0x01, 0x03, 0x00, 0x04, 0x10, 0x21}));
  const auto steps = programming_order(l);
  EXPECT_EQ(steps[0].entry, &l.entries[2]);
  EXPECT_EQ(steps[2].entry, nullptr);
  EXPECT_EQ(steps[3].entry, &l.entries[7]);
}

TEST(LayoutOrder, Mp2DdrFipPhaseComesBetweenFsblAndFip) {
  const auto l = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\tt\n-\t0x03\tfip\tFIP\tnone\t0x0\tf\n-\t0x02\tfip-ddr\tFIP\tnone\t0x0\td\n"
                       "P\t0x10\tall\tRawImage\tmmc0\t0x0\ts\n");
  EXPECT_EQ(phases(l), (std::vector<std::uint32_t>{0x01, 0x02, 0x03, 0x00, 0x10}));
}

TEST(LayoutSize, DistanceToTheNextPartitionOfTheSameDeviceAndHwPartition) {
  const auto l = parse(std::string(boot_lines) +
                       "P\t0x04\tfsbl1\tBinary\tmmc1\tboot1\ta\n"
                       "P\t0x10\tb\tSystem\tmmc1\t0x100000\tb\n"
                       "P\t0x11\ta\tSystem\tmmc1\t0x80000\ta\n"
                       "P\t0x12\tc\tSystem\tmmc0\t0x90000\tc\n"
                       "P\t0x13\tall\tRawImage\tnor0\t0x0\tr\n");
  CheckOptions o;
  EXPECT_EQ(partition_size(l, *l.find(0x11), o), 0x80000u);  // sorted by offset, not by line
  EXPECT_EQ(partition_size(l, *l.find(0x10), o), std::nullopt);  // last, device size unknown
  EXPECT_EQ(partition_size(l, *l.find(0x04), o), std::nullopt);  // boot size unknown
  EXPECT_EQ(partition_size(l, *l.find(0x13), o), std::nullopt);
  EXPECT_EQ(partition_size(l, *l.find(0x01), o), std::nullopt);  // IP none
  o.device_sizes = {{"mmc1", 0x200000}, {"mmc1:boot", 0x400000}, {"nor0", 0x4000000}};
  EXPECT_EQ(partition_size(l, *l.find(0x10), o), 0x200000u - 35 * 512 - 0x100000u);
  EXPECT_EQ(partition_size(l, *l.find(0x04), o), 0x400000u);
  EXPECT_EQ(partition_size(l, *l.find(0x13), o), 0x4000000u);
  EXPECT_EQ(partition_size(l, *l.find(0x12), o), std::nullopt);  // mmc0 size still unknown
}

TEST(LayoutRequire, SyntaxErrorsListEveryLine) {
  const auto l = parse_layout(std::string(boot_lines) + "X\t0x10\ta\tSystem\tmmc0\t0x4400\ta\nP\t0x11\tb\tSys\tmmc0\t0x8800\tb\n",
                              "board/flash.tsv");
  try {
    require_ok(l, check_layout(l, no_binaries()));
    FAIL() << "no exception";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::layout_syntax);
    EXPECT_EQ(e.context().layout_line, 3u);
    const std::string what = e.what();
    EXPECT_NE(what.find("board/flash.tsv:3: invalid option 'X'"), std::string::npos) << what;
    EXPECT_NE(what.find("board/flash.tsv:4: type parsing error"), std::string::npos) << what;
  }
}

TEST(LayoutRequire, RuleErrorsOnly) {
  const auto l = parse_layout(std::string(boot_lines) + "P\t0x10\ta\tSystem\tmmc0\t0x4400\ta\nP\t0x10\tb\tSystem\tmmc0\t0x8800\tb\n",
                              "flash.tsv");
  ASSERT_TRUE(l.ok());
  const auto checks = check_layout(l, no_binaries());
  try {
    require_ok(l, checks);
    FAIL() << "no exception";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::layout_rule);
    EXPECT_NE(std::string(e.what()).find("flash.tsv:3: duplicated phase 0x10"), std::string::npos) << e.what();
  }
}

TEST(LayoutRequire, WarningsDoNotThrow) {
  const auto l = parse(std::string(boot_lines) + "P\t0x10\ta\tSystem\tmmc0\t0x8800\ta\nP\t0x11\tb\tSystem\tmmc0\t0x4400\tb\n");
  const auto checks = check_layout(l, no_binaries());
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].severity, Severity::warning);
  EXPECT_NO_THROW(require_ok(l, checks));
}

}  // namespace
}  // namespace mp1boot::image::test
