// SPDX-License-Identifier: MIT
// flash_many (see flash_many.hpp): a thread per board, each connecting and running its own
// Flasher; the calling thread waits and calls the embedder's while_waiting hook.
#include "mp1boot/session/flash_many.hpp"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "mp1boot/error.hpp"
#include "mp1boot/version.hpp"

namespace mp1boot::session {

nlohmann::json FlashManyReport::json() const {
  nlohmann::json b = nlohmann::json::object();
  for (const auto& [key, report] : boards) b[key] = report.json();
  return nlohmann::json{{"tool_version", tool_version}, {"result", std::string(to_string(result))}, {"boards", b}};
}

std::string board_key(const FlashReport& report, const std::vector<FlashReport>& all) {
  const std::string key = report.board().key();
  if (key.empty() || report.link == Link::unknown) return report.port;
  std::size_t same = 0;
  for (const auto& r : all)
    if (r.board().key() == key) ++same;
  return same > 1 ? report.port : key;
}

FlashManyReport flash_many(const std::vector<std::string>& ports, const std::filesystem::path& layout,
                           const FlashManyOptions& options) {
  if (ports.empty()) throw UsageError(errc::usage, "flash_many needs at least one port");
  std::set<std::string> seen;
  for (const auto& p : ports)
    if (!seen.insert(p).second) throw UsageError(errc::usage, "flash_many: port " + p + " is given twice");

  CancelToken own;
  CancelToken* cancel = options.cancel ? options.cancel : &own;
  std::vector<FlashReport> reports(ports.size());
  std::mutex mutex;
  std::condition_variable done_cv;
  std::size_t done = 0;
  // Every board flashes the same files: each is read and hashed once, by whichever board asks first.
  const auto digests = options.flash.digests ? options.flash.digests : std::make_shared<DigestCache>();

  auto run_board = [&](std::size_t i) {
    const std::string& port = ports[i];
    FlashReport& out = reports[i];
    out.tool_version = mp1boot::version;
    out.layout = layout.string();
    try {
      if (cancel->cancelled()) throw CancelledError(errc::cancelled, "cancelled before " + port + " was opened");
      auto device = connect(port, options.connect);
      DriveHooks hooks;
      hooks.cancel = cancel;
      device->set_hooks(hooks);
      FlashOptions o = options.flash;
      o.digests = digests;
      if (options.progress) o.progress = [&](const Progress& p) { options.progress(port, p); };
      if (options.on_event) o.on_event = [&](const FlashEvent& e) { options.on_event(port, e); };
      Flasher flasher(*device, layout, std::move(o));
      try {
        flasher.run();
      } catch (...) {
        out = flasher.report();
        throw;
      }
      out = flasher.report();
    } catch (const Error& e) {
      out.result = FlashResult::failed;
      out.error = e.what();
      out.error_code = errc_name(e.code());
    } catch (const std::exception& e) {
      out.result = FlashResult::failed;
      out.error = e.what();
      out.error_code = "io";
    }
    out.port = port;
    std::lock_guard lock(mutex);
    ++done;
    done_cv.notify_all();
  };

  std::vector<std::thread> threads;
  threads.reserve(ports.size());
  std::exception_ptr waiting_error;
  for (std::size_t i = 0; i < ports.size(); ++i) threads.emplace_back(run_board, i);
  {
    std::unique_lock lock(mutex);
    while (done < ports.size()) {
      done_cv.wait_for(lock, options.wait_interval);
      if (done == ports.size() || !options.while_waiting || waiting_error) continue;
      lock.unlock();
      try {
        options.while_waiting();
      } catch (...) {
        waiting_error = std::current_exception();
        cancel->cancel();
      }
      lock.lock();
    }
  }
  for (auto& t : threads) t.join();
  if (waiting_error) std::rethrow_exception(waiting_error);

  FlashManyReport result;
  result.tool_version = mp1boot::version;
  bool ok = true;
  for (const auto& r : reports) {
    std::string key = board_key(r, reports);
    if (result.boards.count(key)) key = r.port;
    ok = ok && r.result == FlashResult::ok;
    result.boards.emplace(key, r);
  }
  result.result = ok ? FlashResult::ok : FlashResult::failed;
  return result;
}

}  // namespace mp1boot::session
