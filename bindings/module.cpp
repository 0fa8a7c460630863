// SPDX-License-Identifier: MIT
// PYBIND11_MODULE(_core): each area registers itself.
#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "mp1boot native core";
  m.attr("__version__") = MP1BOOT_VERSION;
}
