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

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/soc.hpp"
#include "umockdev_bus.hpp"

extern char** environ;

namespace {

constexpr const char* preload_lib = "libumockdev-preload.so.0";
constexpr const char* reexec_guard = "MP1BOOT_USBSIM_REEXEC";

const char* usage_text =
    "usage: mp1boot-usbsim --soc SOC [options] -- COMMAND [ARGS...]\n"
    "       mp1boot-usbsim --soc SOC [options] --daemon\n"
    "Serves simulated STM32MP boards in USB DFU mode (0483:df11) to libusb programs through umockdev.\n"
    "options:\n"
    "  --soc SOC                 stm32mp135, stm32mp157 or stm32mp257 (required)\n"
    "  --serial S                iSerialNumber (default 002800423232511538303631); repeat it to\n"
    "                            serve several boards, the Nth on port 1-N (same options)\n"
    "  --record DIR              write DIR/phase-0xNN.bin and DIR/usb-exchange.json (several\n"
    "                            boards: DIR/SERIAL/...)\n"
    "  --block-time-us N         device time per DNLOAD block (default 0)\n"
    "  --reenumerate-ms N        delay between DETACH and the next enumeration (default 10)\n"
    "  --rom-poll-ms N           ROM bwPollTimeout (default 1)\n"
    "  --rom-reject-status NAME  DFU status of a rejected FSBL (errFILE, errVERIFY, ...)\n"
    "  --tfa-buffer-size N       TF-A download buffer in bytes (default 16 MiB)\n"
    "  --no-tfa                  the FSBL never answers on USB\n"
    "  --no-uboot                stay detached after TF-A instead of running U-Boot stm32prog\n"
    "  --storage DIR             U-Boot's storage images (DIR/mmc0.img, ...; several boards:\n"
    "                            DIR/SERIAL/...); default: a temporary folder per board\n"
    "  --uboot-block-us N        U-Boot device time per DNLOAD block (default 0; 2000 ~ 2 MB/s)\n"
    "  --uboot-version YYYY.MM   U-Boot release whose flash-layout rules apply (default: current)\n"
    "  --full-speed              ROM says \"DFU in FS Mode\", speed full\n"
    "  --keep-timerslack         do not set 1 ns timer slack\n"
    "  --node-mode MODE          device node permissions (default 0666; others also open the\n"
    "                            testbed to other users, to test access errors)\n"
    "  -v, --verbose             log every control request to stderr\n"
    "daemon stdin commands (one per line; every board): help, status, power-cycle, unplug, records\n";

const char* daemon_help_text =
    "commands: help (this text), status (each board's stage and state), power-cycle (the boards restart\n"
    "in the boot ROM), unplug (the boards leave the bus), records (write --record files now);\n"
    "end of input (Ctrl-D), SIGTERM or SIGINT stops the server\n";

struct Args {
  mp1boot::sim::UsbBoardOptions board;
  std::vector<std::string> serials;  // one board each; empty: one board with the default serial
  mp1boot::usbsim::BusOptions bus;
  bool daemon = false;
  bool keep_timerslack = false;
  std::string storage;        // U-Boot storage folder (per board: storage/SERIAL when several)
  std::string uboot_version;
  std::vector<std::string> command;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "mp1boot-usbsim: %s\n%s", msg.c_str(), usage_text);
  std::exit(2);
}

unsigned long number(const std::string& opt, const char* value) {
  char* end = nullptr;
  unsigned long v = std::strtoul(value, &end, 0);
  if (!*value || *end) usage_error(opt + " needs a number, got \"" + value + "\"");
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  int i = 1;
  auto value = [&](const std::string& opt) -> const char* {
    if (i + 1 >= argc) usage_error(opt + " needs a value");
    return argv[++i];
  };
  for (; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--") {
      for (++i; i < argc; ++i) a.command.emplace_back(argv[i]);
      break;
    } else if (opt == "-h" || opt == "--help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    } else if (opt == "--soc") {
      try {
        a.board.soc = &mp1boot::soc_by_name(value(opt));
      } catch (const mp1boot::Error& e) {
        usage_error(e.what());
      }
    } else if (opt == "--serial") {
      std::string serial = value(opt);
      for (const auto& s : a.serials)
        if (s == serial) usage_error("--serial " + serial + " given twice");
      a.serials.push_back(serial);
    } else if (opt == "--record") {
      a.board.record_dir = value(opt);
    } else if (opt == "--block-time-us") {
      a.board.block_time = std::chrono::microseconds(number(opt, value(opt)));
    } else if (opt == "--reenumerate-ms") {
      a.board.reenumerate_delay = std::chrono::milliseconds(number(opt, value(opt)));
    } else if (opt == "--rom-poll-ms") {
      a.board.rom_poll_timeout_ms = static_cast<std::uint32_t>(number(opt, value(opt)));
    } else if (opt == "--tfa-buffer-size") {
      a.board.tfa_buffer_size = static_cast<std::uint32_t>(number(opt, value(opt)));
    } else if (opt == "--rom-reject-status") {
      std::string name = value(opt);
      for (unsigned s = 0; s < mp1boot::dfu::status_count; ++s)
        if (mp1boot::dfu::status_name(static_cast<mp1boot::dfu::Status>(s)) == name)
          a.board.rom_reject_status = static_cast<mp1boot::dfu::Status>(s);
      if (!a.board.rom_reject_status) usage_error("unknown DFU status \"" + name + "\" (errFILE, errVERIFY, ...)");
    } else if (opt == "--no-tfa") {
      a.board.tfa_enabled = false;
    } else if (opt == "--no-uboot") {
      a.board.uboot.reset();
    } else if (opt == "--storage") {
      a.storage = value(opt);
    } else if (opt == "--uboot-block-us") {
      a.board.uboot_block_time = std::chrono::microseconds(number(opt, value(opt)));
    } else if (opt == "--uboot-version") {
      a.uboot_version = value(opt);
    } else if (opt == "--full-speed") {
      a.board.full_speed = true;
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
  if (!a.board.soc) usage_error("--soc is required");
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
  auto with_uboot = [&](mp1boot::sim::UsbBoardOptions b, const std::string& storage) {
    if (b.uboot) {
      b.uboot->storage.dir = storage;
      b.uboot->uboot_version = args.uboot_version;
    }
    return b;
  };
  if (args.serials.empty()) return {with_uboot(args.board, args.storage)};
  std::vector<mp1boot::sim::UsbBoardOptions> out;
  for (const auto& serial : args.serials) {
    auto b = args.board;
    b.serial = serial;
    if (args.serials.size() > 1 && !b.record_dir.empty()) b.record_dir += "/" + serial;
    const bool several = args.serials.size() > 1 && !args.storage.empty();
    out.push_back(with_uboot(std::move(b), several ? args.storage + "/" + serial : args.storage));
  }
  return out;
}

int serve(Args& args) {
  RunState st;
  st.loop = g_main_loop_new(nullptr, FALSE);
  mp1boot::usbsim::UmockdevBus bus(boards(args), args.bus);
  st.bus = &bus;
  if (args.daemon) {
    std::printf("UMOCKDEV_DIR=%s\nLD_PRELOAD=%s\nREADY\n", bus.root_dir().c_str(), std::getenv("LD_PRELOAD"));
    std::fflush(stdout);
    g_unix_fd_add(STDIN_FILENO, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR), &stdin_ready, &st);
    g_unix_signal_add(SIGTERM, &quit_loop, &st);
    g_unix_signal_add(SIGINT, &quit_loop, &st);
    g_main_loop_run(st.loop);
    g_main_loop_unref(st.loop);
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
  g_main_loop_unref(st.loop);
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
