// SPDX-License-Identifier: MIT
// Flashes one layout onto two simulated STM32MP157 boards over USB in parallel from C++. Board A
// resets in the middle of its rootfs; the program then resumes from the first run's report: each
// board gets its own entry back (matched by its identity), A sends only what it lacks, and both
// are verified by read-back.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mp1boot/image/stm32_header.hpp>
#include <mp1boot/session/flash_many.hpp>

namespace fs = std::filesystem;

namespace {
void write(const fs::path& path, const mp1boot::Bytes& data) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                              static_cast<std::streamsize>(data.size()));
}

/// FSBL, FIP and rootfs files and the layout naming them, in `dir`.
fs::path make_layout(const fs::path& dir) {
  mp1boot::Bytes payload(8192), fip(4096), rootfs(64 * 1024);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  for (std::size_t i = 0; i < fip.size(); ++i) fip[i] = static_cast<std::uint8_t>(i * 3);
  for (std::size_t i = 0; i < rootfs.size(); ++i) rootfs[i] = static_cast<std::uint8_t>(i * 11 + 1);
  const std::uint8_t toc[8] = {0x01, 0x00, 0x64, 0xaa, 0x78, 0x56, 0x34, 0x12};  // FIP ToC header
  std::copy(std::begin(toc), std::end(toc), fip.begin());
  const auto options = mp1boot::image::wrap_options_for(mp1boot::soc_by_name("stm32mp157"));
  write(dir / "tf-a.stm32", mp1boot::image::wrap(payload, options));
  write(dir / "fip.bin", fip);
  write(dir / "rootfs.ext4", rootfs);
  std::ofstream(dir / "flash.tsv") << "#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
                                      "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
                                      "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
                                      "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
                                      "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n";
  return dir / "flash.tsv";
}

void print(const mp1boot::session::FlashManyReport& r) {
  for (const auto& [key, board] : r.boards) {
    std::printf("  %s (serial %s): %s%s%s\n", key.c_str(), board.serial.c_str(), std::string(to_string(board.result)).c_str(),
                board.error_code.empty() ? "" : " ", board.error_code.c_str());
    for (const auto& p : board.partitions)
      if (p.phase >= 0x04)
        std::printf("    0x%02x %-8s %s%s%s\n", p.phase, p.name.c_str(), std::string(to_string(p.result)).c_str(),
                    p.verified == mp1boot::VerifyResult::not_read ? "" : " verified ",
                    std::string(to_string(p.verified)).c_str());
  }
}
}  // namespace

int main() {
  using namespace mp1boot::session;
  const fs::path dir = fs::temp_directory_path() / "mp1boot-flash-parallel";
  fs::remove_all(dir);
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  const fs::path layout = make_layout(dir);
  const std::string usb = "sim:stm32mp157?link=usb&storage=" + dir.string();
  const std::string a = usb + "/a&serial=0000000000A1", b = usb + "/b&serial=0000000000B2";
  try {
    // First run: board A resets 4 KiB into rootfs (the simulator's fault option).
    FlashManyOptions o;
    const FlashManyReport first = flash_many({a + "&reset_phase=0x10&reset_after=4096", b}, layout, o);
    std::printf("first run: %s\n", std::string(to_string(first.result)).c_str());
    print(first);

    // Resume from that report (as JSON, as a station would keep it), verifying everything.
    o.flash.resume = reports_from_json(nlohmann::json::parse(first.to_json()));
    o.flash.verify = true;
    const FlashManyReport second = flash_many({a, b}, layout, o);
    std::printf("resumed run: %s\n", std::string(to_string(second.result)).c_str());
    print(second);

    int skipped = 0, sent = 0;
    for (const auto& [key, board] : second.boards)
      for (const auto& p : board.partitions) {
        skipped += p.result == mp1boot::PartitionResult::skipped_done_earlier;
        sent += p.result == mp1boot::PartitionResult::ok && p.phase >= 0x04;
      }
    fs::remove_all(dir);
    // A sends rootfs again; its fsbl1 and both partitions of B were done earlier.
    return first.result == mp1boot::FlashResult::failed && second.result == mp1boot::FlashResult::ok && skipped == 3 && sent == 1 ? 0 : 1;
  } catch (const mp1boot::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
