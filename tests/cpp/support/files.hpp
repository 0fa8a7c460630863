// SPDX-License-Identifier: MIT
// Small file helpers for tests: write bytes or text, and read a range of a (possibly sparse, large)
// storage image without reading the whole file.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

#include "mp1boot/bytes.hpp"

namespace mp1boot::test {

inline void write_file(const std::filesystem::path& path, ByteView data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  write_file(path, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

inline Bytes read_range(const std::filesystem::path& path, std::uint64_t offset, std::size_t size) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  Bytes data(size);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(size));
  data.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));  // 0 past the end
  return data;
}

}  // namespace mp1boot::test
