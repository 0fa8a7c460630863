// SPDX-License-Identifier: MIT
// The one loop that joins a protocol engine to a transport. It performs the engine's actions,
// feeds back bytes and timeouts, polls for cancellation at least every 50 ms, writes the wire
// trace, and is the only place where protocol context is merged into errors.
#pragma once
#include <functional>
#include <string_view>

#include "mp1boot/progress.hpp"
#include "mp1boot/transport/byte_stream.hpp"
#include "mp1boot/uart/engine.hpp"

namespace mp1boot::session {

/// Wire trace: dir is '>' (host to device), '<' (device to host) or '#' (annotation).
using TraceFn = std::function<void(char dir, ByteView bytes, std::string_view note)>;

struct DriveHooks {
  CancelToken* cancel = nullptr;        ///< tripped -> CancelledError
  std::function<void()> poll;           ///< called while waiting, at least every 50 ms; may throw
  TraceFn trace;                        ///< optional wire trace
  std::function<void(const uart::Event&)> on_event;  ///< engine events (packets acknowledged, retries)
};

/// Runs the engine's current operation to completion.
/// @throws the engine's or the transport's mp1boot::Error, with operation, packet, bytes
///         acknowledged and transport filled in; CancelledError when cancelled.
void drive(uart::Engine& engine, transport::ByteStream& stream, const DriveHooks& hooks);

/// Formats a trace line in the transcript format: "> 31 ce", "< 79", "# note".
std::string trace_line(char dir, ByteView bytes, std::string_view note);

}  // namespace mp1boot::session
