// SPDX-License-Identifier: MIT
// CallScope implementation.
#include "callbacks.hpp"

namespace mp1boot::py_bindings {

CallScope::CallScope(session::Device* device, py::object progress, py::object trace)
    : device_(device), progress_(std::move(progress)), trace_(std::move(trace)) {
  if (!device_) return;
  saved_ = device_->hooks();
  session::DriveHooks h = saved_;
  h.cancel = &cancel_;
  // Without this check Ctrl-C would stay pending until the C++ call returns (GIL released).
  // Taking the GIL costs microseconds: look for signals at most every 10 ms, which keeps Ctrl-C
  // well within 100 ms without slowing a per-block DFU loop.
  h.poll = [this] {
    if (error_) return;
    if (external_ && external_->cancelled()) cancel_.cancel();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_poll_ < std::chrono::milliseconds(10)) return;
    last_poll_ = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) stash();
  };
  if (!trace_.is_none()) {
    h.trace = [this](char dir, ByteView bytes, std::string_view note) {
      py::gil_scoped_acquire gil;
      if (error_) return;
      try {
        trace_(std::string(1, dir), py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
               std::string(note));
      } catch (py::error_already_set& e) {
        e.restore();
        stash();
      }
    };
  }
  device_->set_hooks(h);
}

CallScope::~CallScope() {
  if (device_) device_->set_hooks(saved_);
}

ProgressFn CallScope::progress_fn() {
  if (progress_.is_none()) return {};
  return [this](const Progress& p) {
    py::gil_scoped_acquire gil;
    if (error_) return;
    try {
      progress_(p);
      if (PyErr_CheckSignals() != 0) stash();
    } catch (py::error_already_set& e) {
      e.restore();
      stash();
    }
  };
}

void CallScope::invoke(const py::object& fn, const std::function<py::object()>& make) {
  if (fn.is_none()) return;
  py::gil_scoped_acquire gil;
  if (error_) return;
  try {
    fn(make());
  } catch (py::error_already_set& e) {
    e.restore();
    stash();
  }
}

bool CallScope::ask(const py::object& fn, const std::string& question) {
  py::gil_scoped_acquire gil;
  if (error_) return false;
  try {
    return py::bool_(fn(question));
  } catch (py::error_already_set& e) {
    e.restore();
    stash();
    return false;
  }
}

void CallScope::stash() {
  error_.emplace();  // fetches and clears the current Python error
  cancel_.cancel();
}

void CallScope::on_error(const Error& e) {
  if (!error_) return;
  if (error_->matches(PyExc_KeyboardInterrupt)) {
    // Ctrl-C: raise mp1boot.CancelledError (a KeyboardInterrupt) with the transfer's context.
    error_.reset();
    throw CancelledError(errc::cancelled, "interrupted (Ctrl-C)", e.context());
  }
  reraise();
}

void CallScope::reraise() {
  if (!error_) return;
  py::error_already_set e = std::move(*error_);
  error_.reset();
  throw e;
}

}  // namespace mp1boot::py_bindings
