// SPDX-License-Identifier: MIT
// Whole flash-layout sessions through the U-Boot model: the layout, the phase order, the bytes in
// the image files (SD card, eMMC boot partition, NAND copies, RAM), the GPT of a full update and
// the check of a partial one, Read Partition, write failures, the end of the session.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "mp1boot/sim/storage_gpt.hpp"
#include "support/paths.hpp"
#include "uboot_helpers.hpp"

namespace mp1boot::sim::test {
namespace {

/// Downloads `data` as the current phase and starts it; "" when all went well.
std::string program(Host& host, ByteView data) {
  if (!download_op(host, data)) return "download refused";
  std::string r = start(host);
  return r == "79 79" ? "" : r;
}

TEST(UbootFlash, LayoutThenGetPhaseReportsTheFirstPartition) {
  UbootRig rig;
  rig.boot_uboot();
  EXPECT_EQ(send_layout(*rig.host, sd_layout()), "79 79");
  EXPECT_EQ(rig.host->exchange("03 fc", 9), "79 05 04 ff ff ff ff 00 79");
  const auto& layout = rig.uboot()->programmer().layout();
  ASSERT_TRUE(layout.has_value());
  EXPECT_EQ(layout->parts.size(), 5u);
  EXPECT_EQ(layout->devices.size(), 1u);
}

TEST(UbootFlash, SdLayoutLandsInMmc0AtItsOffsetsWithAGpt) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  ASSERT_EQ(send_layout(host, sd_layout()), "79 79");
  Bytes fsbl = test_payload(600, 1), fip = make_fip(1000), rootfs = test_payload(3000, 5);
  EXPECT_EQ(get_phase(host).phase, 0x04);
  EXPECT_EQ(program(host, fsbl), "");
  EXPECT_EQ(get_phase(host).phase, 0x05);
  EXPECT_EQ(program(host, fip), "");
  EXPECT_EQ(get_phase(host).phase, 0x10);
  EXPECT_EQ(program(host, rootfs), "");
  EXPECT_EQ(rig.host->exchange("03 fc", 9), "79 05 fe ff ff ff ff 00 79");

  // The board's record of the phases U-Boot completed (and TF-A's FIP before them).
  const auto& images = rig.board->received_images();
  EXPECT_EQ(images.at(0x00), text_bytes(sd_layout()));
  EXPECT_EQ(images.at(0x04), fsbl);
  EXPECT_EQ(images.at(0x10), rootfs);
  EXPECT_EQ(images.at(0x03).size(), 300u);

  auto image = rig.hw->storage.path_of("mmc0");
  EXPECT_EQ(image.filename(), "mmc0.img");
  EXPECT_EQ(file_bytes(image, 0x4400, fsbl.size()), fsbl);
  EXPECT_EQ(file_bytes(image, 0x44400, fip.size()), fip);
  EXPECT_EQ(file_bytes(image, 0x100000, rootfs.size()), rootfs);

  auto gpt = read_gpt(rig.hw->storage, "mmc0");
  ASSERT_TRUE(gpt.has_value());
  ASSERT_EQ(gpt->size(), 3u);
  EXPECT_EQ((*gpt)[0].name, "fsbl1");
  EXPECT_EQ((*gpt)[0].start, 0x4400u);
  EXPECT_EQ((*gpt)[0].size, 0x40000u);
  EXPECT_EQ(guid_to_string((*gpt)[1].type), "19D5DF83-11B0-457B-BE2C-7559C13142A5");  // FIP
  EXPECT_EQ((*gpt)[2].name, "rootfs");
  EXPECT_EQ(guid_to_string((*gpt)[2].unique), "E91C4E10-16E6-4C0E-BD0E-77BECF4A3582");
  EXPECT_EQ((*gpt)[2].start + (*gpt)[2].size, (64u << 20) - 35u * 512u);  // up to U-Boot's last address

  // Read Partition: sequential reads from offset 0.
  Bytes back;
  for (std::uint32_t off = 0; off < 1024; off += 256) {
    Bytes chunk = read_partition(host, 0x05, off, 256);
    ASSERT_EQ(chunk.size(), 256u);
    back.insert(back.end(), chunk.begin(), chunk.end());
  }
  EXPECT_EQ(Bytes(back.begin(), back.begin() + 1000), fip);
  EXPECT_EQ(get_phase(host).phase, 0xFE);

  EXPECT_EQ(start(host), "79 79");  // END: reset
  EXPECT_EQ(rig.board->stage(), "halted");
  EXPECT_EQ(rig.hw->events.back().kind, UbootEvent::Kind::reset);
}

TEST(UbootFlash, PartitionsLargerThanTheRecordLimitGoToStorageOnlyAndAreNotKept) {
  UbootOptions o = small_uboot_options();
  o.record_limit = 2000;  // the FSBL (600 bytes) is kept, the rootfs (3000 bytes) is not
  UbootRig rig(o);
  rig.boot_uboot();
  Host& host = *rig.host;
  ASSERT_EQ(send_layout(host, sd_layout()), "79 79");
  Bytes fsbl = test_payload(600, 1), fip = make_fip(1000), rootfs = test_payload(3000, 5);
  EXPECT_EQ(program(host, fsbl), "");
  EXPECT_EQ(program(host, fip), "");
  ASSERT_EQ(get_phase(host).phase, 0x10);
  // Download the rootfs packet by packet: what the stage keeps stops growing past the limit.
  std::uint32_t packet = 0;
  for (std::size_t at = 0; at < rootfs.size(); at += 256, ++packet) {
    const auto n = std::min<std::size_t>(256, rootfs.size() - at);
    ASSERT_EQ(send_packet(host, packet, ByteView(rootfs).subspan(at, n)), "79 79 79");
    ASSERT_NE(rig.uboot(), nullptr);
    EXPECT_LE(rig.uboot()->phase_data().size(), 2000u) << "after byte " << at;
  }
  EXPECT_EQ(start(host).substr(0, 5), "79 79");
  const auto& images = rig.board->received_images();
  EXPECT_EQ(images.at(0x04), fsbl);
  EXPECT_TRUE(images.at(0x10).empty()) << "a phase over the record limit is reported empty";
  EXPECT_EQ(file_bytes(rig.hw->storage.path_of("mmc0"), 0x100000, rootfs.size()), rootfs);
}

TEST(UbootFlash, RandomReadOfASmallMmcPartitionFailsAsOnTheDevice) {
  // U-Boot's DFU read starts a transaction with the whole partition left and reads up to its
  // 8 MiB buffer at the forced offset: past the partition end on MMC, "DFU read failed".
  UbootRig rig;
  rig.boot_uboot();
  ASSERT_EQ(send_layout(*rig.host, sd_layout()), "79 79");
  std::string raw;
  EXPECT_TRUE(read_partition(*rig.host, 0x04, 0x200, 256, &raw).empty());
  EXPECT_EQ(raw, "79 79 5f");
  EXPECT_EQ(get_phase(*rig.host).message, "DFU read failed [-1] phase = 4 offset = 0x00000200");
}

TEST(UbootFlash, RamTargetsReadBackPaddedAndBootTheKernel) {
  UbootRig rig;
  rig.boot_uboot();
  Host& host = *rig.host;
  const std::string layout =
      "P\t0x10\tkernel\tSystem\tram\t0xC4000000\n"
      "P\t0x11\tdtb\tFileSystem\tram\t0xC8000000\n"
      "P\t0x12\tinitrd\tBinary\tram\t0xC8000100\n"
      "P\t0x13\tspare\tBinary\tram\t0xC8000280\n";
  ASSERT_EQ(send_layout(host, layout), "79 79");
  Bytes kernel = test_payload(700, 2), dtb = test_payload(200, 3), initrd = test_payload(300, 4);
  EXPECT_EQ(program(host, kernel), "");
  EXPECT_EQ(program(host, dtb), "");
  EXPECT_EQ(program(host, initrd), "");
  EXPECT_EQ(get_phase(host).phase, 0x13);
  EXPECT_EQ(start(host, 0xFE), "79 79");  // skip the last one
  EXPECT_EQ(rig.hw->storage.read("ram", 0, 0xC4000000, kernel.size()), kernel);

  // initrd partition: 0x180 bytes (up to 0xC8000280); the second read gets 128 bytes + zeros.
  Bytes first = read_partition(host, 0x12, 0, 256);
  Bytes second = read_partition(host, 0x12, 256, 256);
  ASSERT_EQ(first.size(), 256u);
  ASSERT_EQ(second.size(), 256u);
  EXPECT_EQ(Bytes(first.begin(), first.end()), Bytes(initrd.begin(), initrd.begin() + 256));
  EXPECT_EQ(Bytes(second.begin(), second.begin() + 44), Bytes(initrd.begin() + 256, initrd.end()));
  EXPECT_EQ(Bytes(second.begin() + 128, second.end()), Bytes(128, 0));

  EXPECT_EQ(start(host), "79 79");
  EXPECT_EQ(rig.board->stage(), "booted");
  EXPECT_EQ(rig.hw->events.back().kind, UbootEvent::Kind::kernel_boot);
  EXPECT_EQ(rig.hw->events.back().text,
            "booting the kernel at 0xc4000000, initrd 0xc8000100:0x12c, dtb 0xc8000000");
}

TEST(UbootFlash, EmmcBootPartitionGetsTheFsblAndIsEnabled) {
  UbootRig rig;
  rig.boot_uboot();
  const std::string layout =
      "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\n"
      "P\t0x04\tfsbl1\tBinary\tmmc1\tboot1\n"
      "P\t0x05\tfsbl2\tBinary\tmmc1\tboot2\n"
      "P\t0x10\tfip-a\tFIP\tmmc1\t0x4400\n";
  ASSERT_EQ(send_layout(*rig.host, layout), "79 79");
  Bytes fsbl = test_payload(1000, 9);
  EXPECT_EQ(program(*rig.host, fsbl), "");
  EXPECT_EQ(program(*rig.host, fsbl), "");
  EXPECT_EQ(get_phase(*rig.host).phase, 0x10);
  EXPECT_EQ(file_bytes(rig.hw->storage.path_of("mmc1", 1), 0, fsbl.size()), fsbl);
  EXPECT_EQ(file_bytes(rig.hw->storage.path_of("mmc1", 2), 0, fsbl.size()), fsbl);
  EXPECT_EQ(rig.hw->storage.path_of("mmc1", 2).filename(), "mmc1-boot2.img");
  EXPECT_EQ(rig.hw->mmc_boot_partition.at(1), 2);  // the last one programmed wins
  auto gpt = read_gpt(rig.hw->storage, "mmc1");
  ASSERT_TRUE(gpt.has_value());
  ASSERT_EQ(gpt->size(), 1u);
  EXPECT_EQ(guid_to_string((*gpt)[0].unique), "4FD84C93-54EF-463F-A7EF-AE25FF887087");
}

TEST(UbootFlash, NandFsblIsCopiedIntoTheNextEraseBlocks) {
  UbootRig rig;
  rig.boot_uboot();
  const std::string layout =
      "P\t0x04\tfsbl1\tBinary(2)\tnand0\t0x0\n"
      "P\t0x10\tUBI\tFileSystem\tnand0\t0x80000\n";
  ASSERT_EQ(send_layout(*rig.host, layout), "79 79");
  Bytes fsbl = make_fsbl(soc_by_name("stm32mp157"), 2000);
  EXPECT_EQ(program(*rig.host, fsbl), "");
  auto path = rig.hw->storage.path_of("nand0");
  EXPECT_EQ(file_bytes(path, 0, fsbl.size()), fsbl);
  EXPECT_EQ(file_bytes(path, 0x20000, fsbl.size()), fsbl);                 // copy in the next block
  EXPECT_EQ(file_bytes(path, fsbl.size(), 16), Bytes(16, 0xFF));          // erased before the write
  EXPECT_EQ(get_phase(*rig.host).phase, 0x10);
}

TEST(UbootFlash, PartialUpdateMustMatchTheExistingGpt) {
  UbootOptions options = small_uboot_options();
  auto hw = std::make_shared<UbootHardware>(options.storage);
  {
    UbootRig rig(options, "stm32mp157", hw);
    rig.boot_uboot();
    ASSERT_EQ(send_layout(*rig.host, sd_layout()), "79 79");
    EXPECT_EQ(start(*rig.host, 0xFE), "79 79");
  }
  {  // same partitions, only the rootfs selected: accepted, phase 0x10 first
    UbootRig rig(options, "stm32mp157", hw);
    rig.boot_uboot();
    std::string partial = sd_layout();
    partial.replace(partial.find("P\t0x04"), 1, "-");
    partial.replace(partial.find("P\t0x05"), 1, "-");
    ASSERT_EQ(send_layout(*rig.host, partial), "79 79");
    EXPECT_EQ(get_phase(*rig.host).phase, 0x10);
  }
  {  // the fip moved: rejected with U-Boot's message
    UbootRig rig(options, "stm32mp157", hw);
    rig.boot_uboot();
    const std::string moved =
        "-\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\n"
        "-\t0x05\tfip\tFIP\tmmc0\t0x00084400\n"
        "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\n";
    ASSERT_EQ(send_layout(*rig.host, moved), "79 79");
    PhaseReply p = get_phase(*rig.host);
    EXPECT_EQ(p.phase, 0xFF);
    EXPECT_EQ(p.message, "fsbl1 (0x4): Bad size for partition 1 (fsbl1) at 0x4400 = 0x80000 <> 0x40000 expected");
  }
}

TEST(UbootFlash, PartialUpdateWithoutGptIsRefused) {
  UbootRig rig;
  rig.boot_uboot();
  std::string partial = sd_layout();
  partial.replace(partial.find("P\t0x04"), 1, "-");
  ASSERT_EQ(send_layout(*rig.host, partial), "79 79");
  EXPECT_EQ(get_phase(*rig.host).message, "fsbl1 (0x4):Couldn't find part 2 on device mmc 0");
}

TEST(UbootFlash, DeleteOptionErasesAndEmptyOptionSkips) {
  UbootRig rig;
  rig.boot_uboot();
  rig.hw->storage.write("nor0", 0, 0x10000, Bytes(64, 0x12));
  rig.hw->storage.write("nor0", 0, 0x20000, Bytes(64, 0x34));
  const std::string layout =
      "P\t0x04\tfsbl1\tBinary\tnor0\t0x0\n"
      "PED\t0x05\tenv\tBinary\tnor0\t0x10000\n"
      "PE\t0x06\tkeep\tBinary\tnor0\t0x20000\n"
      "P\t0x10\tuser\tBinary\tnor0\t0x30000\n";
  ASSERT_EQ(send_layout(*rig.host, layout), "79 79");
  EXPECT_EQ(rig.hw->storage.read("nor0", 0, 0x10000, 64), Bytes(64, 0xFF));
  EXPECT_EQ(rig.hw->storage.read("nor0", 0, 0x20000, 64), Bytes(64, 0x34));
  EXPECT_EQ(get_phase(*rig.host).phase, 0x04);
  EXPECT_EQ(program(*rig.host, text_bytes("fsbl")), "");
  EXPECT_EQ(get_phase(*rig.host).phase, 0x10);  // 0x05 and 0x06 are 'E': never asked for
}

TEST(UbootFlash, DeleteOptionErasesBeforeTheStartAckForTheModelledTime) {
  // U-Boot prepares the devices at the end of the layout phase, then ACKs the Start: the 64 KiB
  // 'PED' env block on NOR erased at 64 KiB/s holds the final ACK for 1 s.
  const std::string layout =
      "P\t0x04\tfsbl1\tBinary\tnor0\t0x0\n"
      "PED\t0x05\tenv\tBinary\tnor0\t0x10000\n"
      "PE\t0x06\tkeep\tBinary\tnor0\t0x20000\n"
      "P\t0x10\tuser\tBinary\tnor0\t0x30000\n";
  for (const bool modelled : {false, true}) {
    SCOPED_TRACE(modelled);
    UbootOptions o = small_uboot_options();
    if (modelled) {
      o.erase_bytes_per_second.nor = 64 * 1024;
      o.erase_bytes_per_second.mmc = 1;  // other media do not count
    }
    UbootRig rig(o);
    rig.boot_uboot();
    Host& host = *rig.host;
    ASSERT_TRUE(download_op(host, text_bytes(layout)));
    const auto before = host.now();
    EXPECT_EQ(start(host), "79 79");
    const auto took = host.now() - before;
    const auto erase = modelled ? std::chrono::seconds(1) : std::chrono::seconds(0);
    EXPECT_GE(took, erase);
    EXPECT_LT(took, erase + std::chrono::milliseconds(50));
    EXPECT_EQ(get_phase(host).phase, 0x04);
  }
}

TEST(UbootFlash, EmptyLayoutGoesStraightToEnd) {
  UbootRig rig;
  rig.boot_uboot();
  ASSERT_EQ(send_layout(*rig.host, "-\t0x01\tfsbl\tBinary\tnone\t0x0\n"), "79 79");
  EXPECT_EQ(get_phase(*rig.host).phase, 0xFE);
}

TEST(UbootFlash, WriteFailureDuringDownloadAborts) {
  UbootOptions o = small_uboot_options();
  o.dfu_buffer_size = 256;  // every packet goes to the medium at once
  o.write_failure = UbootWriteFailure{0x10, 0x100};
  UbootRig rig(o);
  rig.boot_uboot();
  Host& host = *rig.host;
  ASSERT_EQ(send_layout(host, sd_layout()), "79 79");
  EXPECT_EQ(program(host, Bytes(10, 1)), "");
  EXPECT_EQ(program(host, make_fip(300)), "");
  EXPECT_EQ(send_op_packet(host, 0, 0, Bytes(256, 7)), "79 79 79");
  EXPECT_EQ(send_op_packet(host, 0, 1, Bytes(256, 8)), "79 79 5f");
  PhaseReply p = get_phase(host);
  EXPECT_EQ(p.phase, 0xFF);
  EXPECT_EQ(p.message, "DFU write error");
  EXPECT_EQ(rig.board->stage(), "halted");
}

TEST(UbootFlash, WriteFailureAtTheFlushAbortsTheStart) {
  UbootOptions o = small_uboot_options();
  o.write_failure = UbootWriteFailure{0x04, 0x10};
  UbootRig rig(o);
  rig.boot_uboot();
  Host& host = *rig.host;
  ASSERT_EQ(send_layout(host, sd_layout()), "79 79");
  ASSERT_TRUE(download_op(host, Bytes(300, 1)));  // buffered: every packet ACKed
  EXPECT_EQ(start(host), "79 5f");
  EXPECT_EQ(get_phase(host).message, "DFU flush failed [251]");
}

TEST(UbootFlash, DownloadBeyondThePartitionFails) {
  UbootOptions o = small_uboot_options();
  o.dfu_buffer_size = 512;
  UbootRig rig(o);
  rig.boot_uboot();
  const std::string layout =
      "P\t0x04\ta\tBinary\tmmc0\t0x4400\n"
      "P\t0x05\tb\tBinary\tmmc0\t0x4800\n";  // a: 1 KiB
  ASSERT_EQ(send_layout(*rig.host, layout), "79 79");
  EXPECT_FALSE(download_op(*rig.host, Bytes(2048, 3)));
  EXPECT_EQ(get_phase(*rig.host).message, "DFU write error");
}

TEST(UbootFlash, ReadPartitionErrors) {
  {
    UbootRig rig;
    rig.boot_uboot();
    ASSERT_EQ(send_layout(*rig.host, sd_layout()), "79 79");
    std::string raw;
    EXPECT_TRUE(read_partition(*rig.host, 0x20, 0, 16, &raw).empty());
    EXPECT_EQ(raw, "79 79 5f");
    EXPECT_EQ(get_phase(*rig.host).message, "read failed : phase 32 is unknown");
  }
  {
    UbootRig rig;
    rig.boot_uboot();
    std::string raw;
    EXPECT_TRUE(read_partition(*rig.host, 0x00, 0, 16, &raw).empty());
    EXPECT_EQ(get_phase(*rig.host).message, "read failed : phase 0 is invalid");
  }
  {  // a phase with data not yet flushed
    UbootRig rig;
    rig.boot_uboot();
    ASSERT_EQ(send_layout(*rig.host, sd_layout()), "79 79");
    ASSERT_EQ(send_op_packet(*rig.host, 0, 0, Bytes(16, 1)), "79 79 79");
    EXPECT_TRUE(read_partition(*rig.host, 0x05, 0, 16).empty());
    EXPECT_EQ(get_phase(*rig.host).message, "DFU write pending for phase 4, seq 1");
  }
  {  // bad header XOR: NACK
    UbootRig rig;
    rig.boot_uboot();
    EXPECT_EQ(rig.host->exchange("12 ed", 1), "79");
    EXPECT_EQ(rig.host->exchange("05 00 00 00 00 00", 1), "1f");
  }
}

TEST(UbootFlash, ScriptInPhaseZeroEndsTheSession) {
  UbootRig rig;
  rig.boot_uboot();
  Bytes script(128, 0);
  script[0] = 0x27;
  script[1] = 0x05;
  script[2] = 0x19;
  script[3] = 0x56;
  ASSERT_TRUE(download_op(*rig.host, script));
  EXPECT_EQ(start(*rig.host), "79 79");
  EXPECT_EQ(get_phase(*rig.host).phase, 0xFE);
  EXPECT_EQ(start(*rig.host), "79 79");
  EXPECT_EQ(rig.hw->events.back().text, "reset after END (after running the script at 0xc2000000)");
}

TEST(UbootFlash, OlderUbootUsesTheDdrBaseAndKnowsFewerTypes) {
  UbootOptions o = small_uboot_options();
  o.uboot_version = "2022.07";
  UbootRig rig(o);
  rig.boot_uboot();
  EXPECT_EQ(rig.host->exchange("03 fc", 9), "79 05 00 00 00 00 c0 00 79");
  ASSERT_EQ(send_layout(*rig.host, "P\t0x10\tenv\tENV\tmmc0\t0x4400\n"), "79 79");
  EXPECT_EQ(get_phase(*rig.host).message, "Layout line 1: type parsing error : 'ENV'");
}

TEST(UbootFlash, PreloadedLayoutOfTheLegacyFlow) {
  UbootOptions o = small_uboot_options();
  std::string tsv = sd_layout();
  Bytes layout(256, 0);
  std::uint32_t sum = 0;
  for (char c : tsv) sum += static_cast<std::uint8_t>(c);
  store_le32(&layout[0], 0x324D5453);
  store_le32(&layout[0x44], sum);
  store_le32(&layout[0x48], 0x00010000);
  store_le32(&layout[0x4C], static_cast<std::uint32_t>(tsv.size()));
  layout.insert(layout.end(), tsv.begin(), tsv.end());
  o.preloaded_layout = layout;
  UbootRig rig(o);
  rig.boot_uboot();
  EXPECT_EQ(get_phase(*rig.host).phase, 0x04);
}

TEST(UbootFlash, StSampleSdCardLayoutOnTheDefaultBoard) {
  std::ifstream in(mp1boot::test::data_dir() / "layouts/real/"
                   "STMicroelectronics__meta-st-stm32mp__files__flashlayouts__FlashLayout_sdcard_stm32mp157f-ev1_sample.tsv",
                   std::ios::binary);
  ASSERT_TRUE(in.good());
  const std::string tsv((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  UbootRig rig(UbootOptions{});  // default devices: 8 GiB SD card
  rig.boot_uboot();
  ASSERT_EQ(send_layout(*rig.host, tsv), "79 79");
  std::vector<int> order;
  for (int guard = 0; guard < 20; ++guard) {
    PhaseReply p = get_phase(*rig.host);
    ASSERT_TRUE(p.framed);
    ASSERT_NE(p.phase, 0xFF) << p.message;
    if (p.phase == 0xFE) break;
    order.push_back(p.phase);
    ASSERT_EQ(program(*rig.host, test_payload(300, p.phase)), "");
  }
  EXPECT_EQ(order, (std::vector<int>{0x04, 0x05, 0x06, 0x07, 0x08, 0x10, 0x11, 0x12, 0x13}));
  auto gpt = read_gpt(rig.hw->storage, "mmc0");
  ASSERT_TRUE(gpt.has_value());
  EXPECT_EQ(gpt->size(), 11u);
  EXPECT_EQ((*gpt)[7].name, "bootfs");
  EXPECT_EQ((*gpt)[7].attributes, 4u);  // System: bootable
  EXPECT_EQ(rig.hw->storage.read("mmc0", 0, 0x05984400, 300), test_payload(300, 0x12));
}

TEST(UbootFlash, AnUnfinishedReadOfTheCurrentPhaseBreaksItsDownload) {
  // The read leaves the DFU transaction open; the download then fails its block sequence check
  // (PROTOCOL.md 3.10).
  UbootRig rig;
  rig.boot_uboot();
  ASSERT_EQ(send_layout(*rig.host, sd_layout()), "79 79");
  ASSERT_EQ(read_partition(*rig.host, 0x04, 0, 256).size(), 256u);
  EXPECT_EQ(send_op_packet(*rig.host, 0, 0, Bytes(16, 1)), "79 79 5f");
  EXPECT_EQ(get_phase(*rig.host).message, "Wrong sequence number");
}

TEST(UbootFlash, AnUnfinishedReadElsewhereShiftsTheNextDownload) {
  // stm32prog keeps the next read offset and forces it on the current partition's write
  // transaction when that one starts.
  UbootRig rig;
  rig.boot_uboot();
  ASSERT_EQ(send_layout(*rig.host, sd_layout()), "79 79");
  ASSERT_EQ(read_partition(*rig.host, 0x05, 0, 256).size(), 256u);
  Bytes fsbl = test_payload(100, 6);
  EXPECT_EQ(program(*rig.host, fsbl), "");
  EXPECT_EQ(rig.hw->storage.read("mmc0", 0, 0x4400 + 256, fsbl.size()), fsbl);
  EXPECT_EQ(rig.hw->storage.read("mmc0", 0, 0x4400, 16), Bytes(16, 0));
}

TEST(UbootFlash, FactoryTakesALayoutHandedOverByALegacyTfa) {
  UbootOptions o = small_uboot_options();
  auto factory = make_uboot_factory(o);
  std::string tsv = sd_layout();
  Bytes layout(256, 0);
  std::uint32_t sum = 0;
  for (char c : tsv) sum += static_cast<std::uint8_t>(c);
  store_le32(&layout[0], 0x324D5453);
  store_le32(&layout[0x44], sum);
  store_le32(&layout[0x48], 0x00010000);
  store_le32(&layout[0x4C], static_cast<std::uint32_t>(tsv.size()));
  layout.insert(layout.end(), tsv.begin(), tsv.end());
  std::map<std::uint8_t, Bytes> images{{0x00, layout}};
  HandoverInfo info{&soc_by_name("stm32mp157"), &images};
  auto stage = factory(info);
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ(stage->name(), "u-boot");
  EXPECT_EQ(stage->phase(), 0x04);
  images.clear();
  EXPECT_EQ(factory(info)->phase(), 0x00);
}

}  // namespace
}  // namespace mp1boot::sim::test
