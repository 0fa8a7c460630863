// SPDX-License-Identifier: MIT
// STM32 image header: parse, describe, wrap, check against a SoC.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/soc.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
Bytes buffer_bytes(const py::buffer& b) {
  py::buffer_info info = b.request();
  auto* p = static_cast<const std::uint8_t*>(info.ptr);
  return Bytes(p, p + info.size * info.itemsize);
}

py::dict image_dict(const image::Stm32Image& img, std::size_t file_size) {
  const auto& h = img.header;
  py::dict d;
  d["header_version"] = image::version_name(h.version);
  d["header_version_raw"] = h.version;
  d["header_size"] = h.header_size;
  d["image_length"] = h.image_length;
  d["file_size"] = file_size;
  d["entry_point"] = h.entry_point;
  d["load_address"] = h.load_address;
  d["image_version"] = h.image_version;
  d["option_flags"] = h.option_flags;
  d["binary_type"] = h.binary_type;
  d["binary_type_name"] = std::string(image::binary_type_name(h.binary_type));
  d["checksum"] = h.checksum;
  d["computed_checksum"] = img.computed_checksum;
  d["checksum_ok"] = img.checksum_ok();
  if (h.major() == 1) d["ecdsa_algorithm"] = h.ecdsa_algorithm;
  else d["extensions_length"] = h.extensions_length;
  py::list ext;
  for (const auto& e : h.extensions) {
    py::dict x;
    x["type"] = e.type;
    x["length"] = e.length;
    ext.append(x);
  }
  d["extensions"] = ext;
  return d;
}
}  // namespace

void register_image(py::module_& m) {
  m.def("image_info", [](const std::filesystem::path& path) {
    Bytes data = image::read_file(path);
    auto img = image::parse_image(data, path.string());
    py::dict d = image_dict(img, data.size());
    d["file"] = path.string();
    d["text"] = image::describe(img);
    return d;
  }, py::arg("path"), "Every header field of an STM32 image file, and whether the checksum holds.");

  m.def("image_info_bytes", [](py::buffer data, const std::string& name) {
    Bytes b = buffer_bytes(data);
    auto img = image::parse_image(b, name);
    py::dict d = image_dict(img, b.size());
    d["text"] = image::describe(img);
    return d;
  }, py::arg("data"), py::arg("name") = "<bytes>");

  m.def("image_wrap", [](py::buffer payload, const std::string& soc, std::uint32_t load, std::uint32_t entry,
                         std::uint32_t binary_type, std::uint32_t image_version, int header_major) {
    image::WrapOptions o = image::wrap_options_for(soc_by_name(soc));
    if (header_major) {
      o.header_major = header_major;
      if (header_major == 1) o.header_minor = 0;
    }
    o.load_address = load;
    o.entry_point = entry;
    o.binary_type = binary_type;
    o.image_version = image_version;
    Bytes out = image::wrap(buffer_bytes(payload), o);
    return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
  }, py::arg("payload"), py::arg("soc"), py::arg("load"), py::arg("entry"), py::arg("binary_type") = 0x10,
     py::arg("image_version") = 0, py::arg("header_major") = 0,
     "Wraps a raw binary into an STM32 image for the SoC (v1 for STM32MP15x, v2 for STM32MP13x).");

  m.def("image_check_for_soc", [](py::buffer data, const std::string& soc, const std::string& name) {
    Bytes b = buffer_bytes(data);
    auto img = image::parse_image(b, name);
    image::check_for_rom(img, soc_by_name(soc), name);
  }, py::arg("data"), py::arg("soc"), py::arg("name") = "<bytes>",
     "Raises LayoutError when the ROM of that SoC would refuse the image.");

  m.def("socs", [] {
    py::list out;
    for (const auto& s : all_socs()) {
      py::dict d;
      d["name"] = std::string(s.name);
      d["family"] = std::string(s.family_name);
      d["device_id"] = s.device_id;
      d["sysram_size"] = s.sysram_size;
      d["max_fsbl_payload"] = s.max_fsbl_payload;
      d["header_version"] = s.header_version;
      out.append(d);
    }
    return out;
  });
  m.def("device_id_name", &device_id_name, py::arg("device_id"), "The SoC family of a device id (0x500 -> \"STM32MP15x\").");
}

}  // namespace mp1boot::py_bindings
