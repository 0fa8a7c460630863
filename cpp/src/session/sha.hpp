// SPDX-License-Identifier: MIT
// SHA-1 and SHA-256 (FIPS 180-4), incremental, for the flash runner's digests. Private to the
// library: callers use session::Digest, sha256_hex() and digest_hex().
#pragma once
#include <array>
#include <cstdint>

#include "md_buffer.hpp"
#include "mp1boot/bytes.hpp"

namespace mp1boot::session {

/// Incremental SHA-1, for bmap format 1.3 and "sha1" block maps.
class Sha1 {
 public:
  Sha1();
  void update(ByteView data);
  /// The digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 20> finish();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 5> h_;
  detail::MdBuffer md_;
};

/// Incremental SHA-256: every file sent, read-backs, mapped ranges.
class Sha256 {
 public:
  Sha256();
  void update(ByteView data);
  /// The digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> finish();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  detail::MdBuffer md_;
};

}  // namespace mp1boot::session
