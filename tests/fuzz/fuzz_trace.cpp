// SPDX-License-Identifier: MIT
// libFuzzer: a field trace given to `sim:replay=FILE` (trace::parse), then served by the replay peer
// of its link to a host that sends a few fixed requests. Invariants: parsing throws only UsageError;
// a replay peer throws only mp1boot errors (a mismatch is ProtocolError replay_mismatch) and never
// crashes, whatever the records say.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/replay.hpp"
#include "mp1boot/trace.hpp"

using namespace mp1boot;

namespace {

void drive_uart(const trace::Trace& t) {
  sim::ReplayUartPeer peer(t);
  const auto now = transport::BytePeer::Clock::now();
  const Bytes requests[] = {{0x7f}, {0x00, 0xff}, {0x31, 0xce}, {0x01, 0x00, 0x00, 0x00, 0x01}};
  for (const auto& r : requests) {
    peer.on_receive(r, now);
    (void)peer.take_output(now + std::chrono::seconds(10));
  }
  (void)peer.finished();
}

void drive_usb(const trace::Trace& t) {
  sim::ReplayUsbPeer peer(t);
  (void)peer.alt_settings();
  (void)peer.identity();
  const usb::SetupPacket getstatus{0xA1, 3, 0, 0};
  const usb::SetupPacket upload{0xA1, 2, 0, 0};
  const usb::SetupPacket dnload{0x21, 1, 0, 0};
  const Bytes block(64, 0x5a);
  for (int i = 0; i < 4; ++i) {
    (void)peer.control(getstatus, {}, 6);
    (void)peer.control(dnload, block, 0);
    (void)peer.control(upload, {}, 512);
    if (!peer.attached() && peer.pending_reattach()) peer.reattach();
  }
  (void)peer.finished();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  trace::Trace t;
  try {
    t = trace::parse(text, "fuzz.jsonl");
  } catch (const UsageError&) {
    return 0;
  }
  try {
    if (t.header.link == "usb") drive_usb(t);
    else drive_uart(t);
  } catch (const Error&) {
  }
  return 0;
}
