// SPDX-License-Identifier: MIT
// STM32 image header: wrap/parse round trips for v1, v2.0, v2.2 and v2.3, the v2 padding extension
// layout, every parse error with its offset, checksum mismatch, the ROM checks per SoC, read_file,
// describe(), and the sample images of tests/data/images (made by an independent Python script).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <sstream>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "support/paths.hpp"

using namespace mp1boot;
using namespace mp1boot::image;

namespace {

Bytes random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, 255);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(dist(rng));
  return b;
}

std::uint32_t sum_of(const Bytes& b) {
  std::uint64_t s = 0;
  for (auto x : b) s += x;
  return static_cast<std::uint32_t>(s & 0xFFFFFFFFu);
}

// Runs f, expects a LayoutError with `code`, returns a copy of it (or a placeholder on failure).
LayoutError expect_layout_error(const std::function<void()>& f, errc code) {
  try {
    f();
  } catch (const LayoutError& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected LayoutError, got: " << e.what();
    return LayoutError(errc::ok, "wrong exception");
  }
  ADD_FAILURE() << "expected LayoutError, nothing thrown";
  return LayoutError(errc::ok, "nothing thrown");
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

WrapOptions v1_options() {
  WrapOptions o;
  o.header_major = 1;
  o.load_address = 0xC0000000;
  o.entry_point = 0xC0000100;
  o.binary_type = 0x10;
  o.image_version = 7;
  o.option_flags = 1;
  o.ecdsa_algorithm = 2;
  return o;
}

WrapOptions v2_options() {
  WrapOptions o = v1_options();
  o.header_major = 2;
  o.load_address = 0x2FFE0000;
  o.entry_point = 0x2FFE0004;
  o.binary_type = 0x11;
  return o;
}

const SocInfo& mp13() { return soc_by_name("stm32mp135"); }
const SocInfo& mp15() { return soc_by_name("stm32mp157"); }
const SocInfo& mp25() { return soc_by_name("stm32mp257"); }

}  // namespace

// ---- checksum -------------------------------------------------------------------------------

TEST(Stm32Checksum, SumsBytesModulo2To32) {
  EXPECT_EQ(payload_checksum({}), 0u);
  const Bytes two{0xFF, 0x01};
  EXPECT_EQ(payload_checksum(two), 0x100u);
  // 16843010 * 255 = 2^32 + 254: the sum wraps.
  const Bytes many(16843010, 0xFF);
  EXPECT_EQ(payload_checksum(many), 254u);
}

// ---- round trips ----------------------------------------------------------------------------

TEST(Stm32Wrap, V1RoundTrip) {
  const Bytes payload = random_bytes(1001, 1);
  const Bytes img = wrap(payload, v1_options());
  ASSERT_EQ(img.size(), 256u + 1001u);
  EXPECT_EQ(to_hex(ByteView(img).subspan(0, 4)), "53 54 4d 32");
  EXPECT_EQ(to_hex(ByteView(img).subspan(0x48, 4)), "00 00 01 00");
  EXPECT_EQ(img[0xFF], 0x10);

  const Stm32Image parsed = parse_image(img, "v1.stm32");
  const Stm32Header& h = parsed.header;
  EXPECT_EQ(h.version, version_v1_0);
  EXPECT_EQ(h.major(), 1);
  EXPECT_EQ(h.minor(), 0);
  EXPECT_EQ(h.header_size, 256u);
  EXPECT_EQ(h.image_length, 1001u);
  EXPECT_EQ(h.checksum, sum_of(payload));
  EXPECT_EQ(h.load_address, 0xC0000000u);
  EXPECT_EQ(h.entry_point, 0xC0000100u);
  EXPECT_EQ(h.image_version, 7u);
  EXPECT_EQ(h.option_flags, 1u);
  EXPECT_EQ(h.ecdsa_algorithm, 2u);
  EXPECT_EQ(h.extensions_length, 0u);
  EXPECT_EQ(h.binary_type, 0x10u);
  EXPECT_TRUE(h.extensions.empty());
  EXPECT_EQ(h.signature, (std::array<std::uint8_t, 64>{}));
  EXPECT_EQ(h.public_key, (std::array<std::uint8_t, 64>{}));
  EXPECT_TRUE(parsed.checksum_ok());
  EXPECT_EQ(parsed.computed_checksum, h.checksum);
  EXPECT_EQ(parsed.trailing_bytes, 0u);
  EXPECT_EQ(Bytes(parsed.payload.begin(), parsed.payload.end()), payload);
  EXPECT_EQ(parsed.payload.data(), img.data() + 256);  // a view, not a copy
}

TEST(Stm32Wrap, V2RoundTrip) {
  const Bytes payload = random_bytes(777, 2);
  const Bytes img = wrap(payload, v2_options());
  ASSERT_EQ(img.size(), 512u + 777u);
  const Stm32Image parsed = parse_image(img);
  const Stm32Header& h = parsed.header;
  EXPECT_EQ(h.version, version_v2_0);
  EXPECT_EQ(h.major(), 2);
  EXPECT_EQ(h.minor(), 0);
  EXPECT_EQ(h.header_size, 512u);
  EXPECT_EQ(h.image_length, 777u);
  EXPECT_EQ(h.checksum, sum_of(payload));
  EXPECT_EQ(h.load_address, 0x2FFE0000u);
  EXPECT_EQ(h.entry_point, 0x2FFE0004u);
  EXPECT_EQ(h.image_version, 7u);
  EXPECT_EQ(h.option_flags, 0x80000000u);  // v2: extension flags, set automatically
  EXPECT_EQ(h.extensions_length, 0x180u);
  EXPECT_EQ(h.ecdsa_algorithm, 0u);
  EXPECT_EQ(h.binary_type, 0x11u);
  ASSERT_EQ(h.extensions.size(), 1u);
  EXPECT_EQ(h.extensions[0].type, ext_padding);
  EXPECT_EQ(h.extensions[0].length, 0x180u);
  EXPECT_EQ(h.extensions[0].parameters, Bytes(0x180 - 8, 0));
  EXPECT_TRUE(parsed.checksum_ok());
  EXPECT_EQ(Bytes(parsed.payload.begin(), parsed.payload.end()), payload);
}

TEST(Stm32Wrap, V2PaddingExtensionLayout) {
  WrapOptions o = v2_options();
  o.binary_type = 0x12345678;
  const Bytes payload{1, 2, 3};
  const Bytes img = wrap(payload, o);
  ASSERT_EQ(img.size(), 515u);
  const ByteView v(img);
  EXPECT_EQ(to_hex(v.subspan(0x00, 4)), "53 54 4d 32");           // magic
  EXPECT_EQ(v.subspan(0x04, 64).size(), 64u);
  EXPECT_TRUE(std::all_of(img.begin() + 0x04, img.begin() + 0x44, [](auto b) { return b == 0; }));
  EXPECT_EQ(to_hex(v.subspan(0x44, 4)), "06 00 00 00");           // checksum 1+2+3
  EXPECT_EQ(to_hex(v.subspan(0x48, 4)), "00 00 02 00");           // version 2.0
  EXPECT_EQ(to_hex(v.subspan(0x4C, 4)), "03 00 00 00");           // image length
  EXPECT_EQ(to_hex(v.subspan(0x50, 4)), "04 00 fe 2f");           // entry
  EXPECT_EQ(to_hex(v.subspan(0x54, 4)), "00 00 00 00");           // reserved
  EXPECT_EQ(to_hex(v.subspan(0x58, 4)), "00 00 fe 2f");           // load
  EXPECT_EQ(to_hex(v.subspan(0x5C, 4)), "00 00 00 00");           // reserved
  EXPECT_EQ(to_hex(v.subspan(0x60, 4)), "07 00 00 00");           // image version
  EXPECT_EQ(to_hex(v.subspan(0x64, 4)), "00 00 00 80");           // extension flags: padding
  EXPECT_EQ(to_hex(v.subspan(0x68, 4)), "80 01 00 00");           // extensions length 0x180
  EXPECT_EQ(to_hex(v.subspan(0x6C, 4)), "78 56 34 12");           // binary type LE32
  EXPECT_TRUE(std::all_of(img.begin() + 0x70, img.begin() + 0x80, [](auto b) { return b == 0; }));
  EXPECT_EQ(to_hex(v.subspan(0x80, 4)), "53 54 ff ff");           // 'S' 'T' 0xFF 0xFF
  EXPECT_EQ(to_hex(v.subspan(0x84, 4)), "80 01 00 00");           // its length, 8-byte head included
  EXPECT_TRUE(std::all_of(img.begin() + 0x88, img.begin() + 0x200, [](auto b) { return b == 0; }));
  EXPECT_EQ(to_hex(v.subspan(0x200)), "01 02 03");
}

TEST(Stm32Wrap, V2_2ForMp25) {
  const Bytes payload = random_bytes(64, 3);
  const WrapOptions o = wrap_options_for(mp25());
  const Bytes img = wrap(payload, o);
  EXPECT_EQ(to_hex(ByteView(img).subspan(0x48, 4)), "00 02 02 00");
  const Stm32Image parsed = parse_image(img);
  EXPECT_EQ(parsed.header.version, version_v2_2);
  EXPECT_EQ(parsed.header.major(), 2);
  EXPECT_EQ(parsed.header.minor(), 2);
  EXPECT_EQ(parsed.header.header_size, 512u);
  EXPECT_EQ(parsed.header.load_address, 0x0E002600u);
  EXPECT_NO_THROW(check_for_rom(parsed, mp25()));
}

TEST(Stm32Wrap, OptionsForEachSoc) {
  const WrapOptions o15 = wrap_options_for(mp15());
  EXPECT_EQ(o15.header_major, 1);
  EXPECT_EQ(o15.load_address, 0x2FFC2500u);
  EXPECT_EQ(o15.entry_point, 0x2FFC2500u);
  EXPECT_EQ(o15.binary_type, 0x10u);
  const WrapOptions o13 = wrap_options_for(mp13());
  EXPECT_EQ(o13.header_major, 2);
  EXPECT_EQ(o13.header_minor, 0);
  EXPECT_EQ(o13.load_address, 0x2FFE0000u);
  EXPECT_EQ(o13.entry_point, 0x2FFE0000u);
  const WrapOptions o25 = wrap_options_for(mp25());
  EXPECT_EQ(o25.header_major, 2);
  EXPECT_EQ(o25.header_minor, 2);
}

TEST(Stm32Wrap, RejectsUnsupportedOptions) {
  const Bytes payload{1};
  WrapOptions o;
  o.header_major = 3;
  EXPECT_THROW(wrap(payload, o), UsageError);
  o.header_major = 2;
  o.header_minor = 3;  // v2.3 is recognised when parsing, not produced
  EXPECT_THROW(wrap(payload, o), UsageError);
  o = WrapOptions{};
  o.binary_type = 0x100;  // does not fit the v1 byte
  try {
    wrap(payload, o);
    ADD_FAILURE() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.code(), errc::usage);
    EXPECT_TRUE(contains(e.what(), "0x00000100")) << e.what();
  }
  o.header_major = 2;  // but a v2 header has a 32-bit field
  EXPECT_EQ(parse_header(wrap(payload, o)).binary_type, 0x100u);
}

TEST(Stm32Parse, TrailingBytesAreIgnoredAndCounted) {
  Bytes img = wrap(Bytes{9, 9}, v1_options());
  img.resize(img.size() + 5, 0xFF);
  const Stm32Image parsed = parse_image(img);
  EXPECT_EQ(parsed.payload.size(), 2u);
  EXPECT_EQ(parsed.trailing_bytes, 5u);
  EXPECT_TRUE(parsed.checksum_ok());
}

// ---- extensions and v2.3 --------------------------------------------------------------------

TEST(Stm32Parse, V2AuthenticationExtensionGivesPublicKey) {
  Bytes img = wrap(Bytes{5, 6, 7}, v2_options());
  // Replace the padding extension by authentication (8 + 12 + 64 + one 32-byte hash = 116 bytes)
  // followed by a shorter padding extension; the total stays 0x180.
  const std::uint32_t auth_len = 116;
  store_le32(img.data() + 0x64, ext_flag_authentication | ext_flag_padding);
  store_le32(img.data() + 0x80, ext_authentication);
  store_le32(img.data() + 0x84, auth_len);
  store_le32(img.data() + 0x88, 0);  // key index
  store_le32(img.data() + 0x8C, 1);  // number of keys
  store_le32(img.data() + 0x90, 1);  // P-256
  for (int i = 0; i < 64; ++i) img[0x94 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(0xA0 + i);
  store_le32(img.data() + 0x80 + auth_len, ext_padding);
  store_le32(img.data() + 0x84 + auth_len, 0x180 - auth_len);

  const Stm32Image parsed = parse_image(img);
  const Stm32Header& h = parsed.header;
  ASSERT_EQ(h.extensions.size(), 2u);
  EXPECT_EQ(h.extensions[0].type, ext_authentication);
  EXPECT_EQ(h.extensions[0].length, auth_len);
  EXPECT_EQ(h.extensions[0].parameters.size(), auth_len - 8);
  EXPECT_EQ(h.extensions[1].type, ext_padding);
  EXPECT_EQ(h.extensions[1].length, 0x180 - auth_len);
  EXPECT_EQ(h.public_key[0], 0xA0);
  EXPECT_EQ(h.public_key[63], 0xA0 + 63);
  const std::string text = describe(parsed);
  EXPECT_TRUE(contains(text, "extension flags: 0x80000001 (authentication, padding)\n")) << text;
  EXPECT_TRUE(contains(text, "extension 0: type 0x02005453 (authentication), length 116\n")) << text;
  EXPECT_TRUE(contains(text, "extension 1: type 0xffff5453 (padding), length 268\n")) << text;
}

TEST(Stm32Parse, RecognisesV2_3) {
  // 576-byte header (STM32MP21x): 96-byte signature, every later field 0x20 further on.
  const Bytes payload = random_bytes(100, 4);
  Bytes img(576 + payload.size(), 0);
  std::uint8_t* p = img.data();
  store_le32(p, header_magic);
  for (std::size_t i = 0x04; i < 0x64; ++i) p[i] = 0xAA;  // signature: 0x48 is not a version here
  store_le32(p + 0x64, sum_of(payload));
  store_le32(p + 0x68, version_v2_3);
  store_le32(p + 0x6C, static_cast<std::uint32_t>(payload.size()));
  store_le32(p + 0x70, 0x0E012344);  // entry
  store_le32(p + 0x78, 0x0E012340);  // load
  store_le32(p + 0x80, 3);           // image version
  store_le32(p + 0x84, ext_flag_padding);
  store_le32(p + 0x88, 0x1A0);
  store_le32(p + 0x8C, 0x10);
  store_le32(p + 0x98, 0x40);        // non-secure payload length
  store_le32(p + 0x9C, 0xCAFEF00D);  // non-secure payload hash
  store_le32(p + 0xA0, ext_padding);
  store_le32(p + 0xA4, 0x1A0);
  std::copy(payload.begin(), payload.end(), img.begin() + 576);

  const Stm32Image parsed = parse_image(img);
  const Stm32Header& h = parsed.header;
  EXPECT_EQ(h.version, version_v2_3);
  EXPECT_EQ(h.major(), 2);
  EXPECT_EQ(h.minor(), 3);
  EXPECT_EQ(h.header_size, 576u);
  EXPECT_EQ(h.image_length, 100u);
  EXPECT_EQ(h.entry_point, 0x0E012344u);
  EXPECT_EQ(h.load_address, 0x0E012340u);
  EXPECT_EQ(h.image_version, 3u);
  EXPECT_EQ(h.option_flags, ext_flag_padding);
  EXPECT_EQ(h.extensions_length, 0x1A0u);
  EXPECT_EQ(h.binary_type, 0x10u);
  EXPECT_EQ(h.non_secure_payload_length, 0x40u);
  EXPECT_EQ(h.non_secure_payload_hash, 0xCAFEF00Du);
  EXPECT_EQ(h.signature[0], 0xAA);
  ASSERT_EQ(h.extensions.size(), 1u);
  EXPECT_EQ(h.extensions[0].length, 0x1A0u);
  EXPECT_TRUE(parsed.checksum_ok());
  EXPECT_EQ(Bytes(parsed.payload.begin(), parsed.payload.end()), payload);
  EXPECT_TRUE(contains(describe(parsed), "header version: 0x00020300 (v2.3)\n"));
}

// ---- parse errors ---------------------------------------------------------------------------

TEST(Stm32ParseError, ShortFile) {
  const Bytes three{'S', 'T', 'M'};
  auto e = expect_layout_error([&] { parse_header(three, "short.bin"); }, errc::bad_image);
  EXPECT_EQ(std::string(e.what()),
            "short.bin: truncated STM32 header: the data ends at offset 0x3, a header needs at least 256 bytes");
  EXPECT_EQ(e.context().file, "short.bin");

  Bytes shortv1 = wrap(Bytes{1}, v1_options());
  shortv1.resize(200);  // magic fine, header cut
  e = expect_layout_error([&] { parse_image(shortv1, "cut.stm32"); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "cut.stm32: truncated STM32 header")) << e.what();
  EXPECT_TRUE(contains(e.what(), "offset 0xc8")) << e.what();

  e = expect_layout_error([&] { parse_header(Bytes{}, "empty.bin"); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "offset 0x0")) << e.what();
}

TEST(Stm32ParseError, BadMagic) {
  Bytes elf(300, 0);
  elf[0] = 0x7f, elf[1] = 'E', elf[2] = 'L', elf[3] = 'F';
  auto e = expect_layout_error([&] { parse_image(elf, "tf-a.elf"); }, errc::bad_image);
  EXPECT_EQ(e.message(), "not an STM32 image: bad magic at offset 0x0 (found 7f 45 4c 46)");
  EXPECT_EQ(std::string(e.what()), "tf-a.elf: not an STM32 image: bad magic at offset 0x0 (found 7f 45 4c 46)");
  EXPECT_FALSE(has_stm32_magic(elf));
  // Without a file name there is no prefix.
  e = expect_layout_error([&] { parse_header(elf); }, errc::bad_image);
  EXPECT_EQ(std::string(e.what()), "not an STM32 image: bad magic at offset 0x0 (found 7f 45 4c 46)");
}

TEST(Stm32ParseError, UnknownVersion) {
  Bytes img = wrap(Bytes{1, 2}, v1_options());
  store_le32(img.data() + 0x48, 0x00030000);
  auto e = expect_layout_error([&] { parse_image(img, "v3.stm32"); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "v3.stm32: unknown STM32 header version 0x00030000 at offset 0x48")) << e.what();
  store_le32(img.data() + 0x48, 0x00010100);  // v1.1 does not exist
  expect_layout_error([&] { parse_image(img); }, errc::bad_image);
  store_le32(img.data() + 0x48, 0x01010000);  // byte 3 must be zero
  expect_layout_error([&] { parse_image(img); }, errc::bad_image);
}

TEST(Stm32ParseError, TruncatedPayload) {
  Bytes img = wrap(random_bytes(1000, 5), v1_options());
  img.resize(img.size() - 100);  // 1156 bytes: header 256 + 900 of the 1000 payload bytes
  auto e = expect_layout_error([&] { parse_image(img, "fsbl.stm32"); }, errc::bad_image);
  const std::string w = e.what();
  EXPECT_TRUE(contains(w, "fsbl.stm32: truncated STM32 image")) << w;
  EXPECT_TRUE(contains(w, "image length 1000 (offset 0x4c)")) << w;
  EXPECT_TRUE(contains(w, "needs 1256 bytes")) << w;
  EXPECT_TRUE(contains(w, "has only 1156")) << w;
  EXPECT_TRUE(contains(w, "offset 0x484")) << w;
  // The header alone still parses.
  EXPECT_EQ(parse_header(img).image_length, 1000u);
}

TEST(Stm32ParseError, TruncatedV2Extensions) {
  Bytes img = wrap(Bytes{1}, v2_options());
  img.resize(300);
  auto e = expect_layout_error([&] { parse_header(img, "mp13.stm32"); }, errc::bad_image);
  EXPECT_EQ(std::string(e.what()),
            "mp13.stm32: truncated STM32 header: extensions length 0x00000180 at offset 0x68 makes a 512-byte "
            "header but the data ends at offset 0x12c");
  // An absurd extensions length must not overflow.
  img = wrap(Bytes{1}, v2_options());
  store_le32(img.data() + 0x68, 0xFFFFFFFF);
  expect_layout_error([&] { parse_header(img); }, errc::bad_image);
}

TEST(Stm32ParseError, BadExtensionLength) {
  Bytes img = wrap(Bytes{1}, v2_options());
  store_le32(img.data() + 0x84, 4);  // shorter than its own 8-byte head
  auto e = expect_layout_error([&] { parse_header(img, "x.stm32"); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "bad STM32 header extension at offset 0x80: length 0x00000004 at offset 0x84"))
      << e.what();
  store_le32(img.data() + 0x84, 0x181);  // runs past the extensions length
  expect_layout_error([&] { parse_header(img); }, errc::bad_image);
  store_le32(img.data() + 0x84, 0x17C);  // leaves 4 bytes: too few for another extension head
  e = expect_layout_error([&] { parse_header(img); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "at offset 0x1fc")) << e.what();
}

// ---- checksum mismatch ----------------------------------------------------------------------

TEST(Stm32Checksum, MismatchIsReportedNotThrown) {
  const Bytes payload = random_bytes(500, 6);
  Bytes img = wrap(payload, v1_options());
  const std::uint32_t good = sum_of(payload);
  EXPECT_TRUE(contains(describe(parse_image(img)), "checksum: " + hex32(good) + " (ok)\n"));
  img[256 + 10] = static_cast<std::uint8_t>(img[256 + 10] ^ 0x01);
  Stm32Image parsed;
  ASSERT_NO_THROW(parsed = parse_image(img));
  EXPECT_FALSE(parsed.checksum_ok());
  EXPECT_EQ(parsed.header.checksum, good);
  EXPECT_EQ(parsed.computed_checksum, payload_checksum(parsed.payload));
  EXPECT_NE(parsed.computed_checksum, good);
  EXPECT_TRUE(contains(describe(parsed),
                       "checksum: " + hex32(good) + " (MISMATCH: computed " + hex32(parsed.computed_checksum) + ")\n"));
}

// ---- ROM checks -----------------------------------------------------------------------------

TEST(Stm32Rom, AcceptsMatchingImages) {
  const Bytes payload = random_bytes(4000, 7);
  const Bytes v1 = wrap(payload, wrap_options_for(mp15()));
  const Bytes v2 = wrap(payload, wrap_options_for(mp13()));
  EXPECT_NO_THROW(check_for_rom(parse_image(v1), mp15(), "a"));
  EXPECT_NO_THROW(check_for_rom(parse_image(v2), mp13(), "b"));
}

TEST(Stm32Rom, HeaderVersionMismatchBothWays) {
  const Bytes payload{1, 2, 3, 4};
  const Bytes v1 = wrap(payload, wrap_options_for(mp15()));
  const Bytes v2 = wrap(payload, wrap_options_for(mp13()));
  const Bytes v22 = wrap(payload, wrap_options_for(mp25()));
  auto e = expect_layout_error([&] { check_for_rom(parse_image(v1), mp13(), "tf-a-mp15.stm32"); },
                               errc::bad_image);
  EXPECT_EQ(e.message(), "header v1 image (STM32MP15x) but the device is STM32MP13x, which needs header v2");
  EXPECT_EQ(std::string(e.what()),
            "tf-a-mp15.stm32: header v1 image (STM32MP15x) but the device is STM32MP13x, which needs header v2");
  e = expect_layout_error([&] { check_for_rom(parse_image(v2), mp15(), "tf-a-mp13.stm32"); }, errc::bad_image);
  EXPECT_EQ(e.message(), "header v2 image (STM32MP13x) but the device is STM32MP15x, which needs header v1");
  e = expect_layout_error([&] { check_for_rom(parse_image(v22), mp15()); }, errc::bad_image);
  EXPECT_EQ(e.message(), "header v2.2 image (STM32MP25x) but the device is STM32MP15x, which needs header v1");
  e = expect_layout_error([&] { check_for_rom(parse_image(v1), mp25()); }, errc::bad_image);
  EXPECT_EQ(e.message(), "header v1 image (STM32MP15x) but the device is STM32MP25x, which needs header v2.2");
}

TEST(Stm32Rom, PayloadTooLarge) {
  // MP13: 128 KiB max.
  Bytes at_limit = wrap(Bytes(128 * 1024, 0), wrap_options_for(mp13()));
  EXPECT_NO_THROW(check_for_rom(parse_image(at_limit), mp13()));
  Bytes over = wrap(Bytes(128 * 1024 + 1, 0), wrap_options_for(mp13()));
  auto e = expect_layout_error([&] { check_for_rom(parse_image(over), mp13(), "big.stm32"); }, errc::bad_image);
  EXPECT_EQ(std::string(e.what()),
            "big.stm32: FSBL payload too large for STM32MP13x: 131073 bytes, the ROM accepts at most 131072");
  // MP15: 247 KiB max.
  over = wrap(Bytes(247 * 1024 + 1, 0), wrap_options_for(mp15()));
  e = expect_layout_error([&] { check_for_rom(parse_image(over), mp15()); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "252929 bytes")) << e.what();
  EXPECT_TRUE(contains(e.what(), "at most 252928")) << e.what();
}

TEST(Stm32Rom, Checksum) {
  Bytes img = wrap(Bytes{10, 20, 30}, wrap_options_for(mp15()));
  img.back() = 31;
  auto e = expect_layout_error([&] { check_for_rom(parse_image(img), mp15(), "fsbl.stm32"); },
                               errc::bad_checksum);
  EXPECT_EQ(std::string(e.what()),
            "fsbl.stm32: payload checksum mismatch: header says 0x0000003c, computed 0x0000003d over 3 payload bytes");
  // Same on MP13 with a v2 image.
  img = wrap(Bytes{10, 20, 30}, wrap_options_for(mp13()));
  img.back() = 0;
  expect_layout_error([&] { check_for_rom(parse_image(img), mp13()); }, errc::bad_checksum);
}

// ---- read_file ------------------------------------------------------------------------------

TEST(Stm32ReadFile, MissingFile) {
  const auto path = test::temp_dir("image-read") / "nope.stm32";
  auto e = expect_layout_error([&] { read_file(path); }, errc::file_not_found);
  EXPECT_EQ(std::string(e.what()), path.string() + ": no such file");
  EXPECT_EQ(e.context().file, path.string());
}

TEST(Stm32ReadFile, DirectoryAndRegularFile) {
  const auto dir = test::temp_dir("image-read");
  auto e = expect_layout_error([&] { read_file(dir); }, errc::file_not_found);
  EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  const Bytes data = random_bytes(3000, 8);
  {
    std::ofstream out(dir / "f.bin", std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  }
  EXPECT_EQ(read_file(dir / "f.bin"), data);
}

// Files are stat'ed before anything reads them: a FIFO would block the read forever, /dev/zero
// never ends, a 4 GiB file must not be read whole to look at its header.
TEST(Stm32ReadFile, FifoDeviceAndOversizedFilesAreRefusedWithoutReading) {
  const auto dir = test::temp_dir("image-read-kinds");
  const auto fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto e = expect_layout_error([&] { read_file(fifo); }, errc::file_not_found);
  EXPECT_NE(std::string(e.what()).find("FIFO"), std::string::npos) << e.what();
  e = expect_layout_error([&] { read_file("/dev/zero"); }, errc::file_not_found);
  EXPECT_EQ(std::string(e.what()), "/dev/zero: is a character device: reading it may never end, not a regular file");
  e = expect_layout_error([&] { (void)read_image_file(fifo); }, errc::file_not_found);
  const auto big = dir / "big.bin";
  { std::ofstream(big, std::ios::binary).put('x'); }
  std::filesystem::resize_file(big, 300 * 1024);
  e = expect_layout_error([&] { read_file(big, 256 * 1024, "the ROM"); }, errc::file_not_found);
  EXPECT_NE(std::string(e.what()).find("is 307200 bytes (300 KiB), more than the 262144 bytes (256 KiB) that the ROM accepts"),
            std::string::npos) << e.what();
}

TEST(Stm32ReadFile, ImageFileIsReadHeaderFirst) {
  const auto dir = test::temp_dir("image-read-header-first");
  // A 4 GiB sparse file of zeros: the header check fails after one bounded read.
  const auto huge = dir / "huge.stm32";
  { std::ofstream(huge, std::ios::binary).put('\0'); }
  std::filesystem::resize_file(huge, 4ull << 30);
  expect_layout_error([&] { (void)read_image_file(huge); }, errc::bad_image);
  // A valid image followed by 1 MiB of padding: only header + payload are read.
  const Bytes img = wrap(random_bytes(5000, 3), v1_options());
  const auto padded = dir / "padded.stm32";
  {
    std::ofstream out(padded, std::ios::binary);
    out.write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size()));
  }
  std::filesystem::resize_file(padded, img.size() + (1u << 20));
  const ImageFile f = read_image_file(padded);
  EXPECT_EQ(f.data, img);
  EXPECT_EQ(f.file_size, img.size() + (1u << 20));
}

// ---- describe -------------------------------------------------------------------------------

TEST(Stm32Describe, EveryLineIsNameColonValue) {
  const Bytes img1 = wrap(random_bytes(1001, 9), v1_options());
  const std::string v1 = describe(parse_image(img1));
  for (const char* line : {"header version: 0x00010000 (v1.0)\n", "header size: 256\n", "image length: 1001\n",
                           "entry point: 0xc0000100\n", "load address: 0xc0000000\n", "image version: 7\n",
                           "option flags: 0x00000001 (no signature check)\n",
                           "ecdsa algorithm: 2 (Brainpool P-256)\n", "binary type: 0x00000010 (TF-A)\n",
                           "signature: none (all zero)\n", "public key: none (all zero)\n"})
    EXPECT_TRUE(contains(v1, line)) << "missing '" << line << "' in\n" << v1;
  EXPECT_FALSE(contains(v1, "extension"));

  const Bytes img2 = wrap(Bytes{1}, v2_options());
  const std::string v2 = describe(parse_image(img2));
  for (const char* line : {"header version: 0x00020000 (v2.0)\n", "header size: 512\n",
                           "extension flags: 0x80000000 (padding)\n", "extensions length: 384\n",
                           "binary type: 0x00000011 (TF-A)\n", "extension 0: type 0xffff5453 (padding), length 384\n"})
    EXPECT_TRUE(contains(v2, line)) << "missing '" << line << "' in\n" << v2;
  EXPECT_FALSE(contains(v2, "ecdsa"));

  const std::regex shape("[a-z0-9 -]+: .+");
  for (const std::string* text : {&v1, &v2}) {
    std::istringstream in(*text);
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines)
      EXPECT_TRUE(std::regex_match(line, shape)) << "'" << line << "'";
    EXPECT_GE(lines, 12);
  }
}

TEST(Stm32Describe, Names) {
  EXPECT_EQ(version_name(version_v1_0), "v1.0");
  EXPECT_EQ(version_name(version_v2_2), "v2.2");
  EXPECT_EQ(binary_type_name(0x00), "U-Boot");
  EXPECT_EQ(binary_type_name(0x1F), "TF-A");
  EXPECT_EQ(binary_type_name(0x20), "OP-TEE");
  EXPECT_EQ(binary_type_name(0x30), "Cortex-M33 firmware");
  EXPECT_EQ(binary_type_name(0x42), "unknown");
}

// ---- sample images in tests/data/images (made by make_images.py) ----------------------------

namespace {
Bytes sample(const char* name) { return read_file(test::data_dir() / "images" / name); }
Bytes sample_payload(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 31 + 7) & 0xFF);
  return b;
}
}  // namespace

TEST(Stm32Samples, GoodImagesMatchWrapAndPassRomChecks) {
  struct Case {
    const char* file;
    const SocInfo& soc;
  };
  for (const Case& c : {Case{"v1_mp15.stm32", mp15()}, Case{"v2_mp13.stm32", mp13()},
                        Case{"v2_2_mp25.stm32", mp25()}}) {
    SCOPED_TRACE(c.file);
    const Bytes file = sample(c.file);
    ASSERT_EQ(file.size(), 4096u);
    const Stm32Image img = parse_image(file, c.file);
    EXPECT_EQ(img.header.version, c.soc.header_version);
    EXPECT_EQ(img.header.header_size, c.soc.header_size);
    EXPECT_TRUE(img.checksum_ok());
    EXPECT_NO_THROW(check_for_rom(img, c.soc, c.file));
    // The Python generator and wrap() agree byte for byte.
    EXPECT_EQ(wrap(sample_payload(4096 - c.soc.header_size), wrap_options_for(c.soc)), file);
  }
}

TEST(Stm32Samples, DefectiveImages) {
  const Bytes bad = sample("v1_mp15_bad_checksum.stm32");
  const Stm32Image img = parse_image(bad, "v1_mp15_bad_checksum.stm32");
  EXPECT_FALSE(img.checksum_ok());
  expect_layout_error([&] { check_for_rom(img, mp15(), "v1_mp15_bad_checksum.stm32"); }, errc::bad_checksum);

  const Bytes cut = sample("v1_mp15_truncated.stm32");
  auto e = expect_layout_error([&] { parse_image(cut, "v1_mp15_truncated.stm32"); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "v1_mp15_truncated.stm32: truncated STM32 image")) << e.what();

  const Bytes elf = sample("not_stm32.bin");
  e = expect_layout_error([&] { parse_image(elf, "not_stm32.bin"); }, errc::bad_image);
  EXPECT_TRUE(contains(e.what(), "bad magic at offset 0x0 (found 7f 45 4c 46)")) << e.what();
}
