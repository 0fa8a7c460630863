// SPDX-License-Identifier: MIT
// U-Boot's flash-layout rules in the device model: the errors a board reports in Get Phase 0xFF
// after the layout's Start (still ACKed), with U-Boot's wording, and the parser's reading of the
// file syntax (comments, CRLF, TAB runs, a TAB before the end of a line, number bases).
#include <gtest/gtest.h>

#include "mp1boot/sim/uboot_uart_layout.hpp"
#include "uboot_helpers.hpp"

namespace mp1boot::sim::test {
namespace {

struct LayoutCase {
  const char* name;
  std::string layout;
  std::string message;
};

std::vector<LayoutCase> layout_cases() {
  const std::string head = "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n";
  return {
      {"duplicate_id",
       head + "P\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\tx\nP\t0x04\tfsbl2\tBinary\tmmc0\t0x44400\tx\n",
       "Layout: duplicated phase 0x4 for part fsbl1 and fsbl2"},
      {"p_on_none", head + "P\t0x01\tfsbl-boot\tBinary\tnone\t0x0\tx\nP\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\tx\n",
       "Layout: selected none phase = 0x1 for part fsbl-boot"},
      {"offset_none", head + "-\t0x01\tfsbl-boot\tBinary\tnone\tnone\tx\n",
       "Layout line 2: invalid offset 'none'"},
      {"not_aligned", head + "P\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\tx\nP\t0x05\tfip\tFIP\tmmc0\t0x44401\tx\n",
       "fip (0x5): not aligned address : 0x44401 on erase size 0x200"},
      {"in_gpt_area", head + "P\t0x04\tfsbl1\tBinary\tmmc0\t0x200\tx\n",
       "fsbl1 (0x4): invalid address 0x200 (min=0x4400)"},
      {"same_address", head + "P\t0x04\ta\tBinary\tnor0\t0x0\tx\nP\t0x05\tb\tBinary\tnor0\t0x0\tx\n",
       "a (0x4): same address : 0x0 == b (0x5): 0x0"},
      {"beyond_device", head + "P\t0x04\ta\tBinary\tnor0\t0x800000\tx\n",
       "a (0x4): invalid address 0x800000 (max=0x400000)"},
      {"invalid_option", head + "PS\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\tx\n",
       "Layout line 2: invalid option 'S' in PS)"},
      {"missing_p", head + "E\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\tx\n", "Layout line 2: missing 'P' in option E"},
      {"phase_too_big", head + "P\t0xF1\tx\tBinary\tmmc0\t0x4400\tx\n", "Layout line 2: invalid phase value = 0xF1"},
      {"phase_zero", head + "P\t0x0\tx\tBinary\tmmc0\t0x4400\tx\n", "Layout: invalid phase = 0x0 for part x"},
      {"long_name", head + "P\t0x04\tabcdefghijklmnopq\tBinary\tmmc0\t0x4400\tx\n",
       "Layout line 2: partition name too long [17]: abcdefghijklmnopq"},
      {"bad_type", head + "P\t0x04\tfsbl1\tbinary\tmmc0\t0x4400\tx\n", "Layout line 2: type parsing error : 'binary'"},
      {"bad_ip", head + "P\t0x04\tfsbl1\tBinary\tmmc10\t0x4400\tx\n", "Layout line 2: ip parsing error: 'mmc10'"},
      {"bad_part", head + "P\t0x04\tfsbl1\tBinary\tmmc1\tboot3\tx\n", "Layout line 2: invalid part 'boot3'"},
      {"few_columns", head + "P\t0x04\tfsbl1\tBinary\tmmc0\n", "Layout line 2: no enought column"},
      {"no_device", head + "P\t0x04\tfsbl1\tBinary\tmmc2\t0x4400\tx\n", "mmc device 2 not found"},
      {"no_mtd", head + "P\t0x04\tfsbl1\tBinary\tspi-nand0\t0x0\tx\n", "MTD device spi-nand0 not found"},
      {"boot_on_nor", head + "P\t0x04\tfsbl1\tBinary\tnor0\tboot1\tx\n",
       "fsbl1 (0x4): hw partition not expected : -1"},
      {"copies_on_mmc", head + "P\t0x04\tfsbl1\tBinary(2)\tmmc0\t0x4400\tx\n",
       "fsbl1 (0x4): multiple binary 2 not supported"},
      {"only_comments", head, "Layout: no partition found"},
      {"too_many_devices",
       "P\t0x04\ta\tBinary\tmmc0\t0x4400\nP\t0x05\tb\tBinary\tmmc1\t0x4400\nP\t0x06\tc\tBinary\tnor0\t0x0\n"
       "P\t0x07\td\tBinary\tnand0\t0x0\nP\t0x08\te\tBinary\tram\t0xC4000000\nP\t0x09\tf\tBinary\tspi-nand0\t0x0\n",
       "Layout: too many device"},
  };
}

class UbootLayoutErrors : public ::testing::TestWithParam<LayoutCase> {};

TEST_P(UbootLayoutErrors, StartIsAckedThenGetPhaseReportsUbootsMessageAndTheBoardResets) {
  UbootRig rig;
  rig.boot_uboot();
  EXPECT_EQ(send_layout(*rig.host, GetParam().layout), "79 79");
  PhaseReply p = get_phase(*rig.host);
  EXPECT_TRUE(p.framed);
  EXPECT_EQ(p.phase, 0xFF);
  EXPECT_EQ(p.address, 0xFFFFFFFFu);
  EXPECT_EQ(p.message, GetParam().message);
  EXPECT_EQ(rig.board->stage(), "halted");
  EXPECT_EQ(rig.hw->events.back().text, "reset after phase 0xFF: " + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(Rules, UbootLayoutErrors, ::testing::ValuesIn(layout_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(UbootLayoutErrors, BadHeaderChecksum) {
  UbootRig rig;
  rig.boot_uboot();
  std::string tsv = sd_layout();
  Bytes image(256, 0);
  store_le32(&image[0], 0x324D5453);
  store_le32(&image[0x44], 0x1234);
  store_le32(&image[0x48], 0x00010000);
  store_le32(&image[0x4C], static_cast<std::uint32_t>(tsv.size()));
  image.insert(image.end(), tsv.begin(), tsv.end());
  ASSERT_TRUE(download_op(*rig.host, image));
  EXPECT_EQ(start(*rig.host), "79 79");
  std::uint32_t sum = 0;
  for (char c : tsv) sum += static_cast<std::uint8_t>(c);
  char expected[80];
  std::snprintf(expected, sizeof expected, "Layout: invalid checksum : 0x%x expected 0x1234", sum);
  EXPECT_EQ(get_phase(*rig.host).message, expected);
}

TEST(UbootLayoutErrors, StartWithoutLayoutData) {
  UbootRig rig;
  rig.boot_uboot();
  EXPECT_EQ(start(*rig.host), "79 79");
  EXPECT_EQ(get_phase(*rig.host).message, "Layout: invalid FlashLayout");
}

// --- the parser on its own -------------------------------------------------------------------

UbootLayoutResult parse(const std::string& text, const UbootLayoutRules& rules = {}) {
  return parse_uboot_layout(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), rules);
}

TEST(UbootLayoutParser, CommentsBlankLinesCrlfAndTabRuns) {
  auto r = parse("#Opt\tId\r\n\r\n\t#indented comment\nP\t\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\tf.bin\tmore\r\n"
                 "-\t0x10\tdata\tFileSystem\tnor0\t65536");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.layout.parts.size(), 2u);
  EXPECT_EQ(r.layout.parts[0].line, 4u);
  EXPECT_EQ(r.layout.parts[0].id, 0x04u);
  EXPECT_EQ(r.layout.parts[0].addr, 0x4400u);
  EXPECT_EQ(r.layout.parts[1].line, 5u);
  EXPECT_EQ(r.layout.parts[1].addr, 65536u);  // decimal
  EXPECT_EQ(r.layout.parts[1].ip_name(), "nor0");
}

TEST(UbootLayoutParser, TabBeforeTheEndOfALineSwallowsTheNewline) {
  // Line 1 ends with a TAB: "P" of line 2 becomes its 7th column, and line 2 loses its first
  // column, so its Id is read as the option.
  auto r = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\t\nP\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\n");
  EXPECT_EQ(r.error, "Layout line 2: invalid option '0' in 0x04)");
  // The last line ending with a TAB is never completed.
  auto last = parse("-\t0x01\tfsbl\tBinary\tnone\t0x0\n-\t0x03\tfip\tFIP\tnone\t0x0\t\n");
  ASSERT_TRUE(last.ok()) << last.error;
  EXPECT_EQ(last.layout.parts.size(), 1u);
}

TEST(UbootLayoutParser, NumberBases) {
  auto octal = parse("P\t010\tx\tBinary\tmmc0\t0x4400\n");
  ASSERT_TRUE(octal.ok()) << octal.error;
  EXPECT_EQ(octal.layout.parts[0].id, 8u);
  auto bare_hex = parse("P\t0x\tx\tBinary\tmmc0\t0x4400\n");  // U-Boot reads "0x" as 0
  ASSERT_TRUE(bare_hex.ok()) << bare_hex.error;
  EXPECT_EQ(bare_hex.layout.parts[0].id, 0u);
  auto decimal = parse("P\t0x04\tx\tBinary\tmmc0\t017408\n");
  ASSERT_TRUE(decimal.ok());
  EXPECT_EQ(decimal.layout.parts[0].addr, 17408u);
  auto old = parse("P\t0x04\tx\tBinary\tmmc0\t042000\n", uboot_layout_rules("2023.04"));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.layout.parts[0].addr, 042000u);  // octal before 2023.07
  EXPECT_EQ(parse("P\t0x04\tx\tBinary(0x3)\tnand0\t0x0\n").layout.parts[0].copies, 3u);
  EXPECT_EQ(parse("P\t4x\tx\tBinary\tmmc0\t0x4400\n").error, "Layout line 1: invalid phase value = 4x");
}

TEST(UbootLayoutParser, DeviceRulesComputeSizes) {
  auto r = parse("P\t0x04\ta\tBinary\tmmc0\t0x4400\nP\t0x05\tb\tRawImage\tmmc1\t0x0\n"
                 "P\t0x06\tc\tBinary\tmmc0\t0x44400\n");
  ASSERT_TRUE(r.ok());
  UbootBoardQuery board;
  board.geometry = [](const std::string& ip) -> std::optional<UbootDeviceGeometry> {
    if (ip == "mmc0" || ip == "mmc1") return UbootDeviceGeometry{1u << 20, 512, 0, 0};
    return std::nullopt;
  };
  auto d = init_uboot_devices(r.layout, board);
  ASSERT_TRUE(d.ok()) << d.error;
  ASSERT_EQ(d.layout.devices.size(), 2u);
  EXPECT_EQ(d.layout.parts[0].size, 0x40000u);
  EXPECT_EQ(d.layout.parts[0].part_index, 1);
  EXPECT_EQ(d.layout.parts[2].size, (1u << 20) - 35u * 512u - 0x44400u);
  EXPECT_EQ(d.layout.parts[1].size, 1u << 20);  // RawImage: the whole device
  EXPECT_EQ(d.layout.parts[1].part_index, 0);
}

}  // namespace
}  // namespace mp1boot::sim::test
