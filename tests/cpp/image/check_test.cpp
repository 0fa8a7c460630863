// SPDX-License-Identifier: MIT
// Flash layout rules applied after parsing: U-Boot's (selected none lines, phase ids, devices,
// offsets, Binary(N), boot partitions, old releases) and the host's (binaries named, present,
// fitting). Each rule has a failing case with its line number and a passing neighbour.
#include <gtest/gtest.h>

#include <fstream>

#include "layout_test_util.hpp"
#include "support/paths.hpp"

namespace mp1boot::image::test {
namespace {

using V = std::vector<std::string>;

V errors(const std::vector<Diagnostic>& d) { return findings(d, Severity::error); }
V warnings(const std::vector<Diagnostic>& d) { return findings(d, Severity::warning); }

std::vector<Diagnostic> checked(std::string_view text, CheckOptions options = no_binaries()) {
  const auto l = parse(text);
  EXPECT_TRUE(l.ok()) << "test layout must parse";
  return check(l, options);
}

// --- none lines and phase ids -----------------------------------------------------------------

TEST(LayoutCheck, SelectedNoneLineIsRefused) {
  const auto d = checked("-\t0x01\tfsbl\tBinary\tnone\t0x0\ttf-a.stm32\nP\t0x03\tfip\tFIP\tnone\t0x0\tfip.bin\n");
  EXPECT_EQ(errors(d), V({"selected-none@2"}));
  EXPECT_EQ(find_rule(d, "selected-none")->column, "Opt");
}

TEST(LayoutCheck, DevicePhaseZeroIsInvalid) {
  const auto d = checked(std::string(boot_lines) + "P\t0x00\tb\tSystem\tmmc0\t0x4400\tb\n-\t0\tlayout\tBinary\tnone\t0\tx\n");
  EXPECT_EQ(errors(d), V({"invalid-phase@3"}));
}

TEST(LayoutCheck, DuplicateDeviceIds) {
  const auto d = checked(std::string(boot_lines) +
                         "P\t0x10\ta\tSystem\tmmc0\t0x4400\ta\n"
                         "P\t0x11\tb\tSystem\tmmc0\t0x8800\tb\n"
                         "P\t16\tc\tSystem\tmmc1\t0x4400\tc\n");
  EXPECT_EQ(errors(d), V({"duplicate-id@3"}));
  EXPECT_NE(find_rule(d, "duplicate-id")->message.find("line 5"), std::string::npos);
}

TEST(LayoutCheck, DeviceIdRepeatedOnALaterNoneLineIsADuplicate) {
  const auto d = checked("P\t0x04\tfsbl1\tBinary\tmmc0\t0x4400\ta\n-\t0x04\tfsbl\tBinary\tnone\t0x0\tb\n");
  EXPECT_EQ(errors(d), V({"duplicate-id@1"}));
}

TEST(LayoutCheck, NoneLinesMayRepeatIds) {
  const auto d = checked("-\t0x01\tfsbl\tBinary\tnone\t0x0\ta\n-\t0x03\tfip\tFIP\tnone\t0x0\tb\n-\t0x03\tfip2\tFIP\tnone\t0x0\tc\n");
  EXPECT_TRUE(errors(d).empty());
  EXPECT_TRUE(warnings(d).empty());
}

TEST(LayoutCheck, DeviceLineAfterANoneLineWithItsIdIsNeverProgrammed) {
  const auto l = parse(std::string(boot_lines) + "P\t0x03\tfip-a\tFIP\tmmc0\t0x4400\tfip.bin\n");
  const auto d = check(l, no_binaries());
  EXPECT_TRUE(errors(d).empty());
  EXPECT_EQ(warnings(d), V({"shadowed-id@3"}));
  for (const auto& step : programming_order(l)) EXPECT_NE(step.entry, &l.entries[2]);
}

TEST(LayoutCheck, AtMostFiveDevices) {
  std::string text(boot_lines);
  const char* ips[] = {"mmc0", "mmc1", "nor0", "nand0", "ram", "mmc2", "spi-nand0"};
  int id = 0x10;
  for (const char* ip : ips) {
    const std::string offset = std::string(ip) == "ram" ? "0xc0000000" : std::string(ip).rfind("mmc", 0) == 0 ? "0x4400" : "0x0";
    text += "P\t" + std::to_string(id++) + "\tp\tBinary\t" + ip + "\t" + offset + "\tx\n";
  }
  text += "P\t" + std::to_string(id) + "\tq\tBinary\tmmc0\t0x8800\tx\n";  // a known device again: fine
  EXPECT_EQ(errors(checked(text)), V({"too-many-devices@8"}));
}

// --- offsets per device -----------------------------------------------------------------------

TEST(LayoutCheck, TwoPartitionsAtOneOffset) {
  const auto d = checked(std::string(boot_lines) + "P\t0x04\tfsbl1\tBinary\tnor0\t0x0\ta\nP\t0x05\tfsbl2\tBinary\tnor0\t0\tb\n"
                         "P\t0x06\tx\tBinary\tnor1\t0x0\tb\n");
  EXPECT_EQ(errors(d), V({"same-address@3"}));
  EXPECT_NE(find_rule(d, "same-address")->message.find("line 4"), std::string::npos);
}

TEST(LayoutCheck, OffsetsOutOfFileOrderAreSortedByUBoot) {
  const auto d = checked(std::string(boot_lines) + "P\t0x10\ta\tBinary\tnor0\t0x80000\ta\nP\t0x11\tb\tBinary\tnor0\t0x40000\tb\n");
  EXPECT_TRUE(errors(d).empty());
  EXPECT_EQ(warnings(d), V({"offset-order@4"}));
}

TEST(LayoutCheck, MmcUserPartitionsStartAfterThePrimaryGpt) {
  const auto d = checked(std::string(boot_lines) + "P\t0x04\tfsbl1\tBinary\tmmc0\t0x4200\ta\nP\t0x05\tfsbl2\tBinary\tmmc0\t0x4400\tb\n"
                         "P\t0x06\tfsbl3\tBinary\tmmc1\tboot1\tb\n");
  EXPECT_EQ(errors(d), V({"offset-too-low@3"}));
  EXPECT_NE(find_rule(d, "offset-too-low")->message.find("min=0x4400"), std::string::npos);
}

TEST(LayoutCheck, EmmcEraseGroupRaisesTheFirstOffsetAndTheAlignment) {
  CheckOptions o = no_binaries();
  o.erase_sizes["mmc1"] = 512 * 1024;
  const auto d = checked(std::string(boot_lines) + "P\t0x06\ta\tBinary\tmmc1\t0x4400\ta\nP\t0x07\tb\tBinary\tmmc1\t0x80000\tb\n"
                         "P\t0x08\tc\tBinary\tmmc1\t0x90000\tb\nP\t0x09\td\tBinary\tmmc0\t0x4400\tb\n", o);
  EXPECT_EQ(errors(d), V({"offset-too-low@3", "unaligned-offset@3", "unaligned-offset@5"}));
}

TEST(LayoutCheck, NandOffsetsAlignToTheEraseBlock) {
  const auto d = checked(std::string(boot_lines) + "P\t0x04\ta\tBinary\tnand0\t0x0\ta\nP\t0x05\tb\tBinary\tnand0\t0x10000\tb\n"
                         "P\t0x06\tc\tBinary\tspi-nand0\t0x30000\tb\nP\t0x07\td\tBinary\tnand0\t0x40000\tb\n");
  EXPECT_EQ(errors(d), V({"unaligned-offset@4", "unaligned-offset@5"}));
  EXPECT_NE(find_rule(d, "unaligned-offset")->message.find("0x20000"), std::string::npos);
}

TEST(LayoutCheck, NorDefaultEraseSizeIs4KiBAndConfigurable) {
  const std::string text = std::string(boot_lines) + "P\t0x04\ta\tBinary\tnor0\t0x0\ta\nP\t0x05\tb\tBinary\tnor0\t0x1000\tb\n"
                           "P\t0x06\tc\tBinary\tnor0\t0x1800\tb\n";
  EXPECT_EQ(errors(checked(text)), V({"unaligned-offset@5"}));
  CheckOptions o = no_binaries();
  o.erase_sizes["nor"] = 64 * 1024;
  EXPECT_EQ(errors(checked(text, o)), V({"unaligned-offset@4", "unaligned-offset@5"}));
}

TEST(LayoutCheck, RamTakesAnyAddressAboveItsBase) {
  const std::string text = std::string(boot_lines) + "P\t0x10\tkernel\tSystem\tram\t0xc2000001\tuImage\n"
                           "P\t0x11\tdtb\tFileSystem\tram\t0x1000\tx.dtb\n";
  EXPECT_TRUE(errors(checked(text)).empty());
  CheckOptions o = no_binaries();
  o.ram_base = 0xC0000000;
  EXPECT_EQ(errors(checked(text, o)), V({"offset-too-low@4"}));
}

TEST(LayoutCheck, OffsetBeyondAKnownDeviceSize) {
  CheckOptions o = no_binaries();
  o.device_sizes["mmc0"] = (64ull << 20) - 512;  // the last start is the size minus 35 LBAs: 0x3FFB800
  const std::string text = std::string(boot_lines) + "P\t0x10\ta\tSystem\tmmc0\t0x4400\ta\nP\t0x11\tb\tSystem\tmmc0\t0x3FFBA00\tb\n";
  EXPECT_EQ(errors(checked(text, o)), V({"offset-beyond-device@4"}));
  o.device_sizes["mmc0"] = 64ull << 20;
  EXPECT_TRUE(errors(checked(text, o)).empty());
}

TEST(LayoutCheck, BootPartitionsOnlyOnMmc) {
  const auto d = checked(std::string(boot_lines) + "P\t0x04\tfsbl1\tBinary\tmmc1\tboot1\ta\nP\t0x05\tfsbl2\tBinary\tnand0\tboot2\tb\n");
  EXPECT_EQ(errors(d), V({"boot-not-mmc@4"}));
}

TEST(LayoutCheck, TwoLinesOnOneBootPartition) {
  const auto d = checked(std::string(boot_lines) + "P\t0x04\tfsbl1\tBinary\tmmc1\tboot1\ta\nP\t0x05\tfsbl2\tBinary\tmmc1\tboot1\tb\n");
  EXPECT_TRUE(errors(d).empty());
  EXPECT_EQ(warnings(d), V({"same-hw-partition@4"}));
}

TEST(LayoutCheck, BinaryCopiesOnlyForNandFsbl) {
  const auto d = checked(std::string(boot_lines) +
                         "P\t0x04\tfsbl1\tBinary(2)\tnand0\t0x0\ta\n"        // fine
                         "P\t0x05\tfsbl2\tBinary(2)\tmmc0\t0x4400\ta\n"      // not NAND
                         "P\t0x06\tfsbl3\tBinary(2)\tspi-nand0\t0x0\ta\n"    // fine
                         "P\t0x10\tfsbl4\tBinary(2)\tnand0\t0x200000\ta\n"   // user id
                         "P\t0x07\tssbl\tBinary(2)\tnand0\t0x400000\ta\n"    // not an fsbl
                         "P\t0x08\tfsbl5\tBinary(1)\tmmc0\t0x8800\ta\n");    // one copy: fine
  EXPECT_EQ(errors(d), V({"binary-copies@4", "binary-copies@6", "binary-copies@7"}));
}

TEST(LayoutCheck, RawImageIgnoresItsOffset) {
  const auto d = checked(std::string(boot_lines) + "P\t0x10\tall\tRawImage\tmmc0\t0x0\ta\nP\t0x11\tall\tRawImage\tmmc1\t0x4400\ta\n");
  EXPECT_TRUE(errors(d).empty());
  EXPECT_EQ(warnings(d), V({"rawimage-offset@4"}));
}

TEST(LayoutCheck, UnselectedDeviceLineMeansPartialUpdate) {
  const auto d = checked(std::string(boot_lines) + "P\t0x10\ta\tSystem\tmmc0\t0x4400\ta\n-\t0x11\tb\tSystem\tmmc0\t0x8800\tb\n");
  EXPECT_TRUE(errors(d).empty());
  EXPECT_EQ(warnings(d), V({"partial-update@4"}));
}

// --- older U-Boot -----------------------------------------------------------------------------

TEST(LayoutCheck, TypesAnOlderUBootDoesNotKnow) {
  const std::string text = std::string(boot_lines) + "P\t0x06\tmeta\tFWU_MDATA\tmmc0\t0x4400\tm\nP\t0x08\tfip-a\tFIP\tmmc0\t0x44400\tf\n"
                           "PE\t0x09\tenv\tENV\tmmc0\t0x84400\tnone\n";
  CheckOptions o = no_binaries();
  o.uboot_version = "2022.10";
  EXPECT_EQ(errors(checked(text, o)), V({"type-too-new@3", "type-too-new@5"}));
  o.uboot_version = "v2022.04";
  EXPECT_EQ(errors(checked(text, o)), V({"type-too-new@2", "type-too-new@3", "type-too-new@4", "type-too-new@5"}));
  o.uboot_version = "2023.10";
  EXPECT_TRUE(errors(checked(text, o)).empty());
  o.uboot_version = "latest";
  EXPECT_EQ(warnings(checked(text, o)), V({"bad-option@0"}));
}

TEST(LayoutCheck, OlderUBootReadsLeadingZeroOffsetsAsOctal) {
  const std::string text = std::string(boot_lines) + "P\t0x04\ta\tBinary\tmmc0\t00017408\ta\nP\t0x05\tb\tBinary\tmmc0\t0x44400\ta\n"
                           "P\t0x06\tc\tBinary\tmmc0\t0307200\ta\n";
  CheckOptions o = no_binaries();
  EXPECT_TRUE(errors(checked(text, o)).empty());
  o.uboot_version = "2023.07";
  EXPECT_EQ(errors(checked(text, o)), V({"offset-base@3", "offset-base@5"}));
}

// --- binaries ---------------------------------------------------------------------------------

TEST(LayoutCheck, SelectedLineWithoutBinary) {
  const auto d = checked(std::string(boot_lines) + "P\t0x10\tboot\tSystem\tmmc0\t0x4400\n"
                         "PE\t0x11\tempty\tSystem\tmmc0\t0x8800\n"
                         "P\t0x12\tnone\tSystem\tmmc0\t0xcc00\tnone\n"
                         "-\t0x13\tkeep\tSystem\tmmc0\t0x11000\n");
  EXPECT_EQ(errors(d), V({"empty-binary@3", "none-binary@5"}));
  EXPECT_NE(find_rule(d, "empty-binary")->message.find("line 3"), std::string::npos);
}

TEST(LayoutCheck, RomPhaseWithoutBinary) {
  const auto d = checked("-\t0x01\tfsbl\tBinary\tnone\t0x0\n-\t0x03\tfip\tFIP\tnone\t0x0\tnone\n-\t0x04\tx\tFIP\tnone\t0x0\n");
  EXPECT_EQ(errors(d), V({"empty-binary@1", "none-binary@2"}));
}

class LayoutBinaries : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = mp1boot::test::temp_dir("layout-bin");
    write("tf-a.stm32", 1000);
    write("fip.bin", 3000);
    write("fsbl.stm32", 0x30000);
    write("big.ext4", 0x10001);
  }
  void write(const char* name, std::size_t size) {
    std::ofstream(dir_ / name, std::ios::binary) << std::string(size, 'x');
  }
  FlashLayout layout(const std::string& body) { return parse_layout(std::string(boot_lines) + body, dir_ / "flash.tsv"); }
  std::filesystem::path dir_;
};

TEST_F(LayoutBinaries, PresentAndFitting) {
  const auto l = layout("P\t0x10\tboot\tSystem\tnor0\t0x0\tfip.bin\nP\t0x11\tx\tSystem\tnor0\t0x1000\tfip.bin\n");
  EXPECT_TRUE(check(l).empty());
}

TEST_F(LayoutBinaries, Missing) {
  const auto l = layout("P\t0x10\tboot\tSystem\tnor0\t0x0\tgone.bin\nPE\t0x11\tx\tSystem\tnor0\t0x10000\tgone.bin\n");
  EXPECT_EQ(errors(check(l)), V({"binary-missing@3"}));
  EXPECT_TRUE(errors(check(l, no_binaries())).empty());
}

TEST_F(LayoutBinaries, MissingRomBinary) {
  const auto l = parse_layout("-\t0x01\tfsbl\tBinary\tnone\t0x0\tnot-here.stm32\n", dir_ / "flash.tsv");
  EXPECT_EQ(errors(check(l)), V({"binary-missing@1"}));
}

TEST_F(LayoutBinaries, TooLargeForItsPartition) {
  const auto l = layout("P\t0x10\tboot\tSystem\tnor0\t0x0\tbig.ext4\nP\t0x11\tx\tSystem\tnor0\t0x10000\tfip.bin\n");
  const auto d = check(l);
  EXPECT_EQ(errors(d), V({"binary-too-large@3"}));
  EXPECT_NE(find_rule(d, "binary-too-large")->message.find("0x10001"), std::string::npos);
}

TEST_F(LayoutBinaries, LastPartitionFitsOnlyWhenTheDeviceSizeIsKnown) {
  const auto l = layout("P\t0x10\tboot\tSystem\tnor0\t0x0\tfip.bin\nP\t0x11\tx\tSystem\tnor0\t0x10000\tbig.ext4\n");
  EXPECT_TRUE(check(l).empty());
  CheckOptions o;
  o.device_sizes["nor0"] = 0x20000;
  EXPECT_EQ(errors(check(l, o)), V({"binary-too-large@4"}));
}

TEST_F(LayoutBinaries, NandCopiesNeedOneEraseBlockEach) {
  // 0x30000 bytes round up to two 128 KiB blocks; two copies need 0x80000.
  const auto fits = layout("P\t0x04\tfsbl1\tBinary(2)\tnand0\t0x0\tfsbl.stm32\nP\t0x05\tx\tBinary\tnand0\t0x80000\tfip.bin\n");
  EXPECT_TRUE(check(fits).empty());
  const auto tight = layout("P\t0x04\tfsbl1\tBinary(2)\tnand0\t0x0\tfsbl.stm32\nP\t0x05\tx\tBinary\tnand0\t0x60000\tfip.bin\n");
  EXPECT_EQ(errors(check(tight)), V({"binary-too-large@3"}));
}

// --- service ----------------------------------------------------------------------------------

TEST(LayoutCheck, ExternalLoaderLayoutsAreRecognised) {
  const auto ext = parse("P\t0x1\tfsbl-openbl\tBinary\tnone\t0x0\tSTM32PRGFW_UTIL_MP15xx_CP_Serial_Boot.stm32\n");
  EXPECT_EQ(intended_service(ext), ProgrammingService::st_external_loader);
  EXPECT_EQ(warnings(check(ext, no_binaries())), V({"external-loader@1"}));
  const auto normal = parse(boot_lines);
  EXPECT_EQ(intended_service(normal), ProgrammingService::u_boot_stm32prog);
  EXPECT_TRUE(check(normal, no_binaries()).empty());
}

}  // namespace
}  // namespace mp1boot::image::test
