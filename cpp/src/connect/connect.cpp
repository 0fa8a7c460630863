// SPDX-License-Identifier: MIT
// connect(): URL parsing and transport selection. Lives above core, serial and usb.
#include "mp1boot/session/connect.hpp"

#include <map>

#include "mp1boot/session/uart_device.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/sim/board_config.hpp"
#include "mp1boot/sim/replay.hpp"
#include "mp1boot/sim/uart_board.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "mp1boot/transport/peer_stream.hpp"
#include "mp1boot/transport/peer_usb_port.hpp"
#ifdef MP1BOOT_HAS_SERIAL
#include "mp1boot/transport/serial.hpp"
#endif
#ifdef MP1BOOT_HAS_USB
#include "mp1boot/transport/usb.hpp"
#endif

namespace mp1boot::session {

namespace {

struct Url {
  std::string scheme, target;
  std::map<std::string, std::string> query;
  std::string raw_query;
};

Url parse_url(std::string_view text) {
  Url u;
  std::string s(text);
  if (s.rfind("/dev/", 0) == 0) s = "serial:" + s;  // a bare device path is a serial port
  const auto colon = s.find(':');
  u.scheme = s.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : s.substr(colon + 1);
  const auto q = rest.find('?');
  if (q != std::string::npos) {
    u.raw_query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    std::string_view qs = u.raw_query;
    while (!qs.empty()) {
      auto amp = qs.find('&');
      std::string_view kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      u.query[std::string(kv.substr(0, eq))] = eq == std::string_view::npos ? "1" : std::string(kv.substr(eq + 1));
      qs = amp == std::string_view::npos ? std::string_view{} : qs.substr(amp + 1);
    }
  }
  u.target = rest;
  return u;
}

[[noreturn]] void bad_url(std::string_view url, const std::string& why) {
  throw UsageError(errc::usage, "bad port '" + std::string(url) + "': " + why + "\n" + connect_url_help());
}

// Starts the field trace before the first byte, so that it holds the whole session.
void start_recording(Device& dev, std::string_view url, const ConnectOptions& o) {
  if (!o.record) return;
  o.record->begin(dev.link(), url);
  dev.record_to(o.record);
}

std::unique_ptr<Device> finish_uart(std::unique_ptr<transport::ByteStream> stream, const ConnectOptions& o,
                                    std::string_view url) {
  auto dev = std::make_unique<UartDevice>(std::move(stream), o.uart);
  start_recording(*dev, url, o);
  if (o.sync) dev->sync();
  return dev;
}

// "reconnect_ms=N" (every hand-over) or "A,B,C" (after the ROM, TF-A, U-Boot layout).
UsbDevice::ReconnectTimeouts reconnect_timeouts(std::string_view url, const std::string& v) {
  UsbDevice::ReconnectTimeouts t;
  std::vector<std::chrono::milliseconds> ms;
  try {
    for (const auto& [item, unused] : sim::split_options(v, ','))
      ms.emplace_back(static_cast<std::int64_t>(sim::parse_option_number("reconnect_ms", item, 0, 3'600'000)));
  } catch (const UsageError& e) {
    bad_url(url, e.message());
  }
  if (ms.size() != 1 && ms.size() != 3)
    bad_url(url, "reconnect_ms needs milliseconds: N, or ROM,TFA,UBOOT; got '" + v + "'");
  t.after_rom = ms[0];
  t.after_tfa = ms.size() == 3 ? ms[1] : ms[0];
  t.after_uboot = ms.size() == 3 ? ms[2] : ms[0];
  return t;
}

std::unique_ptr<Device> connect_usb_board(std::shared_ptr<transport::UsbPeer> board, bool real_time,
                                          UsbDevice::Options uo) {
  // Virtual time unless realtime=1: the driver loop's waits (bwPollTimeout) cost nothing either.
  if (!real_time) uo.clock = std::make_shared<VirtualClock>();
  const transport::PeerUsbOptions so{.real_time = real_time};
  auto port = std::make_unique<transport::PeerUsbPort>(board, so);
  UsbDevice::Reopen reopen = [board, so](const usb::Identity&, std::chrono::milliseconds timeout,
                                         const CancelToken* cancel) -> std::unique_ptr<transport::UsbControlPort> {
    return transport::wait_for_peer_device(board, {.timeout = timeout, .cancel = cancel}, so);
  };
  return std::make_unique<UsbDevice>(std::move(port), std::move(reopen), uo);
}

// Everything a URL says, checked, before anything is opened.
struct Target {
  Url u;
  std::string replay;  // sim:replay=FILE: the trace file (read by connect(), not by the URL check)
  sim::BoardConfig board;   // sim:
  UsbDevice::Options usb;   // sim: with link=usb, usb:
#ifdef MP1BOOT_HAS_SERIAL
  transport::SerialOptions serial;  // serial:
#endif
};

// sim:SOC?key=value&...: the board's options in the vocabulary of sim/board_config.hpp, plus the
// host's reconnect_ms (USB).
void parse_sim(Target& t, std::string_view url) {
  if (t.u.target.empty()) bad_url(url, "the simulated board needs a SoC, e.g. sim:stm32mp135");
  std::vector<std::pair<std::string, std::string>> board_options;
  bool reconnect_given = false;
  for (auto& [k, v] : sim::split_options(t.u.raw_query)) {
    if (k == "reconnect_ms") {
      t.usb.reconnect = reconnect_timeouts(url, v);
      reconnect_given = true;
    } else {
      board_options.emplace_back(k, v);
    }
  }
  try {
    t.board = sim::board_config(t.u.target, board_options);
  } catch (UsageError& e) {
    bad_url(url, e.message());
  }
  if (t.board.link != sim::SimLink::usb && reconnect_given) bad_url(url, "reconnect_ms applies to link=usb only");
}

#ifdef MP1BOOT_HAS_USB
void parse_usb(Target& t, std::string_view url) {
  for (const auto& [k, v] : t.u.query) {
    if (k == "reconnect_ms") t.usb.reconnect = reconnect_timeouts(url, v);
    else bad_url(url, "unknown USB option '" + k + "' (reconnect_ms=N or ROM,TFA,UBOOT)");
  }
}
#endif

Target parse(std::string_view url) {
  Target t{.u = parse_url(url)};
  if (t.u.scheme == "sim" && t.u.target.rfind("replay=", 0) == 0) {
    if (!t.u.raw_query.empty()) bad_url(url, "sim:replay=FILE takes no options");
    t.replay = t.u.target.substr(7);
    if (t.replay.empty()) bad_url(url, "sim:replay= needs a trace file (written with --trace FILE)");
  } else if (t.u.scheme == "sim") {
    parse_sim(t, url);
  } else if (t.u.scheme == "serial") {
#ifdef MP1BOOT_HAS_SERIAL
    if (t.u.target.empty()) bad_url(url, "no device path after 'serial:'");
    t.serial = transport::parse_serial_options(t.u.raw_query);
#else
    bad_url(url, "this build has no serial support");
#endif
  } else if (t.u.scheme == "usb") {
#ifdef MP1BOOT_HAS_USB
    parse_usb(t, url);
#else
    bad_url(url, "this build has no USB support");
#endif
  } else {
    bad_url(url, "unknown scheme '" + t.u.scheme + "'");
  }
  return t;
}

// A simulated UART board behind an in-process stream; `url` heads a field trace.
std::unique_ptr<Device> uart_board_device(std::shared_ptr<sim::UartBoard> board, const ConnectOptions& o,
                                          std::string_view url) {
  const std::string name = "sim:" + std::string(board->options().soc->name);
  return finish_uart(std::make_unique<transport::PeerStream>(std::move(board), name), o, url);
}

// A recorded trace served as the device; close() checks that the host went through all of it.
std::unique_ptr<Device> connect_replay(const Target& t, const ConnectOptions& o, std::string_view url) {
  // The trace is read (and checked) here, before anything runs.
  const trace::Trace recorded = trace::read(t.replay);
  std::unique_ptr<Device> dev;
  std::function<void()> check;
  if (recorded.header.link == "usb") {
    auto peer = std::make_shared<sim::ReplayUsbPeer>(recorded);
    check = [peer] { peer->check_finished(); };
    dev = connect_usb_board(peer, false, t.usb);
    start_recording(*dev, url, o);
  } else {
    auto peer = std::make_shared<sim::ReplayUartPeer>(recorded);
    check = [peer] { peer->check_finished(); };
    dev = finish_uart(std::make_unique<transport::PeerStream>(peer, "sim:replay=" + t.replay), o, url);
  }
  dev->set_close_check(std::move(check));
  return dev;
}

std::unique_ptr<Device> connect_sim(const Target& t, const ConnectOptions& o, std::string_view url) {
  if (!t.replay.empty()) return connect_replay(t, o, url);
  std::unique_ptr<Device> dev;
  if (t.board.link == sim::SimLink::usb) {
    dev = connect_usb_board(std::make_shared<sim::UsbBoard>(t.board.usb_options()), t.board.real_time, t.usb);
    start_recording(*dev, url, o);
    return dev;
  }
  return uart_board_device(std::make_shared<sim::UartBoard>(t.board.uart_options()), o, url);
}

#ifdef MP1BOOT_HAS_USB
std::unique_ptr<Device> connect_usb(const Target& t) {
  const std::string& selector = t.u.target;
  const UsbDevice::Options& uo = t.usb;
  auto port = transport::open_usb(selector);
  UsbDevice::Reopen reopen = [](const usb::Identity& prev, std::chrono::milliseconds timeout,
                                const CancelToken* cancel) -> std::unique_ptr<transport::UsbControlPort> {
    transport::UsbWaitOptions w;
    w.serial = prev.serial;
    w.port_path = prev.port_path;
    w.timeout = timeout;
    w.cancel = cancel;
    w.skip_bus = prev.bus;
    w.skip_address = prev.address;
    return transport::wait_for_device(w);
  };
  return std::make_unique<UsbDevice>(std::move(port), std::move(reopen), uo);
}
#endif

}  // namespace

std::string connect_url_help() {
  return "accepted ports: serial:/dev/ttyUSB0[?baud=115200&parity=even&low_latency=1], "
         "sim:stm32mp135 or sim:stm32mp157[?OPTION=VALUE&...] (the board options of `mp1boot sim --help`; "
         "link=usb also takes the host's reconnect_ms=N or ROM,TFA,UBOOT), "
         "usb[:SERIAL|:BUS-PORTPATH|:VID:PID][?reconnect_ms=N or ROM,TFA,UBOOT], "
         "sim:replay=FILE (a trace written with --trace FILE, answered as recorded)";
}

std::unique_ptr<Device> connect_board(std::shared_ptr<sim::UartBoard> board, const ConnectOptions& options) {
  const std::string name = "sim:" + std::string(board->options().soc->name);
  return uart_board_device(std::move(board), options, name);
}

std::unique_ptr<Device> connect_board(std::shared_ptr<sim::UsbBoard> board, bool real_time) {
  return connect_usb_board(std::move(board), real_time, {});
}

void check_connect_url(std::string_view url) { (void)parse(url); }

std::unique_ptr<Device> connect(std::string_view url, const ConnectOptions& options) {
  const Target t = parse(url);
  if (t.u.scheme == "sim") return connect_sim(t, options, url);
#ifdef MP1BOOT_HAS_SERIAL
  if (t.u.scheme == "serial")
    return finish_uart(std::make_unique<transport::SerialPort>(t.u.target, t.serial), options, url);
#endif
#ifdef MP1BOOT_HAS_USB
  if (t.u.scheme == "usb") {
    auto dev = connect_usb(t);
    start_recording(*dev, url, options);
    return dev;
  }
#endif
  bad_url(url, "unknown scheme '" + t.u.scheme + "'");  // parse() refused every other scheme
}

}  // namespace mp1boot::session
