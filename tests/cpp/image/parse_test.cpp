// SPDX-License-Identifier: MIT
// Flash layout syntax: how U-Boot splits lines and columns, each column's rules, placeholders,
// the STM32 v1 header, size and line limits. Every rule has a failing case with its line number.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "layout_test_util.hpp"
#include "mp1boot/bytes.hpp"

namespace mp1boot::image::test {
namespace {

using V = std::vector<std::string>;
using namespace std::string_literals;

std::vector<std::string> errors(const FlashLayout& l) { return findings(l.diagnostics, Severity::error); }
std::vector<std::string> warnings(const FlashLayout& l) { return findings(l.diagnostics, Severity::warning); }

// --- lines and separators -------------------------------------------------------------------

TEST(LayoutSyntax, RunsOfTabsAreOneSeparator) {
  const auto l = parse("P\t\t0x04\t\t\tfsbl1\tBinary\t\tmmc0\t0x4400\t\t\tfsbl.stm32\n");
  ASSERT_TRUE(l.ok()) << errors(l).size();
  ASSERT_EQ(l.entries.size(), 1u);
  const auto& e = l.entries[0];
  EXPECT_EQ(e.line, 1u);
  EXPECT_EQ(e.option, "P");
  EXPECT_EQ(e.id, 0x04u);
  EXPECT_EQ(e.name, "fsbl1");
  EXPECT_EQ(e.type, "Binary");
  EXPECT_EQ(e.ip, "mmc0");
  EXPECT_EQ(e.device_kind, "mmc");
  EXPECT_EQ(e.device_index, 0);
  EXPECT_EQ(e.offset, 0x4400u);
  EXPECT_EQ(e.binary, "fsbl.stm32");
  EXPECT_EQ(e.binary_path, std::filesystem::path("dir/fsbl.stm32"));
}

TEST(LayoutSyntax, SpacesAreData) {
  const auto l = parse("P 0x04\tfsbl1\tBinary\tmmc0\t0x4400\n");  // no TAB after P: 5 columns
  // U-Boot parses each column as it ends: "P 0x04" is an invalid option (its first error), and
  // every column after it is one to the left.
  EXPECT_EQ(errors(l), V({"invalid-id@1", "invalid-ip@1", "invalid-option@1", "invalid-type@1", "too-few-columns@1"}));
}

TEST(LayoutSyntax, CrlfLineEndings) {
  const auto l = parse("#Opt\tId\r\n-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a.stm32\r\n\r\nP\t0x10\tboot\tSystem\tmmc0\t0x4400\tb.ext4\r\n");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(l.entries[0].binary, "tf-a.stm32");
  EXPECT_EQ(l.entries[1].line, 4u);
  EXPECT_EQ(l.entries[1].binary, "b.ext4");
  EXPECT_TRUE(l.diagnostics.empty());
}

TEST(LayoutSyntax, CarriageReturnInsideALineEndsTheColumn) {
  const auto l = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a\r.stm32\n");
  ASSERT_EQ(l.entries.size(), 1u);
  EXPECT_EQ(l.entries[0].binary, "tf-a");
  EXPECT_EQ(warnings(l), V({"stray-cr@1"}));
}

TEST(LayoutSyntax, CommentOnlyAtFirstCharacter) {
  const auto l = parse("# header\n\t#also a comment after leading TABs\nP\t0x10\t#name\tBinary\tmmc0\t0x4400\tx.bin\n");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 1u);
  EXPECT_EQ(l.entries[0].line, 3u);
  EXPECT_EQ(l.entries[0].name, "#name");  // '#' elsewhere is data
}

TEST(LayoutSyntax, BlankLinesCountInLineNumbers) {
  const auto l = parse("\n\t\t\n\nP\t0x10\tboot\tSystem\tmmc0\t0x4400\tb.ext4\nX\t0x11\tb\tSystem\tmmc0\t0x8800\tc\n");
  ASSERT_EQ(l.entries.size(), 1u);
  EXPECT_EQ(l.entries[0].line, 4u);
  EXPECT_EQ(errors(l), V({"invalid-option@5"}));
}

TEST(LayoutSyntax, NoFinalNewline) {
  const auto l = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a.stm32\nP\t0x10\tboot\tSystem\tmmc0\t0x4400\tb.ext4");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(l.entries[1].binary, "b.ext4");
}

TEST(LayoutSyntax, TrailingTabBeforeAnotherLineIsAnError) {
  const auto l = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a.stm32\t\n# c\n\nP\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\n");
  EXPECT_EQ(errors(l), V({"trailing-tab@1"}));
  const Diagnostic* d = find_rule(l.diagnostics, "trailing-tab");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("line 2"), std::string::npos) << d->message;  // the comment is read as data
  EXPECT_EQ(l.entries.size(), 2u);  // the host still reads both lines
}

TEST(LayoutSyntax, TrailingTabOnTheLastUnselectedLineIsAWarning) {
  const auto l = parse("P\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\n-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a.stm32\t\r\n\n");
  EXPECT_TRUE(l.ok());
  EXPECT_EQ(warnings(l), V({"trailing-tab@2"}));
}

TEST(LayoutSyntax, TrailingTabOnTheLastSelectedLineIsAnError) {
  const auto l = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a.stm32\nP\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\t\n");
  EXPECT_EQ(errors(l), V({"trailing-tab@2"}));
  // Two TABs, or a NUL after the TAB: U-Boot's buffer does not end right after the TAB.
  EXPECT_EQ(errors(parse("P\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\t\t")), V({"no-partition@0", "trailing-tab@1"}));
  EXPECT_EQ(errors(parse("P\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\t\0"s)),
            V({"no-partition@0", "trailing-tab@1"}));
}

// U-Boot's parse_flash_layout ends a line when the byte after a column separator is the end of
// its buffer: a last line whose final byte is one TAB after a column is complete (the simulated
// U-Boot, written from that loop, agrees; layout_differential_test checks the two on generated
// inputs).
TEST(LayoutSyntax, OneTabAsTheLastByteOfTheFileCompletesTheLine) {
  const auto l = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a.stm32\nP\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\t");
  EXPECT_TRUE(l.ok());
  EXPECT_EQ(warnings(l), V({"trailing-tab-at-end@2"}));
  EXPECT_EQ(l.entries.size(), 2u);
}

TEST(LayoutSyntax, TrailingTabOnTheOnlyLineLeavesNoPartition) {
  const auto l = parse("#c\n-\t0x01\tfsbl\tBinary\tnone\t0x0\t\t\n");
  EXPECT_EQ(warnings(l), V({"trailing-tab@2"}));
  EXPECT_EQ(errors(l), V({"no-partition@0"}));
}

TEST(LayoutSyntax, EmptyOrCommentOnlyLayoutHasNoPartition) {
  EXPECT_EQ(errors(parse("")), V({"no-partition@0"}));
  EXPECT_EQ(errors(parse("# only\n\n")), V({"no-partition@0"}));
}

TEST(LayoutSyntax, AtLeastSixColumns) {
  const auto l = parse(std::string(boot_lines) + "P\t0x10\tboot\tSystem\tmmc0\n");
  EXPECT_EQ(errors(l), V({"too-few-columns@3"}));
}

TEST(LayoutSyntax, BinaryColumnIsOptionalForTheParser) {
  const auto l = parse("PE\t0x10\tboot\tSystem\tmmc0\t0x4400\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.entries[0].binary, "");
  EXPECT_TRUE(l.entries[0].binary_path.empty());
}

// --- Opt --------------------------------------------------------------------------------------

TEST(LayoutOption, LettersInAnyOrder) {
  const auto l = parse("DP\t0x10\ta\tBinary\tmmc0\t0x4400\tx\nPED\t0x11\tb\tBinary\tmmc0\t0x8800\tnone\n"
                       "-\t0x12\tc\tBinary\tmmc0\t0xcc00\tx\nPPE\t0x13\td\tBinary\tmmc0\t0x11000\tnone\n");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l.entries[0].select && l.entries[0].erase && !l.entries[0].empty);
  EXPECT_TRUE(l.entries[1].select && l.entries[1].erase && l.entries[1].empty);
  EXPECT_FALSE(l.entries[2].select);
  EXPECT_TRUE(l.entries[3].select && l.entries[3].empty);
}

TEST(LayoutOption, OtherLettersAreInvalid) {
  const auto l = parse(std::string(boot_lines) + "PS\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\n--\t0x11\tb\tSystem\tmmc0\t0x8800\tb\n"
                       "p\t0x12\tc\tSystem\tmmc0\t0xcc00\tb\n");
  EXPECT_EQ(errors(l), V({"invalid-option@3", "invalid-option@4", "invalid-option@5"}));
  EXPECT_NE(find_rule(l.diagnostics, "invalid-option")->message.find("'S'"), std::string::npos);
  EXPECT_EQ(find_rule(l.diagnostics, "invalid-option")->column, "Opt");
}

TEST(LayoutOption, EOrDWithoutPIsMissingP) {
  const auto l = parse(std::string(boot_lines) + "E\t0x10\tboot\tSystem\tmmc0\t0x4400\tb\nED\t0x11\tb\tSystem\tmmc0\t0x8800\tb\n");
  EXPECT_EQ(errors(l), V({"missing-p@3", "missing-p@4"}));
}

// --- Id ---------------------------------------------------------------------------------------

TEST(LayoutId, AutomaticBase) {
  const auto l = parse("-\t0x1\ta\tBinary\tnone\t0x0\tx\n-\t16\tb\tBinary\tnone\t0x0\tx\n-\t010\tc\tBinary\tnone\t0x0\tx\n"
                       "-\t0XF0\td\tBinary\tnone\t0x0\tx\n-\t0\te\tBinary\tnone\t0x0\tx\n-\t07\tf\tBinary\tnone\t0x0\tx\n");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 6u);
  EXPECT_EQ(l.entries[0].id, 1u);
  EXPECT_EQ(l.entries[1].id, 16u);
  EXPECT_EQ(l.entries[2].id, 8u);  // octal
  EXPECT_EQ(l.entries[3].id, 0xF0u);
  EXPECT_EQ(l.entries[4].id, 0u);
  EXPECT_EQ(l.entries[5].id, 7u);
  EXPECT_EQ(warnings(l), V({"octal-id@3"}));  // "07" reads the same either way
}

TEST(LayoutId, InvalidValues) {
  const auto l = parse("-\t0xF1\ta\tBinary\tnone\t0x0\tx\n-\t241\tb\tBinary\tnone\t0x0\tx\n-\t08\tc\tBinary\tnone\t0x0\tx\n"
                       "-\tfsbl\td\tBinary\tnone\t0x0\tx\n-\t0x1g\te\tBinary\tnone\t0x0\tx\n-\t-1\tf\tBinary\tnone\t0x0\tx\n"
                       "-\t0x100000000000000001\tg\tBinary\tnone\t0x0\tx\n");
  EXPECT_EQ(errors(l), V({"invalid-id@1", "invalid-id@2", "invalid-id@3", "invalid-id@4", "invalid-id@5",
                                     "invalid-id@6", "invalid-id@7"}));
  EXPECT_TRUE(l.entries.empty());
}

// --- Name -------------------------------------------------------------------------------------

TEST(LayoutName, AtMostSixteenCharacters) {
  const auto l = parse("P\t0x10\t0123456789abcdef\tSystem\tmmc0\t0x4400\tb\nP\t0x11\t0123456789abcdefg\tSystem\tmmc0\t0x8800\tb\n");
  EXPECT_EQ(errors(l), V({"name-too-long@2"}));
  ASSERT_EQ(l.entries.size(), 1u);
  EXPECT_EQ(l.entries[0].name.size(), 16u);
}

// --- Type -------------------------------------------------------------------------------------

TEST(LayoutType, KnownTypes) {
  std::string text;
  std::uint64_t offset = 0x4400;
  int id = 0x10;
  for (const char* type : {"Binary", "Binary(2)", "FIP", "FWU_MDATA", "ENV", "System", "FileSystem", "ESP", "RawImage"}) {
    text += "-\t" + std::to_string(id++) + "\tp\t" + type + "\tnone\t" + std::to_string(offset) + "\tx\n";
  }
  const auto l = parse(text);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 9u);
  EXPECT_EQ(l.entries[1].copies, 2u);
  EXPECT_EQ(l.entries[1].base_type(), "Binary");
  EXPECT_EQ(l.entries[0].copies, 1u);
}

TEST(LayoutType, UnknownTypesAndMalformedBinaryN) {
  const auto l = parse("-\t1\ta\tbinary\tnone\t0\tx\n-\t2\tb\tBinary(\tnone\t0\tx\n-\t3\tc\tBinaryX\tnone\t0\tx\n"
                       "-\t4\td\tBinary(2\tnone\t0\tx\n-\t5\te\tFs\tnone\t0\tx\n-\t6\tf\tBinary(2)x\tnone\t0\tx\n");
  EXPECT_EQ(errors(l), V({"invalid-type@1", "invalid-type@2", "invalid-type@3", "invalid-type@4",
                                     "invalid-type@5", "invalid-type@6"}));
}

TEST(LayoutType, OddCopyCountsAreReadLikeUBoot) {
  const auto l = parse("-\t1\ta\tBinary()\tnone\t0\tx\n-\t2\tb\tBinary(0x2)\tnone\t0\tx\n-\t3\tc\tBinary(3)\tnone\t0\tx\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.entries[0].copies, 1u);  // U-Boot reads 0 copies and writes once
  EXPECT_EQ(l.entries[1].copies, 2u);  // the 0x prefix still selects hex
  EXPECT_EQ(l.entries[2].copies, 3u);
  EXPECT_EQ(warnings(l), V({"copies-parse@1", "copies-parse@2"}));
}

// --- IP ---------------------------------------------------------------------------------------

TEST(LayoutIp, DeviceNamesAndIndexes) {
  const auto l = parse("P\t1\ta\tBinary\tmmc2\t0x4400\tx\nP\t2\tb\tBinary\tnor1\t0\tx\nP\t3\tc\tBinary\tnand0\t0\tx\n"
                       "P\t4\td\tBinary\tspi-nand9\t0\tx\nP\t5\te\tBinary\tram\t0xc0000000\tx\n-\t6\tf\tBinary\tnone\t0\tx\n");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 6u);
  EXPECT_EQ(l.entries[0].device_kind, "mmc");
  EXPECT_EQ(l.entries[0].device_index, 2);
  EXPECT_EQ(l.entries[1].device_kind, "nor");
  EXPECT_EQ(l.entries[2].device_kind, "nand");
  EXPECT_EQ(l.entries[3].device_kind, "spi-nand");
  EXPECT_EQ(l.entries[3].device_index, 9);
  EXPECT_EQ(l.entries[4].device_kind, "ram");
  EXPECT_EQ(l.entries[5].device_kind, "none");
  EXPECT_EQ(l.entries[5].device_index, -1);
  EXPECT_FALSE(l.entries[5].is_device());
}

TEST(LayoutIp, InvalidNames) {
  const auto l = parse("P\t1\ta\tBinary\tmmc10\t0x4400\tx\nP\t2\tb\tBinary\tsd0\t0\tx\nP\t3\tc\tBinary\tmmc\t0\tx\n"
                       "P\t4\td\tBinary\tnandX\t0\tx\n-\t5\te\tBinary\tNONE\t0\tx\n");
  EXPECT_EQ(errors(l), V({"invalid-ip@1", "invalid-ip@2", "invalid-ip@3", "invalid-ip@4", "invalid-ip@5"}));
}

TEST(LayoutIp, RamWithASuffixIsStillRam) {
  const auto l = parse("P\t1\ta\tBinary\tram0\t0xc2000000\tx\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.entries[0].device_kind, "ram");
  EXPECT_EQ(warnings(l), V({"ip-ram@1"}));
}

// --- Offset -----------------------------------------------------------------------------------

TEST(LayoutOffset, HexDecimalAndBootPartitions) {
  const auto l = parse("P\t1\ta\tBinary\tmmc1\tboot1\tx\nP\t2\tb\tBinary\tmmc1\tboot2\tx\nP\t3\tc\tBinary\tmmc1\t0x105984400\tx\n"
                       "P\t4\td\tBinary\tmmc1\t17408\tx\nP\t5\te\tBinary\tmmc1\t017408\tx\nP\t6\tf\tBinary\tmmc1\t0X44\tx\n"
                       "P\t7\tg\tBinary\tmmc1\t0xFFFFFFFFFFFFFFFF\tx\n");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.entries.size(), 7u);
  EXPECT_EQ(l.entries[0].hw_partition, 1);
  EXPECT_FALSE(l.entries[0].offset.has_value());
  EXPECT_EQ(l.entries[1].hw_partition, 2);
  EXPECT_EQ(l.entries[2].offset, 0x105984400ull);  // above 4 GiB
  EXPECT_EQ(l.entries[3].offset, 17408u);
  EXPECT_EQ(l.entries[4].offset, 17408u);  // decimal even with a leading 0 (U-Boot >= 2023.10)
  EXPECT_EQ(l.entries[5].offset, 0x44u);
  EXPECT_EQ(l.entries[6].offset, UINT64_MAX);
  EXPECT_EQ(l.entries[4].offset_text, "017408");
}

TEST(LayoutOffset, InvalidOffsets) {
  const auto l = parse("-\t1\ta\tBinary\tnone\tnone\tx\nP\t2\tb\tBinary\tmmc1\tboot3\tx\nP\t3\tc\tBinary\tmmc1\tboot\tx\n"
                       "P\t4\td\tBinary\tmmc1\t1k\tx\nP\t5\te\tBinary\tmmc1\t0x10000000000000000\tx\nP\t6\tf\tBinary\tmmc1\t-4\tx\n");
  EXPECT_EQ(errors(l), V({"invalid-offset@1", "invalid-offset@2", "invalid-offset@3", "invalid-offset@4",
                                     "invalid-offset@5", "invalid-offset@6"}));
  EXPECT_NE(find_rule(l.diagnostics, "invalid-offset")->message.find("'none' is not an offset"), std::string::npos);
}

// --- Binary and placeholders ------------------------------------------------------------------

TEST(LayoutBinary, PlaceholdersResolvedFromDefines) {
  ParseOptions options;
  options.defines = {{"ATFBIN", "tf-a.stm32"}, {"DIR", "out"}};
  const auto l = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\t%ATFBIN%\nP\t0x10\tb\tSystem\tmmc0\t0x4400\t%DIR%/100%.img\n", options);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.entries[0].binary, "tf-a.stm32");
  EXPECT_EQ(l.entries[0].binary_path, std::filesystem::path("dir/tf-a.stm32"));
  EXPECT_EQ(l.entries[1].binary, "out/100%.img");
}

TEST(LayoutBinary, UnresolvedPlaceholderNamesItAndTheLine) {
  const auto l = parse(std::string(boot_lines) + "P\t0x10\tb\tSystem\tmmc0\t0x4400\t%ROOTFS%\n");
  EXPECT_EQ(errors(l), V({"unresolved-placeholder@3"}));
  const Diagnostic* d = find_rule(l.diagnostics, "unresolved-placeholder");
  EXPECT_NE(d->message.find("%ROOTFS%"), std::string::npos);
  EXPECT_EQ(d->column, "Binary");
  ASSERT_EQ(l.entries.size(), 3u);
  EXPECT_TRUE(l.entries[2].binary_path.empty());
}

TEST(LayoutBinary, PathsResolveAgainstTheLayoutFolder) {
  const auto l = parse_layout("-\t1\ta\tBinary\tnone\t0\t/abs/tf-a.stm32\n-\t3\tb\tFIP\tnone\t0\tnone\n-\t4\tc\tFIP\tnone\t0\tsub/f.bin\n",
                              "/some/where/flash.tsv");
  ASSERT_EQ(l.entries.size(), 3u);
  EXPECT_EQ(l.entries[0].binary_path, std::filesystem::path("/abs/tf-a.stm32"));
  EXPECT_TRUE(l.entries[1].binary_path.empty());
  EXPECT_EQ(l.entries[2].binary_path, std::filesystem::path("/some/where/sub/f.bin"));
}

// --- whole-file limits ------------------------------------------------------------------------

// U-Boot sizes its partition table from the line count before parsing (lines after a newline that
// start with '#' do not count): a comment after the last partition line without a final newline
// leaves no room, and U-Boot refuses with "no enought memory for N part" (found by
// layout_differential_test against the simulated U-Boot).
TEST(LayoutFile, CommentAfterTheLastLineWithoutNewlineLeavesNoRoom) {
  const std::string two = "P\t0x10\ta\tSystem\tmmc0\t0x4400\ta\nP\t0x11\tb\tSystem\tmmc0\t0x8800\tb\n";
  EXPECT_EQ(errors(parse(two + "# end")), V({"no-memory@2"}));
  EXPECT_TRUE(parse(two + "# end\n").ok());
  EXPECT_TRUE(parse(two).ok());
}

TEST(LayoutFile, AtMost256KiB) {
  std::string text(boot_lines);
  text += std::string(256 * 1024, '#');  // one long comment
  const auto l = parse(text);
  EXPECT_EQ(errors(l), V({"layout-too-large@0"}));
  EXPECT_TRUE(parse(text.substr(0, 256 * 1024 - 1) + "\n").ok());
}

std::string many_lines(int count, bool final_newline) {
  std::string text;
  for (int i = 0; i < count; ++i) {
    if (i) text += "\n";
    text += "-\t0x01\tf\tBinary\tnone\t0x0\tx";
  }
  if (final_newline) text += "\n";
  return text;
}

TEST(LayoutFile, AtMost0xF0LinesCountedLikeUBoot) {
  EXPECT_TRUE(parse(many_lines(239, true)).ok());   // U-Boot counts 240
  EXPECT_TRUE(parse(many_lines(240, false)).ok());  // 240
  EXPECT_EQ(errors(parse(many_lines(240, true))), V({"too-many-lines@0"}));  // 241
  EXPECT_TRUE(parse("# a\n# b\n# c\n" + many_lines(238, true)).ok());  // comments after the first line do not count
  // U-Boot only discounts a '#' that follows a newline: a comment on line 1 still counts.
  EXPECT_EQ(errors(parse("# a\n# b\n" + many_lines(239, true))), V({"too-many-lines@0"}));  // 242 - 1
}

Bytes v1_wrapped(std::string_view text, std::uint32_t checksum_delta = 0, std::uint32_t version = 0x00010000) {
  Bytes out(256 + text.size(), 0);  // sized once: GCC 12 misreads an insert that grows it (-Wstringop-overread)
  out[0] = 'S';
  out[1] = 'T';
  out[2] = 'M';
  out[3] = 0x32;
  std::uint32_t sum = 0;
  for (char c : text) sum += static_cast<std::uint8_t>(c);
  store_le32(out.data() + 68, sum + checksum_delta);
  store_le32(out.data() + 72, version);
  store_le32(out.data() + 76, static_cast<std::uint32_t>(text.size()));
  std::copy(text.begin(), text.end(), out.begin() + 256);
  return out;
}

std::string_view as_text(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(LayoutFile, Stm32V1HeaderIsStripped) {
  const Bytes wrapped = v1_wrapped(boot_lines);
  const auto l = parse(as_text(wrapped));
  EXPECT_TRUE(l.ok());
  EXPECT_TRUE(l.stm32_header);
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(l.entries[1].line, 2u);
}

TEST(LayoutFile, Stm32HeaderChecksumAndVersion) {
  const Bytes bad = v1_wrapped(boot_lines, 1);
  EXPECT_EQ(errors(parse(as_text(bad))), V({"layout-checksum@0"}));
  const Bytes v2 = v1_wrapped(boot_lines, 0, 0x00020000);
  EXPECT_EQ(errors(parse(as_text(v2))), V({"header-not-v1@0"}));
  Bytes truncated = v1_wrapped(boot_lines);
  truncated.resize(truncated.size() - 3);
  EXPECT_EQ(errors(parse(as_text(truncated))), V({"header-truncated@0"}));
}

TEST(LayoutFile, UBootStopsAtANulByte) {
  const std::string text = std::string(boot_lines) + "P\t0x10\tb\tSystem\tmmc0\t0x4400\tb\0\n"s +
                           "P\t0x11\tc\tSystem\tmmc0\t0x8800\tc\n";
  const auto l = parse(text);
  EXPECT_EQ(warnings(l), V({"nul-byte@3"}));
  EXPECT_EQ(l.entries.size(), 3u);
}

TEST(LayoutFile, FormatDiagnostic) {
  const Diagnostic d{Severity::error, 7, "Opt", "invalid option 'S' in 'PS'", "invalid-option"};
  EXPECT_EQ(format_diagnostic(d, "a/flash.tsv"), "a/flash.tsv:7: error: Opt: invalid option 'S' in 'PS' [invalid-option]");
  const Diagnostic w{Severity::warning, 0, "", "m", "r"};
  EXPECT_EQ(format_diagnostic(w, ""), "warning: m [r]");
}

}  // namespace
}  // namespace mp1boot::image::test
