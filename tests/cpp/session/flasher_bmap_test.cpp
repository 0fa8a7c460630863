// SPDX-License-Identifier: MIT
// Block-mapped partitions over USB on the in-process simulated STM32MP157: an ext4 made by mke2fs
// with its bmaptool map lands range by range through U-Boot's offset command (mapped ranges exact,
// unmapped ones keep the pattern the card held, e2fsck clean), the next partition is written at
// its own offset 0 (U-Boot keeps the last offset), --verify compares the mapped ranges, a range
// whose checksum does not match stops before any of it is sent, --no-bmap and UART send
// everything, --skip-holes sends a sparse file's data, and an extent at 5 GiB inside a 6 GiB
// partition is reached from the last 32-bit offset. The boards of one flash_many read and hash
// each file once.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "mp1boot/error.hpp"
#include "mp1boot/image/bmap.hpp"
#include "mp1boot/session/flash_many.hpp"
#include "mp1boot/session/flasher.hpp"
#include "rig.hpp"
#include "support/ext4_image.hpp"

using namespace mp1boot;
namespace fs = std::filesystem;

namespace {
using namespace mp1boot::test;

constexpr std::uint64_t rootfs_at = 0x100000;
constexpr std::uint64_t data_at = 0x2100000;  // 32 MiB after the rootfs start
constexpr std::uint8_t pattern = 0xA5;

const std::string kBmapLayout =
    "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
    "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
    "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
    "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
    "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n"
    "P\t0x11\tdata\tFileSystem\tmmc0\t0x02100000\tdata.bin\n";

Bytes data_bin() {
  Bytes d(6000);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(i * 13 + 5);
  return d;
}

// The card holds 0xA5 where the rootfs goes (garbage a block map must not rely on).
void prefill(const fs::path& storage, std::uint64_t size) {
  const int fd = ::open((storage / "mmc0.img").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  const Bytes fill(1 << 20, pattern);
  for (std::uint64_t at = 0; at < size; at += fill.size())
    ASSERT_EQ(::pwrite(fd, fill.data(), fill.size(), static_cast<off_t>(rootfs_at + at)), static_cast<ssize_t>(fill.size()));
  ::close(fd);
}

// The LayoutError `run` throws; none when it throws nothing (other errors propagate).
template <class Run>
std::optional<LayoutError> layout_error_of(Run&& run) {
  try {
    run();
  } catch (const LayoutError& e) {
    return e;
  }
  return std::nullopt;
}

struct BmapRig : Rig {
  fs::path image;
  explicit BmapRig(const char* tag) : Rig(tag, kBmapLayout) {
    fs::remove(dir / "rootfs.ext4");
    image = make_ext4(dir, "rootfs.ext4", 16, 6, 300);
    write_file(dir / "data.bin", data_bin());
    prefill(storage, 16 << 20);
  }
};

}  // namespace

TEST(FlasherBmap, MappedRangesLandUnmappedKeepThePatternNextPartitionAtItsOffset) {
  BmapRig rig("bmap-usb");
  auto dev = rig.connect("&link=usb");
  std::uint64_t last_total = 0;
  session::FlashOptions o;
  o.verify = true;
  o.progress = [&](const Progress& p) {
    if (p.partition == "rootfs" && p.stage == "download") last_total = p.bytes_total;
  };
  const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
  ASSERT_EQ(r.result, FlashResult::ok) << r.error;

  const image::Bmap map = image::load_bmap(rig.image.string() + ".bmap");
  const auto& rec = part(r, "rootfs");
  EXPECT_EQ(rec.bmap, rig.image.string() + ".bmap");
  EXPECT_EQ(rec.bytes_sent, map.mapped_bytes());
  EXPECT_EQ(rec.bytes_skipped, (16u << 20) - map.mapped_bytes());
  EXPECT_EQ(last_total, map.mapped_bytes()) << "progress counts the bytes really sent";
  EXPECT_EQ(rec.verified, VerifyResult::ok);
  {  // the report's SHA-256 of a block-mapped partition covers its mapped ranges, in order
    session::Digest sha(image::BmapChecksum::sha256);
    const session::BinaryFile file(rig.image);
    for (const auto& range : map.ranges) {
      Bytes b(static_cast<std::size_t>(map.bytes_of(range).length));
      file.read(map.bytes_of(range).offset, b);
      sha.update(b);
    }
    EXPECT_EQ(rec.sha256, sha.hex());
  }
  EXPECT_NE(r.to_json().find("\"bytes_skipped\":" + std::to_string(rec.bytes_skipped)), std::string::npos);

  // Mapped ranges exactly; the blocks between them still hold the pattern.
  const session::BinaryFile file(rig.image);
  std::uint64_t at = 0;
  for (const auto& range : map.ranges) {
    const auto b = map.bytes_of(range);
    Bytes want(static_cast<std::size_t>(b.length));
    file.read(b.offset, want);
    EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at + b.offset, want.size()), want) << "line " << range.line;
    if (b.offset > at)
      EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at + at, 512), Bytes(512, pattern)) << "gap at " << at;
    at = b.end();
  }
  // The partition after the block-mapped one starts at its own offset, not at the last extent's.
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", data_at, data_bin().size()), data_bin());
  EXPECT_EQ(part(r, "data").bmap, "");
  EXPECT_EQ(part(r, "data").bytes_sent, data_bin().size());

  // The file system on the card is clean although only its mapped blocks were copied.
  const fs::path copy = rig.dir / "card-rootfs.ext4";
  write_file(copy, read_range(rig.storage / "mmc0.img", rootfs_at, 16u << 20));
  EXPECT_EQ(std::system(("e2fsck -fn '" + copy.string() + "' >/dev/null 2>&1").c_str()), 0);
}

TEST(FlasherBmap, ExplicitMapAndNoBmap) {
  BmapRig rig("bmap-explicit");
  fs::rename(rig.image.string() + ".bmap", rig.dir / "maps.xml");
  {
    session::FlashOptions o;
    o.bmaps["rootfs"] = rig.dir / "maps.xml";
    auto dev = rig.connect("&link=usb");
    const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
    EXPECT_EQ(part(r, "rootfs").bmap, (rig.dir / "maps.xml").string());
    EXPECT_LT(part(r, "rootfs").bytes_sent, 8u << 20);
  }
  {
    session::FlashOptions o;
    o.bmaps["rootfs"] = rig.dir / "maps.xml";
    o.use_bmaps = false;
    auto dev = rig.connect("&link=usb");
    const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
    EXPECT_EQ(part(r, "rootfs").bmap, "");
    EXPECT_EQ(part(r, "rootfs").bytes_sent, 16u << 20);
    EXPECT_EQ(part(r, "rootfs").bytes_skipped, 0u);
  }
  // Everything was sent: no pattern left anywhere in the partition.
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at, 16u << 20),
            read_range(rig.image, 0, 16u << 20));
}

TEST(FlasherBmap, ChecksumMismatchStopsBeforeTheRangeIsSent) {
  BmapRig rig("bmap-bad-range");
  const image::Bmap map = image::load_bmap(rig.image.string() + ".bmap");
  const auto& victim = map.ranges.back();
  const auto bytes = map.bytes_of(victim);
  {  // the image changes after its map was made
    std::fstream f(rig.image, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(bytes.offset + 17));
    f.put('\x5a');
  }
  auto dev = rig.connect("&link=usb");
  session::Flasher f(*dev, rig.dir / "flash.tsv");
  const auto e = layout_error_of([&] { f.run(); });
  ASSERT_TRUE(e) << "no error";
  EXPECT_EQ(e->code(), errc::bad_checksum);
  const std::string want = rig.image.string() + ".bmap:" + std::to_string(victim.line) + ": range of bytes " +
                           std::to_string(bytes.offset) + ".." + std::to_string(bytes.end() - 1);
  EXPECT_EQ(e->message().substr(0, want.size()), want) << e->message();
  EXPECT_EQ(e->context().partition, "rootfs");
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at + bytes.offset, 4096), Bytes(4096, pattern));
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at, 4096), Bytes(4096, pattern)) << "no range was sent";
}

TEST(FlasherBmap, MappedPartitionsAreCheckedInOrderAMismatchInTheSecondStopsItAfterTheFirstLanded) {
  // The ranges are hashed on a second thread while the board boots, partition by partition; each
  // partition waits for its own result only. data.bin gets a map whose range checksum is wrong.
  BmapRig rig("bmap-second-bad");
  const std::string wrong(64, 'e');
  write_text(rig.dir / "data.bin.bmap",
             std::string("<?xml version=\"1.0\" ?>\n<bmap version=\"2.0\">\n"
                         "  <ImageSize> 6000 </ImageSize>\n  <BlockSize> 4096 </BlockSize>\n"
                         "  <BlocksCount> 2 </BlocksCount>\n  <MappedBlocksCount> 2 </MappedBlocksCount>\n"
                         "  <ChecksumType> sha256 </ChecksumType>\n  <BlockMap>\n"
                         "    <Range chksum=\"") + wrong + "\"> 0-1 </Range>\n  </BlockMap>\n</bmap>\n");
  auto dev = rig.connect("&link=usb");
  session::Flasher f(*dev, rig.dir / "flash.tsv");
  const auto e = layout_error_of([&] { f.run(); });
  ASSERT_TRUE(e) << "no error";
  EXPECT_EQ(e->code(), errc::bad_checksum);
  EXPECT_EQ(e->context().partition, "data");
  EXPECT_NE(e->message().find((rig.dir / "data.bin.bmap").string() + ":9: range of bytes 0..5999"), std::string::npos)
      << e->message();
  EXPECT_EQ(part(f.report(), "rootfs").result, PartitionResult::ok) << "the first mapped partition landed";
  const image::Bmap map = image::load_bmap(rig.image.string() + ".bmap");
  const auto first = map.bytes_of(map.ranges.front());
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at + first.offset, 4096),
            read_range(rig.image, first.offset, 4096));
  const Bytes data = data_bin();
  EXPECT_NE(read_range(rig.storage / "mmc0.img", data_at, 16), Bytes(data.begin(), data.begin() + 16))
      << "nothing of data.bin was sent";
}

TEST(FlasherBmap, BadMapStopsBeforeTheFirstByte) {
  BmapRig rig("bmap-bad-size");
  fs::resize_file(rig.image, (16u << 20) + 4096);
  auto dev = rig.connect("&link=usb");
  bool progressed = false;
  session::FlashOptions o;
  o.progress = [&](const Progress&) { progressed = true; };
  const auto e = layout_error_of([&] { session::flash(*dev, rig.dir / "flash.tsv", o); });
  ASSERT_TRUE(e) << "no error";
  EXPECT_NE(e->message().find("ImageSize: 16777216 bytes, but " + rig.image.string() + " has 16781312 bytes"),
            std::string::npos)
      << e->message();
  EXPECT_FALSE(progressed);
}

TEST(FlasherBmap, OverUartEverythingIsSent) {
  Rig rig("bmap-uart");  // small rootfs with a map that maps one block of it
  write_text(rig.dir / "rootfs.ext4.bmap",
             "<bmap version=\"1.0\"><ImageSize>10000</ImageSize><BlockSize>4096</BlockSize><BlocksCount>3</BlocksCount>"
             "<MappedBlocksCount>1</MappedBlocksCount><BlockMap><Range>0</Range></BlockMap></bmap>");
  auto dev = rig.connect();
  const auto r = session::flash(*dev, rig.dir / "flash.tsv");
  EXPECT_EQ(part(r, "rootfs").bytes_sent, 10000u);
  EXPECT_EQ(part(r, "rootfs").bmap, "");
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at, 10000), rootfs());
}

TEST(FlasherBmap, SkipHolesSendsTheDataOfASparseFile) {
  Rig rig("bmap-holes");
  const fs::path sparse = rig.dir / "rootfs.ext4";
  fs::remove(sparse);
  {
    const int fd = ::open(sparse.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 8 << 20), 0);
    const Bytes a(4096, 0x11), b(8192, 0x22);
    ASSERT_EQ(::pwrite(fd, a.data(), a.size(), 0), 4096);
    ASSERT_EQ(::pwrite(fd, b.data(), b.size(), 6 << 20), 8192);
    ::close(fd);
  }
  prefill(rig.storage, 8 << 20);
  session::FlashOptions o;
  o.skip_holes = true;
  auto dev = rig.connect("&link=usb");
  const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
  const auto& rec = part(r, "rootfs");
  EXPECT_EQ(rec.bmap, "holes");
  EXPECT_LT(rec.bytes_sent, 1u << 20);
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at, 4096), Bytes(4096, 0x11));
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at + (6 << 20), 8192), Bytes(8192, 0x22));
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at + (3 << 20), 4096), Bytes(4096, pattern));
}

TEST(FlasherBmap, ExtentAtFiveGibInsideASixGibPartition) {
  constexpr std::uint64_t gib = 1ull << 30;
  const std::string layout = std::string(kLayout) + "P\t0x11\tafter\tFileSystem\tmmc0\t0x180100000\tdata.bin\n";
  Rig rig("bmap-5gib", layout);  // rootfs: 0x100000 .. 6 GiB later
  write_file(rig.dir / "data.bin", data_bin());
  const fs::path image = rig.dir / "rootfs.ext4";
  const Bytes head(4096, 0x31), far(8192, 0x52);
  {
    const int fd = ::open(image.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(6 * gib)), 0);
    ASSERT_EQ(::pwrite(fd, head.data(), head.size(), 0), 4096);
    ASSERT_EQ(::pwrite(fd, far.data(), far.size(), static_cast<off_t>(5 * gib)), 8192);
    ::close(fd);
  }
  const auto sum = [](const Bytes& b) { return session::digest_hex(image::BmapChecksum::sha256, b); };
  const std::uint64_t blocks = 6 * gib / 4096, far_block = 5 * gib / 4096;
  write_text(rig.dir / "rootfs.ext4.bmap",
             "<?xml version=\"1.0\" ?>\n<bmap version=\"2.0\">\n<ImageSize>" + std::to_string(6 * gib) +
                 "</ImageSize>\n<BlockSize>4096</BlockSize>\n<BlocksCount>" + std::to_string(blocks) +
                 "</BlocksCount>\n<MappedBlocksCount>3</MappedBlocksCount>\n<ChecksumType>sha256</ChecksumType>\n"
                 "<BlockMap>\n<Range chksum=\"" + sum(head) + "\">0</Range>\n<Range chksum=\"" + sum(far) + "\">" +
                 std::to_string(far_block) + "-" + std::to_string(far_block + 1) + "</Range>\n</BlockMap>\n</bmap>\n");
  auto dev = rig.connect("&link=usb");
  const auto r = session::flash(*dev, rig.dir / "flash.tsv");
  ASSERT_EQ(r.result, FlashResult::ok) << r.error;
  const auto& rec = part(r, "rootfs");
  // From the last 32-bit offset (4 GiB - 512) to the end of the far range, plus the first block.
  EXPECT_EQ(rec.bytes_sent, 4096 + (5 * gib + 8192 - (4 * gib - 512)));
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at, 4096), head);
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", rootfs_at + 5 * gib, 8192), far);
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", 0x180100000, data_bin().size()), data_bin());
}

TEST(FlasherBmap, ResumeSkipsTheBlockMappedPartitionWithTheSameMappedData) {
  BmapRig rig("bmap-resume");
  session::FlashReport first;
  {  // cancelled while sending the partition after the block-mapped rootfs
    auto dev = rig.connect("&link=usb");
    first = flash_until(*dev, rig.dir / "flash.tsv",
                        [](const Progress& p) { return p.partition == "data" && p.bytes_done > 0; });
  }
  ASSERT_EQ(part(first, "rootfs").result, PartitionResult::ok);
  auto dev = rig.connect("&link=usb");
  session::FlashOptions o;
  o.resume = {first};
  std::vector<std::string> sent;
  o.progress = record_downloads(sent);
  const auto r = session::flash(*dev, rig.dir / "flash.tsv", o);
  EXPECT_EQ(r.result, FlashResult::ok) << r.error;
  EXPECT_EQ(part(r, "rootfs").result, PartitionResult::skipped_done_earlier);
  EXPECT_EQ(part(r, "rootfs").sha256, part(first, "rootfs").sha256);
  EXPECT_EQ(sent, (std::vector<std::string>{"fsbl-boot", "fip-boot", "FlashLayout", "data"}));
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", data_at, data_bin().size()), data_bin());
}

TEST(FlasherBmap, BoardsOfOneFlashManyReadAndHashEachFileOnce) {
  BmapRig rig("bmap-many");
  int boards = 0;
  auto ports = [&](int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i, ++boards) {
      const fs::path storage = rig.storage / ("board" + std::to_string(boards));
      fs::create_directories(storage);
      out.push_back("sim:stm32mp157?link=usb&serial=B" + std::to_string(boards) + "&storage=" + storage.string());
    }
    return out;
  };
  session::FlashManyOptions one, three;
  one.flash.digests = std::make_shared<session::DigestCache>();
  three.flash.digests = std::make_shared<session::DigestCache>();
  const auto alone = session::flash_many(ports(1), rig.dir / "flash.tsv", one);
  ASSERT_EQ(alone.result, FlashResult::ok);
  const std::string rootfs_sha = part(alone.boards.begin()->second, "rootfs").sha256;
  const auto together = session::flash_many(ports(3), rig.dir / "flash.tsv", three);
  ASSERT_EQ(together.result, FlashResult::ok);
  ASSERT_EQ(together.boards.size(), 3u);
  for (const auto& [key, report] : together.boards) EXPECT_EQ(part(report, "rootfs").sha256, rootfs_sha) << key;
  EXPECT_GE(one.flash.digests->computed(), 2u) << "the rootfs's ranges: checked, then hashed";
  EXPECT_EQ(three.flash.digests->computed(), one.flash.digests->computed()) << "three boards hash no more than one";

  // A rewritten image (other files, its new block map) is another key: hashed again, and it lands.
  const std::size_t before = three.flash.digests->computed();
  make_ext4(rig.dir, "rootfs.ext4", 16, 7, 200);
  three.flash.verify = true;  // compares the new mapped ranges with the card
  const auto again = session::flash_many(ports(2), rig.dir / "flash.tsv", three);
  ASSERT_EQ(again.result, FlashResult::ok);
  EXPECT_GT(three.flash.digests->computed(), before);
  for (const auto& [key, report] : again.boards) {
    EXPECT_NE(part(report, "rootfs").sha256, rootfs_sha) << key;
    EXPECT_EQ(part(report, "rootfs").verified, VerifyResult::ok) << key;
  }
}

TEST(FlasherBmap, OneBinaryWholeForOnePartitionAndMappedForAnotherIsCheckedForTheMappedOne) {
  // data.bin goes whole to "data" and by a block map (named for "data2" alone) to "data2": the
  // digest of the whole file must not stand for the map's check. The map's range checksum is wrong.
  Rig rig("bmap-one-binary-two-plans",
          "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
          "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
          "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
          "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
          "P\t0x11\tdata\tFileSystem\tmmc0\t0x02100000\tdata.bin\n"
          "P\t0x12\tdata2\tFileSystem\tmmc0\t0x02200000\tdata.bin\n");
  write_file(rig.dir / "data.bin", data_bin());
  write_text(rig.dir / "data2.bmap",
             std::string("<?xml version=\"1.0\" ?>\n<bmap version=\"2.0\">\n"
                         "  <ImageSize> 6000 </ImageSize>\n  <BlockSize> 4096 </BlockSize>\n"
                         "  <BlocksCount> 2 </BlocksCount>\n  <MappedBlocksCount> 2 </MappedBlocksCount>\n"
                         "  <ChecksumType> sha256 </ChecksumType>\n  <BlockMap>\n"
                         "    <Range chksum=\"") + std::string(64, 'e') + "\"> 0-1 </Range>\n  </BlockMap>\n</bmap>\n");
  auto dev = rig.connect("&link=usb");
  session::FlashOptions o;
  o.bmaps["data2"] = rig.dir / "data2.bmap";
  session::Flasher f(*dev, rig.dir / "flash.tsv", o);
  const auto e = layout_error_of([&] { f.run(); });
  ASSERT_TRUE(e) << "the wrong range checksum went unnoticed";
  EXPECT_EQ(e->code(), errc::bad_checksum);
  EXPECT_EQ(e->context().partition, "data2");
  const auto& whole = part(f.report(), "data");
  EXPECT_EQ(whole.result, PartitionResult::ok);
  EXPECT_EQ(whole.sha256, session::digest_hex(image::BmapChecksum::sha256, data_bin())) << "the whole file's SHA-256";
  EXPECT_EQ(read_range(rig.storage / "mmc0.img", data_at, data_bin().size()), data_bin());
}
