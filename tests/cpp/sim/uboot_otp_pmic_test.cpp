// SPDX-License-Identifier: MIT
// The OTP (0xF2, OP-TEE TA image of 776 bytes) and PMIC NVM (0xF4, 8 bytes) virtual partitions of
// the U-Boot model: Read Partition, Download with the operation byte, Start, and their errors.
#include <gtest/gtest.h>

#include "uboot_helpers.hpp"

namespace mp1boot::sim::test {
namespace {

Bytes read_otp_image(Host& host) {
  Bytes image;
  for (std::uint32_t off = 0; off < 768; off += 256) {
    Bytes chunk = read_partition(host, 0xF2, off, 256);
    image.insert(image.end(), chunk.begin(), chunk.end());
  }
  Bytes tail = read_partition(host, 0xF2, 768, 8);
  image.insert(image.end(), tail.begin(), tail.end());
  return image;
}

TEST(UbootOtp, ReadPartitionF2ReturnsTheTaImage) {
  UbootRig rig;
  rig.hw->otp[5] = 0x12345678;
  rig.hw->otp_locked[6] = true;
  rig.hw->bsec_state = 0x11;
  rig.boot_uboot();
  Bytes image = read_otp_image(*rig.host);
  ASSERT_EQ(image.size(), 776u);
  EXPECT_EQ(load_le32(&image[0]), 2u);  // version 2: OP-TEE TA format
  EXPECT_EQ(load_le32(&image[4]), 0x11u);
  EXPECT_EQ(load_le32(&image[8 + 8 * 5]), 0x12345678u);
  EXPECT_EQ(load_le32(&image[12 + 8 * 6]), 1u << 30);  // permanent lock
  EXPECT_EQ(load_le32(&image[12 + 8 * 5]), 0u);
  // Past the end of the image: valid bytes, then zero filler.
  Bytes tail = read_partition(*rig.host, 0xF2, 768, 256);
  ASSERT_EQ(tail.size(), 256u);
  EXPECT_EQ(Bytes(tail.begin() + 8, tail.end()), Bytes(248, 0));
  EXPECT_EQ(get_phase(*rig.host).phase, 0x00);
}

TEST(UbootOtp, DownloadWithOpF2ThenStartF2ProgramsTheFlaggedWords) {
  UbootRig rig;
  rig.hw->otp[10] = 0x00000001;
  rig.boot_uboot();
  Bytes image(776, 0);
  store_le32(&image[0], 2);
  store_le32(&image[8 + 8 * 10], 0xA5A50000);
  store_le32(&image[12 + 8 * 10], 1u << 31);                 // update request
  store_le32(&image[12 + 8 * 11], (1u << 31) | (1u << 30));  // lock only
  store_le32(&image[8 + 8 * 12], 0xFF);                      // no update request: ignored
  ASSERT_TRUE(download_op(*rig.host, image, 0xF2));
  EXPECT_EQ(start(*rig.host, 0xF2), "79 79");
  EXPECT_EQ(rig.hw->otp[10], 0xA5A50001u);  // fuses only add bits
  EXPECT_TRUE(rig.hw->otp_locked[11]);
  EXPECT_EQ(rig.hw->otp[12], 0u);
  const UbootEvent& e = rig.hw->events.back();
  ASSERT_EQ(e.kind, UbootEvent::Kind::otp_programmed);
  ASSERT_EQ(e.otp.size(), 2u);
  EXPECT_EQ(e.otp[0].word, 10u);
  EXPECT_EQ(e.otp[0].value, 0xA5A50000u);
  EXPECT_TRUE(e.otp[1].lock);
  Bytes back = read_otp_image(*rig.host);
  ASSERT_EQ(back.size(), 776u);
  EXPECT_EQ(load_le32(&back[8 + 8 * 10]), 0xA5A50001u);
  EXPECT_EQ(get_phase(*rig.host).phase, 0x00);  // the phase machine is not involved
}

TEST(UbootOtp, StartF2NeedsAnImage) {
  UbootRig rig;
  rig.boot_uboot();
  ASSERT_TRUE(download_op(*rig.host, Bytes(776, 0), 0xF2));
  EXPECT_EQ(start(*rig.host, 0xF2), "79 79");
  // The image is consumed by the Start (a Read Partition 0xF2 at offset 0 would make a new one).
  EXPECT_EQ(start(*rig.host, 0xF2), "79 5f");
  EXPECT_EQ(get_phase(*rig.host).message, "start OTP without data");
}

TEST(UbootOtp, Errors) {
  {
    UbootOptions o = small_uboot_options();
    o.otp_write_fails = true;
    UbootRig rig(o);
    rig.boot_uboot();
    ASSERT_TRUE(download_op(*rig.host, Bytes(776, 0), 0xF2));
    EXPECT_EQ(start(*rig.host, 0xF2), "79 5f");
    EXPECT_EQ(get_phase(*rig.host).message, "OTP write issue -5");
  }
  {  // the first read must start at offset 0
    UbootRig rig;
    rig.boot_uboot();
    std::string raw;
    EXPECT_TRUE(read_partition(*rig.host, 0xF2, 256, 16, &raw).empty());
    EXPECT_EQ(raw, "79 79 5f");
    EXPECT_EQ(get_phase(*rig.host).message, "OTP read issue -12");
  }
  {
    UbootOptions o = small_uboot_options();
    o.otp_supported = false;
    UbootRig rig(o);
    rig.boot_uboot();
    EXPECT_TRUE(read_partition(*rig.host, 0xF2, 0, 16).empty());
    EXPECT_EQ(get_phase(*rig.host).message, "OTP update not supported");
  }
  {  // a word locked for good cannot be programmed
    UbootRig rig;
    rig.hw->otp_locked[3] = true;
    rig.boot_uboot();
    Bytes image(776, 0);
    store_le32(&image[0], 2);
    store_le32(&image[8 + 8 * 3], 0x10);
    store_le32(&image[12 + 8 * 3], 1u << 31);
    ASSERT_TRUE(download_op(*rig.host, image, 0xF2));
    EXPECT_EQ(start(*rig.host, 0xF2), "79 5f");
    EXPECT_EQ(rig.hw->otp[3], 0u);
  }
}

TEST(UbootPmic, ReadDownloadAndStart) {
  UbootRig rig;
  rig.hw->pmic_nvm = {0xEE, 0x92, 0xC0, 0x02, 0xF2, 0x80, 0x02, 0x33};
  rig.boot_uboot();
  EXPECT_EQ(to_hex(read_partition(*rig.host, 0xF4, 0, 8)), "ee 92 c0 02 f2 80 02 33");
  Bytes sixteen = read_partition(*rig.host, 0xF4, 0, 16);
  ASSERT_EQ(sixteen.size(), 16u);
  EXPECT_EQ(Bytes(sixteen.begin() + 8, sixteen.end()), Bytes(8, 0));
  Bytes nvm{0xEE, 0x92, 0xC0, 0x02, 0xF2, 0x80, 0x02, 0x34};
  EXPECT_EQ(send_op_packet(*rig.host, 0xF4, 0, nvm), "79 79 79");
  EXPECT_EQ(start(*rig.host, 0xF4), "79 79");
  EXPECT_EQ(Bytes(rig.hw->pmic_nvm.begin(), rig.hw->pmic_nvm.end()), nvm);
  EXPECT_EQ(rig.hw->events.back().kind, UbootEvent::Kind::pmic_programmed);

  UbootOptions o = small_uboot_options();
  o.pmic_supported = false;
  UbootRig without(o);
  without.boot_uboot();
  EXPECT_EQ(start(*without.host, 0xF4), "79 5f");
  EXPECT_EQ(get_phase(*without.host).message, "PMIC update not supported");
}

}  // namespace
}  // namespace mp1boot::sim::test
