// SPDX-License-Identifier: MIT
// libFuzzer: the UART host engine against arbitrary device bytes. The first input byte picks the
// operation; the rest is what the device sends, in chunks of the sizes the engine asks for
// (a 0xEE byte at a read means "timeout"). Invariants: only mp1boot errors are thrown, the engine
// finishes or fails within a bounded number of actions, and never asks for more than it reads.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "mp1boot/error.hpp"
#include "mp1boot/uart/engine.hpp"

using namespace mp1boot;
using namespace mp1boot::uart;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Bytes payload(600, 0x5A);  // three packets
  Engine e;
  try {
    switch (data[0] % 9) {
      case 0: e.sync(); break;
      case 1: e.get(); break;
      case 2: e.get_version(); break;
      case 3: e.get_id(); break;
      case 4: e.get_phase(); break;
      case 5: e.read_memory(0x2FFC0000, 1 + data[0] % 200); break;
      case 6: e.read_partition(0xF2, 0, 1 + data[0] % 256); break;
      case 7: e.download(payload, DownloadOp::normal, data[0]); break;
      default: e.start(0xFFFFFFFF); break;
    }
    std::size_t at = 1;
    for (int guard = 0; guard < 100000; ++guard) {
      const Action a = e.next_action();
      if (std::holds_alternative<Done>(a)) return 0;
      if (const auto* r = std::get_if<Read>(&a)) {
        if (r->max == 0) __builtin_trap();
        if (at >= size || data[at] == 0xEE) {
          ++at;
          e.on_timeout();
          continue;
        }
        const std::size_t n = std::min(r->max, size - at);
        e.on_bytes(ByteView(data + at, n));
        at += n;
      }
      while (e.next_event()) {
      }
    }
    __builtin_trap();  // no end after 100000 actions
  } catch (const Error&) {
  }
  return 0;
}
