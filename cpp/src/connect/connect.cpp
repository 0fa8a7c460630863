// SPDX-License-Identifier: MIT
// connect(): URL parsing and transport selection. Lives above core, serial and usb.
#include "mp1boot/session/connect.hpp"

#include <map>

#include "mp1boot/session/uart_device.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/sim/uart_board.hpp"
#include "mp1boot/sim/uboot_uart.hpp"
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

// Fault of the simulated USB board: it resets after reset_after bytes of phase reset_phase.
sim::UsbResetFault& usb_reset_fault(sim::UsbBoardOptions& b) {
  if (!b.reset_fault) b.reset_fault.emplace();
  return *b.reset_fault;
}

// "reconnect_ms=N" (every hand-over) or "A,B,C" (after the ROM, TF-A, U-Boot layout).
UsbDevice::ReconnectTimeouts reconnect_timeouts(std::string_view url, const std::string& v) {
  UsbDevice::ReconnectTimeouts t;
  try {
    std::vector<long> ms;
    std::size_t pos = 0;
    while (pos <= v.size()) {
      const std::size_t comma = std::min(v.find(',', pos), v.size());
      ms.push_back(std::stol(v.substr(pos, comma - pos)));
      pos = comma + 1;
    }
    if (ms.size() != 1 && ms.size() != 3) throw std::invalid_argument("count");
    t.after_rom = std::chrono::milliseconds(ms[0]);
    t.after_tfa = std::chrono::milliseconds(ms.size() == 3 ? ms[1] : ms[0]);
    t.after_uboot = std::chrono::milliseconds(ms.size() == 3 ? ms[2] : ms[0]);
  } catch (const std::exception&) {
    bad_url(url, "reconnect_ms needs milliseconds: N, or ROM,TFA,UBOOT; got '" + v + "'");
  }
  return t;
}

std::unique_ptr<Device> connect_sim_usb(const Url& u, std::string_view url, const SocInfo& soc) {
  sim::UsbBoardOptions b;
  b.soc = &soc;
  transport::PeerUsbOptions so;
  sim::UbootOptions uboot;
  bool with_uboot = true;
  UsbDevice::Options uo;
  auto micros = [&](const std::string& k, const std::string& v) {
    try {
      return std::chrono::microseconds(std::stol(v));
    } catch (const std::exception&) {
      bad_url(url, k + " needs a number of microseconds, got '" + v + "'");
    }
  };
  for (const auto& [k, v] : u.query) {
    if (k == "link") continue;
    else if (k == "record") b.record_dir = v;
    else if (k == "serial") b.serial = v;
    else if (k == "realtime") so.real_time = v != "0";
    else if (k == "block_us") b.block_time = micros(k, v);
    else if (k == "uboot_block_us") b.uboot_block_time = micros(k, v);
    else if (k == "uboot") with_uboot = v != "0";
    else if (k == "tfa") b.tfa_enabled = v != "0";
    else if (k == "storage") uboot.storage.dir = v;
    else if (k == "uboot_version") uboot.uboot_version = v;
    else if (k == "medium_bps") uboot.medium_bytes_per_second = std::stoull(v, nullptr, 0);
    else if (k == "flush_ms") uboot.flush_time = std::chrono::milliseconds(std::stoll(v, nullptr, 0));
    else if (k == "reset_phase") usb_reset_fault(b).phase = static_cast<std::uint8_t>(std::stoul(v, nullptr, 0));
    else if (k == "reset_after") usb_reset_fault(b).after_bytes = std::stoull(v, nullptr, 0);
    else if (k == "reconnect_ms") uo.reconnect = reconnect_timeouts(url, v);
    else bad_url(url, "unknown simulator option '" + k + "' for link=usb");
  }
  // After TF-A, U-Boot's stm32prog gadget (its storage in a temporary folder unless storage=DIR).
  b.uboot.reset();
  if (with_uboot) b.uboot = uboot;
  auto board = std::make_shared<sim::UsbBoard>(b);
  auto port = std::make_unique<transport::PeerUsbPort>(board, so);
  UsbDevice::Reopen reopen = [board, so](const usb::Identity&, std::chrono::milliseconds timeout,
                                         const CancelToken* cancel) -> std::unique_ptr<transport::UsbControlPort> {
    return transport::wait_for_peer_device(board, timeout, cancel, so);
  };
  return std::make_unique<UsbDevice>(std::move(port), std::move(reopen), uo);
}

std::unique_ptr<Device> connect_sim(const Url& u, std::string_view url, const ConnectOptions& o) {
  if (u.target.empty()) bad_url(url, "the simulated board needs a SoC, e.g. sim:stm32mp135");
  const SocInfo& soc = soc_by_name(u.target);
  if (auto it = u.query.find("link"); it != u.query.end() && it->second == "usb") return connect_sim_usb(u, url, soc);
  sim::UartBoardOptions b;
  b.soc = &soc;
  sim::UbootOptions uboot;
  bool with_uboot = true;
  // Fault: the board resets after reset_after bytes of phase reset_phase (FIELD.md 10).
  auto reset_fault = [&b]() -> sim::UartFaultPlan::ResetFault& {
    if (!b.faults.reset_during) b.faults.reset_during.emplace();
    return *b.faults.reset_during;
  };
  for (const auto& [k, v] : u.query) {
    if (k == "record") b.record_dir = v;
    else if (k == "uboot") with_uboot = v != "0";
    else if (k == "storage") uboot.storage.dir = v;
    else if (k == "uboot_version") uboot.uboot_version = v;
    else if (k == "link" && v == "uart") continue;
    else if (k == "link") bad_url(url, "link must be uart or usb");
    else if (k == "rom_read_memory") b.rom_read_memory = v != "0";
    else if (k == "stage" && v == "tfa") b.start_stage = sim::StartStage::tfa;
    else if (k == "reset_phase") reset_fault().phase = static_cast<std::uint8_t>(std::stoul(v, nullptr, 0));
    else if (k == "reset_after") reset_fault().after_bytes = std::stoull(v, nullptr, 0);
    else bad_url(url, "unknown simulator option '" + k + "'");
  }
  // After TF-A, U-Boot's stm32prog programming service (its storage in a temporary folder unless
  // storage=DIR is given).
  if (with_uboot) b.ssbl_factory = sim::make_uboot_factory(uboot);
  auto board = std::make_shared<sim::UartBoard>(b);
  auto stream = std::make_unique<transport::PeerStream>(board, "sim:" + std::string(b.soc->name));
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
         "sim:stm32mp135 or sim:stm32mp157[?link=usb&record=DIR&storage=DIR&uboot=0&tfa=0&block_us=N&uboot_block_us=N&medium_bps=N&flush_ms=N"
         "&realtime=1&reset_phase=0xNN&reset_after=BYTES&reconnect_ms=N], "
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
