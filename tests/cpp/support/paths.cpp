// SPDX-License-Identifier: MIT
// Test paths.
#include "support/paths.hpp"

#include <atomic>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace mp1boot::test {

std::filesystem::path data_dir() { return MP1BOOT_TEST_DATA; }
std::filesystem::path binary_dir() { return MP1BOOT_BINARY_DIR; }

namespace {
struct Cleanup {
  std::vector<std::filesystem::path> dirs;
  ~Cleanup() {
    std::error_code ec;
    for (auto& d : dirs) std::filesystem::remove_all(d, ec);
  }
};
Cleanup cleanup;
std::atomic<int> counter{0};
}  // namespace

std::filesystem::path temp_dir(const char* tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("mp1boot-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  cleanup.dirs.push_back(dir);
  return dir;
}

}  // namespace mp1boot::test
