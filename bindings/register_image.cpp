// SPDX-License-Identifier: MIT
// STM32 image header: parse, describe, wrap, check against a SoC.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "convert.hpp"
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
    const image::ImageFile f = image::read_image_file(path);
    auto img = image::parse_image(f.data, path.string());
    img.trailing_bytes += static_cast<std::size_t>(f.file_size - f.data.size());
    py::dict d = image_dict(img, static_cast<std::size_t>(f.file_size));
    d["file"] = path.string();
    d["text"] = image::describe(img);
    return d;
  }, py::arg("path"), "Every header field of an STM32 image file, and whether the checksum holds.");

  m.def("read_input_file", [](const std::filesystem::path& path, std::uint64_t limit, const std::string& what) {
    return to_py(image::read_file(path, limit, what));
  }, py::arg("path"), py::arg("limit") = image::max_in_memory_file, py::arg("what") = "",
     "Reads a whole input file after checking it with stat(): a regular file of at most `limit` bytes "
     "(a FIFO, a device node, a directory or a larger file is a LayoutError naming the file and the limit).");

  m.def("image_info_bytes", [](py::buffer data, const std::string& name) {
    Bytes b = buffer_bytes(data);
    auto img = image::parse_image(b, name);
    py::dict d = image_dict(img, b.size());
    d["text"] = image::describe(img);
    return d;
  }, py::arg("data"), py::arg("name") = "<bytes>");

  // Every argument is checked here (py::object): a pybind11 conversion error would print the payload.
  m.def("image_wrap", [](const py::object& payload, const py::object& soc, const py::object& load,
                         const py::object& entry, const py::object& binary_type, const py::object& image_version,
                         const py::object& header_major) {
    image::WrapOptions o = image::wrap_options_for(soc_by_name(str_arg(soc, "soc")));
    if (const auto major = uint_arg(header_major, "header_major", 2)) {
      o.header_major = static_cast<int>(major);
      if (major == 1) o.header_minor = 0;
    }
    o.load_address = static_cast<std::uint32_t>(uint_arg(load, "load"));
    o.entry_point = static_cast<std::uint32_t>(uint_arg(entry, "entry"));
    o.binary_type = static_cast<std::uint32_t>(uint_arg(binary_type, "binary_type"));
    o.image_version = static_cast<std::uint32_t>(uint_arg(image_version, "image_version"));
    Bytes out = image::wrap(bytes_arg(payload), o);
    return to_py(out);
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
