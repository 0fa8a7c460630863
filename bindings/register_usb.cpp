// SPDX-License-Identifier: MIT
// USB listing, identity of USB devices, the udev rule.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/session/board.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/soc.hpp"
#ifdef MP1BOOT_HAS_USB
#include "mp1boot/transport/usb.hpp"
#endif
#include "vocabulary.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
// Translation only: the stage and SoC come from session::describe_board().
py::dict board_dict(const session::BoardListing& b) {
  py::dict d;
  d["bus"] = b.usb.bus;
  d["address"] = b.usb.address;
  d["port_path"] = b.usb.port_path;
  d["speed"] = b.usb.speed;
  d["vendor_id"] = b.usb.vendor_id;
  d["product_id"] = b.usb.product_id;
  d["manufacturer"] = b.usb.manufacturer;
  d["product"] = b.usb.product;
  d["serial"] = b.usb.serial;
  d["transfer_size"] = b.usb.transfer_size;
  d["stage"] = b.stage;
  d["device_id"] = b.device_id;
  d["revision"] = b.revision;
  d["soc"] = b.soc;
  d["soc_name"] = b.soc_name;
  d["board"] = b.identity.key();
  return d;
}
}  // namespace

void register_usb(py::module_& m) {
  m.def("list_devices", [] {
    py::list out;
    std::vector<session::BoardListing> boards;
    {
      py::gil_scoped_release release;  // enumeration opens every device briefly
      boards = session::list_boards();
    }
    for (const auto& b : boards) {
      py::dict x = board_dict(b);
      x["accessible"] = b.accessible;
      x["problem"] = b.problem;
      out.append(x);
    }
    return out;
  }, "Every STM32MP device in DFU mode (0483:df11): bus, address, port path, speed, strings, stage.");

  m.def("udev_rules", [] {
#ifdef MP1BOOT_HAS_USB
    return std::string(transport::udev_rules());
#else
    return std::string();
#endif
  });

  m.def("usb_identity", [](session::Device& d) -> py::object {
    auto* u = dynamic_cast<session::UsbDevice*>(&d);
    if (!u) return py::none();
    return board_dict(session::describe_board(u->identity()));
  }, py::arg("device"), "The USB identity of a USB device (None on other links).");
}

}  // namespace mp1boot::py_bindings
