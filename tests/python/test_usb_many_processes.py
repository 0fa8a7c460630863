# SPDX-License-Identifier: MIT
"""Several `mp1boot flash` processes on one simulated USB bus, one board each, started together:
the way labgrid runs one mp1boot per place on an exporter host. Every process must see its own
board's re-enumerations (ROM -> TF-A -> U-Boot), whatever the others do on the bus. Every run has
a timeout: the umockdev preload has none."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from test_flash import _folder

SERIAL_BASE = 0x002800423232511538303600


def _serials(n):
    return [f"{SERIAL_BASE + i:024X}" for i in range(n)]


def board_storage(storage, port, serial):
    """The storage folder of the board on port 1-`port` of a several-board bus: named by its port,
    or by its serial (mp1boot-usbsim before boards were told apart by port)."""
    by_port = storage / f"1-{port}"
    return by_port if by_port.is_dir() else storage / serial


class UsbBus:
    """mp1boot-usbsim in daemon mode with several boards; `env` runs clients on its bus."""

    def __init__(self, soc, serials, storage, extra=()):
        argv = ["mp1boot-usbsim", "--soc", soc, "--storage", str(storage), *extra, "--daemon"]
        for s in serials:
            argv += ["--serial", s]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.env = dict(os.environ)
        for line in self.proc.stdout:
            line = line.strip()
            if line == "READY":
                break
            key, _, value = line.partition("=")
            self.env[key] = value
        else:
            raise RuntimeError("mp1boot-usbsim ended before READY")

    def command(self, cmd):
        """A daemon stdin command (power-cycle, unplug, status); returns its output lines."""
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            if line.strip() == "OK":
                return out
            out.append(line.rstrip("\n"))
        raise RuntimeError(f"mp1boot-usbsim ended during {cmd}")

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@pytest.mark.parametrize("boards,fanout", [(2, True), (8, True), (2, False)],
                         ids=["2-boards", "8-boards", "2-boards-hotplug-events-lost"])
def test_processes_started_together_each_flash_their_board(tmp_path, fsbl_mp15, boards, fanout):
    """Without the bus's uevent fan-out library, the processes lose each other's hot-plug events
    (test_usb_uevents.py): then mp1boot's periodic bus scan alone must find every board."""
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    serials = _serials(boards)
    bus = UsbBus("stm32mp157", serials, storage)
    if not fanout:
        bus.env["LD_PRELOAD"] = ":".join(p for p in bus.env["LD_PRELOAD"].split(":") if "uevent-fanout" not in p)
    procs = []
    try:
        for port in range(1, boards + 1):
            report = tmp_path / f"report-{port}.json"
            argv = [sys.executable, "-m", "mp1boot", "flash", str(tmp_path / "flash.tsv"), "-D",
                    "FSBL=tf-a.stm32", "--port", f"usb:1-{port}", "--report", str(report), "-q"]
            procs.append((port, report, subprocess.Popen(argv, env=bus.env, stdout=subprocess.PIPE,
                                                         stderr=subprocess.STDOUT, text=True)))
        failures = []
        for port, report, p in procs:
            try:
                out, _ = p.communicate(timeout=240)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            if p.returncode != 0:
                failures.append(f"1-{port}: exit {p.returncode}: {out}")
        assert not failures, "\n".join(failures)
    finally:
        for _, _, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        bus.close()
    for port, report, _ in procs:
        rep = json.loads(report.read_text())
        assert rep["result"] == "ok" and rep["port_path"] == f"1-{port}"
        assert rep["serial"] == serials[port - 1]
        with open(board_storage(storage, port, serials[port - 1]) / "mmc0.img", "rb") as f:
            f.seek(0x100000)
            assert f.read(len(rootfs)) == rootfs
