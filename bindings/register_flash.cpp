// SPDX-License-Identifier: MIT
// mp1boot._core.flash(layout, port_url, ...): connects, runs session::Flasher with the GIL
// released (CallScope), and returns the FlashReport as a dict (parsed from to_json(), so the Python
// and JSON views cannot drift apart). The report is also appended to `report_sink` (a list) before
// an error propagates, so a failed or interrupted run still leaves its report. CancelToken lets a
// caller that runs several boards from threads stop them all.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <map>
#include <string>

#include "callbacks.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flasher.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

py::object event_dict(const session::FlashEvent& e) {
  using Kind = session::FlashEvent::Kind;
  if (e.kind == Kind::stage) {
    py::dict d;
    d["event"] = "stage";
    d["stage"] = e.stage;
    return std::move(d);
  }
  py::dict d = json_loads(session::to_json(*e.partition));
  d["event"] = e.kind == Kind::partition_done ? "partition" : "verified";
  return std::move(d);
}
}  // namespace

void register_flash(py::module_& m) {
  py::class_<CancelToken>(m, "CancelToken", "Trips every call it is given to (thread-safe).")
      .def(py::init<>())
      .def("cancel", &CancelToken::cancel)
      .def_property_readonly("cancelled", &CancelToken::cancelled);

  auto run_flash = [](session::Device& device, const std::filesystem::path& layout,
                      const std::map<std::string, std::string>& defines, py::object progress, bool boot_only,
                      bool verify, const std::map<int, std::string>& completed, py::object on_event,
                      py::object report_sink, const CancelToken* cancel, py::object trace,
                      const std::map<std::string, std::filesystem::path>& bmaps, bool no_bmap, bool skip_holes) {
    session::FlashOptions o;
    o.bmaps = bmaps;
    o.use_bmaps = !no_bmap;
    o.skip_holes = skip_holes;
    o.parse.defines = defines;
    o.boot_only = boot_only;
    o.verify = verify;
    for (const auto& [phase, sha] : completed) o.completed[static_cast<std::uint8_t>(phase)] = sha;
    CallScope s(&device, progress, trace);
    s.watch(cancel);
    o.progress = s.progress_fn();
    if (!on_event.is_none())
      o.on_event = [&](const session::FlashEvent& e) { s.invoke(on_event, [&] { return event_dict(e); }); };
    session::Flasher flasher(device, layout, o);
    auto sink = [&] {
      if (!report_sink.is_none()) report_sink.attr("append")(json_loads(flasher.report().to_json()));
    };
    try {
      s.run([&] { return flasher.run(); });
    } catch (...) {
      sink();
      throw;
    }
    sink();
    return json_loads(flasher.report().to_json());
  };

  m.def(
      "flash",
      [run_flash](const std::filesystem::path& layout, const std::string& port_url,
                  const std::map<std::string, std::string>& defines, py::object progress, bool boot_only, bool verify,
                  const std::map<int, std::string>& completed, py::object on_event, py::object report_sink,
                  const CancelToken* cancel, py::object trace, const std::map<std::string, std::filesystem::path>& bmaps,
                  bool no_bmap, bool skip_holes) {
        std::unique_ptr<session::Device> device;
        {
          py::gil_scoped_release release;  // opening a port and syncing can block
          device = session::connect(port_url);
        }
        return run_flash(*device, layout, defines, progress, boot_only, verify, completed, on_event, report_sink,
                         cancel, trace, bmaps, no_bmap, skip_holes);
      },
      py::arg("layout_path"), py::arg("port_url"), py::arg("defines") = std::map<std::string, std::string>{},
      py::arg("progress") = py::none(), py::arg("boot_only") = false, py::arg("verify") = false,
      py::arg("completed") = std::map<int, std::string>{}, py::arg("on_event") = py::none(),
      py::arg("report_sink") = py::none(), py::arg("cancel") = nullptr, py::arg("trace") = py::none(),
      py::arg("bmaps") = std::map<std::string, std::filesystem::path>{}, py::arg("no_bmap") = false,
      py::arg("skip_holes") = false,
      "Flashes a layout over the board at port_url (see connect_url_help()); returns the report as a dict. "
      "bmaps: partition name -> block map file; no_bmap: send everything; skip_holes: send only the data "
      "ranges of sparse binaries that have no block map.");

  auto device = py::reinterpret_borrow<py::class_<session::Device>>(m.attr("Device"));
  device.def(
      "flash",
      [run_flash](session::Device& d, const std::filesystem::path& layout,
                  const std::map<std::string, std::string>& defines, py::object progress, bool boot_only,
                  bool verify, py::object on_event, py::object trace) {
        return run_flash(d, layout, defines, progress, boot_only, verify, {}, on_event, py::none(), nullptr, trace, {},
                         false, false);
      },
      py::arg("layout_path"), py::arg("defines") = std::map<std::string, std::string>{},
      py::arg("progress") = py::none(), py::arg("boot_only") = false, py::arg("verify") = false,
      py::arg("events") = py::none(), py::arg("trace") = py::none(),
      "Runs a flash layout on this board (boot_only: only the '-' lines, to reach U-Boot); returns the report.");
}

}  // namespace mp1boot::py_bindings
