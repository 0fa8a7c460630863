// SPDX-License-Identifier: MIT
// SHA-256 of the flash report against the FIPS 180-4 / NIST known answers, whole and in pieces
// (incrementally through session::Digest, the public digest; SHA-1 through the same class).
#include <gtest/gtest.h>

#include <string>

#include "mp1boot/session/flasher.hpp"

using namespace mp1boot;

namespace {

ByteView text(const std::string& s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(session::sha256_hex(text("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(session::sha256_hex(text("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(session::sha256_hex(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(session::sha256_hex(text("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                                     "klmnopqrlmnopqrsmnopqrstnopqrstu")),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, OneMillionAInUnevenPieces) {
  session::Digest s(image::BmapChecksum::sha256);
  const std::string chunk(997, 'a');
  std::size_t left = 1000000;
  while (left) {
    const std::size_t n = std::min(left, chunk.size());
    s.update(text(chunk.substr(0, n)));
    left -= n;
  }
  EXPECT_EQ(s.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, BlockBoundaries) {
  // 55, 56 and 64 bytes straddle the padding cases; pieces of 1 byte give the same digest.
  for (std::size_t n : {55u, 56u, 63u, 64u, 65u}) {
    const std::string s(n, 'x');
    session::Digest piecewise(image::BmapChecksum::sha256);
    for (char c : s) piecewise.update(text(std::string(1, c)));
    EXPECT_EQ(piecewise.hex(), session::sha256_hex(text(s))) << n;
  }
  EXPECT_EQ(session::sha256_hex(text(std::string(64, 'a'))),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

}  // namespace
