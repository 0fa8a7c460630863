// SPDX-License-Identifier: MIT
// sim::Storage (sparse image files, erase values, the DDR page map, the fault hook, temporary and
// kept folders) and the GPT writer/reader on it.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/storage.hpp"
#include "mp1boot/sim/storage_gpt.hpp"
#include "support/paths.hpp"

namespace mp1boot::sim {
namespace {

StorageOptions small(const std::filesystem::path& dir = {}) {
  StorageOptions o;
  o.dir = dir;
  o.devices = {{"mmc0", {1u << 30, 512, 0}}, {"mmc1", {8u << 20, 512, 1u << 20}}, {"nor0", {1u << 20, 64u << 10, 0}}};
  return o;
}

TEST(Storage, ImageFilesAreSparseAndSized) {
  Storage s(small());
  auto mmc0 = s.path_of("mmc0");
  EXPECT_EQ(mmc0, s.dir() / "mmc0.img");
  EXPECT_EQ(std::filesystem::file_size(mmc0), 1u << 30);
  EXPECT_EQ(std::filesystem::file_size(s.path_of("mmc1", 1)), 1u << 20);
  EXPECT_EQ(s.path_of("mmc1", 2).filename(), "mmc1-boot2.img");
  struct stat st {};
  ASSERT_EQ(::stat(mmc0.c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // 1 GiB announced, almost nothing allocated
  EXPECT_THROW(s.path_of("mmc0", 1), UsageError);  // an SD card has no boot partitions
  EXPECT_THROW(s.path_of("nand0"), UsageError);
  EXPECT_FALSE(s.has("nand0"));
  EXPECT_TRUE(s.has("ram"));
}

TEST(Storage, WriteReadEraseWithTheDeviceErasedValue) {
  Storage s(small());
  Bytes data{1, 2, 3, 4};
  s.write("mmc0", 0, (1u << 30) - 4, data);
  EXPECT_EQ(s.read("mmc0", 0, (1u << 30) - 4, 8), (Bytes{1, 2, 3, 4, 0, 0, 0, 0}));  // clipped
  EXPECT_THROW(s.write("mmc0", 0, (1u << 30) - 2, data), UsageError);
  s.write("mmc1", 1, 10, data);
  EXPECT_EQ(s.read("mmc1", 1, 10, 4), data);
  EXPECT_EQ(s.read("mmc1", 0, 10, 4), Bytes(4, 0));  // the user area is another file
  s.erase("mmc1", 1, 0, 1u << 20);
  EXPECT_EQ(s.read("mmc1", 1, 10, 4), Bytes(4, 0));
  s.write("nor0", 0, 0x10000, data);
  s.erase("nor0", 0, 0x10000, 0x10000);
  EXPECT_EQ(s.read("nor0", 0, 0x10000, 4), Bytes(4, 0xFF));
  EXPECT_EQ(s.erased_value("nor0"), 0xFF);
  EXPECT_EQ(s.erase_size_of("nor0"), 64u << 10);
}

TEST(Storage, RamIsAPageMapByBusAddress) {
  Storage s(small());
  Bytes data(5000, 0xAB);
  s.write("ram", 0, 0xC2000FFE, data);
  EXPECT_EQ(s.read("ram", 0, 0xC2000FFE, 5000), data);
  EXPECT_EQ(s.read("ram", 0, 0xC2000FFC, 2), Bytes(2, 0));
  s.erase("ram", 0, 0xC2001000, 0x1000);
  EXPECT_EQ(s.read("ram", 0, 0xC2000FFE, 4), (Bytes{0xAB, 0xAB, 0, 0}));
  EXPECT_EQ(s.size_of("ram"), 512u << 20);
}

TEST(Storage, FaultHookFailsChosenWrites) {
  StorageOptions o = small();
  o.write_fault = [](const StorageAccess& a) { return a.ip == "mmc0" && a.offset == 0x4400; };
  Storage s(std::move(o));
  EXPECT_THROW(s.write("mmc0", 0, 0x4400, Bytes(4, 1)), DeviceError);
  EXPECT_NO_THROW(s.write("mmc0", 0, 0x4600, Bytes(4, 1)));
}

TEST(Storage, TemporaryFolderIsRemovedUnlessKept) {
  std::filesystem::path dir;
  {
    Storage s(small());
    dir = s.dir();
    EXPECT_TRUE(std::filesystem::exists(dir / "nor0.img"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  {
    Storage s(small());
    dir = s.dir();
    s.keep();
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "mmc0.img"));
  std::filesystem::remove_all(dir);
}

TEST(Storage, GivenFolderKeepsItsContentAcrossInstances) {
  auto dir = test::temp_dir("uboot-storage");
  {
    Storage s(small(dir));
    s.write("nor0", 0, 0x100, Bytes{9, 8, 7});
  }
  Storage again(small(dir));
  EXPECT_EQ(again.read("nor0", 0, 0x100, 3), (Bytes{9, 8, 7}));
  EXPECT_TRUE(std::filesystem::exists(dir / "mmc0.img"));
}

TEST(StorageGpt, RoundTripAndCrcChecks) {
  Storage s(small());
  EXPECT_FALSE(read_gpt(s, "mmc1").has_value());
  std::vector<GptPartition> parts(2);
  parts[0].name = "fsbl1";
  parts[0].start = 0x4400;
  parts[0].size = 0x40000;
  parts[0].type = guid_from_string("8DA63339-0007-60C0-C436-083AC8230908");
  parts[1].name = "rootfs";
  parts[1].start = 0x100000;
  parts[1].size = 0x200000;
  parts[1].type = guid_from_string("0fc63daf-8483-4772-8e79-3d69d8477de4");
  parts[1].attributes = 4;
  write_gpt(s, "mmc1", parts, guid_from_string("01234567-89AB-CDEF-0123-456789ABCDEF"));
  auto back = read_gpt(s, "mmc1");
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].index, 2u);
  EXPECT_EQ((*back)[1].name, "rootfs");
  EXPECT_EQ((*back)[1].start, 0x100000u);
  EXPECT_EQ((*back)[1].size, 0x200000u);
  EXPECT_EQ((*back)[1].attributes, 4u);
  EXPECT_EQ(guid_to_string((*back)[1].type), "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
  // Protective MBR and the backup header at the last LBA.
  EXPECT_EQ(s.read("mmc1", 0, 510, 2), (Bytes{0x55, 0xAA}));
  Bytes backup = s.read("mmc1", 0, (8u << 20) - 512, 8);
  EXPECT_EQ(std::string(backup.begin(), backup.end()), "EFI PART");
  // A damaged entry array fails the CRC.
  s.write("mmc1", 0, 2 * 512 + 60, Bytes{0x42});
  EXPECT_FALSE(read_gpt(s, "mmc1").has_value());
  EXPECT_EQ(crc32_of(Bytes{'1', '2', '3', '4', '5', '6', '7', '8', '9'}), 0xCBF43926u);
  EXPECT_THROW(guid_from_string("not-a-guid"), UsageError);
}

}  // namespace
}  // namespace mp1boot::sim
