// SPDX-License-Identifier: MIT
// Byte conversions shared by the register_*.cpp files: Bytes -> Python bytes, and any bytes-like
// object (bytes, bytearray, memoryview) -> Bytes.
#pragma once
#include <pybind11/pybind11.h>

#include "mp1boot/bytes.hpp"

namespace mp1boot::py_bindings {

namespace py = pybind11;

inline py::bytes to_py(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

inline Bytes bytes_arg(const py::object& obj) {
  py::buffer_info info = py::buffer(obj).request();
  auto* p = static_cast<const std::uint8_t*>(info.ptr);
  return Bytes(p, p + info.size * info.itemsize);
}

}  // namespace mp1boot::py_bindings
