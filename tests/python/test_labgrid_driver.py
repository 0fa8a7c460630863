# SPDX-License-Identifier: MIT
"""mp1boot.labgrid without a coordinator, in labgrid's own test style (a Target with resources
and protocol drivers made for the test): binding, the port the driver passes to mp1boot, the bad
inputs refused before anything is copied, a real flash over UART on a simulated board's pty
through a local RawSerialPort, and MP1BootStrategy's transitions with fake power and boot-pin
drivers. The ssh/exporter path is covered by test_labgrid_integration.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import attr  # noqa: E402
from labgrid import Target  # noqa: E402
from labgrid.binding import BindingError  # noqa: E402
from labgrid.driver.common import Driver  # noqa: E402
from labgrid.exceptions import NoResourceFoundError, NoSupplierFoundError  # noqa: E402
from labgrid.factory import target_factory  # noqa: E402
from labgrid.protocol import DigitalOutputProtocol, PowerProtocol  # noqa: E402
from labgrid.resource.remote import NetworkDFUDevice  # noqa: E402
from labgrid.resource.serialport import RawSerialPort  # noqa: E402
from labgrid.step import steps  # noqa: E402

import mp1boot  # noqa: E402
from mp1boot.labgrid import FlashFailed, MP1BootDriver, MP1BootStrategy, Status  # noqa: E402
from test_flash import _folder  # noqa: E402


@attr.s(eq=False)
class FakeDFU(NetworkDFUDevice):
    """A NetworkDFUDevice that needs no coordinator: always available, never polled."""

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.avail = True

    def poll(self):
        pass


def _dfu(target, vid=0x0483, pid=0xDF11, path="1-1.4"):
    return FakeDFU(target, name=None, host="exporter-7", busnum=1, devnum=5, path=path, vendor_id=vid,
                   model_id=pid)


def _tool(tmp_path):
    """mp1boot as a labgrid `tools:` entry would name it: an executable on the host."""
    tool = tmp_path / "mp1boot-tool"
    tool.write_text(f"#!/bin/sh\nexec {sys.executable} -m mp1boot \"$@\"\n")
    tool.chmod(0o755)
    return str(tool)


def test_importing_mp1boot_does_not_import_labgrid():
    r = subprocess.run([sys.executable, "-c", "import sys, mp1boot, mp1boot.cli; "
                        "print(any(m == 'labgrid' or m.startswith('labgrid.') for m in sys.modules))"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_driver_is_registered_and_binds_a_dfu_device():
    assert target_factory.drivers["MP1BootDriver"] is MP1BootDriver
    assert target_factory.drivers["MP1BootStrategy"] is MP1BootStrategy
    t = Target("board")
    res = _dfu(t)
    d = MP1BootDriver(t, name=None)
    assert d.device is res
    t.activate(d)
    assert d.port() == "usb:1-1.4" and d.host == "exporter-7"
    assert d.tool == "mp1boot"


def test_a_place_with_no_dfu_device_cannot_bind_the_driver():
    t = Target("no-dfu")
    with pytest.raises((NoSupplierFoundError, NoResourceFoundError, BindingError)) as info:
        MP1BootDriver(t, name=None)
    assert "MP1BootDriver" in str(info.value) and "no DFUDevice resource found" in str(info.value)


def test_a_board_that_is_not_an_stm32mp_is_refused_before_anything_runs(tmp_path, fsbl_mp15, monkeypatch):
    _folder(tmp_path, fsbl_mp15)
    t = Target("other-board")
    _dfu(t, vid=0x1FC9, pid=0x0135)  # an i.MX in serial download mode
    d = MP1BootDriver(t, name=None)
    t.activate(d)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: ran.append(a))
    with pytest.raises(mp1boot.TransportError) as info:
        d.flash(str(tmp_path / "flash.tsv"), defines={"FSBL": "tf-a.stm32"})
    assert "1fc9:0135" in info.value.message and "not an STM32MP" in info.value.message
    assert "0483:df11" in info.value.message and info.value.code == "no_device"
    assert ran == []


def test_a_layout_naming_a_missing_file_is_refused_before_anything_is_synced(tmp_path, fsbl_mp15, monkeypatch):
    _folder(tmp_path, fsbl_mp15)
    os.unlink(tmp_path / "rootfs.ext4")
    t = Target("board")
    _dfu(t)
    d = MP1BootDriver(t, name=None)
    t.activate(d)
    synced, ran = [], []
    monkeypatch.setattr("mp1boot.labgrid.ManagedFile.sync_to_resource", lambda self, **k: synced.append(self))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(mp1boot.LayoutError) as info:
        d.flash(str(tmp_path / "flash.tsv"), defines={"FSBL": "tf-a.stm32"})
    e = info.value
    assert e.code == "file_not_found" and e.layout_line == 5 and e.file.endswith("rootfs.ext4")
    assert "rootfs.ext4" in e.message and "nothing was copied to exporter-7" in e.message
    assert synced == [] and ran == []


def test_a_host_without_mp1boot_says_which_host_and_what_to_install(tmp_path, uart_sim):
    sim = uart_sim("stm32mp157")
    t = Target("uart-board")
    RawSerialPort(t, name=None, port=sim.path, speed=115200)
    d = MP1BootDriver(t, name=None)
    d.tool = str(tmp_path / "nowhere" / "mp1boot")
    t.activate(d)
    with pytest.raises(mp1boot.TransportError) as info:
        d.info()
    assert "mp1boot cannot run on localhost" in info.value.message
    assert "pip install mp1boot" in info.value.message and "tools: mp1boot:" in info.value.message


def test_uart_flash_through_a_local_serial_resource_streams_steps(tmp_path, fsbl_mp15):
    """UART boards: the driver runs mp1boot on the port's local path (8E1 set by mp1boot), here a
    simulated STM32MP157 on a pty bound as labgrid's RawSerialPort."""
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    sim = mp1boot.UartSimServer("stm32mp157", storage_dir=str(storage))
    sim.start()
    seen = []

    def listen(event):
        if event.step.title == "mp1boot" and event.data.get("state") == "start":
            seen.append(event.step.args["event"])

    steps.subscribe(listen)
    try:
        t = Target("uart-board")
        RawSerialPort(t, name=None, port=sim.path, speed=115200)
        d = MP1BootDriver(t, name=None)
        d.tool = _tool(tmp_path)
        t.activate(d)
        assert d.port() == f"serial:{sim.path}"
        info = d.info()
        assert info["device_id"] == 0x500  # JSON numbers (README: JSON output)
        report = d.flash(str(tmp_path / "flash.tsv"), defines={"FSBL": str(tmp_path / "tf-a.stm32")}, verify=True)
    finally:
        steps.unsubscribe(listen)
        sim.stop()
    assert report["result"] == "ok", report
    assert {p["name"]: p["verified"] for p in report["partitions"]}["rootfs"] == "ok"
    assert any("rootfs" in s for s in seen) and any(s.startswith("done: ok") for s in seen), seen
    with open(storage / "mmc0.img", "rb") as f:
        f.seek(0x100000)
        assert f.read(len(rootfs)) == rootfs


def _uart_driver(tmp_path, sim):
    t = Target("uart-board")
    RawSerialPort(t, name=None, port=sim.path, speed=115200)
    d = MP1BootDriver(t, name=None, timeout=120)
    d.tool = _tool(tmp_path)
    t.activate(d)
    return d


def test_load_boots_an_fsbl(tmp_path, fsbl_mp15):
    (tmp_path / "tf-a.stm32").write_bytes(fsbl_mp15)
    sim = mp1boot.UartSimServer("stm32mp157")
    sim.start()
    try:
        _uart_driver(tmp_path, sim).load(str(tmp_path / "tf-a.stm32"))
        assert sim.stage != "rom"
        assert sim.received_images()[0x01] == fsbl_mp15
    finally:
        sim.stop()


def test_load_of_a_layout_boots_its_dash_lines(tmp_path, fsbl_mp15):
    from test_flash import LAYOUT
    _folder(tmp_path, fsbl_mp15, layout=LAYOUT.replace("%FSBL%", "tf-a.stm32"))
    sim = mp1boot.UartSimServer("stm32mp157")
    sim.start()
    try:
        _uart_driver(tmp_path, sim).load(str(tmp_path / "flash.tsv"))
        images = sim.received_images()
        assert images[0x01] == fsbl_mp15 and images[0x03] == (tmp_path / "fip.bin").read_bytes()
    finally:
        sim.stop()


def test_load_of_a_missing_file_runs_nothing(tmp_path, uart_sim):
    sim = uart_sim("stm32mp157")
    d = _uart_driver(tmp_path, sim)
    with pytest.raises(mp1boot.LayoutError) as info:
        d.load(str(tmp_path / "nope.stm32"))
    assert info.value.code == "file_not_found" and "nothing was copied to localhost" in info.value.message
    assert sim.bytes_received == 0


def test_a_failed_flash_brings_the_report_back(tmp_path, fsbl_mp15):
    """The board answers no more mid-job (the simulated pty closes): FlashFailed with mp1boot's
    report of what was reached."""
    _folder(tmp_path, fsbl_mp15)
    sim = mp1boot.UartSimServer("stm32mp157", uboot=False)  # TF-A never hands over to U-Boot
    sim.start()
    try:
        t = Target("uart-board")
        RawSerialPort(t, name=None, port=sim.path, speed=115200)
        d = MP1BootDriver(t, name=None, timeout=120)
        d.tool = _tool(tmp_path)
        t.activate(d)
        with pytest.raises(FlashFailed) as info:
            d.flash(str(tmp_path / "flash.tsv"), defines={"FSBL": str(tmp_path / "tf-a.stm32")})
    finally:
        sim.stop()
    e = info.value
    assert "mp1boot on localhost (flash serial:" in e.message
    assert e.report is not None and e.report["result"] != "ok"
    done = {p["name"]: p["result"] for p in e.report["partitions"]}
    assert done.get("fsbl-boot") == "ok"


# ---- MP1BootStrategy ------------------------------------------------------------------------

@target_factory.reg_driver
@attr.s(eq=False)
class RecordingPower(Driver, PowerProtocol):
    log = attr.ib(factory=list)

    def on(self):
        self.log.append("power on")

    def off(self):
        self.log.append("power off")

    def cycle(self):
        self.log.append("power cycle")


@target_factory.reg_driver
@attr.s(eq=False)
class RecordingPins(Driver, DigitalOutputProtocol):
    log = attr.ib(factory=list)

    def get(self):
        return self.log[-1] if self.log else None

    def set(self, status):
        self.log.append(f"boot pins {'serial' if status else 'flash'}")


def _strategy_target(monkeypatch, log):
    t = Target("line-board")
    _dfu(t)
    power = RecordingPower(t, name=None, log=log)
    pins = RecordingPins(t, name=None, log=log)
    drv = MP1BootDriver(t, name=None)
    monkeypatch.setattr(MP1BootDriver, "flash", lambda self, layout, **kw: log.append(f"flash {layout} {kw}") or
                        {"result": "ok"})
    s = MP1BootStrategy(t, name=None, layout="/images/flash.tsv", defines={"FSBL": "tf-a.stm32"})
    return t, s, power, pins, drv


def test_strategy_walks_off_rom_flashed_shell(monkeypatch):
    log = []
    t, s, power, pins, drv = _strategy_target(monkeypatch, log)
    s.transition("off")
    assert log == ["power off"] and s.status == Status.off
    s.transition("rom")
    assert log[1:] == ["power off", "boot pins serial", "power on"]
    assert drv in t.drivers and drv.state.name == "active"
    s.transition("shell")
    assert log[4].startswith("flash /images/flash.tsv {'defines': {'FSBL': 'tf-a.stm32'}, 'verify': True}")
    assert log[5:] == ["power off", "boot pins flash", "power on"]
    assert s.status == Status.shell and s.report == {"result": "ok"}
    assert drv.state.name != "active"  # the ROM's DFU device is gone once the board boots from flash


def test_strategy_from_off_to_flashed_goes_through_rom(monkeypatch):
    log = []
    _, s, *_ = _strategy_target(monkeypatch, log)
    s.transition(Status.flashed)
    assert log[:3] == ["power off", "boot pins serial", "power on"] and log[3].startswith("flash ")
    s.transition("flashed")  # already there: nothing happens
    assert len(log) == 4


def test_strategy_unknown_state_breaks_it(monkeypatch):
    from labgrid.strategy.common import StrategyError
    log = []
    _, s, *_ = _strategy_target(monkeypatch, log)
    with pytest.raises(StrategyError):
        s.transition("unknown")
    with pytest.raises(StrategyError):  # never_retry: broken until recreated
        s.transition("off")
    assert log == []



# ---- examples/labgrid ------------------------------------------------------------------------

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "labgrid"


def test_example_exporter_yaml_is_what_the_exporter_reads():
    from labgrid.remote.config import ResourceConfig
    cfg = ResourceConfig(str(EXAMPLES / "exporter.yaml")).data
    assert set(cfg) == {"board-1", "board-2"}
    for group in cfg.values():
        assert group["DFUDevice"]["match"]["ID_PATH"].startswith("pci-")


def test_example_environment_loads_the_driver_and_tool():
    from labgrid import Environment
    env = Environment(str(EXAMPLES / "env.yaml"))
    assert env.config.get_tool("mp1boot") == "/usr/local/bin/mp1boot"
    assert env.config.get_image_path("layout").endswith("examples/labgrid/images/FlashLayout.tsv")
    assert env.config.data["targets"]["main"]["drivers"]["MP1BootDriver"] == {"layout": "layout"}
    assert env.config.get_imports() == ["mp1boot.labgrid"]


LOCAL_USB = r"""
import json, sys
from labgrid import Target
from labgrid.resource.udev import DFUDevice
from mp1boot.labgrid import MP1BootDriver
t = Target("local")
res = DFUDevice(t, name=None, match={"ID_PATH": "platform-mp1boot-usbsim-usb-0:2"})
d = MP1BootDriver(t, name=None, timeout=120)
d.tool = sys.argv[1]
t.activate(d)
print(json.dumps({"port": d.port(), "ids": [res.vendor_id, res.model_id], "serial":
                  res.device.properties.get("ID_SERIAL_SHORT")}), flush=True)
report = d.flash(sys.argv[2], defines={"FSBL": sys.argv[3]}, verify=True)
print(json.dumps(report), flush=True)
"""


def test_local_dfu_device_matched_by_id_path_on_the_simulated_bus(tmp_path, fsbl_mp15):
    """labgrid's own DFUDevice (udev matching through pyudev) finds the simulated board on port
    1-2 by ID_PATH and the driver flashes it locally, without an exporter."""
    from test_usb_many_processes import UsbBus, board_storage
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    serials = ["002800423232511538303651", "002800423232511538303652"]
    bus = UsbBus("stm32mp157", serials, storage)
    try:
        r = subprocess.run([sys.executable, "-c", LOCAL_USB, _tool(tmp_path), str(tmp_path / "flash.tsv"),
                            str(tmp_path / "tf-a.stm32")], env=bus.env, capture_output=True, text=True, timeout=180)
    finally:
        bus.close()
    assert r.returncode == 0, r.stdout + r.stderr
    first, report = (json.loads(x) for x in r.stdout.splitlines()[-2:])
    assert first == {"port": "usb:1-2", "ids": [0x0483, 0xDF11], "serial": serials[1]}
    assert report["result"] == "ok" and report["serial"] == serials[1] and report["port_path"] == "1-2"
    with open(board_storage(storage, 2, serials[1]) / "mmc0.img", "rb") as f:
        f.seek(0x100000)
        assert f.read(len(rootfs)) == rootfs
    assert not (board_storage(storage, 1, serials[0]) / "mmc0.img").exists()
