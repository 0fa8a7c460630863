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
#include <optional>
#include <vector>
#include <map>
#include <string>

#include "callbacks.hpp"
#include "vocabulary.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/flash_many.hpp"
#include "mp1boot/session/flasher.hpp"
#include "mp1boot/session/plan.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

// The earlier report (JSON text of one report or of flash_many's {"boards": ...}); empty: none.
std::vector<session::FlashReport> parse_resume(const std::string& text) {
  if (text.empty()) return {};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number like 1E400
    throw UsageError(errc::usage, std::string("resume: the report is not JSON: ") + e.what());
  }
  return session::reports_from_json(j);
}

// The vocabulary words of a partition record as mp1boot.vocabulary members (equal to the strings).
void type_words(py::dict p, const session::PartitionReport& r) {
  p["result"] = py::cast(r.result);
  p["verified"] = py::cast(r.verified);
}

// A board report as a dict: parsed from its JSON `j` (so the Python and JSON views cannot drift
// apart), with the vocabulary words as mp1boot.vocabulary members.
py::dict report_dict(const nlohmann::json& j, const session::FlashReport& r) {
  py::dict d = json_loads(j.dump());
  d["link"] = py::cast(r.link);
  d["result"] = py::cast(r.result);
  py::list parts = d["partitions"];
  for (std::size_t i = 0; i < r.partitions.size(); ++i) type_words(parts[i], r.partitions[i]);
  return d;
}

// `layout` names the layout in the estimate's sentence (FlashEstimate::describe()).
py::object event_dict(const session::FlashEvent& e, const std::filesystem::path& layout) {
  using Kind = session::FlashEvent::Kind;
  if (e.kind == Kind::stage) {
    py::dict d;
    d["event"] = "stage";
    d["stage"] = py::cast(e.stage);
    return std::move(d);
  }
  if (e.kind == Kind::estimate) {
    py::dict d;
    d["event"] = "estimate";
    d["link"] = e.estimate->link;
    d["speed"] = e.estimate->speed;
    d["bytes"] = e.estimate->bytes;
    d["eta_seconds"] = e.estimate->eta_seconds;
    d["text"] = e.estimate->describe(layout.string());
    return std::move(d);
  }
  py::dict d = json_loads(nlohmann::json(*e.partition).dump());
  type_words(d, *e.partition);
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
                      bool verify, const std::string& resume, bool resume_any_board, py::object on_event,
                      py::object report_sink, const CancelToken* cancel, const std::string& port, py::object trace,
                      const std::map<std::string, std::filesystem::path>& bmaps, bool no_bmap, bool skip_holes,
                      bool yes, py::object confirm) {
    session::FlashOptions o;
    o.long_run_consent = yes;
    o.bmaps = bmaps;
    o.use_bmaps = !no_bmap;
    o.skip_holes = skip_holes;
    o.parse.defines = defines;
    o.boot_only = boot_only;
    o.verify = verify;
    o.resume = parse_resume(resume);
    o.resume_any_board = resume_any_board;
    CallScope s(&device, progress, trace);
    s.watch(cancel);
    o.progress = s.progress_fn();
    if (!on_event.is_none())
      o.on_event = [&](const session::FlashEvent& e) { s.invoke(on_event, [&] { return event_dict(e, layout); }); };
    if (!confirm.is_none()) o.confirm = [&](const std::string& question) { return s.ask(confirm, question); };
    session::Flasher flasher(device, layout, o);
    auto report = [&] {
      auto j = flasher.report().json();
      if (!port.empty()) j["port"] = port;
      return report_dict(j, flasher.report());
    };
    auto sink = [&] {
      if (!report_sink.is_none()) report_sink.attr("append")(report());
    };
    try {
      s.run([&] { return flasher.run(); });
    } catch (...) {
      sink();
      throw;
    }
    sink();
    return report();
  };

  m.def(
      "flash",
      [run_flash](const std::filesystem::path& layout, const std::string& port_url,
                  const std::map<std::string, std::string>& defines, py::object progress, bool boot_only, bool verify,
                  const std::string& resume, bool resume_any_board, py::object on_event, py::object report_sink,
                  const CancelToken* cancel, py::object trace, const std::map<std::string, std::filesystem::path>& bmaps,
                  bool no_bmap, bool skip_holes, bool yes, py::object confirm, std::shared_ptr<trace::Writer> record) {
        std::unique_ptr<session::Device> device;
        {
          py::gil_scoped_release release;  // opening a port and syncing can block
          session::ConnectOptions o;
          o.record = std::move(record);
          device = session::connect(port_url, o);
        }
        auto report = run_flash(*device, layout, defines, progress, boot_only, verify, resume, resume_any_board,
                                on_event, report_sink, cancel, port_url, trace, bmaps, no_bmap, skip_holes, yes, confirm);
        py::gil_scoped_release release;
        device->close();  // a replayed trace checks here that the run went through all of it
        return report;
      },
      py::arg("layout_path"), py::arg("port_url"), py::arg("defines") = std::map<std::string, std::string>{},
      py::arg("progress") = py::none(), py::arg("boot_only") = false, py::arg("verify") = false,
      py::arg("resume") = std::string(), py::arg("resume_any_board") = false, py::arg("on_event") = py::none(),
      py::arg("report_sink") = py::none(), py::arg("cancel") = nullptr, py::arg("trace") = py::none(),
      py::arg("bmaps") = std::map<std::string, std::filesystem::path>{}, py::arg("no_bmap") = false,
      py::arg("skip_holes") = false, py::arg("yes") = false, py::arg("confirm") = py::none(),
      py::arg("record") = nullptr,
      "Flashes a layout over the board at port_url (see connect_url_help()); returns the report as a dict. "
      "bmaps: partition name -> block map file; no_bmap: send everything; skip_holes: send only the data "
      "ranges of sparse binaries that have no block map. yes: go ahead with a UART run of more than an hour; "
      "confirm(question) -> bool: asked instead when yes is false.");

  m.def(
      "flash_many",
      [](const std::filesystem::path& layout, const std::vector<std::string>& ports,
         const std::map<std::string, std::string>& defines, py::object progress, bool verify, const std::string& resume,
         bool resume_any_board, py::object on_event, CancelToken* cancel,
         const std::map<std::string, std::filesystem::path>& bmaps, bool no_bmap, bool skip_holes, bool yes) {
        session::FlashManyOptions o;
        o.flash.long_run_consent = yes;
        o.flash.parse.defines = defines;
        o.flash.verify = verify;
        o.flash.resume = parse_resume(resume);
        o.flash.resume_any_board = resume_any_board;
        o.flash.bmaps = bmaps;
        o.flash.use_bmaps = !no_bmap;
        o.flash.skip_holes = skip_holes;
        CancelToken own;
        o.cancel = cancel ? cancel : &own;
        // Only touched with the GIL held: the first Python error of a callback or Ctrl-C.
        std::optional<py::error_already_set> error;
        auto call = [&](const py::object& fn, const std::function<py::tuple()>& args) {
          py::gil_scoped_acquire gil;
          if (error) return;
          try {
            fn(*args());
          } catch (py::error_already_set& e) {
            error.emplace(std::move(e));
            o.cancel->cancel();
          }
        };
        if (!progress.is_none())
          o.progress = [&](const std::string& port, const Progress& p) {
            call(progress, [&] { return py::make_tuple(port, p); });
          };
        if (!on_event.is_none())
          o.on_event = [&](const std::string& port, const session::FlashEvent& e) {
            call(on_event, [&] { return py::make_tuple(port, event_dict(e, layout)); });
          };
        o.while_waiting = [&] {
          py::gil_scoped_acquire gil;
          if (!error && PyErr_CheckSignals() != 0) {
            error.emplace();
            o.cancel->cancel();
          }
        };
        session::FlashManyReport report;
        {
          py::gil_scoped_release release;
          report = session::flash_many(ports, layout, o);
        }
        if (error) {
          if (error->matches(PyExc_KeyboardInterrupt))
            throw CancelledError(errc::cancelled, "interrupted (Ctrl-C): every board was stopped");
          py::error_already_set e = std::move(*error);
          throw e;
        }
        py::dict out = json_loads(report.to_json());
        out["result"] = py::cast(report.result);
        py::dict boards = out["boards"];
        for (const auto& [key, board] : report.boards) boards[py::str(key)] = report_dict(board.json(), board);
        return out;
      },
      py::arg("layout_path"), py::arg("ports"), py::arg("defines") = std::map<std::string, std::string>{},
      py::arg("progress") = py::none(), py::arg("verify") = false, py::arg("resume") = std::string(),
      py::arg("resume_any_board") = false, py::arg("on_event") = py::none(), py::arg("cancel") = nullptr,
      py::arg("bmaps") = std::map<std::string, std::filesystem::path>{}, py::arg("no_bmap") = false,
      py::arg("skip_holes") = false, py::arg("yes") = false,
      "Flashes a layout onto every port in parallel (session::flash_many); returns {tool_version, result, "
      "boards: {board key: report}}.");

  m.def(
      "plan_flash",
      [](session::Device& device, const std::filesystem::path& layout, const std::map<std::string, std::string>& defines) {
        image::ParseOptions parse;
        parse.defines = defines;
        CallScope s(&device);
        const auto plan = s.run([&] { return session::plan_flash(device, layout, parse); });
        py::dict d = json_loads(plan.json().dump());
        d["link"] = py::cast(plan.link);
        return d;
      },
      py::arg("device"), py::arg("layout_path"), py::arg("defines") = std::map<std::string, std::string>{},
      "The plan of flashing a layout onto this board (session::plan_flash): steps in the device's order with "
      "sizes and ETAs.");

  auto device = py::reinterpret_borrow<py::class_<session::Device>>(m.attr("Device"));
  device.def(
      "flash",
      [run_flash](session::Device& d, const std::filesystem::path& layout,
                  const std::map<std::string, std::string>& defines, py::object progress, bool boot_only,
                  bool verify, py::object on_event, py::object trace) {
        return run_flash(d, layout, defines, progress, boot_only, verify, {}, false, on_event, py::none(), nullptr, {},
                         trace, {}, false, false, false, py::none());
      },
      py::arg("layout_path"), py::arg("defines") = std::map<std::string, std::string>{},
      py::arg("progress") = py::none(), py::arg("boot_only") = false, py::arg("verify") = false,
      py::arg("events") = py::none(), py::arg("trace") = py::none(),
      "Runs a flash layout on this board (boot_only: only the '-' lines, to reach U-Boot); returns the report.");
}

}  // namespace mp1boot::py_bindings
