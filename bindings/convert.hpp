// SPDX-License-Identifier: MIT
// Byte conversions shared by the register_*.cpp files: Bytes -> Python bytes, and any bytes-like
// object (bytes, bytearray, memoryview) -> Bytes.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/error.hpp"

namespace mp1boot::py_bindings {

namespace py = pybind11;

inline py::bytes to_py(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

/// A non-negative integer argument of at most `max`, checked here: pybind11's own conversion error
/// would list every argument of the call, a multi-megabyte payload included. The message names
/// the argument and the range. @throws UsageError.
inline std::uint64_t uint_arg(const py::handle& value, const char* name, std::uint64_t max = 0xFFFFFFFFu) {
  if (!py::isinstance<py::int_>(value) || py::isinstance<py::bool_>(value))
    throw UsageError(errc::usage, std::string(name) + ": expected an integer, got " +
                                      std::string(py::str(py::type::of(value).attr("__name__"))));
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow != 0 || v < 0 || static_cast<unsigned long long>(v) > max) {
    std::string text = py::str(value);
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    throw UsageError(errc::usage, std::string(name) + " " + text + " is outside 0.." + std::to_string(max) +
                                      (max == 0xFFFFFFFFu ? " (32 bits)" : ""));
  }
  return static_cast<std::uint64_t>(v);
}

/// A str argument (see uint_arg). @throws UsageError.
inline std::string str_arg(const py::handle& value, const char* name) {
  if (!py::isinstance<py::str>(value))
    throw UsageError(errc::usage, std::string(name) + ": expected a str, got " +
                                      std::string(py::str(py::type::of(value).attr("__name__"))));
  return value.cast<std::string>();
}

inline Bytes bytes_arg(const py::object& obj) {
  if (!PyObject_CheckBuffer(obj.ptr()))
    throw UsageError(errc::usage, std::string("expected a bytes-like object, got ") +
                                      std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::buffer_info info = py::buffer(obj).request();
  auto* p = static_cast<const std::uint8_t*>(info.ptr);
  return Bytes(p, p + info.size * info.itemsize);
}

}  // namespace mp1boot::py_bindings
