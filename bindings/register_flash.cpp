// SPDX-License-Identifier: MIT
// mp1boot._core.flash(layout, port_url, defines, progress): connects, runs session::Flasher with
// the GIL released (CallScope), and returns the FlashReport as a dict (parsed from to_json(), so
// the Python and JSON views cannot drift apart).
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

void register_flash(py::module_& m) {
  m.def(
      "flash",
      [](const std::filesystem::path& layout, const std::string& port_url,
         const std::map<std::string, std::string>& defines, py::object progress, bool boot_only) {
        std::unique_ptr<session::Device> device;
        {
          py::gil_scoped_release release;  // opening a port and syncing can block
          device = session::connect(port_url);
        }
        session::FlashOptions o;
        o.parse.defines = defines;
        o.boot_only = boot_only;
        CallScope s(device.get(), progress);
        o.progress = s.progress_fn();
        const session::FlashReport report = s.run([&] { return session::flash(*device, layout, o); });
        return py::module_::import("json").attr("loads")(report.to_json());
      },
      py::arg("layout_path"), py::arg("port_url"), py::arg("defines") = std::map<std::string, std::string>{},
      py::arg("progress") = py::none(), py::arg("boot_only") = false,
      "Flashes a layout over the board at port_url (see connect_url_help()); returns the report as a dict.");
}

}  // namespace mp1boot::py_bindings
