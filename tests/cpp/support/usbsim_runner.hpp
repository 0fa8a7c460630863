// SPDX-License-Identifier: MIT
// Running programs under mp1boot-usbsim from the tests: the tool's path in the build tree, a
// shell command with its output and exit status, always bounded by `timeout` (the umockdev
// preload has no timeout of its own, USB-EMULATION.md), and the "re-run this test binary as the
// COMMAND" pattern used by the libusb transport tests.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "mp1boot/bytes.hpp"
#include "support/paths.hpp"

namespace mp1boot::test {

/// Environment variable marking the run of a test binary under mp1boot-usbsim.
inline constexpr const char* usbsim_inner_env = "MP1BOOT_USBSIM_INNER";

inline std::string usbsim_tool() { return (binary_dir() / "cpp" / "mp1boot-usbsim").string(); }

struct CommandResult {
  int status = -1;  ///< exit status, 128 + signal, or -1 when it could not run
  std::string output;  ///< stdout and stderr
};

/// Runs `command` through sh with a 30 s limit; captures stdout and stderr.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  std::string full = "timeout -k 5 30 " + command + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = ::pclose(p);
  if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
  else if (WIFSIGNALED(st)) r.status = 128 + WTERMSIG(st);
  return r;
}

/// Single-quotes `s` for sh.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// `mp1boot-usbsim ARGS -- COMMAND`, with an assertion that the tool was built.
inline CommandResult run_usbsim(const std::string& args, const std::string& command) {
  EXPECT_TRUE(std::filesystem::exists(usbsim_tool()))
      << usbsim_tool() << " is missing: build the mp1boot-usbsim target (MP1BOOT_WITH_UMOCKDEV)";
  return run_command(shell_quote(usbsim_tool()) + " " + args + " -- " + command);
}

/// The libusb devices other than the hub 1.1 that libusb_exit() reported as still referenced in
/// `libusb_output` (LIBUSB_DEBUG=2), space-separated; empty when none.
inline std::string leaked_usb_devices(const std::string& libusb_output) {
  static const std::string tail = " still referenced";
  std::string leaked;
  for (auto at = libusb_output.find(tail); at != std::string::npos; at = libusb_output.find(tail, at + 1)) {
    auto start = libusb_output.rfind("device ", at);
    std::string dev = start == std::string::npos ? "?" : libusb_output.substr(start + 7, at - start - 7);
    if (dev != "1.1") leaked += (leaked.empty() ? "" : " ") + dev;
  }
  return leaked;
}

/// True in the copy of the test binary that runs under mp1boot-usbsim.
inline bool usbsim_inner() { return std::getenv(usbsim_inner_env) != nullptr; }

/// Re-runs the current test in this binary under `mp1boot-usbsim ARGS` and checks that it passed
/// there. The test body then checks usbsim_inner() to know which side it is on.
inline void run_current_test_under_usbsim(const std::string& args) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  // LIBUSB_DEBUG=2: libusb_exit() names every libusb_device still referenced ("device B.A still
  // referenced"). The hub 1.1 is libusb's own (tests/sanitizers/lsan.supp); any other is ours.
  auto r = run_usbsim(args, "env " + std::string(usbsim_inner_env) + "=1 LIBUSB_DEBUG=2 " + shell_quote(self) +
                                " --gtest_filter=" + name + " --gtest_color=no");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("[  PASSED  ] 1 test"), std::string::npos) << r.output;
  EXPECT_EQ(leaked_usb_devices(r.output), "") << r.output;
}

/// Whole file as bytes (empty when missing).
inline Bytes read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Writes bytes to a file.
inline void write_bytes(const std::filesystem::path& p, ByteView b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace mp1boot::test
