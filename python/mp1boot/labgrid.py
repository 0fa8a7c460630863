# SPDX-License-Identifier: MIT
"""mp1boot for labgrid: a driver that boots and flashes STM32MP boards through labgrid's own
resources, and an optional strategy for power- and boot-pin-switched boards.

Install with ``pip install mp1boot[labgrid]`` and load it from the environment YAML::

    imports:
      - mp1boot.labgrid
    tools:
      mp1boot: /usr/local/bin/mp1boot      # on the exporter's host (optional)
    targets:
      main:
        resources:
          RemotePlace: {name: board-1}
        drivers:
          MP1BootDriver: {}

``MP1BootDriver`` binds labgrid's ``DFUDevice`` / ``NetworkDFUDevice`` (USB; matched by
``ID_PATH`` it stays bound while the board goes ROM -> TF-A -> U-Boot on that port) or a serial
port resource (UART; mp1boot opens the port's local path on the exporter's host at 8E1, which
labgrid's ser2net export at 8N1 cannot carry). It copies the layout and every file the layout
names to the exporter's host (labgrid's ManagedFile, through ssh), runs mp1boot there against
``usb:<resource path>`` in one process for the whole multi-stage job, turns mp1boot's ``--json``
events into labgrid steps, and returns mp1boot's JSON report.

Importing ``mp1boot`` never imports this module (nor labgrid).
"""
from __future__ import annotations

import enum
import hashlib
import json
import os
import shlex
import subprocess
import tempfile
import uuid

import attr
from labgrid.driver.common import Driver
from labgrid.factory import target_factory
from labgrid.protocol import BootstrapProtocol, DigitalOutputProtocol, PowerProtocol
from labgrid.resource.common import NetworkResource
from labgrid.resource.remote import NetworkDFUDevice
from labgrid.resource.serialport import NetworkSerialPort
from labgrid.resource.udev import DFUDevice
from labgrid.step import step
from labgrid.strategy.common import Strategy, StrategyError, never_retry
from labgrid.util.managedfile import ManagedFile

from . import errors

__all__ = ["MP1BootDriver", "MP1BootStrategy", "FlashFailed", "STM32_DFU_IDS"]

STM32_DFU_IDS = (0x0483, 0xDF11)
_USB = {"DFUDevice", "NetworkDFUDevice"}
_SERIAL = {"RawSerialPort", "USBSerialPort", "NetworkSerialPort"}


class FlashFailed(errors.Error):
    """mp1boot failed on the exporter's host. ``report`` is mp1boot's JSON report (phase,
    partition and bytes reached) when the run got that far, ``event`` its last error event."""

    def __init__(self, message, *, report=None, event=None, **kw):
        super().__init__(message, **kw)
        self.report = report
        self.event = event or {}


def _error(cls, message, **kw):
    return cls(message, operation="labgrid", **kw)


@target_factory.reg_driver
@attr.s(eq=False)
class MP1BootDriver(Driver, BootstrapProtocol):
    """Boots and flashes an STM32MP board with mp1boot on the host its resource lives on.

    Args:
        image (str): key in the environment's ``images:`` used by load() without a file name.
        layout (str): key in ``images:`` used by flash() without a layout.
        timeout (float): seconds one mp1boot run may take (killed after that).
        detect_nfs (bool): use a file in place when the exporter's host sees the same file
            (labgrid's ManagedFile check); false copies every file.
    """

    bindings = {"device": _USB | _SERIAL}

    image = attr.ib(default=None)
    layout = attr.ib(default=None)
    timeout = attr.ib(default=1800.0, validator=attr.validators.instance_of((int, float)))
    detect_nfs = attr.ib(default=True, validator=attr.validators.instance_of(bool))

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.tool = self.target.env.config.get_tool("mp1boot") if self.target.env else "mp1boot"

    def on_activate(self):
        pass

    def on_deactivate(self):
        pass

    # ---- what and where ------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host mp1boot runs on ("localhost" for a local resource)."""
        return self.device.host if isinstance(self.device, NetworkResource) else "localhost"

    def port(self) -> str:
        """mp1boot's --port for the bound resource: usb:BUS-PORT, or the serial device's path."""
        dev = self.device
        kind = type(dev).__name__
        if isinstance(dev, (DFUDevice, NetworkDFUDevice)):
            ids = (dev.vendor_id, dev.model_id)
            if None not in ids and tuple(ids) != STM32_DFU_IDS:
                raise _error(errors.TransportError,
                             f"{kind} {dev.name or ''} on {self.host} is {ids[0]:04x}:{ids[1]:04x}, not an STM32MP "
                             f"in USB DFU mode ({STM32_DFU_IDS[0]:04x}:{STM32_DFU_IDS[1]:04x}); check the "
                             "resource's match (ID_PATH of the board's port) and the board's boot pins",
                             code="no_device")
            if not dev.path:
                raise _error(errors.TransportError, f"{kind} on {self.host} has no USB port path (is it attached?)",
                             code="no_device")
            return f"usb:{dev.path}"
        path = (getattr(dev, "extra", None) or {}).get("path") if isinstance(dev, NetworkSerialPort) else dev.port
        if not path:
            raise _error(errors.TransportError,
                         f"{kind} on {self.host} does not name its local device (mp1boot needs the tty path on "
                         "the exporter's host; ser2net's 8N1 export cannot carry the ROM's 8E1)", code="no_device")
        return f"serial:{path}"

    # ---- running mp1boot there --------------------------------------------------------------

    def _prefix(self):
        return list(self.device.command_prefix)

    def _check_tool(self):
        """Fails with the host and what to install when mp1boot cannot run there."""
        cmd = self._prefix() + [self.tool, "--version"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            r = subprocess.CompletedProcess(cmd, 127, "", "")
        except subprocess.TimeoutExpired:
            raise _error(errors.TimeoutError, f"`{self.tool} --version` on {self.host} did not answer within 60 s",
                         code="timeout") from None
        if r.returncode != 0 or not r.stdout.startswith("mp1boot"):
            raise _error(errors.TransportError,
                         f"mp1boot cannot run on {self.host} (`{self.tool} --version` exited {r.returncode}: "
                         f"{(r.stderr or r.stdout).strip()[-300:]}); install it there (`pip install mp1boot`) or "
                         "point `tools: mp1boot:` in the environment YAML at it", code="io")

    def _sync(self, path: str) -> str:
        mf = ManagedFile(path, self.device, detect_nfs=self.detect_nfs)
        mf.sync_to_resource()
        return mf.get_remote_path()

    def _read_remote(self, path: str):
        """The JSON file `path` on the resource's host (None when missing), removed there."""
        r = subprocess.run(self._prefix() + ["cat", path], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        subprocess.run(self._prefix() + ["rm", "-f", path], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
        if r.returncode != 0 or not r.stdout:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    @step(title="mp1boot", args=["event"])
    def _event(self, event):
        """One step per mp1boot event (stage changes, partitions, 10 % of progress): what
        labgrid-client and the pytest log show while mp1boot runs on the exporter's host."""

    def _forward(self, e: dict, last: dict):
        kind = e.get("event")
        if kind == "progress":
            total = e.get("bytes_total") or 0
            tenth = (10 * e.get("bytes_done", 0) // total) if total else 0
            key = (e.get("partition"), tenth)
            if key == last.get("progress"):
                return
            last["progress"] = key
            self._event(event=f"{e.get('partition')}: {e.get('bytes_done')}/{total} bytes")
        elif kind == "done":
            self._event(event=f"done: {e.get('report', {}).get('result')}")
        elif kind == "error":
            self._event(event=f"error {e.get('code')}: {e.get('message', '')}")
        else:
            self._event(event=" ".join(f"{k}={v}" for k, v in e.items()))

    def _command(self, args):
        """`tool ARGS --json` as run on the resource's host (one quoted string through ssh)."""
        argv = [self.tool] + args + ["--json"]
        if isinstance(self.device, NetworkResource):
            return self._prefix() + [" ".join(shlex.quote(a) for a in argv)]
        return self._prefix() + argv

    def _run(self, args, report_path=None):
        """Runs `tool ARGS --json` on the resource's host; returns (events, report)."""
        events, last = [], {}
        errfile = tempfile.TemporaryFile(mode="w+")  # a file: a full stderr pipe cannot stall mp1boot
        try:
            proc = subprocess.Popen(self._command(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=errfile, text=True)
        except FileNotFoundError:
            errfile.close()
            self._check_tool()
            raise
        try:
            with _Kill(proc, self.timeout):
                for line in proc.stdout:
                    line = line.strip()
                    if not line.startswith("{"):
                        continue
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    events.append(e)
                    self._forward(e, last)
                proc.wait()
        finally:
            proc.stdout.close()
            errfile.seek(0)
            stderr = errfile.read()
            errfile.close()
        # mp1boot writes the report also when the run fails; read it back and remove it there
        report = None
        if report_path:
            report = self._read_remote(report_path) if isinstance(self.device, NetworkResource) \
                else _read_local(report_path)
        done = [e for e in events if e.get("event") == "done"]
        if done:
            report = done[-1].get("report") or report
        if proc.returncode != 0 or not done:
            err = next((e for e in reversed(events) if e.get("event") == "error"), {})
            where = f"mp1boot on {self.host} ({' '.join(args[:1])} {self.port()})"
            if proc.returncode in (126, 127) and not events:
                self._check_tool()
            if proc.returncode < 0 or getattr(proc, "timed_out", False):
                msg = f"{where} ran past its {self.timeout:g} s timeout and was stopped"
            else:
                msg = f"{where} failed (exit {proc.returncode}): " + (err.get("message") or stderr.strip()[-500:])
            keys = {k: err[k] for k in ("phase", "partition", "bytes_sent", "bytes_total", "layout_line", "file")
                    if err.get(k) is not None}
            raise FlashFailed(msg, code=err.get("code", "io"), report=report, event=err, **keys)
        return events, report

    # ---- the protocol ------------------------------------------------------------------------

    def _files(self, layout: str, defines: dict):
        """The layout's entries and the local files they name; refuses a missing file before
        anything is copied."""
        from . import _core
        res = _core.layout_check(layout, {k: str(v) for k, v in defines.items()}, False)
        errs = [d for d in res["diagnostics"] if d["severity"] == "error"]
        if errs:
            raise _error(errors.LayoutError, f"{layout}: {errs[0]['text']}", code="layout_rule",
                         layout_line=errs[0].get("line"), file=layout)
        for e in res["entries"]:
            p = e.get("binary_path")
            if e.get("binary") and e["binary"] != "none" and p and not os.path.isfile(p):
                raise _error(errors.LayoutError,
                             f"{layout}:{e['line']}: {e['name']} names {e['binary']} ({p}), which does not exist "
                             "here; nothing was copied to " + self.host, code="file_not_found",
                             layout_line=e["line"], file=p)
        return res["entries"]

    def _remote_layout(self, layout: str, defines: dict, bmap: bool):
        """Copies the layout's files to the resource's host and returns the path of a layout
        there whose Binary column names the copies (placeholders already filled in)."""
        entries = self._files(layout, defines)
        self._check_tool()
        with open(layout, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for e in entries:
            p = e.get("binary_path")
            if not (e.get("binary") and e["binary"] != "none" and p):
                continue
            remote = self._sync(os.path.abspath(p))
            if bmap and os.path.isfile(p + ".bmap"):
                self._sync_beside(p + ".bmap", remote + ".bmap")
            i = e["line"] - 1
            cols = lines[i].rstrip("\r").split("\t")
            cols[-1] = remote
            lines[i] = "\t".join(cols)
        # Named by content, in labgrid's user cache here: the copy there (or this file, when the
        # exporter's host sees it) stays valid however often the same job runs.
        text = "\n".join(lines)
        folder = os.path.join(tempfile.gettempdir(), f"mp1boot-labgrid-{os.getuid()}",
                              hashlib.sha256(text.encode()).hexdigest()[:16])
        os.makedirs(folder, exist_ok=True)
        local = os.path.join(folder, os.path.basename(layout))
        with open(local, "w", encoding="utf-8") as f:
            f.write(text)
        return self._sync(local)

    def _sync_beside(self, local: str, remote: str):
        mf = ManagedFile(local, self.device, detect_nfs=self.detect_nfs)
        mf.sync_to_resource(symlink=remote if isinstance(self.device, NetworkResource) else None)

    @Driver.check_active
    @step(args=["layout", "verify"], result=False)
    def flash(self, layout=None, *, defines=None, verify=False, bmap=False) -> dict:
        """Runs ``mp1boot flash`` for the whole job (ROM -> TF-A -> U-Boot, every partition) on the
        resource's host and returns its JSON report as a dict.

        Args:
            layout: the FlashLayout.tsv here (default: the ``layout`` image of the environment).
            defines: values of %NAME% placeholders (files here, copied like the rest).
            verify: read every programmed partition back and compare SHA-256.
            bmap: also copy each file's IMAGE.bmap block map, next to the copy.
        Raises:
            LayoutError: the layout is invalid or names a missing file (nothing was copied).
            TransportError: mp1boot is missing on the host, or the resource is not an STM32MP.
            FlashFailed: mp1boot failed; ``report`` tells the phase and bytes reached.
        """
        if layout is None:
            if self.layout is None:
                raise _error(errors.UsageError, "flash() needs a layout (or the driver's `layout` image)",
                             code="usage")
            layout = self.target.env.config.get_image_path(self.layout)
        port = self.port()
        remote = self._remote_layout(str(layout), dict(defines or {}), bmap)
        report_path = f"{os.path.dirname(remote)}/report-{uuid.uuid4().hex}.json"
        args = ["flash", remote, "--port", port, "--report", report_path] + (["--verify"] if verify else [])
        _, report = self._run(args, report_path)
        return report

    @Driver.check_active
    @step(args=["filename"])
    def load(self, filename=None):
        """Boots an FSBL (tf-a.stm32) into the ROM, or a layout's '-' lines (TF-A and the FIP into
        RAM, up to U-Boot stm32prog)."""
        if filename is None:
            if self.image is None:
                raise _error(errors.UsageError, "load() needs a file (or the driver's `image`)", code="usage")
            filename = self.target.env.config.get_image_path(self.image)
        filename = str(filename)
        port = self.port()
        if filename.endswith(".tsv"):
            target = self._remote_layout(filename, {}, False)
        else:
            if not os.path.isfile(filename):
                raise _error(errors.LayoutError, f"{filename} does not exist here; nothing was copied to {self.host}",
                             code="file_not_found", file=filename)
            self._check_tool()
            target = self._sync(os.path.abspath(filename))
        self._run(["boot", target, "--port", port])

    @Driver.check_active
    @step()
    def info(self) -> dict:
        """``mp1boot info``: what the board's current stage answers (id, phase, stage)."""
        return self._run_plain(["info", "--port", self.port()])

    def _run_plain(self, args) -> dict:
        cmd = self._command(args)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            r = subprocess.CompletedProcess(cmd, 127, "", "")
        if r.returncode in (126, 127):
            self._check_tool()
        lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
        data = json.loads(lines[-1]) if lines else {}
        if r.returncode != 0:
            raise FlashFailed(f"mp1boot on {self.host} ({args[0]} {self.port()}) failed (exit {r.returncode}): "
                              + (data.get("message") or r.stderr.strip()[-500:]), code=data.get("code", "io"),
                              event=data)
        return data


def _read_local(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


class _Kill:
    """Kills `proc` when it runs past `timeout` seconds."""

    def __init__(self, proc, timeout):
        import threading
        self.proc = proc
        self.timer = threading.Timer(timeout, self._kill)
        self.timer.daemon = True

    def _kill(self):
        self.proc.timed_out = True
        self.proc.kill()

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Status(enum.Enum):
    """States of MP1BootStrategy."""
    unknown = 0
    off = 1
    rom = 2
    flashed = 3
    shell = 4


@target_factory.reg_driver
@attr.s(eq=False)
class MP1BootStrategy(Strategy):
    """For boards whose power and boot pins are switched: off -> rom (boot pins on serial boot,
    power on: the ROM enumerates) -> flashed (MP1BootDriver.flash of the strategy's layout) ->
    shell (boot pins back on flash boot, power cycle; the console's shell if one is bound).

    Bindings: ``power`` (PowerProtocol), ``boot_pins`` (DigitalOutputProtocol: True selects
    serial boot), ``mp1boot`` (MP1BootDriver), ``shell`` (optional ShellDriver or any driver
    with the console prompt).
    """

    bindings = {
        "power": PowerProtocol,
        "boot_pins": DigitalOutputProtocol,
        "mp1boot": MP1BootDriver,
        "shell": {"ShellDriver", None},
    }

    status = attr.ib(default=Status.unknown)
    layout = attr.ib(default=None)
    defines = attr.ib(factory=dict)
    verify = attr.ib(default=True)

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.report = None

    def _power_to(self, serial_boot: bool):
        if self.shell is not None:
            self.target.deactivate(self.shell)
        self.target.deactivate(self.mp1boot)
        self.target.activate(self.power)
        self.target.activate(self.boot_pins)
        self.power.off()
        self.boot_pins.set(serial_boot)
        self.power.on()

    @never_retry
    @step(args=["status"])
    def transition(self, status):
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError(f"cannot transition to {status}")
        if status == self.status:
            return
        if status == Status.off:
            if self.shell is not None:
                self.target.deactivate(self.shell)
            self.target.deactivate(self.mp1boot)
            self.target.activate(self.power)
            self.power.off()
        elif status == Status.rom:
            self._power_to(serial_boot=True)
            # The board's ROM enumerates anew: wait for the resource, then bind the driver again.
            self.target.await_resources([self.mp1boot.device], timeout=30.0)
            self.target.activate(self.mp1boot)
        elif status == Status.flashed:
            self.transition(Status.rom)
            if self.layout is None:
                raise StrategyError("MP1BootStrategy needs `layout` to reach 'flashed'")
            layout = self.target.env.config.get_image_path(self.layout) if self.target.env else self.layout
            self.report = self.mp1boot.flash(layout, defines=self.defines, verify=self.verify)
        elif status == Status.shell:
            if self.status != Status.flashed:
                self.transition(Status.flashed)
            self._power_to(serial_boot=False)
            if self.shell is not None:
                self.target.activate(self.shell)
        self.status = status

    def force(self, status):
        if not isinstance(status, Status):
            status = Status[status]
        self.status = status
