// SPDX-License-Identifier: MIT
// PYBIND11_MODULE(_core): each area registers itself (register_*.cpp). Bindings translate
// types and release the GIL; they make no protocol decisions.
#include <pybind11/pybind11.h>

#include "mp1boot/version.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {
void register_errors(py::module_& m);
void register_image(py::module_& m);
void register_session(py::module_& m);
void register_sim(py::module_& m);
void register_usb(py::module_& m);
void register_layout(py::module_& m);
void register_flash(py::module_& m);
void register_nvm(py::module_& m);
}  // namespace mp1boot::py_bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "mp1boot native core (use the mp1boot package, not this module)";
  m.attr("__version__") = mp1boot::version;
  using namespace mp1boot::py_bindings;
  register_errors(m);
  register_image(m);
  register_session(m);
  register_sim(m);
  register_usb(m);
  register_layout(m);
  register_flash(m);
  register_nvm(m);
}
