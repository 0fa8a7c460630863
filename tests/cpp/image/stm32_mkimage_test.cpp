// SPDX-License-Identifier: MIT
// wrap() against an independent referee: U-Boot's `mkimage -T stm32image` (Debian u-boot-tools),
// which writes header v1 with option flags 1, ECDSA algorithm 1 and binary type 0x00. The
// project's bootstrap always installs mkimage, so a missing mkimage is a failure, not a skip.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <random>
#include <string>

#include "mp1boot/image/stm32_header.hpp"
#include "support/paths.hpp"

using namespace mp1boot;
using namespace mp1boot::image;

namespace {

struct MkimageCase {
  std::size_t size;
  std::uint32_t load;
  std::uint32_t entry;
};

void write_bytes(const std::filesystem::path& p, const Bytes& data) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::string hex_arg(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

void PrintTo(const MkimageCase& c, std::ostream* os) {
  *os << c.size << " bytes, load 0x" << std::hex << c.load << ", entry 0x" << c.entry;
}

class Mkimage : public ::testing::TestWithParam<MkimageCase> {};

}  // namespace

TEST(Mkimage, IsInstalled) {
  ASSERT_EQ(std::system("command -v mkimage >/dev/null 2>&1"), 0)
      << "mkimage not found on PATH: install Debian package u-boot-tools (the bootstrap does)";
}

TEST_P(Mkimage, V1IsByteIdentical) {
  const MkimageCase c = GetParam();
  std::mt19937 rng(static_cast<unsigned>(c.size));
  std::uniform_int_distribution<int> dist(0, 255);
  Bytes payload(c.size);
  for (auto& b : payload) b = static_cast<std::uint8_t>(dist(rng));

  const auto dir = test::temp_dir("mkimage");
  write_bytes(dir / "in.bin", payload);
  const std::string cmd = "mkimage -T stm32image -a " + hex_arg(c.load) + " -e " + hex_arg(c.entry) +
                          " -d '" + (dir / "in.bin").string() + "' '" + (dir / "out.stm32").string() +
                          "' >'" + (dir / "log.txt").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << " failed (is u-boot-tools installed?); see "
                                         << (dir / "log.txt");
  const Bytes expected = read_file(dir / "out.stm32");

  WrapOptions o;
  o.header_major = 1;
  o.load_address = c.load;
  o.entry_point = c.entry;
  o.binary_type = 0x00;
  o.option_flags = 1;
  o.ecdsa_algorithm = 1;
  const Bytes ours = wrap(payload, o);

  ASSERT_EQ(ours.size(), expected.size());
  for (std::size_t i = 0; i < ours.size(); ++i)
    ASSERT_EQ(ours[i], expected[i]) << "first difference at offset 0x" << std::hex << i;
  // And our parser reads mkimage's output back.
  const Stm32Image img = parse_image(expected, "mkimage output");
  EXPECT_EQ(img.header.image_length, c.size);
  EXPECT_EQ(img.header.load_address, c.load);
  EXPECT_EQ(img.header.entry_point, c.entry);
  EXPECT_TRUE(img.checksum_ok());
}

// mkimage refuses an empty input, so the smallest case is one byte.
INSTANTIATE_TEST_SUITE_P(Sizes, Mkimage,
                         ::testing::Values(MkimageCase{1, 0xC0000000, 0xC0000000},
                                           MkimageCase{1001, 0x2FFC2500, 0x2FFC2504},
                                           MkimageCase{4096, 0xC0100000, 0xC0100100}),
                         [](const auto& info) { return "size" + std::to_string(info.param.size); });
