// SPDX-License-Identifier: MIT
// CallScope: runs a blocking C++ call with the GIL released while Python callbacks (progress,
// trace) and Ctrl-C still work. Callbacks re-acquire the GIL; the poll hook checks for pending
// signals at least every 50 ms. A Python error raised in a callback (or KeyboardInterrupt) trips
// the cancel token; it is stored and re-raised once the C++ call has unwound and the GIL is held.
#pragma once
#include <pybind11/pybind11.h>

#include <chrono>
#include <functional>
#include <optional>

#include "mp1boot/progress.hpp"
#include "mp1boot/session/device.hpp"

namespace mp1boot::py_bindings {

namespace py = pybind11;

class CallScope {
 public:
  /// Must be built with the GIL held. `progress` may be None.
  explicit CallScope(session::Device* device, py::object progress = py::none(), py::object trace = py::none());
  ~CallScope();

  /// A ProgressFn that calls the Python callable (or nothing when it is None).
  ProgressFn progress_fn();
  /// Calls `fn(make())` with the GIL held; a Python error is stashed (and cancels the call).
  void invoke(const py::object& fn, const std::function<py::object()>& make);
  /// Calls `fn(question)` with the GIL held and returns its truth; false when it raised (the
  /// error is re-raised after the run) or after an earlier callback failed.
  bool ask(const py::object& fn, const std::string& question);
  /// Also cancel when this token trips (a caller running several boards from other threads).
  void watch(const CancelToken* external) { external_ = external; }

  /// Runs fn with the GIL released, then re-raises a stored Python error if any.
  template <class F>
  auto run(F&& fn) -> decltype(fn()) {
    try {
      if constexpr (std::is_void_v<decltype(fn())>) {
        {
          py::gil_scoped_release release;
          fn();
        }
        reraise();
      } else {
        std::optional<decltype(fn())> result;
        {
          py::gil_scoped_release release;
          result.emplace(fn());
        }
        reraise();
        return std::move(*result);
      }
    } catch (const Error& e) {
      on_error(e);  // a Python error caused the cancellation: raise it instead
      throw;
    }
  }

 private:
  void reraise();
  void on_error(const Error& e);
  void stash();  // stores the current Python error and trips the cancel token (GIL held)

  session::Device* device_;
  session::DriveHooks saved_;
  py::object progress_, trace_;
  CancelToken cancel_;
  std::chrono::steady_clock::time_point last_poll_{};
  std::optional<py::error_already_set> error_;
  const CancelToken* external_ = nullptr;
};

}  // namespace mp1boot::py_bindings
