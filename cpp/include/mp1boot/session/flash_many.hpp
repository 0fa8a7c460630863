// SPDX-License-Identifier: MIT
// session::flash_many: one layout onto N boards in parallel, one thread per board, one shared
// cancel token, one report per board keyed by the board's identity (BoardIdentity::key(): the
// USB port path, or the port). A failing board does not stop the others; cancelling stops all.
// Resume (FlashOptions::resume) gives every board the entry of its own earlier run.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mp1boot/progress.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flasher.hpp"

namespace mp1boot::session {

struct FlashManyOptions {
  /// Options of every board's run (verify, resume, defines, ...). Its progress and on_event are
  /// not used: see below. Its digests are given to every board (a new cache when null), so each
  /// file and block map is read and hashed once for all boards.
  FlashOptions flash;
  ConnectOptions connect;
  /// Byte progress and events of each board, with the port it was given. Called from the boards'
  /// threads (concurrently): the callee synchronises.
  std::function<void(const std::string& port, const Progress&)> progress;
  std::function<void(const std::string& port, const FlashEvent&)> on_event;
  /// Shared by every board; trip it to stop them all (nullptr: an internal token).
  CancelToken* cancel = nullptr;
  /// Called on the calling thread every `wait_interval` while the boards run (an embedder's
  /// signal check). It may trip the token; an exception it throws cancels every board and is
  /// rethrown once all threads ended.
  std::function<void()> while_waiting;
  std::chrono::milliseconds wait_interval{50};
};

/// The reports of a flash_many run.
struct FlashManyReport {
  std::string tool_version;
  FlashResult result = FlashResult::failed;    ///< ok when every board's result is ok
  std::map<std::string, FlashReport> boards;    ///< board key -> report (FlashReport::port set)

  /// {"tool_version", "result", "boards": {key: report}}: what `mp1boot flash` writes for several boards.
  nlohmann::json json() const;
  std::string to_json() const { return json().dump(); }
};

/// Key of each board in FlashManyReport::boards: the board's identity key, or the port it was
/// given when two boards share an identity (in-process simulated boards) or the board was never
/// reached.
std::string board_key(const FlashReport& report, const std::vector<FlashReport>& all);

/// Flashes `layout` onto every port (connect() URLs) in parallel.
/// @throws UsageError when `ports` is empty or names a port twice; whatever while_waiting threw.
///         Errors of a board end up in its report (result "failed", error, error_code).
FlashManyReport flash_many(const std::vector<std::string>& ports, const std::filesystem::path& layout,
                           const FlashManyOptions& options = {});

}  // namespace mp1boot::session
