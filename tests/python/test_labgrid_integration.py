# SPDX-License-Identifier: MIT
"""A flashing line with real labgrid parts on loopback, started and stopped by this test:

* an OpenSSH server (Debian's sshd) on 127.0.0.1 and a free port, with its own sshd_config, host
  key and a client key made here; the exporter's host is reached through it as labgrid always
  does (ssh with a control master, rsync for ManagedFile);
* mp1boot-usbsim with two simulated STM32MP157 boards on ports 1-1 and 1-2;
* labgrid-coordinator on 127.0.0.1 and a free port;
* labgrid-exporter running on the simulated bus, exporting two DFUDevice resources matched by
  ID_PATH (so they follow each board's ROM -> TF-A -> U-Boot re-enumerations);
* labgrid-client creating two places, matching them and acquiring both;
* a client program (labgrid's Python API, environment YAML with `imports: mp1boot.labgrid` and
  `tools: mp1boot:`) that flashes one layout onto both boards in parallel through MP1BootDriver.

Then both storages and both reports are checked. Every process has a timeout."""
from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from test_flash import _folder
from test_usb_many_processes import UsbBus, board_storage

SERIALS = ["002800423232511538303641", "002800423232511538303642"]
HOST = "lg-exporter"  # the exporter's published host name; ssh resolves it through our config
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Processes:
    """Every background process of the test; stop() ends them all (TERM, then KILL)."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.procs = []

    def start(self, name, argv, **kw):
        log = open(self.logdir / f"{name}.log", "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        self.procs.append((name, p, log))
        return p

    def log(self, name):
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def stop(self):
        for _, p, _ in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for _, p, log in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()


def _sshd(tmp: Path, procs: Processes):
    """A private sshd on 127.0.0.1:<free port> and an ssh client config reaching it as HOST."""
    d = tmp / "ssh"
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True,
                   timeout=30)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True,
                   timeout=30)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(textwrap.dedent(f"""\
        ListenAddress 127.0.0.1
        Port {port}
        HostKey {d / 'host_key'}
        PidFile {d / 'sshd.pid'}
        AuthorizedKeysFile {d / 'authorized_keys'}
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PubkeyAuthentication yes
        PermitRootLogin prohibit-password
        UsePAM no
        StrictModes no
        LogLevel ERROR
        """))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    sshd = procs.start("sshd", [SSHD, "-D", "-e", "-f", str(d / "sshd_config")])
    _wait_port(port, sshd)
    host_pub = (d / "host_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    (d / "config").write_text(textwrap.dedent(f"""\
        Host {HOST}
          HostName 127.0.0.1
          Port {port}
          User {getpass.getuser()}
          IdentityFile {d / 'client_key'}
          IdentitiesOnly yes
          UserKnownHostsFile {d / 'known_hosts'}
          StrictHostKeyChecking yes
          BatchMode yes
        """))
    # labgrid runs plain `ssh` (and rsync runs `ssh`): this directory goes first on PATH.
    bindir = tmp / "bin"
    bindir.mkdir()
    (bindir / "ssh").write_text(f"#!/bin/sh\nexec {shutil.which('ssh')} -F {d / 'config'} \"$@\"\n")
    (bindir / "ssh").chmod(0o755)
    return bindir


def _mp1boot_on_exporter_host(tmp: Path, bus_env: dict):
    """What `tools: mp1boot:` names on the exporter's host: mp1boot, run on the simulated bus
    (an ssh session starts with a clean environment)."""
    tool = tmp / "exporter-host-mp1boot"
    keep = {k: bus_env[k] for k in ("UMOCKDEV_DIR", "LD_PRELOAD", "PYTHONPATH", "PATH") if k in bus_env}
    exports = "".join(f"export {k}='{v}'\n" for k, v in keep.items())
    tool.write_text(f"#!/bin/sh\n{exports}exec {sys.executable} -m mp1boot \"$@\"\n")
    tool.chmod(0o755)
    return tool


CLIENT = r"""
import json, sys, traceback
from labgrid import Environment
from labgrid.step import steps

def show(event):  # mp1boot's events arrive as labgrid steps while it runs on the exporter's host
    if event.step.title == "mp1boot" and event.data.get("state") == "start":
        print("STEP " + event.step.args["event"], flush=True)

steps.subscribe(show)
env = Environment(sys.argv[1])
drv = env.get_target(sys.argv[4]).get_driver("MP1BootDriver")
try:
    result = {"report": drv.flash(sys.argv[2], defines={"FSBL": sys.argv[3]}, verify=True, bmap=True)}
except Exception as e:
    result = {"error": f"{type(e).__name__}: {e}", "report": getattr(e, "report", None),
              "phase": getattr(e, "phase", None), "bytes_sent": getattr(e, "bytes_sent", None),
              "trace": traceback.format_exc()}
print("RESULT " + json.dumps(result), flush=True)
"""


def _cache():
    """labgrid's ManagedFile cache on the exporter's host (this machine): one folder per SHA-256."""
    d = Path(f"/var/cache/labgrid/{getpass.getuser()}")
    return set(os.listdir(d)) if d.is_dir() else set()


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """Everything of the line up and running, once for this module (the last test unplugs the
    boards); yields a dict of paths, ports and helpers."""
    tmp_path = tmp_path_factory.mktemp("labgrid-line")
    procs = Processes(tmp_path)
    bus = None
    cache_before = _cache()
    try:
        started = time.monotonic()
        bindir = _sshd(tmp_path, procs)
        storage = tmp_path / "storage"
        storage.mkdir()
        bus = UsbBus("stm32mp157", SERIALS, storage, extra=["--uboot-block-us", "1000"])
        tool = _mp1boot_on_exporter_host(tmp_path, bus.env)

        coord_port = _free_port()
        coordinator = f"127.0.0.1:{coord_port}"
        lg_env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", LG_COORDINATOR=coordinator,
                      GRPC_ENABLE_FORK_SUPPORT="0", PYTHONUNBUFFERED="1")
        bindir_py = Path(sys.executable).parent
        coord = procs.start("coordinator", [str(bindir_py / "labgrid-coordinator"), "--listen", coordinator],
                            env=lg_env, cwd=tmp_path)
        _wait_port(coord_port, coord)

        (tmp_path / "exporter.yaml").write_text("".join(
            f"board{i}:\n  DFUDevice:\n    match:\n      ID_PATH: platform-mp1boot-usbsim-usb-0:{i}\n"
            for i in (1, 2)))
        exp_env = dict(bus.env, GRPC_ENABLE_FORK_SUPPORT="0", PYTHONUNBUFFERED="1")
        exporter = procs.start("exporter", [str(bindir_py / "labgrid-exporter"), "-c", coordinator, "--name", "exp1",
                                            "--hostname", HOST, str(tmp_path / "exporter.yaml")], env=exp_env)

        def client(*args, timeout=60, check=True):
            r = subprocess.run([str(bindir_py / "labgrid-client"), *args], env=lg_env, capture_output=True,
                               text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            if check and r.returncode != 0:
                raise AssertionError(f"labgrid-client {' '.join(args)}: {r.stdout}{r.stderr}\n"
                                     f"exporter log:\n{procs.log('exporter')}")
            return r

        deadline = time.monotonic() + 60
        while True:  # the exporter has published both boards
            r = client("resources", check=False)
            if r.stdout.count("NetworkDFUDevice") >= 2:
                break
            if exporter.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"exporter never published both boards: {r.stdout}{r.stderr}\n"
                                     f"{procs.log('exporter')}")
            time.sleep(0.3)
        for i in (1, 2):
            client("-p", f"lg-board-{i}", "create")
            client("-p", f"lg-board-{i}", "add-match", f"exp1/board{i}/NetworkDFUDevice")
            client("-p", f"lg-board-{i}", "acquire")
        (tmp_path / "env.yaml").write_text(textwrap.dedent(f"""\
            targets:
              board-1:
                resources:
                  RemotePlace:
                    name: lg-board-1
                drivers:
                  MP1BootDriver:
                    timeout: 240
                    detect_nfs: false
              board-2:
                resources:
                  RemotePlace:
                    name: lg-board-2
                drivers:
                  MP1BootDriver:
                    timeout: 240
                    detect_nfs: false
            tools:
              mp1boot: {tool}
            imports:
              - mp1boot.labgrid
            """))
        yield {"tmp": tmp_path, "env": lg_env, "storage": storage, "client": client, "procs": procs,
               "setup_s": time.monotonic() - started, "tool": tool, "bus": bus}
        for i in (1, 2):
            client("-p", f"lg-board-{i}", "release", check=False)
    finally:
        procs.stop()
        if bus:
            bus.close()
        for entry in _cache() - cache_before:  # what this test copied into labgrid's cache
            shutil.rmtree(Path(f"/var/cache/labgrid/{getpass.getuser()}") / entry, ignore_errors=True)


def _start_clients(line, layout, fsbl, env_yaml="env.yaml"):
    """One client process per place, started together (labgrid's steps are per process)."""
    return {name: subprocess.Popen([sys.executable, "-c", CLIENT, str(line["tmp"] / env_yaml), str(layout),
                                    str(fsbl), name], env=line["env"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
            for name in ("board-1", "board-2")}


def _results(line, procs, timeout=300):
    results = {}
    try:
        for name, p in procs.items():
            timer = threading.Timer(timeout, p.kill)  # reads through the text buffers, never hangs
            timer.start()
            try:
                out, err = p.stdout.read(), p.stderr.read()
                p.wait()
            finally:
                timer.cancel()
                p.stdout.close()
                p.stderr.close()
            lines = [x for x in out.splitlines() if x.startswith("RESULT ")]
            assert p.returncode == 0 and lines, (
                f"{out}\n{err}\nbus: {line['bus'].command('status')}\nresources: "
                f"{line['client']('-v', 'resources', check=False).stdout}\nexporter:\n{line['procs'].log('exporter')}")
            results[name] = json.loads(lines[-1][len("RESULT "):])
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if not f.closed:
                    f.close()
    return results


def _run_client(line, layout, fsbl, env_yaml="env.yaml"):
    return _results(line, _start_clients(line, layout, fsbl, env_yaml))


def test_two_places_flash_in_parallel_through_the_exporter(line, fsbl_mp15):
    """The line itself: both boards flashed at once through ssh, each storage holds the image,
    each report is mp1boot's own, for its board on its port."""
    started = time.monotonic()
    line["bus"].command("power-cycle")  # every board back in its ROM, as a lab's power switch does
    src = Path(tempfile.mkdtemp(dir=line["tmp"], prefix="images-"))
    rootfs, _ = _folder(src, fsbl_mp15)
    from mp1boot.examples import block_map
    (src / "rootfs.ext4.bmap").write_text(block_map((src / "rootfs.ext4").read_bytes()))  # copied beside the copy
    results = _run_client(line, src / "flash.tsv", src / "tf-a.stm32")
    flash_s = time.monotonic() - started
    for i, serial in enumerate(SERIALS, 1):
        res = results[f"board-{i}"]
        assert "error" not in res, res
        rep = res["report"]
        assert rep["result"] == "ok" and rep["serial"] == serial and rep["port_path"] == f"1-{i}"
        assert rep["link"] == "usb"
        parts = {p["name"]: p for p in rep["partitions"]}
        assert parts["rootfs"]["verified"] == "ok" and parts["rootfs"]["result"] == "ok"
        with open(board_storage(line["storage"], i, serial) / "mmc0.img", "rb") as f:
            f.seek(0x100000)
            assert f.read(len(rootfs)) == rootfs
    assert any(p["result"] == "ok" for p in results["board-1"]["report"]["partitions"])
    # the files went through ssh (labgrid's cache on the exporter's host), not the local paths
    files = [p["file"] for p in results["board-1"]["report"]["partitions"] if p.get("file")]
    assert files and all(f.startswith("/var/cache/labgrid/") for f in files), files
    copy = next(f for f in files if f.endswith("/rootfs.ext4"))
    assert Path(copy + ".bmap").read_text() == (src / "rootfs.ext4.bmap").read_text()
    print(f"labgrid line: setup {line['setup_s']:.1f} s, parallel flash of 2 boards {flash_s:.1f} s")


def test_a_layout_naming_a_missing_file_is_refused_before_anything_is_synced(line, fsbl_mp15):
    line["bus"].command("power-cycle")  # every board back in its ROM, as a lab's power switch does
    src = Path(tempfile.mkdtemp(dir=line["tmp"], prefix="images-"))
    _folder(src, fsbl_mp15)
    os.unlink(src / "fip.bin")
    before = _cache()
    results = _run_client(line, src / "flash.tsv", src / "tf-a.stm32")
    for name in ("board-1", "board-2"):
        assert results[name]["error"].startswith("LayoutError: "), results
        assert "fip.bin" in results[name]["error"] and f"nothing was copied to {HOST}" in results[name]["error"]
    assert _cache() == before  # nothing was copied to the exporter's host


def test_exporter_host_without_mp1boot(line, fsbl_mp15):
    line["bus"].command("power-cycle")  # every board back in its ROM, as a lab's power switch does
    src = Path(tempfile.mkdtemp(dir=line["tmp"], prefix="images-"))
    _folder(src, fsbl_mp15)
    env_yaml = line["tmp"] / "env.yaml"
    (line["tmp"] / "env-no-tool.yaml").write_text(
        env_yaml.read_text().replace(f"mp1boot: {line['tool']}", "mp1boot: /opt/nowhere/mp1boot"))
    results = _run_client(line, src / "flash.tsv", src / "tf-a.stm32", "env-no-tool.yaml")
    for name in ("board-1", "board-2"):
        err = results[name]["error"]
        assert err.startswith("TransportError: "), results
        assert f"mp1boot cannot run on {HOST}" in err and "pip install mp1boot" in err


def test_the_example_station_under_labgrids_pytest_plugin(line, fsbl_mp15):
    """examples/labgrid/test_flash_line.py, run by pytest with labgrid's plugin (--lg-env) against
    this line: the place is flashed and mp1boot's events show in the pytest log as labgrid steps."""
    line["bus"].command("power-cycle")
    src = Path(tempfile.mkdtemp(dir=line["tmp"], prefix="images-"))
    _folder(src, fsbl_mp15)
    shutil.copy(src / "tf-a.stm32", src / "tf-a-stm32mp157c-dk2-usb.stm32")  # the example's FSBL name
    env_yaml = src / "env.yaml"
    env_yaml.write_text(textwrap.dedent(f"""\
        targets:
          main:
            resources:
              RemotePlace:
                name: lg-board-2
            drivers:
              MP1BootDriver:
                layout: layout
                detect_nfs: false
                timeout: 240
        images:
          layout: {src / 'flash.tsv'}
        tools:
          mp1boot: {line['tool']}
        imports:
          - mp1boot.labgrid
        """))
    example = Path(__file__).resolve().parents[2] / "examples" / "labgrid" / "test_flash_line.py"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(src),
                        "--lg-env", str(env_yaml), "--log-cli-level=INFO", str(example)], cwd=src, env=line["env"],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]
    assert "MP1BootDriver.mp1boot(event='rootfs: " in r.stdout, r.stdout[-3000:]  # labgrid's StepLogger
    assert "MP1BootDriver.mp1boot(event='done: ok')" in r.stdout, r.stdout[-3000:]
    serial = SERIALS[1]
    with open(board_storage(line["storage"], 2, serial) / "mmc0.img", "rb") as f:
        f.seek(0x100000)
        assert f.read(10000) == (src / "rootfs.ext4").read_bytes()


def test_a_board_that_vanishes_mid_flash_brings_the_report_back(line, fsbl_mp15):
    """Last in this module (the boards stay unplugged). The cables are pulled while the rootfs
    is written (16 MiB, slow U-Boot writes): the report comes back with the phase and bytes
    reached."""
    line["bus"].command("power-cycle")  # every board back in its ROM, as a lab's power switch does
    src = Path(tempfile.mkdtemp(dir=line["tmp"], prefix="images-"))
    _folder(src, fsbl_mp15)
    (src / "rootfs.ext4").write_bytes(bytes(range(256)) * 4096 * 16)  # 16 MiB
    procs = _start_clients(line, src / "flash.tsv", src / "tf-a.stm32")
    try:
        for name, p in procs.items():  # each client has shown the rootfs past 10 % (a labgrid step)
            seen = []
            for out in p.stdout:
                seen.append(out)
                if out.startswith("STEP rootfs: ") and not out.startswith("STEP rootfs: 0/"):
                    break
            else:
                raise AssertionError(f"{name} never showed rootfs progress: {''.join(seen)}")
        line["bus"].command("unplug")
    finally:
        results = _results(line, procs)
    for name in ("board-1", "board-2"):
        res = results[name]
        assert res["error"].startswith("FlashFailed: "), res
        rep = res["report"]
        assert rep and rep["result"] != "ok"
        parts = {p["name"]: p for p in rep["partitions"]}
        assert parts["fsbl1"]["result"] == "ok" and parts["rootfs"]["result"] != "ok", rep
        assert res["phase"] == 0x10 and 0 < res["bytes_sent"] < 16 << 20, res
        assert "rootfs" in rep["error"] and "disconnected" in rep["error"], rep["error"]
        print(name, "vanished at phase", hex(res["phase"]), "bytes", res["bytes_sent"], rep.get("error"))
