// SPDX-License-Identifier: MIT
// mp1boot-usbsim end to end: unmodified dfu-util and lsusb against the simulated board through
// umockdev (listing, descriptors, a download recorded byte for byte, a rejected image, DETACH and
// re-enumeration as TF-A), exit status propagation and daemon mode.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "support/usb_test_util.hpp"
#include "support/usbsim_runner.hpp"

extern char** environ;

namespace mp1boot::test {
namespace {

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

TEST(UsbSim, DfuUtilListsTheMp13RomAlternateSettings) {
  auto r = run_usbsim("--soc stm32mp135", "dfu-util -l");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r.output, "Found DFU: [0483:df11] ver=0200, devnum=2, cfg=1, intf=0, path=\"1-1\", alt=0, "
                            "name=\"@FSBL /0x01/1*128Ke\", serial=\"002800423232511538303631\""))
      << r.output;
  EXPECT_TRUE(has(r.output, "alt=1, name=\"@virtual /0xF1/1*512Ba\"")) << r.output;
}

TEST(UsbSim, DfuUtilListsTheMp15RomWithItsSerial) {
  auto r = run_usbsim("--soc stm32mp157 --serial 0123456789ABCDEF01234567", "dfu-util -l");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r.output, "alt=1, name=\"@FSBL /0x01/1*1Me\", serial=\"0123456789ABCDEF01234567\"")) << r.output;
  EXPECT_TRUE(has(r.output, "alt=5, name=\"@virtual /0xF1/1*512Ba\"")) << r.output;
}

TEST(UsbSim, LsusbVerboseShowsTheDescriptors) {
  auto r = run_usbsim("--soc stm32mp135", "lsusb -v -d 0483:df11");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r.output, "Bus 001 Device 002: ID 0483:df11")) << r.output;
  EXPECT_TRUE(has(r.output, "iProduct                2 DFU in HS Mode @Device ID /0x501, @Revision ID /0x1003"))
      << r.output;
  EXPECT_TRUE(has(r.output, "iSerial                 3 002800423232511538303631")) << r.output;
  EXPECT_TRUE(has(r.output, "wTotalLength       0x0024")) << r.output;
  EXPECT_TRUE(has(r.output, "iInterface              7 @virtual /0xF1/1*512Ba")) << r.output;
  EXPECT_TRUE(has(r.output, "wTransferSize                    1024 bytes")) << r.output;
  EXPECT_TRUE(has(r.output, "bcdDFUVersion                   1.10")) << r.output;
  EXPECT_TRUE(has(r.output, "Device Qualifier (for other device speed):")) << r.output;
}

TEST(UsbSim, DfuUtilDownloadIsRecordedByteForByte) {
  auto dir = temp_dir("usbsim-dl");
  auto image = make_fsbl(soc_by_name("stm32mp135"), 6000);
  write_bytes(dir / "fsbl.stm32", image);
  auto rec = dir / "rec";
  auto r = run_usbsim("--soc stm32mp135 --record " + shell_quote(rec.string()),
                      "dfu-util -a 0 -D " + shell_quote((dir / "fsbl.stm32").string()));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r.output, "DFU state(7) = dfuMANIFEST")) << r.output;
  EXPECT_TRUE(has(r.output, "Done!")) << r.output;
  auto got = read_bytes(rec / "phase-0x01.bin");
  EXPECT_EQ(got.size(), image.size());
  EXPECT_TRUE(got == image);
  auto json = read_bytes(rec / "usb-exchange.json");
  std::string text(json.begin(), json.end());
  EXPECT_TRUE(has(text, "\"event\":\"image\",\"phase\":\"0x01\",\"size\":6512,\"accepted\":true")) << text;
}

TEST(UsbSim, DfuUtilSeesTheRomRejectABadChecksum) {
  auto dir = temp_dir("usbsim-bad");
  write_bytes(dir / "bad.stm32", make_fsbl(soc_by_name("stm32mp135"), 3000, false));
  auto r = run_usbsim("--soc stm32mp135", "dfu-util -a 0 -D " + shell_quote((dir / "bad.stm32").string()));
  EXPECT_TRUE(has(r.output, "DFU state(10) = dfuERROR, status(7)")) << r.output;
}

TEST(UsbSim, DetachReenumeratesAsTfa) {
  auto dir = temp_dir("usbsim-detach");
  write_bytes(dir / "fsbl.stm32", make_fsbl(soc_by_name("stm32mp135"), 2000));
  std::string script = "dfu-util -a 0 -D " + shell_quote((dir / "fsbl.stm32").string()) +
                       " >/dev/null 2>&1 && dfu-util -a 0 -e >/dev/null 2>&1 && "
                       "for i in $(seq 100); do dfu-util -l 2>/dev/null | grep -q SSBL && break; sleep 0.01; done; "
                       "dfu-util -l && lsusb";
  auto r = run_usbsim("--soc stm32mp135", "sh -c " + shell_quote(script));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r.output, "devnum=3, cfg=1, intf=0, path=\"1-1\", alt=0, name=\"@SSBL /0x03/1*16Me\", "
                            "serial=\"002800423232511538303631\""))
      << r.output;
  EXPECT_TRUE(has(r.output, "Bus 001 Device 003: ID 0483:df11 STMicroelectronics DFU @Device ID /0x501, "
                            "@Revision ID /0x1003, @Name /STM32MP135F Rev.Y,"))
      << r.output;
  EXPECT_FALSE(has(r.output, "Device 002")) << r.output;
}

TEST(UsbSim, ExitStatusAndUsageErrors) {
  EXPECT_EQ(run_usbsim("--soc stm32mp135", "sh -c 'exit 3'").status, 3);
  EXPECT_EQ(run_usbsim("--soc stm32mp135", "/nonexistent/program").status, 127);
  auto r = run_command(shell_quote(usbsim_tool()) + " -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.output, "--soc is required")) << r.output;
  r = run_command(shell_quote(usbsim_tool()) + " --soc stm32mp999 --daemon");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.output, "unknown SoC")) << r.output;
}

// Daemon mode: READY protocol, clients with the printed environment, stdin commands, EOF ends it.
TEST(UsbSim, DaemonServesClientsUntilStdinCloses) {
  ASSERT_TRUE(std::filesystem::exists(usbsim_tool()));
  int to_child[2], from_child[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(from_child), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  posix_spawn_file_actions_addclose(&fa, to_child[1]);
  posix_spawn_file_actions_addclose(&fa, from_child[0]);
  std::string tool = usbsim_tool();
  const char* argv[] = {"timeout", "-k", "5", "30", tool.c_str(), "--soc", "stm32mp135", "--daemon", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawnp(&pid, "timeout", &fa, nullptr, const_cast<char* const*>(argv), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(to_child[0]);
  ::close(from_child[1]);
  FILE* out = ::fdopen(from_child[0], "r");
  std::string umockdev_dir, preload;
  char line[512];
  auto next_line = [&]() -> std::string {
    if (!std::fgets(line, sizeof line, out)) return "<EOF>";
    std::string s = line;
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  for (std::string s = next_line(); s != "READY" && s != "<EOF>"; s = next_line()) {
    if (s.rfind("UMOCKDEV_DIR=", 0) == 0) umockdev_dir = s.substr(13);
    if (s.rfind("LD_PRELOAD=", 0) == 0) preload = s.substr(11);
  }
  EXPECT_FALSE(umockdev_dir.empty());
  EXPECT_TRUE(has(preload, "libumockdev-preload.so.0")) << preload;
  auto r = run_command("env UMOCKDEV_DIR=" + shell_quote(umockdev_dir) + " LD_PRELOAD=" + shell_quote(preload) +
                       " dfu-util -l");
  EXPECT_TRUE(has(r.output, "name=\"@FSBL /0x01/1*128Ke\"")) << r.output;
  std::string cmd = "status\n";
  ASSERT_EQ(::write(to_child[1], cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  EXPECT_EQ(next_line(), "stage rom generation 0 attached devnum 2");
  EXPECT_EQ(next_line(), "OK");
  cmd = "power-cycle\nstatus\n";
  ASSERT_EQ(::write(to_child[1], cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  EXPECT_EQ(next_line(), "OK");
  EXPECT_EQ(next_line(), "stage rom generation 1 attached devnum 3");
  ::close(to_child[1]);  // EOF: the daemon exits and removes its testbed
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  std::fclose(out);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  EXPECT_FALSE(std::filesystem::exists(umockdev_dir));
}

}  // namespace
}  // namespace mp1boot::test
