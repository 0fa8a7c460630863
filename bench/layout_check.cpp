// SPDX-License-Identifier: MIT
// Benchmark: flash-layout parse + check time against the number of lines (2,000 and 10,000 short
// lines, both under U-Boot's 256 KiB). The checker is linear when the ratio is near 5 (it was
// about 15-20 with the per-line scans). Prints both times and the ratio; not a test.
#include <chrono>
#include <cstdio>
#include <string>

#include "mp1boot/image/flash_layout.hpp"

namespace {

std::string layout(int lines) {
  std::string text;
  for (int i = 0; i < lines; ++i)
    text += "P\t" + std::to_string(1 + i % 240) + "\tp\tFIP\tmmc" + std::to_string(i % 3) + "\t" +
            std::to_string(512 * (i + 40)) + "\n";
  return text;
}

double seconds_for(const std::string& text, int repeat) {
  const auto start = std::chrono::steady_clock::now();
  std::size_t sink = 0;
  for (int r = 0; r < repeat; ++r) {
    const auto l = mp1boot::image::parse_layout(text, "bench.tsv");
    sink += mp1boot::image::check_layout(l).size();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeat;
  if (sink == 0) std::printf("(no findings)\n");
  return s;
}

}  // namespace

int main() {
  const std::string small = layout(2000), large = layout(10000);
  std::printf("layout sizes: %zu and %zu bytes\n", small.size(), large.size());
  const double a = seconds_for(small, 5), b = seconds_for(large, 5);
  std::printf("parse+check: 2000 lines %.4f s, 10000 lines %.4f s, ratio %.1f (linear: about 5)\n", a, b, b / a);
  return 0;
}
