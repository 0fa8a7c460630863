// SPDX-License-Identifier: MIT
// Block-map parser: real bmap 2.0 files from bmaptool on ext4 images made by mke2fs (range
// checksums and the file checksum hold against our digests), hand-written 1.0 / 1.3 / 1.4 files,
// every invalid case with its message (file, line, field), the size check naming both sizes,
// bmaptool's names beside an image, and the extent split under U-Boot's 32-bit offset.
#include <gtest/gtest.h>

#include <functional>

#include "mp1boot/error.hpp"
#include "mp1boot/image/bmap.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/binary.hpp"
#include "support/ext4_image.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"

using namespace mp1boot;
using namespace mp1boot::image;

namespace {

std::string doc(const std::string& version, const std::string& body, const std::string& image_size = "16384",
                const std::string& block_size = "4096", const std::string& blocks = "4",
                const std::string& mapped = "3") {
  return "<?xml version=\"1.0\" ?>\n"          // line 1
         "<!-- a comment\n spanning lines -->\n"  // lines 2-3
         "<bmap version=\"" + version + "\">\n"   // line 4
         "  <ImageSize> " + image_size + " </ImageSize>\n"  // 5
         "  <BlockSize> " + block_size + " </BlockSize>\n"  // 6
         "  <BlocksCount> " + blocks + " </BlocksCount>\n"  // 7
         "  <MappedBlocksCount> " + mapped + " </MappedBlocksCount>\n" + body + "</bmap>\n";
}

const std::string sha256_a(64, 'a');
const std::string sha1_b(40, 'b');

std::string map_of(const std::string& ranges) { return "  <BlockMap>\n" + ranges + "  </BlockMap>\n"; }

// The message of the LayoutError that parsing `text` throws ("" when it does not throw).
std::string error_of(const std::string& text) {
  try {
    parse_bmap(text, "img.bmap");
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::bad_image);
    return e.message();
  }
  return "";
}

}  // namespace

TEST(Bmap, RealFileFromBmaptoolOnMke2fsImage) {
  const auto dir = test::temp_dir("bmap");
  const auto image = test::make_ext4(dir, "rootfs.ext4", 32, 8, 256);
  const Bmap b = load_bmap(image.string() + ".bmap");
  EXPECT_EQ(b.version, "2.0");
  EXPECT_EQ(b.image_size, 32u << 20);
  EXPECT_EQ(b.block_size, 4096u);
  EXPECT_EQ(b.blocks_count, 8192u);
  EXPECT_EQ(b.checksum_type, BmapChecksum::sha256);
  ASSERT_FALSE(b.ranges.empty());
  EXPECT_GT(b.mapped_bytes(), 2u << 20);   // the 2 MiB of files
  EXPECT_LT(b.mapped_bytes(), 16u << 20);  // far from all of it
  // Each range's checksum is the SHA-256 of its bytes; the file's own checksum holds too.
  const session::BinaryFile file(image);
  for (const auto& r : b.ranges) {
    const ByteRange bytes = b.bytes_of(r);
    Bytes data(static_cast<std::size_t>(bytes.length));
    file.read(bytes.offset, data);
    EXPECT_EQ(session::digest_hex(BmapChecksum::sha256, data), r.checksum) << "range line " << r.line;
  }
  const auto& t = b.text_for_file_checksum;
  EXPECT_EQ(session::digest_hex(b.checksum_type, ByteView(reinterpret_cast<const std::uint8_t*>(t.data()), t.size())),
            b.file_checksum);
}

TEST(Bmap, Version2Sha256) {
  const Bmap b = parse_bmap(doc("2.0", "  <ChecksumType> sha256 </ChecksumType>\n" +
                                           map_of("    <Range chksum=\"" + sha256_a + "\"> 0-1 </Range>\n"
                                                  "    <Range chksum=\"" + sha256_a + "\"> 3 </Range>\n")),
                            "img.bmap");
  ASSERT_EQ(b.ranges.size(), 2u);
  EXPECT_EQ(b.ranges[0].first, 0u);
  EXPECT_EQ(b.ranges[0].last, 1u);
  EXPECT_EQ(b.ranges[0].line, 11u);
  EXPECT_EQ(b.ranges[1].first, 3u);
  EXPECT_EQ(b.ranges[1].checksum, sha256_a);
  EXPECT_EQ(b.bytes_of(b.ranges[1]), (ByteRange{12288, 4096}));
  EXPECT_EQ(b.mapped_bytes(), 12288u);
}

TEST(Bmap, LastBlockIsCutAtImageSize) {
  const Bmap b = parse_bmap(doc("2.0", "  <ChecksumType> sha256 </ChecksumType>\n" + map_of("    <Range> 3 </Range>\n"),
                                "13000", "4096", "4", "1"),
                            "img.bmap");
  EXPECT_EQ(b.bytes_of(b.ranges[0]), (ByteRange{12288, 712}));
}

TEST(Bmap, Version1_0WithoutChecksums) {
  const Bmap b = parse_bmap(doc("1.0", map_of("    <Range> 0-2 </Range>\n")), "img.bmap");
  EXPECT_EQ(b.checksum_type, BmapChecksum::none);
  EXPECT_EQ(b.ranges[0].checksum, "");
}

TEST(Bmap, Version1_3Sha1) {
  const Bmap b = parse_bmap(doc("1.3", "  <BmapFileSHA1> " + sha1_b + " </BmapFileSHA1>\n" +
                                           map_of("    <Range sha1=\"" + sha1_b + "\"> 0-2 </Range>\n")),
                            "img.bmap");
  EXPECT_EQ(b.checksum_type, BmapChecksum::sha1);
  EXPECT_EQ(b.ranges[0].checksum, sha1_b);
  EXPECT_EQ(b.file_checksum, sha1_b);
  EXPECT_NE(b.text_for_file_checksum.find(std::string(40, '0')), std::string::npos);
}

TEST(Bmap, Version1_4ChecksumTypeSha1) {
  const Bmap b = parse_bmap(doc("1.4", "  <ChecksumType> sha1 </ChecksumType>\n" +
                                           map_of("    <Range chksum=\"" + sha1_b + "\"> 0-2 </Range>\n")),
                            "img.bmap");
  EXPECT_EQ(b.checksum_type, BmapChecksum::sha1);
  EXPECT_EQ(b.ranges[0].checksum, sha1_b);
}

TEST(Bmap, Sha1AndSha256DigestsOfKnownVectors) {
  const std::string abc = "abc";
  const ByteView v(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size());
  EXPECT_EQ(session::digest_hex(BmapChecksum::sha1, v), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(session::digest_hex(BmapChecksum::sha256, v),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

struct Bad {
  const char* name;
  std::string text;
  std::string message;
};

class BmapInvalid : public ::testing::TestWithParam<Bad> {};

TEST_P(BmapInvalid, NamesFileLineAndField) {
  EXPECT_EQ(error_of(GetParam().text), GetParam().message);
}

const std::string v2 = "  <ChecksumType> sha256 </ChecksumType>\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, BmapInvalid,
    ::testing::Values(
        Bad{"Empty", "", "img.bmap:1: XML: no root element (empty or not an XML file)"},
        Bad{"Unterminated", "<bmap version=\"2.0\">\n  <ImageSize> 1 </ImageSize>\n",
            "img.bmap:3: XML: the file ends inside <bmap> of line 1"},
        Bad{"UnterminatedTag", "<bmap version=\"2.0\">\n  <Block", "img.bmap:2: XML: unterminated tag <Block>"},
        Bad{"MismatchedTag", doc("2.0", v2 + "  <BlockMap> </Blockmap>\n"),
            "img.bmap:10: XML: end tag </Blockmap> does not match <BlockMap> of line 10"},
        Bad{"UnterminatedComment", "<!-- no end\n<bmap/>", "img.bmap:1: XML: unterminated comment"},
        Bad{"TextOutsideRoot", "junk <bmap version=\"2.0\"/>", "img.bmap:1: XML: text outside the root element"},
        Bad{"WrongRoot", "<map version=\"2.0\"></map>", "img.bmap:1: bmap: the root element is <map>, not <bmap>"},
        Bad{"NoVersion", "<bmap></bmap>", "img.bmap:1: bmap version: missing"},
        Bad{"Version3", doc("3.0", v2 + map_of("")), "img.bmap:4: bmap version: 3.0 is not supported (1.x and 2.x are)"},
        Bad{"MissingImageSize", "<bmap version=\"2.0\">\n</bmap>", "img.bmap:1: ImageSize: missing in <bmap>"},
        Bad{"NotNumeric", doc("2.0", v2 + map_of(""), "16k"), "img.bmap:5: ImageSize: \"16k\" is not a decimal number"},
        Bad{"BlockSizeNotPowerOfTwo", doc("2.0", v2 + map_of(""), "16384", "3000"),
            "img.bmap:6: BlockSize: 3000 is not a power of two"},
        Bad{"BlocksCountWrong", doc("2.0", v2 + map_of(""), "16384", "4096", "5"),
            "img.bmap:7: BlocksCount: 5 but ImageSize 16384 in blocks of 4096 makes 4"},
        Bad{"UnknownChecksumType", doc("2.0", "  <ChecksumType> md5 </ChecksumType>\n" + map_of("")),
            "img.bmap:9: ChecksumType: \"md5\" is not supported (sha256, sha1)"},
        Bad{"RangeOutsideImage", doc("2.0", v2 + map_of("    <Range> 2-4 </Range>\n")),
            "img.bmap:11: Range: 2-4: block 4 is outside the image (4 blocks)"},
        Bad{"RangeBackwards", doc("2.0", v2 + map_of("    <Range> 2-1 </Range>\n")),
            "img.bmap:11: Range: 2-1: the first block is after the last"},
        Bad{"RangeOverlaps", doc("2.0", v2 + map_of("    <Range> 0-2 </Range>\n    <Range> 2-3 </Range>\n")),
            "img.bmap:12: Range: 2-3: overlaps the previous range (which ends at block 2)"},
        Bad{"RangeNotAscending", doc("2.0", v2 + map_of("    <Range> 2-3 </Range>\n    <Range> 0 </Range>\n")),
            "img.bmap:12: Range: 0: not in ascending order (the previous range ends at block 3)"},
        Bad{"RangeNotANumber", doc("2.0", v2 + map_of("    <Range> x-3 </Range>\n")),
            "img.bmap:11: Range: \"x-3\" is not a block number or FIRST-LAST"},
        Bad{"MappedCountWrong", doc("2.0", v2 + map_of("    <Range> 0 </Range>\n")),
            "img.bmap:10: MappedBlocksCount: the ranges map 1 blocks but MappedBlocksCount says 3"},
        Bad{"ChecksumTooShort", doc("2.0", v2 + map_of("    <Range chksum=\"abc\"> 0-2 </Range>\n")),
            "img.bmap:11: Range chksum: \"abc\" is not a sha256 checksum (64 hex digits)"},
        Bad{"UnknownElementInMap", doc("2.0", v2 + map_of("    <Rang> 0-2 </Rang>\n")),
            "img.bmap:11: BlockMap: unexpected element <Rang>"}),
    [](const ::testing::TestParamInfo<Bad>& info) { return std::string(info.param.name); });

TEST(Bmap, ImageSizeMismatchNamesBothSizes) {
  const Bmap b = parse_bmap(doc("2.0", v2 + map_of("    <Range> 0-2 </Range>\n")), "rootfs.bmap");
  try {
    check_bmap_matches(b, 20000, "rootfs.ext4");
    FAIL() << "no error";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.message(),
              "rootfs.bmap: ImageSize: 16384 bytes, but rootfs.ext4 has 20000 bytes: the block map belongs to another image");
  }
  EXPECT_NO_THROW(check_bmap_matches(b, 16384, "rootfs.ext4"));
}

TEST(Bmap, LoadMissingFileIsFileNotFound) {
  try {
    load_bmap("/nonexistent/x.bmap");
    FAIL() << "no error";
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), errc::file_not_found);
    EXPECT_NE(e.message().find("/nonexistent/x.bmap"), std::string::npos);
  }
}

TEST(Bmap, FoundBesideTheImageUnderBmaptoolsNames) {
  const auto dir = test::temp_dir("bmap-beside");
  test::write_text(dir / "rootfs.ext4", "x");
  EXPECT_EQ(find_bmap_beside(dir / "rootfs.ext4"), std::filesystem::path());
  test::write_text(dir / "rootfs.bmap", "y");
  EXPECT_EQ(find_bmap_beside(dir / "rootfs.ext4"), dir / "rootfs.bmap");
  test::write_text(dir / "rootfs.ext4.bmap", "z");
  EXPECT_EQ(find_bmap_beside(dir / "rootfs.ext4"), dir / "rootfs.ext4.bmap");
}

TEST(Extents, BelowFourGibEachRangeIsAnExtent) {
  const std::vector<ByteRange> r{{0, 4096}, {65536, 8192}};
  EXPECT_EQ(session::extents_for_offsets(r, 4096), (std::vector<session::Extent>{{0, 4096}, {65536, 8192}}));
}

TEST(Extents, PastFourGibSendsFromTheLastAddressablePoint) {
  constexpr std::uint64_t gib = 1ull << 30;
  const std::vector<ByteRange> r{{0, 4096}, {5 * gib, 4096}, {5 * gib + 65536, 4096}};
  EXPECT_EQ(session::extents_for_offsets(r, 4096),
            (std::vector<session::Extent>{{0, 4096}, {4 * gib - 4096, gib + 4096 + 65536 + 4096}}));
}

TEST(Extents, AnExtentCrossingFourGibCarriesTheRest) {
  constexpr std::uint64_t gib = 1ull << 30;
  const std::vector<ByteRange> r{{4 * gib - 8192, 16384}, {5 * gib, 512}};
  EXPECT_EQ(session::extents_for_offsets(r, 4096),
            (std::vector<session::Extent>{{4 * gib - 8192, gib + 8192 + 512}}));
}
