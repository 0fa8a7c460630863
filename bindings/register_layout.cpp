// SPDX-License-Identifier: MIT
// Flash layouts: parse and check with U-Boot's rules, before touching a board.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "mp1boot/image/flash_layout.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

void register_layout(py::module_& m) {
  m.def("layout_check", [](const std::filesystem::path& file, const std::map<std::string, std::string>& defines,
                           bool check_binaries) {
    image::ParseOptions po;
    po.defines = defines;
    image::FlashLayout layout = image::load_layout(file, po);
    image::CheckOptions co;
    co.check_binaries = check_binaries;
    std::vector<image::Diagnostic> all = layout.diagnostics;
    for (auto& d : image::check_layout(layout, co)) all.push_back(d);
    py::list diags;
    for (const auto& d : all) {
      py::dict x;
      x["severity"] = image::to_string(d.severity);
      x["line"] = d.line;
      x["column"] = d.column;
      x["message"] = d.message;
      x["rule"] = d.rule;
      x["text"] = image::format_diagnostic(d, file);
      diags.append(x);
    }
    py::list entries;
    for (const auto& e : layout.entries) {
      py::dict x;
      x["line"] = e.line;
      x["option"] = e.option;
      x["id"] = e.id;
      x["name"] = e.name;
      x["type"] = e.type;
      x["ip"] = e.ip;
      x["offset"] = e.offset_text;
      x["binary"] = e.binary;
      x["binary_path"] = e.binary_path.string();
      auto size = image::partition_size(layout, e, co);
      x["size"] = size ? py::cast(*size) : py::none();
      entries.append(x);
    }
    py::list order;
    for (const auto& step : image::programming_order(layout)) {
      py::dict x;
      x["phase"] = step.phase;
      x["line"] = step.entry ? py::cast(step.entry->line) : py::none();
      x["name"] = step.entry ? py::cast(step.entry->name) : py::cast("flash layout");
      x["binary_path"] = step.entry ? py::cast(step.entry->binary_path.string()) : py::cast(file.string());
      order.append(x);
    }
    py::dict out;
    out["file"] = file.string();
    out["service"] = image::intended_service(layout) == image::ProgrammingService::u_boot_stm32prog
                         ? "u-boot stm32prog" : "ST external loader";
    out["diagnostics"] = diags;
    out["entries"] = entries;
    out["order"] = order;
    return out;
  }, py::arg("file"), py::arg("defines") = std::map<std::string, std::string>{}, py::arg("check_binaries") = true,
     "Parses a flash layout and checks it with U-Boot's rules: diagnostics with line numbers, "
     "entries, and the phases in the order the device will ask for them.");
}

}  // namespace mp1boot::py_bindings
