// SPDX-License-Identifier: MIT
// connect(): URL parsing and transport selection. Lives above core, serial and usb.
#include "mp1boot/session/connect.hpp"

#include <map>

#include "mp1boot/session/uart_device.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/sim/board_config.hpp"
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

std::unique_ptr<Device> finish_uart(std::unique_ptr<transport::ByteStream> stream, const ConnectOptions& o) {
  auto dev = std::make_unique<UartDevice>(std::move(stream), o.uart);
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

std::unique_ptr<Device> connect_sim_usb(const sim::BoardConfig& config, UsbDevice::Options uo) {
  // Virtual time unless realtime=1: the driver loop's waits (bwPollTimeout) cost nothing either.
  if (!config.real_time) uo.clock = std::make_shared<VirtualClock>();
  auto board = std::make_shared<sim::UsbBoard>(config.usb_options());
  const transport::PeerUsbOptions so{.real_time = config.real_time};
  auto port = std::make_unique<transport::PeerUsbPort>(board, so);
  UsbDevice::Reopen reopen = [board, so](const usb::Identity&, std::chrono::milliseconds timeout,
                                         const CancelToken* cancel) -> std::unique_ptr<transport::UsbControlPort> {
    return transport::wait_for_peer_device(board, {.timeout = timeout, .cancel = cancel}, so);
  };
  return std::make_unique<UsbDevice>(std::move(port), std::move(reopen), uo);
}

// sim:SOC?key=value&...: the board's options in the vocabulary of sim/board_config.hpp, plus the
// host's reconnect_ms (USB).
std::unique_ptr<Device> connect_sim(const Url& u, std::string_view url, const ConnectOptions& o) {
  if (u.target.empty()) bad_url(url, "the simulated board needs a SoC, e.g. sim:stm32mp135");
  std::vector<std::pair<std::string, std::string>> board_options;
  UsbDevice::Options uo;
  bool reconnect_given = false;
  for (auto& [k, v] : sim::split_options(u.raw_query)) {
    if (k == "reconnect_ms") {
      uo.reconnect = reconnect_timeouts(url, v);
      reconnect_given = true;
    } else {
      board_options.emplace_back(k, v);
    }
  }
  sim::BoardConfig config;
  try {
    config = sim::board_config(u.target, board_options);
  } catch (UsageError& e) {
    bad_url(url, e.message());
  }
  if (config.link == sim::SimLink::usb) return connect_sim_usb(config, uo);
  if (reconnect_given) bad_url(url, "reconnect_ms applies to link=usb only");
  auto board = std::make_shared<sim::UartBoard>(config.uart_options());
  auto stream = std::make_unique<transport::PeerStream>(board, "sim:" + std::string(config.soc->name));
  return finish_uart(std::move(stream), o);
}

#ifdef MP1BOOT_HAS_USB
std::unique_ptr<Device> connect_usb(const Url& u, std::string_view url) {
  std::string selector = u.target;
  UsbDevice::Options uo;
  for (const auto& [k, v] : u.query) {
    if (k == "reconnect_ms") uo.reconnect = reconnect_timeouts(url, v);
    else bad_url(url, "unknown USB option '" + k + "' (reconnect_ms=N or ROM,TFA,UBOOT)");
  }
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
         "usb[:SERIAL|:BUS-PORTPATH|:VID:PID][?reconnect_ms=N or ROM,TFA,UBOOT]";
}

std::unique_ptr<Device> connect(std::string_view url, const ConnectOptions& options) {
  const Url u = parse_url(url);
  if (u.scheme == "sim") return connect_sim(u, url, options);
  if (u.scheme == "serial") {
#ifdef MP1BOOT_HAS_SERIAL
    if (u.target.empty()) bad_url(url, "no device path after 'serial:'");
    auto so = transport::parse_serial_options(u.raw_query);
    return finish_uart(std::make_unique<transport::SerialPort>(u.target, so), options);
#else
    bad_url(url, "this build has no serial support");
#endif
  }
  if (u.scheme == "usb") {
#ifdef MP1BOOT_HAS_USB
    return connect_usb(u, url);
#else
    bad_url(url, "this build has no USB support");
#endif
  }
  bad_url(url, "unknown scheme '" + u.scheme + "'");
}

}  // namespace mp1boot::session
