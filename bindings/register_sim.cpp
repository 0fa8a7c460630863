// SPDX-License-Identifier: MIT
// The simulated board served on a pseudo-terminal (mp1boot sim --uart).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <memory>
#include <mutex>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/board_config.hpp"
#include "mp1boot/sim/replay.hpp"
#include "mp1boot/sim/uart_board.hpp"
#include "mp1boot/trace.hpp"
#include "mp1boot/transport/pty_server.hpp"

namespace py = pybind11;

namespace mp1boot::py_bindings {

namespace {
// The server thread drives the board while Python reads its state: one lock around both.
class LockedBoard : public transport::BytePeer {
 public:
  explicit LockedBoard(sim::UartBoardOptions o) : board_(std::move(o)) {}
  void on_receive(ByteView b, Clock::time_point now) override {
    std::lock_guard lock(mutex_);
    board_.on_receive(b, now);
  }
  Bytes take_output(Clock::time_point now) override {
    std::lock_guard lock(mutex_);
    return board_.take_output(now);
  }
  std::optional<Clock::time_point> next_deadline() const override {
    std::lock_guard lock(mutex_);
    return board_.next_deadline();
  }
  template <class F>
  auto with(F&& f) const {
    std::lock_guard lock(mutex_);
    return f(board_);
  }
  void reset() {
    std::lock_guard lock(mutex_);
    board_.reset();
  }

 private:
  mutable std::mutex mutex_;
  sim::UartBoard board_;
};

struct UartSimServer {
  std::shared_ptr<LockedBoard> board;
  std::unique_ptr<transport::PtyServer> server;
};

struct UartReplayServer {
  std::shared_ptr<sim::ReplayUartPeer> peer;
  std::unique_ptr<transport::PtyServer> server;
};
}  // namespace

void register_sim(py::module_& m) {
  m.def("sim_board_keys", [] {
    py::list out;
    for (const auto& k : sim::board_keys())
      out.append(py::make_tuple(std::string(k.name), std::string(k.value), std::string(k.links), std::string(k.help)));
    return out;
  }, "The simulated board's key=value options: (name, value, links, help) tuples, in help order.");
  m.def("sim_board_keys_help", [] { return sim::board_keys_help(); },
        "The board options as --help lines ('  key=VALUE   [links] help').");
  m.def("sim_check_options", [](const std::string& soc, const std::vector<std::string>& options) {
    std::vector<std::pair<std::string, std::string>> kv;
    for (const auto& item : options)
      for (auto& pair : sim::split_options(item)) kv.push_back(std::move(pair));
    return std::string(to_string(sim::board_config(soc, kv).link));
  }, py::arg("soc"), py::arg("options"),
     "Checks key=value board options; returns the link they select. Raises UsageError naming the key.");
  py::class_<UartReplayServer>(m, "UartReplayServer",
                               "A UART field trace (docs/TRACES.md) served on a pseudo-terminal as the recorded device.")
      .def(py::init([](const std::filesystem::path& trace) {
             auto s = std::make_unique<UartReplayServer>();
             s->peer = std::make_shared<sim::ReplayUartPeer>(trace::read(trace));
             s->server = std::make_unique<transport::PtyServer>(s->peer);
             return s;
           }),
           py::arg("trace"))
      .def_property_readonly("path", [](const UartReplayServer& s) { return s.server->slave_path(); })
      .def("start", [](UartReplayServer& s) { s.server->start(); }, "Serve in a background thread.")
      .def("stop", [](UartReplayServer& s) {
        py::gil_scoped_release release;
        s.server->stop();
      }, "Stops serving; raises the replay's first mismatch (ProtocolError replay_mismatch), if any.")
      .def("check_finished", [](const UartReplayServer& s) { s.peer->check_finished(); },
           "Raises ProtocolError replay_mismatch unless the host went through the whole trace.");

  py::class_<UartSimServer>(m, "UartSimServer", "A simulated board served on a pseudo-terminal.")
      .def(py::init([](const std::string& soc, const std::string& record_dir, bool line_timing, unsigned baud,
                       double turnaround_ms, double tfa_boot_delay_ms, bool rom_read_memory, const std::string& stage,
                       bool uboot, const std::string& storage_dir, const std::vector<std::string>& options) {
             // The keyword arguments are spellings of board keys; `options` takes any key=value.
             std::vector<std::pair<std::string, std::string>> kv;
             if (!record_dir.empty()) kv.emplace_back("record", record_dir);
             if (!storage_dir.empty()) kv.emplace_back("storage", storage_dir);
             if (tfa_boot_delay_ms > 0) kv.emplace_back("tfa_boot_delay_ms", std::to_string(static_cast<long>(tfa_boot_delay_ms)));
             if (rom_read_memory) kv.emplace_back("rom_read_memory", "1");
             kv.emplace_back("stage", stage);
             if (!uboot) kv.emplace_back("uboot", "0");
             for (const auto& item : options)
               for (auto& pair : sim::split_options(item)) kv.push_back(std::move(pair));
             const sim::BoardConfig config = sim::board_config(soc, kv);
             if (config.link != sim::SimLink::uart)
               throw UsageError(errc::usage, "UartSimServer serves link=uart; use mp1boot-usbsim for link=usb");
             transport::LineTiming t;
             t.enabled = line_timing;
             t.baud = baud;
             t.turnaround = std::chrono::microseconds(static_cast<long>(turnaround_ms * 1000));
             auto s = std::make_unique<UartSimServer>();
             s->board = std::make_shared<LockedBoard>(config.uart_options());
             s->server = std::make_unique<transport::PtyServer>(s->board, t);
             return s;
           }),
           py::arg("soc"), py::arg("record_dir") = "", py::arg("line_timing") = false, py::arg("baud") = 115200,
           py::arg("turnaround_ms") = 0.0, py::arg("tfa_boot_delay_ms") = 0.0, py::arg("rom_read_memory") = false,
           py::arg("stage") = "rom", py::arg("uboot") = true, py::arg("storage_dir") = "",
           py::arg("options") = std::vector<std::string>{})
      .def_property_readonly("path", [](const UartSimServer& s) { return s.server->slave_path(); })
      .def_property_readonly("stage", [](const UartSimServer& s) {
        return s.board->with([](const sim::UartBoard& b) { return b.stage(); });
      })
      .def_property_readonly("bytes_received", [](const UartSimServer& s) { return s.server->bytes_received(); })
      .def_property_readonly("bytes_sent", [](const UartSimServer& s) { return s.server->bytes_sent(); })
      .def("received_images", [](const UartSimServer& s) {
        auto images = s.board->with([](const sim::UartBoard& b) { return b.received_images(); });
        py::dict d;
        for (const auto& [phase, data] : images)
          d[py::int_(phase)] = py::bytes(reinterpret_cast<const char*>(data.data()), data.size());
        return d;
      })
      .def("reset", [](UartSimServer& s) { s.board->reset(); },
           "The reset button: the board starts again in the boot ROM (an interrupted download is forgotten).")
      .def("start", [](UartSimServer& s) { s.server->start(); }, "Serve in a background thread.")
      .def("stop", [](UartSimServer& s) {
        py::gil_scoped_release release;
        s.server->stop();
        s.board->with([](const sim::UartBoard& b) { b.write_records(); });
      })
      .def("serve_forever", [](UartSimServer& s) {
        // Serve in this thread with the GIL released; every 50 ms look for Python signals
        // (SIGINT -> KeyboardInterrupt, SIGTERM -> the handler the CLI installs).
        bool interrupted = false;
        {
          py::gil_scoped_release release;
          s.server->run([&] {
            py::gil_scoped_acquire gil;
            if (PyErr_CheckSignals() != 0) interrupted = true;
            return !interrupted;
          });
          s.board->with([](const sim::UartBoard& b) { b.write_records(); });
        }
        if (interrupted) throw py::error_already_set();
      });
}

}  // namespace mp1boot::py_bindings
