// SPDX-License-Identifier: MIT
// Paths the C++ tests use: the shared test data folder and the build tree.
#pragma once
#include <filesystem>

namespace mp1boot::test {
/// tests/data of the source tree.
std::filesystem::path data_dir();
/// The CMake build directory.
std::filesystem::path binary_dir();
/// A fresh empty temporary directory, removed at process exit.
std::filesystem::path temp_dir(const char* tag);
}  // namespace mp1boot::test
