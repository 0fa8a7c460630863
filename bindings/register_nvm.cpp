// SPDX-License-Identifier: MIT
// OTP and PMIC through U-Boot stm32prog (session/nvm.hpp): Device.read_otp/read_pmic, the
// irreversible Device.write_otp/write_pmic (refused without i_understand_this_is_permanent=True),
// and the OTP image codec (otp_decode, otp_request) so that Python never builds status bits.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <set>

#include "callbacks.hpp"
#include "convert.hpp"
#include "mp1boot/session/nvm.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

void register_nvm(py::module_& m) {
  auto device = py::reinterpret_borrow<py::class_<session::Device>>(m.attr("Device"));
  device.def(
      "read_otp",
      [](session::Device& d, std::size_t size, py::object progress, py::object trace) {
        CallScope s(&d, progress, trace);
        auto fn = s.progress_fn();
        return to_py(s.run([&] { return session::read_otp(d, size, fn); }));
      },
      py::arg("size") = 0, py::arg("progress") = py::none(), py::arg("trace") = py::none(),
      "The OTP image of U-Boot stm32prog (OP-TEE TA format; decode it with otp_decode()).");
  device.def(
      "read_pmic",
      [](session::Device& d, py::object trace) {
        CallScope s(&d, py::none(), trace);
        return to_py(s.run([&] { return session::read_pmic(d); }));
      },
      py::arg("trace") = py::none(),
      "The 8 bytes of the STPMIC1 NVM shadow, through U-Boot stm32prog.");
  device.def(
      "write_otp",
      [](session::Device& d, const py::object& image, bool permanent, py::object trace) {
        const Bytes data = bytes_arg(image);
        CallScope s(&d, py::none(), trace);
        s.run([&] { session::write_otp(d, data, session::PermanentWrite{permanent}); });
      },
      py::arg("image"), py::kw_only(), py::arg("i_understand_this_is_permanent") = false,
      py::arg("trace") = py::none(),
      "Fuses the OTP words whose update bit is set in `image` (see otp_request()). Irreversible: refused "
      "without the opt-in.");
  device.def(
      "write_pmic",
      [](session::Device& d, const py::object& nvm, bool permanent, py::object trace) {
        const Bytes data = bytes_arg(nvm);
        CallScope s(&d, py::none(), trace);
        s.run([&] { session::write_pmic(d, data, session::PermanentWrite{permanent}); });
      },
      py::arg("nvm"), py::kw_only(), py::arg("i_understand_this_is_permanent") = false,
      py::arg("trace") = py::none(),
      "Writes the 8-byte PMIC NVM. Irreversible: refused without the opt-in.");

  m.def(
      "otp_decode",
      [](const py::object& image) {
        const auto img = session::OtpImage::parse(bytes_arg(image));
        py::list words;
        for (std::size_t i = 0; i < img.words.size(); ++i) {
          py::dict w;
          w["word"] = i;
          w["value"] = img.words[i].value;
          w["locked"] = img.words[i].locked;
          words.append(w);
        }
        py::dict d;
        d["version"] = img.version;
        d["bsec_state"] = img.bsec_state;
        d["words"] = words;
        return d;
      },
      py::arg("image"), "The OTP image as {version, bsec_state, words: [{word, value, locked}]}.");
  m.def(
      "otp_request",
      [](const py::object& image, const std::map<std::uint32_t, std::uint32_t>& values,
         const std::set<std::uint32_t>& lock) { return to_py(session::otp_request(bytes_arg(image), values, lock)); },
      py::arg("image"), py::arg("values"), py::arg("lock") = std::set<std::uint32_t>{},
      "`image` with the update request on the words of `values` (word -> value) and the lock request on "
      "`lock`: what write_otp() takes.");
}

}  // namespace mp1boot::py_bindings
