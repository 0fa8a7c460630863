// SPDX-License-Identifier: MIT
// libFuzzer: the DFU host engine against arbitrary replies. The first byte picks the request;
// every later byte decides the outcome of one action (data for a ControlIn from the bytes that
// follow, a stall, a timeout, a disconnect, success). Invariants: only mp1boot errors are thrown
// and every request ends (Done or an error) within a bounded number of actions.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mp1boot/dfu/engine.hpp"
#include "mp1boot/error.hpp"

using namespace mp1boot;
using namespace mp1boot::dfu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const std::vector<usb::AltSetting> alts = {
      {0, "@FSBL /0x01/1*1Me"}, {1, "@fip /0x03/1*16Me"}, {2, "@virtual /0xF1/1*512Be"}, {3, "@OTP /0xF2/1*544Be"}};
  const Bytes payload(3000, 0xA5);
  Options o;
  o.max_status_polls = 64;
  Engine e(o);
  std::size_t at = 1;
  auto next = [&]() -> std::uint8_t {
    const std::uint8_t v = at < size ? data[at] : 0xFF;
    ++at;
    return v;
  };
  try {
    switch (data[0] % 8) {
      case 0: e.get_phase(alts); break;
      case 1: e.download(0x01, alts, payload, 1024, {.handover_on_manifest = (data[0] & 0x80) != 0}); break;
      case 2: e.download(0x03, alts, payload, 4096, {.manifestation_tolerant = (data[0] & 0x80) != 0}); break;
      case 3: e.upload(3, 512, 2000); break;
      case 4: e.detach(); break;
      case 5: e.abort(); break;
      case 6: e.ensure_idle(); break;
      default: e.get_status(); break;
    }
    for (int guard = 0; guard < 100000; ++guard) {
      const Action a = e.next_action();
      if (std::holds_alternative<Done>(a)) return 0;
      const std::uint8_t how = next();
      if (at >= size + 8) return 0;  // input used up long ago: the device went silent for good
      switch (how % 8) {
        case 0: e.on_stall(); break;
        case 1: e.on_timeout(); break;
        case 2: e.on_disconnect(); break;
        default:
          if (const auto* in = std::get_if<ControlIn>(&a)) {
            std::size_t n = next();
            const std::size_t from = std::min(at, size);
            n = std::min(n, std::min<std::size_t>(in->length, size - from));
            e.on_control_in(ByteView(data + from, n));
            at += n;
          } else if (std::holds_alternative<Sleep>(a)) {
            e.on_sleep_done();
          } else {
            e.on_control_out_done();
          }
      }
      while (e.next_event()) {
      }
    }
    __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
