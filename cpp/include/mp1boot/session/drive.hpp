// SPDX-License-Identifier: MIT
// The driver loops that join a protocol engine to a transport, side by side: the UART byte loop
// (drive) and the DFU transfer loop (drive_dfu). Both perform the engine's actions, feed back
// bytes, transfer results and timeouts, poll for cancellation at least every 50 ms, write the
// wire trace, take time from the injected clock, and are the only place where protocol context is
// merged into errors. Nothing else in the library runs an engine.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "mp1boot/dfu/engine.hpp"
#include "mp1boot/progress.hpp"
#include "mp1boot/session/binary.hpp"
#include "mp1boot/trace.hpp"
#include "mp1boot/transport/byte_stream.hpp"
#include "mp1boot/transport/usb_port.hpp"
#include "mp1boot/uart/engine.hpp"

namespace mp1boot::session {

/// Time as the driver loops see it. The real clock waits precisely (wait_until); a virtual clock
/// jumps to the deadline, so device times of an in-process simulated board cost nothing.
class DriveClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~DriveClock() = default;
  virtual time_point now() = 0;
  /// Waits until `deadline`, calling `check` (which may throw to cancel) at least every 50 ms.
  virtual void sleep_until(time_point deadline, const std::function<void()>& check) = 0;
};

/// The steady clock with precise waits.
DriveClock& real_clock();

/// Virtual time: now() starts at the real time of construction and moves only by sleep_until().
class VirtualClock final : public DriveClock {
 public:
  VirtualClock() : now_(std::chrono::steady_clock::now()) {}
  time_point now() override { return now_; }
  void sleep_until(time_point deadline, const std::function<void()>& check) override {
    if (check) check();
    if (deadline > now_) now_ = deadline;
  }

 private:
  time_point now_;
};

/// Wire trace: dir is '>' (host to device), '<' (device to host) or '#' (annotation).
using TraceFn = std::function<void(char dir, ByteView bytes, std::string_view note)>;

struct DriveHooks {
  CancelToken* cancel = nullptr;        ///< tripped -> CancelledError
  std::function<void()> poll;           ///< called while waiting, at least every 50 ms; may throw
  TraceFn trace;                        ///< optional wire trace (human-readable lines)
  trace::Writer* record = nullptr;      ///< optional field trace (JSON lines, replayable)
  std::function<void(const uart::Event&)> on_event;  ///< engine events (packets acknowledged, retries)
  DriveClock* clock = nullptr;          ///< null: real_clock()
};

/// Runs the engine's current operation to completion.
/// @throws the engine's or the transport's mp1boot::Error, with operation, packet, bytes
///         acknowledged and transport filled in; CancelledError when cancelled.
void drive(uart::Engine& engine, transport::ByteStream& stream, const DriveHooks& hooks);

/// Performs the DFU engine's actions on the port until Done: control transfers (a transport's stall,
/// disconnect or timeout becomes the engine's input), alt selection, the engine's Sleep on
/// hooks.clock, and NeedData of streamed downloads, answered from `reader` at most 1 MiB at a time
/// (bounded memory whatever the image size), read into `window` (pass the same buffer to every call
/// to keep its memory between calls; null: a buffer for this call only). `on_event` receives the
/// engine's events (blocks acknowledged, status reports).
/// @throws as drive(), with the engine's context (phase, block, bytes) and the port's description;
///         UsageError when the engine asks for data and there is no reader.
dfu::Done drive_dfu(dfu::Engine& engine, transport::UsbControlPort& port, const DriveHooks& hooks,
                    const std::function<void(const dfu::Event&)>& on_event = {}, const DataReader* reader = nullptr,
                    Bytes* window = nullptr);

/// Formats a trace line in the transcript format: "> 31 ce", "< 79", "# note".
std::string trace_line(char dir, ByteView bytes, std::string_view note);

}  // namespace mp1boot::session
