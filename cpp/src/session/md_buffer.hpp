// SPDX-License-Identifier: MIT
// The Merkle-Damgard framing shared by SHA-1 and SHA-256: 64-byte blocks, a partial block kept
// between updates, and the final padding (0x80, zeros, the bit length big-endian).
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "mp1boot/bytes.hpp"

namespace mp1boot::session::detail {

struct MdBuffer {
  std::array<std::uint8_t, 64> buffer{};
  std::size_t buffered = 0;
  std::uint64_t length = 0;

  /// Feeds `data`, calling block(const uint8_t*) for every complete 64-byte block.
  template <class Block>
  void update(ByteView data, Block&& block) {
    length += data.size();
    std::size_t i = 0;
    if (buffered) {
      const std::size_t n = std::min(data.size(), 64 - buffered);
      std::memcpy(buffer.data() + buffered, data.data(), n);
      buffered += n;
      i = n;
      if (buffered < 64) return;
      block(buffer.data());
      buffered = 0;
    }
    for (; i + 64 <= data.size(); i += 64) block(data.data() + i);
    if (i < data.size()) {
      std::memcpy(buffer.data(), data.data() + i, data.size() - i);
      buffered = data.size() - i;
    }
  }

  /// Appends the padding and the length.
  template <class Block>
  void finish(Block&& block) {
    const std::uint64_t bits = length * 8;
    std::uint8_t pad[72] = {0x80};
    const std::size_t pad_len = (buffered < 56 ? 56 - buffered : 120 - buffered);
    for (std::size_t i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    update(ByteView(pad, pad_len + 8), block);
  }
};

}  // namespace mp1boot::session::detail
