// SPDX-License-Identifier: MIT
// mp1boot-usbsim: serves simulated STM32MP boards (sim::UsbBoard) on an emulated USB bus
// (umockdev) so that unmodified libusb programs see them as 0483:df11 (one board per --serial,
// on ports 1-1, 1-2, ...).
//   mp1boot-usbsim --soc stm32mp135 [options] -- COMMAND ARGS...   run COMMAND with the board
//                                                                  attached; exit status = COMMAND's
//   mp1boot-usbsim --soc stm32mp135 [options] --daemon             print UMOCKDEV_DIR=, LD_PRELOAD=,
//                                                                  READY; serve until SIGTERM/SIGINT
//                                                                  or EOF on stdin
// The server re-executes itself under libumockdev-preload (needed for hot-plug events) and sets
// 1 ns timer slack, inherited by COMMAND (the preload sleeps after every emulated ioctl).
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/board_config.hpp"
#include "umockdev_bus.hpp"

extern char** environ;

namespace {

constexpr const char* preload_lib = "libumockdev-preload.so.0";
constexpr const char* reexec_guard = "MP1BOOT_USBSIM_REEXEC";

const char* usage_head =
    "usage: mp1boot-usbsim --soc SOC [options] [--set KEY=VALUE ...] -- COMMAND [ARGS...]\n"
    "       mp1boot-usbsim --soc SOC [options] [--set KEY=VALUE ...] --daemon\n"
    "Serves simulated STM32MP boards in USB DFU mode (0483:df11) to libusb programs through umockdev.\n"
    "options:\n"
    "  --soc SOC                 stm32mp135, stm32mp157 or stm32mp257 (required)\n"
    "  --serial S                iSerialNumber; repeat it to serve several boards, the Nth on port\n"
    "                            1-N (same options; the same serial may repeat: boards are told\n"
    "                            apart by port; record and storage folders get a 1-N/ level)\n"
    "  --set KEY=VALUE, -o       a board option, as in sim: URLs and `mp1boot sim` (link=usb here)\n"
    "  --keep-timerslack         do not set 1 ns timer slack\n"
    "  --node-mode MODE          device node permissions (default 0666; others also open the\n"
    "                            testbed to other users, to test access errors)\n"
    "  -v, --verbose             log every control request to stderr\n"
    "daemon stdin commands (one per line; every board): help, status, power-cycle, unplug, records\n"
    "board options (KEY=VALUE):\n";

std::string usage_text() { return usage_head + mp1boot::sim::board_keys_help(); }

const char* daemon_help_text =
    "commands: help (this text), status (each board's stage and state), power-cycle (the boards restart\n"
    "in the boot ROM), unplug (the boards leave the bus), records (write --record files now);\n"
    "end of input (Ctrl-D), SIGTERM or SIGINT stops the server\n";

struct Args {
  std::string soc;
  std::vector<std::pair<std::string, std::string>> options{{"link", "usb"}};  // board options, in order
  mp1boot::sim::BoardConfig config;
  std::vector<std::string> serials;  // one board each; empty: one board with the configured serial
  mp1boot::usbsim::BusOptions bus;
  bool daemon = false;
  bool keep_timerslack = false;
  std::vector<std::string> command;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "mp1boot-usbsim: %s\n%s", msg.c_str(), usage_text().c_str());
  std::exit(2);
}

// Options of earlier releases, each the spelling of one board key (not listed in --help).
const std::vector<std::pair<std::string, std::string>> legacy_valued = {
    {"--record", "record"},           {"--block-time-us", "block_us"},       {"--reenumerate-ms", "reenumerate_ms"},
    {"--rom-poll-ms", "rom_poll_ms"}, {"--rom-reject-status", "rom_reject_status"},
    {"--tfa-buffer-size", "tfa_buffer_size"}, {"--storage", "storage"},  {"--uboot-block-us", "uboot_block_us"},
    {"--uboot-version", "uboot_version"}};
const std::vector<std::pair<std::string, std::string>> legacy_flags = {
    {"--no-tfa", "tfa=0"}, {"--no-uboot", "uboot=0"}, {"--full-speed", "full_speed=1"}};

Args parse(int argc, char** argv) {
  Args a;
  int i = 1;
  auto value = [&](const std::string& opt) -> const char* {
    if (i + 1 >= argc) usage_error(opt + " needs a value");
    return argv[++i];
  };
  auto add = [&](const std::string& kv) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) usage_error("board options are KEY=VALUE, got \"" + kv + "\"");
    a.options.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  };
  for (; i < argc; ++i) {
    std::string opt = argv[i];
    auto legacy = std::find_if(legacy_valued.begin(), legacy_valued.end(), [&](const auto& l) { return l.first == opt; });
    auto legacy_flag = std::find_if(legacy_flags.begin(), legacy_flags.end(), [&](const auto& l) { return l.first == opt; });
    if (opt == "--") {
      for (++i; i < argc; ++i) a.command.emplace_back(argv[i]);
      break;
    } else if (opt == "-h" || opt == "--help") {
      std::fputs(usage_text().c_str(), stdout);
      std::exit(0);
    } else if (opt == "--soc") {
      a.soc = value(opt);
    } else if (opt == "--set" || opt == "-o") {
      add(value(opt));
    } else if (legacy != legacy_valued.end()) {
      add(legacy->second + "=" + value(opt));
    } else if (legacy_flag != legacy_flags.end()) {
      add(legacy_flag->second);
    } else if (opt == "--serial") {
      a.serials.push_back(value(opt));
    } else if (opt == "--node-mode") {
      a.bus.node_mode = static_cast<unsigned>(std::strtoul(value(opt), nullptr, 8));
    } else if (opt == "--keep-timerslack") {
      a.keep_timerslack = true;
    } else if (opt == "-v" || opt == "--verbose") {
      a.bus.verbose = true;
    } else if (opt == "--daemon") {
      a.daemon = true;
    } else {
      usage_error("unknown option " + opt);
    }
  }
  if (a.soc.empty()) usage_error("--soc is required");
  try {
    a.config = mp1boot::sim::board_config(a.soc, a.options);
  } catch (const mp1boot::Error& e) {
    usage_error(e.what());
  }
  if (a.config.link != mp1boot::sim::SimLink::usb) usage_error("this tool serves link=usb only");
  if (a.daemon == !a.command.empty()) usage_error("give either --daemon or -- COMMAND");
  return a;
}

bool preloaded() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libumockdev-preload") != std::string::npos) return true;
  return false;
}

// libmp1boot-uevent-fanout.so (uevent_fanout.cpp: every udev monitor on the bus gets every
// uevent) next to this executable, else where it is installed; "" when neither exists.
std::string uevent_fanout_lib() {
  const char* name = "libmp1boot-uevent-fanout.so";
  std::error_code ec;
  auto here = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / name;
  if (!ec && std::filesystem::exists(here, ec)) return here.string();
#ifdef MP1BOOT_UEVENT_FANOUT_INSTALLED
  if (std::filesystem::exists(MP1BOOT_UEVENT_FANOUT_INSTALLED, ec)) return MP1BOOT_UEVENT_FANOUT_INSTALLED;
#endif
  return {};
}

// The server itself must run under the preload: umockdev's uevent sender resolves the testbed's
// sysfs paths through it (USB-EMULATION.md).
int reexec_under_preload(char** argv) {
  if (std::getenv(reexec_guard)) {
    std::fprintf(stderr, "mp1boot-usbsim: %s could not be preloaded; install the umockdev package\n", preload_lib);
    return 1;
  }
  const char* old = std::getenv("LD_PRELOAD");
  // Appended, so that a sanitizer runtime already in LD_PRELOAD stays first; the fan-out library
  // must come before libumockdev-preload.
  std::string libs = preload_lib;
  if (auto fanout = uevent_fanout_lib(); !fanout.empty()) libs = fanout + ":" + libs;
  std::string value = old && *old ? std::string(old) + ":" + libs : libs;
  setenv("LD_PRELOAD", value.c_str(), 1);
  setenv(reexec_guard, "1", 1);
  if (!std::getenv("ASAN_OPTIONS")) setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "mp1boot-usbsim: cannot re-execute itself: %s\n", std::strerror(errno));
  return 1;
}

struct RunState {
  GMainLoop* loop = nullptr;
  GPid child = 0;
  int status = 0;
  mp1boot::usbsim::UmockdevBus* bus = nullptr;
  std::string pending;  // stdin bytes not yet forming a line
};

void child_exited(GPid, gint status, gpointer p) {
  auto* st = static_cast<RunState*>(p);
  st->status = status;
  g_main_loop_quit(st->loop);
}

gboolean forward_signal(gpointer p) {
  auto* st = static_cast<RunState*>(p);
  if (st->child > 0) kill(st->child, SIGTERM);
  return G_SOURCE_CONTINUE;
}

gboolean quit_loop(gpointer p) {
  g_main_loop_quit(static_cast<RunState*>(p)->loop);
  return G_SOURCE_REMOVE;
}

void run_command(RunState& st, const std::string& cmd) {
  if (cmd.empty()) return;
  bool known = true;
  if (cmd == "help") std::fputs(daemon_help_text, stdout);
  else if (cmd == "status") std::printf("%s\n", st.bus->status().c_str());
  else if (cmd == "power-cycle") st.bus->power_cycle();
  else if (cmd == "unplug") st.bus->unplug();
  else if (cmd == "records") st.bus->write_records();
  else known = false;
  if (known) std::printf("OK\n");
  else std::printf("error: unknown command \"%s\" (try help)\n", cmd.c_str());
  std::fflush(stdout);
}

gboolean stdin_ready(gint fd, GIOCondition, gpointer p) {
  auto* st = static_cast<RunState*>(p);
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) {
    g_main_loop_quit(st->loop);
    return G_SOURCE_REMOVE;
  }
  st->pending.append(buf, static_cast<std::size_t>(n));
  for (auto nl = st->pending.find('\n'); nl != std::string::npos; nl = st->pending.find('\n')) {
    std::string line = st->pending.substr(0, nl);
    st->pending.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      run_command(*st, line);
    } catch (const std::exception& e) {
      std::printf("error: %s\n", e.what());
      std::fflush(stdout);
    }
  }
  return G_SOURCE_CONTINUE;
}

std::vector<mp1boot::sim::UsbBoardOptions> boards(const Args& args) {
  // Each board gets its own U-Boot hardware (created when its U-Boot first runs).
  const mp1boot::sim::UsbBoardOptions base = args.config.usb_options();
  if (args.serials.empty()) return {base};
  std::vector<mp1boot::sim::UsbBoardOptions> out;
  // Several boards: their folders are named by USB port (1-N), their identity; serials may repeat.
  for (std::size_t i = 0; i < args.serials.size(); ++i) {
    auto b = base;
    b.serial = args.serials[i];
    const std::string port = "1-" + std::to_string(i + 1);
    if (args.serials.size() > 1 && !b.record_dir.empty()) b.record_dir += "/" + port;
    if (args.serials.size() > 1 && b.uboot && !b.uboot->storage.dir.empty()) b.uboot->storage.dir += "/" + port;
    out.push_back(std::move(b));
  }
  return out;
}

int serve(Args& args) {
  RunState st;
  // Owned here: every return (spawn failure, a throwing bus) releases it (LeakSanitizer checks).
  std::unique_ptr<GMainLoop, decltype(&g_main_loop_unref)> loop(g_main_loop_new(nullptr, FALSE), &g_main_loop_unref);
  st.loop = loop.get();
  mp1boot::usbsim::UmockdevBus bus(boards(args), args.bus);
  st.bus = &bus;
  if (args.daemon) {
    std::printf("UMOCKDEV_DIR=%s\nLD_PRELOAD=%s\nREADY\n", bus.root_dir().c_str(), std::getenv("LD_PRELOAD"));
    std::fflush(stdout);
    g_unix_fd_add(STDIN_FILENO, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR), &stdin_ready, &st);
    g_unix_signal_add(SIGTERM, &quit_loop, &st);
    g_unix_signal_add(SIGINT, &quit_loop, &st);
    g_main_loop_run(st.loop);
    return 0;
  }
  std::vector<char*> argv;
  for (auto& s : args.command) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    std::fprintf(stderr, "mp1boot-usbsim: cannot run %s: %s\n", argv[0], std::strerror(rc));
    return 127;
  }
  st.child = pid;
  g_child_watch_add(pid, &child_exited, &st);
  g_unix_signal_add(SIGTERM, &forward_signal, &st);
  g_unix_signal_add(SIGINT, &forward_signal, &st);
  g_unix_signal_add(SIGHUP, &forward_signal, &st);
  g_main_loop_run(st.loop);
  if (WIFEXITED(st.status)) return WEXITSTATUS(st.status);
  if (WIFSIGNALED(st.status)) return 128 + WTERMSIG(st.status);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  if (!preloaded()) return reexec_under_preload(argv);
  unsetenv(reexec_guard);
  if (!args.keep_timerslack) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  try {
    return serve(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp1boot-usbsim: %s\n", e.what());
    return 1;
  }
}
