// SPDX-License-Identifier: MIT
// USB listing, identity of USB devices, the udev rule.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/session/usb_device.hpp"
#include "mp1boot/soc.hpp"
#ifdef MP1BOOT_HAS_USB
#include "mp1boot/transport/usb.hpp"
#endif

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
py::dict identity_dict(const usb::Identity& id) {
  py::dict d;
  d["bus"] = id.bus;
  d["address"] = id.address;
  d["port_path"] = id.port_path;
  d["speed"] = id.speed;
  d["vendor_id"] = id.vendor_id;
  d["product_id"] = id.product_id;
  d["manufacturer"] = id.manufacturer;
  d["product"] = id.product;
  d["serial"] = id.serial;
  d["transfer_size"] = id.transfer_size;
  const auto p = dfu::parse_product(id.product);
  d["stage"] = p.stage;
  d["device_id"] = p.device_id;
  d["revision"] = p.revision;
  d["soc"] = p.device_id ? device_id_name(p.device_id) : std::string();
  d["soc_name"] = p.soc_name;
  return d;
}
}  // namespace

void register_usb(py::module_& m) {
  m.def("list_devices", [] {
    py::list out;
#ifdef MP1BOOT_HAS_USB
    std::vector<transport::UsbDeviceInfo> devices;
    {
      py::gil_scoped_release release;  // enumeration opens every device briefly
      devices = transport::list_usb_devices();
    }
    for (const auto& d : devices) {
      py::dict x = identity_dict(d);
      x["accessible"] = d.accessible;
      x["problem"] = d.problem;
      out.append(x);
    }
#endif
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
    return identity_dict(u->identity());
  }, py::arg("device"), "The USB identity of a USB device (None on other links).");
}

}  // namespace mp1boot::py_bindings
