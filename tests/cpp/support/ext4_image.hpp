// SPDX-License-Identifier: MIT
// Test helper: a real ext4 image made by mke2fs (mke2fs -d copies a folder of random files in)
// and its block map made by bmaptool, as a user would make them. Both tools come from Debian (e2fsprogs, bmap-tools; scripts/bootstrap.sh installs them).
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace mp1boot::test {

/// Makes DIR/NAME (an ext4 of `size_mib` MiB holding `files` files of `file_kib` KiB of random
/// data) and, when `bmap` is set, DIR/NAME.bmap. Throws std::runtime_error when a tool fails.
inline std::filesystem::path make_ext4(const std::filesystem::path& dir, const std::string& name, unsigned size_mib,
                                       unsigned files, unsigned file_kib, bool bmap = true) {
  namespace fs = std::filesystem;
  const fs::path content = dir / (name + ".content");
  fs::create_directories(content);
  std::mt19937 rng(size_mib * 131 + files);
  for (unsigned i = 0; i < files; ++i) {
    std::ofstream f(content / ("file" + std::to_string(i) + ".bin"), std::ios::binary);
    std::string block(1024, '\0');
    for (unsigned k = 0; k < file_kib; ++k) {
      for (auto& c : block) c = static_cast<char>(rng());
      f.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  const fs::path image = dir / name;
  const std::string quiet = " >/dev/null 2>&1";
  std::string cmd = "truncate -s " + std::to_string(size_mib) + "M '" + image.string() + "' && mke2fs -q -F -t ext4 -d '" +
                    content.string() + "' '" + image.string() + "'" + quiet;
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("mke2fs failed: " + cmd);
  if (bmap) {
    cmd = "bmaptool create '" + image.string() + "' -o '" + image.string() + ".bmap'" + quiet;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("bmaptool create failed: " + cmd);
  }
  fs::remove_all(content);
  return image;
}

}  // namespace mp1boot::test
