// SPDX-License-Identifier: MIT
// Exception translation: every mp1boot::Error becomes the matching class of mp1boot.errors, with
// code, operation, phase, partition, packet, bytes_sent, bytes_total, transport, layout_line, file.
#include <pybind11/pybind11.h>

#include "mp1boot/error.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
py::object opt(const auto& o) { return o ? py::cast(*o) : py::none(); }

void raise_python(const Error& e) {
  py::module_ errors = py::module_::import("mp1boot.errors");
  py::object cls = py::getattr(errors, e.kind(), errors.attr("Error"));
  const ErrorContext& c = e.context();
  py::dict kw;
  kw["code"] = errc_name(e.code());
  kw["operation"] = c.operation.empty() ? py::none() : py::cast(c.operation);
  kw["phase"] = opt(c.phase);
  kw["partition"] = c.partition.empty() ? py::none() : py::cast(c.partition);
  kw["packet"] = opt(c.packet);
  kw["bytes_sent"] = opt(c.bytes_sent);
  kw["bytes_total"] = opt(c.bytes_total);
  kw["transport"] = c.transport.empty() ? py::none() : py::cast(c.transport);
  kw["layout_line"] = opt(c.layout_line);
  kw["file"] = c.file.empty() ? py::none() : py::cast(c.file);
  py::object exc = cls(e.what(), **kw);
  PyErr_SetObject(cls.ptr(), exc.ptr());
}
}  // namespace

void register_errors(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      raise_python(e);
    }
  });
  m.def("errc_names", [] {
    py::list out;
    for (int i = 0; i <= static_cast<int>(errc_last); ++i) out.append(errc_name(static_cast<errc>(i)));
    return out;
  }, "Stable names of every error code, index = numeric value.");
}

}  // namespace mp1boot::py_bindings
