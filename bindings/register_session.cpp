// SPDX-License-Identifier: MIT
// connect() and the Device class. Arguments are converted first, then the GIL is released for
// every call that does I/O (CallScope). UART-only commands raise UsageError on other links.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstdio>
#include <filesystem>

#include "callbacks.hpp"
#include "convert.hpp"
#include "vocabulary.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/uart_device.hpp"
#include "mp1boot/uart/wire.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
using session::Device;
using session::UartDevice;

UartDevice& uart_of(Device& d, const char* what) {
  if (auto* u = dynamic_cast<UartDevice*>(&d)) return *u;
  throw UsageError(errc::unsupported, std::string(what) + " is a UART command; this device is on " + std::string(to_string(d.link())));
}

// Accepts bytes-like objects or a path (str / os.PathLike) and returns the bytes plus a name.
std::pair<Bytes, std::string> image_arg(const py::object& obj) {
  if (py::isinstance<py::bytes>(obj) || py::isinstance<py::bytearray>(obj) || py::isinstance<py::memoryview>(obj)) {
    py::buffer_info info = py::buffer(obj).request();
    auto* p = static_cast<const std::uint8_t*>(info.ptr);
    return {Bytes(p, p + info.size * info.itemsize), "<bytes>"};
  }
  auto path = obj.cast<std::filesystem::path>();
  return {image::read_file(path), path.string()};
}

// "16640 bytes in 1.62 s, 10.3 kB/s[, 0.981 of the line rate]"
std::string describe_transfer(const session::TransferStats& t) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%llu bytes in %.2f s, %.1f kB/s", static_cast<unsigned long long>(t.bytes),
                t.seconds, t.bytes_per_second / 1000.0);
  std::string out = buf;
  if (t.line_fraction > 0 && t.line_fraction <= 1.0) {
    std::snprintf(buf, sizeof buf, ", %.3f of the line rate", t.line_fraction);
    out += buf;
  }
  return out;
}

}  // namespace

void register_session(py::module_& m) {
  py::class_<Progress>(m, "Progress", "One progress report of a transfer.")
      .def_readonly("stage", &Progress::stage)
      .def_readonly("phase", &Progress::phase)
      .def_readonly("partition", &Progress::partition)
      .def_readonly("bytes_done", &Progress::bytes_done)
      .def_readonly("bytes_total", &Progress::bytes_total)
      .def_property_readonly("fraction", [](const Progress& p) {
        return p.bytes_total ? double(p.bytes_done) / double(p.bytes_total) : 1.0;
      })
      .def("__repr__", [](const Progress& p) {
        return "<Progress " + p.stage + " " + std::to_string(p.bytes_done) + "/" + std::to_string(p.bytes_total) + ">";
      });

  py::class_<uart::GetReply>(m, "GetReply", "What UART Get (0x00) reports: protocol version and commands.")
      .def_readonly("protocol_version", &uart::GetReply::protocol_version)
      .def_property_readonly("commands", [](const uart::GetReply& r) { return std::vector<int>(r.commands.begin(), r.commands.end()); })
      .def_property_readonly("command_names", [](const uart::GetReply& r) {
        std::vector<std::string> out;
        for (auto c : r.commands) out.emplace_back(uart::command_name(static_cast<uart::Command>(c)));
        return out;
      })
      .def("__repr__", [](const uart::GetReply& r) { return "<GetReply v" + hex8(r.protocol_version) + " " + to_hex(r.commands) + ">"; });

  py::class_<uart::VersionReply>(m, "VersionReply", "What UART Get Version (0x01) reports.")
      .def_readonly("version", &uart::VersionReply::version)
      .def_property_readonly("options", [](const uart::VersionReply& r) -> py::object {
        if (!r.options) return py::none();
        return py::make_tuple((*r.options)[0], (*r.options)[1]);
      })
      .def("__repr__", [](const uart::VersionReply& r) { return "<VersionReply " + hex8(r.version) + ">"; });

  py::class_<PhaseInfo>(m, "PhaseInfo", "What Get Phase reports.")
      .def_readonly("phase", &PhaseInfo::phase)
      .def_readonly("address", &PhaseInfo::address)
      .def_readonly("offset", &PhaseInfo::offset)
      .def_readonly("detach_requested", &PhaseInfo::detach_requested)
      .def_readonly("message", &PhaseInfo::message)
      .def_property_readonly("info", [](const PhaseInfo& p) { return to_py(p.info); })
      .def_property_readonly("name", [](const PhaseInfo& p) { return std::string(phase_name(p.phase)); })
      .def("__repr__", [](const PhaseInfo& p) {
        return "<PhaseInfo " + hex8(p.phase) + " (" + std::string(phase_name(p.phase)) + ") address " +
               hex32(p.address) + (p.message.empty() ? "" : " \"" + p.message + "\"") + ">";
      });

  py::class_<session::TransferStats>(m, "TransferStats", "Bytes, time and rate of one transfer.")
      .def_readonly("bytes", &session::TransferStats::bytes)
      .def_readonly("seconds", &session::TransferStats::seconds)
      .def_readonly("bytes_per_second", &session::TransferStats::bytes_per_second)
      .def_readonly("line_fraction", &session::TransferStats::line_fraction)
      .def("__repr__", [](const session::TransferStats& t) { return "<TransferStats " + describe_transfer(t) + ">"; });

  py::class_<session::BootResult>(m, "BootResult", "What Device.boot() did: SoC, phase, transfer, image name.")
      .def_readonly("soc", &session::BootResult::soc)
      .def_readonly("phase", &session::BootResult::phase)
      .def_readonly("transfer", &session::BootResult::transfer)
      .def_readonly("image", &session::BootResult::image)
      .def("__repr__", [](const session::BootResult& r) {
        return "<BootResult " + r.image + " phase " + hex8(r.phase) + " on " + r.soc + ": " +
               describe_transfer(r.transfer) + ">";
      });

  py::class_<Device>(m, "Device", "A connected board. Use mp1boot.connect() to get one.")
      .def_property_readonly("transport", &Device::describe, "The port, as text (\"serial:/dev/ttyUSB0@115200 ...\").")
      .def_property_readonly("link", &Device::link, "mp1boot.Link.uart or mp1boot.Link.usb (equal to \"uart\", \"usb\").")
      .def_property_readonly("soc", [](const Device& d) -> py::object {
        return d.soc() ? py::cast(std::string(d.soc()->family_name)) : py::none();
      }, "The SoC family (\"STM32MP15x\") once get_id() ran, else None.")
      .def_property_readonly("closed", &Device::closed, "True after close().")
      .def("close", [](Device& d) {
        py::gil_scoped_release release;
        d.close();
      }, "Releases the port (serial line, USB handle). Later calls raise UsageError. Idempotent.")
      .def("__enter__", [](py::object self) { return self; }, "`with mp1boot.connect(...) as dev:` closes dev at the end.")
      .def("__exit__", [](Device& d, py::object, py::object, py::object) {
        py::gil_scoped_release release;
        d.close();
        return false;
      }, "Closes the device; exceptions propagate.")
      .def("sync", [](Device& d, py::object trace) {
        CallScope s(&d, py::none(), trace);
        s.run([&] { uart_of(d, "sync").sync(); });
      }, py::arg("trace") = py::none(),
         "UART: sends 0x7F and waits for the ACK (connect() does it already). trace(direction, bytes, note) "
         "receives the wire exchange.")
      .def("get", [](Device& d, py::object trace) {
        CallScope s(&d, py::none(), trace);
        return s.run([&] { return uart_of(d, "get").get(); });
      }, py::arg("trace") = py::none(), "UART Get (0x00): the protocol version and the commands the ROM accepts.")
      .def("get_version", [](Device& d, py::object trace) {
        CallScope s(&d, py::none(), trace);
        return s.run([&] { return uart_of(d, "get_version").get_version(); });
      }, py::arg("trace") = py::none(), "UART Get Version (0x01): the bootloader version and option bytes.")
      .def("get_id", [](Device& d, py::object trace) {
        CallScope s(&d, py::none(), trace);
        return s.run([&] { return d.get_id(); });
      }, py::arg("trace") = py::none(), "The device id (0x500 STM32MP15x, 0x501 STM32MP13x, ...); sets .soc.")
      .def("get_phase", [](Device& d, py::object trace) {
        CallScope s(&d, py::none(), trace);
        return s.run([&] { return d.get_phase(); });
      }, py::arg("trace") = py::none(),
         "Get Phase: the phase the device asks for next (PhaseInfo: phase, address, message of 0xFF).")
      .def("read_memory", [](Device& d, std::uint32_t address, std::size_t length, py::object trace) {
        CallScope s(&d, py::none(), trace);
        return to_py(s.run([&] { return uart_of(d, "read_memory").read_memory(address, length); }));
      }, py::arg("address"), py::arg("length"), py::arg("trace") = py::none(),
         "UART Read Memory (0x11, STM32MP15x ROM): `length` bytes from `address`, as bytes.")
      .def("read_partition", [](Device& d, std::uint8_t id, std::uint32_t offset, std::size_t length, py::object trace) {
        CallScope s(&d, py::none(), trace);
        return to_py(s.run([&] { return uart_of(d, "read_partition").read_partition(id, offset, length); }));
      }, py::arg("id"), py::arg("offset"), py::arg("length"), py::arg("trace") = py::none(),
         "UART Read Partition (0x12, U-Boot stm32prog): `length` bytes of partition `id` from `offset`.")
      .def("download", [](Device& d, py::object data, std::uint8_t phase, std::string name, std::uint8_t op,
                          py::object progress, py::object trace) {
        Bytes bytes = bytes_arg(data);
        session::DownloadOptions o;
        o.phase = phase;
        o.name = std::move(name);
        o.op = static_cast<uart::DownloadOp>(op);  // OTP/PMIC: refused by the core without consent
        CallScope s(&d, progress, trace);
        o.progress = s.progress_fn();
        s.run([&] { d.download(bytes, o); });
      }, py::arg("data"), py::arg("phase") = 1, py::arg("name") = "", py::arg("op") = 0,
         py::arg("progress") = py::none(), py::arg("trace") = py::none(),
         "Downloads `data` (bytes-like) as phase `phase`. OTP (op or phase 0xF2) and PMIC (0xF4) data are "
         "refused: use write_otp()/write_pmic(), which need the explicit consent.")
      .def("start", [](Device& d, std::uint32_t address, py::object trace) {
        CallScope s(&d, py::none(), trace);
        s.run([&] { d.start(address); });
      }, py::arg("address") = start_downloaded_image, py::arg("trace") = py::none(),
         "Start (Go): jump to `address`; the default 0xFFFFFFFF starts the phase just downloaded (over USB: "
         "the hand-over, followed across the re-enumeration).")
      .def("boot", [](Device& d, py::object image, py::object progress, py::object trace) {
        auto [bytes, name] = image_arg(image);
        CallScope s(&d, progress, trace);
        auto fn = s.progress_fn();
        return s.run([&] { return d.boot(bytes, name, fn); });
      }, py::arg("image"), py::arg("progress") = py::none(), py::arg("trace") = py::none(),
         "Checks an STM32 image (bytes or a path) against the SoC, downloads it as phase 0x01 and starts it; "
         "returns a BootResult. progress(p) receives Progress reports.")
      .def("__repr__", [](const Device& d) { return "<mp1boot.Device " + d.describe() + ">"; });

  py::class_<trace::Writer, std::shared_ptr<trace::Writer>>(
      m, "TraceWriter",
      "A field trace being written (JSON lines, docs/TRACES.md): give it to connect(record=...) or "
      "flash(record=...); replay it with the port sim:replay=FILE.")
      .def(py::init([](const std::filesystem::path& path, bool data, std::vector<std::string> argv) {
             return std::make_shared<trace::Writer>(path, trace::Writer::Options{.data = data, .argv = std::move(argv)});
           }),
           py::arg("path"), py::arg("data") = false, py::arg("argv") = std::vector<std::string>{},
           "Creates (truncates) the file. data=True keeps the files' bytes (default: sizes and SHA-256 only).")
      .def_property_readonly("path", [](const trace::Writer& w) { return w.path().string(); }, "The trace file.")
      .def("end", &trace::Writer::end, py::arg("result"), py::arg("message") = std::string(),
           "Writes how the run ended (\"ok\" or an error code name, and its message) and flushes.")
      .def("flush", &trace::Writer::flush, "Writes what is buffered to the file.")
      .def("__repr__", [](const trace::Writer& w) { return "<mp1boot.TraceWriter " + w.path().string() + ">"; });

  m.def("connect", [](const std::string& url, double timeout, int retries, bool sync,
                      std::shared_ptr<trace::Writer> record) {
    session::ConnectOptions o;
    o.sync = sync;
    o.record = std::move(record);
    if (timeout > 0) o.uart.timeouts.reply = std::chrono::milliseconds(static_cast<long>(timeout * 1000));
    if (retries > 0) o.uart.retry.attempts = retries;
    py::gil_scoped_release release;  // opening a port and syncing can block
    return session::connect(url, o);
  }, py::arg("url"), py::arg("timeout") = 0.0, py::arg("retries") = 0, py::arg("sync") = true,
     py::arg("record") = nullptr,
     "Opens the port the URL names (see connect_url_help()) and returns a Device. record: a TraceWriter "
     "that receives the whole session from its first byte.");
  m.def("connect_url_help", &session::connect_url_help, "The accepted port URL forms, as text.");
}

}  // namespace mp1boot::py_bindings
