# SPDX-License-Identifier: MIT
"""The command-line tool, through main(argv) and as a process (mp1boot sim)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import mp1boot
from mp1boot.cli import main


def test_info_human(capsys):
    assert main(["info", "--port", "sim:stm32mp135"]) == 0
    out = capsys.readouterr().out
    assert "0x501 (STM32MP13x)" in out
    assert "0x01 (FSBL), address 0x2ffdfe00" in out


def test_info_json_and_trace(capsys):
    assert main(["info", "--port", "sim:stm32mp157", "--json", "--trace"]) == 0
    cap = capsys.readouterr()
    d = json.loads(cap.out)
    assert d["device_id"] == 0x500 and d["phase"] == 0x01 and d["address"] == 0x2FFC2400
    assert "> 03 fc" in cap.err


def test_boot_file(tmp_path, fsbl_mp13, capsys):
    f = tmp_path / "tf-a.stm32"
    f.write_bytes(fsbl_mp13)
    assert main(["boot", str(f), "--port", "sim:stm32mp135", "--quiet"]) == 0
    assert "FSBL started" in capsys.readouterr().out


def test_boot_json_events(tmp_path, fsbl_mp13, capsys):
    f = tmp_path / "tf-a.stm32"
    f.write_bytes(fsbl_mp13)
    assert main(["boot", str(f), "--port", "sim:stm32mp135", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["event"] == "progress" and events[0]["bytes_done"] == 0
    assert events[-1]["event"] == "done" and events[-1]["bytes"] == len(fsbl_mp13)


@pytest.mark.parametrize("argv,code,needle", [
    (["boot", "/nonexistent/tf-a.stm32", "--port", "sim:stm32mp135"], 3, "/nonexistent/tf-a.stm32"),
    (["info", "--port", "serial:/dev/ttyNOPE0"], 4, "/dev/ttyNOPE0"),
    (["info", "--port", "nope:x"], 2, "accepted ports"),
], ids=["missing-file", "missing-port", "bad-url"])
def test_errors_have_stable_exit_codes(argv, code, needle, capsys):
    assert main(argv) == code
    assert needle in capsys.readouterr().err


def test_error_as_json(capsys):
    assert main(["boot", "/nonexistent.stm32", "--port", "sim:stm32mp135", "--json"]) == 3
    d = json.loads(capsys.readouterr().out)
    assert d["event"] == "error" and d["code"] == "file_not_found" and d["type"] == "LayoutError"


def test_image_wrap_and_info(tmp_path, capsys):
    raw = tmp_path / "blink.bin"
    raw.write_bytes(bytes(range(100)))
    out = tmp_path / "blink.stm32"
    assert main(["image", "wrap", "--soc", "stm32mp135", "--load", "0x2FFE0000", "--entry", "0x2FFE0000",
                 str(raw), str(out)]) == 0
    assert out.stat().st_size == 612
    capsys.readouterr()
    assert main(["image", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "0x2ffe0000" in text.lower() and "ok" in text.lower()
    assert main(["image", "info", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["checksum_ok"] is True and d["image_length"] == 100


def test_image_info_reports_a_bad_checksum(tmp_path, fsbl_mp15, capsys):
    bad = bytearray(fsbl_mp15)
    bad[-1] ^= 0x55
    f = tmp_path / "bad.stm32"
    f.write_bytes(bytes(bad))
    assert main(["image", "info", str(f)]) == 3
    assert "MISMATCH" in capsys.readouterr().out.upper()


def test_wrap_is_byte_identical_to_mkimage(tmp_path):
    mkimage = shutil.which("mkimage")
    assert mkimage, "u-boot-tools is installed by the bootstrap"
    raw = tmp_path / "u-boot.bin"
    raw.write_bytes(bytes((i * 31) & 0xFF for i in range(5001)))
    ours, theirs = tmp_path / "ours.stm32", tmp_path / "theirs.stm32"
    assert main(["image", "wrap", "--soc", "stm32mp157", "--load", "0xC0100000", "--entry", "0xC0100000",
                 "--binary-type", "0x00", str(raw), str(ours)]) == 0
    subprocess.run([mkimage, "-T", "stm32image", "-a", "0xC0100000", "-e", "0xC0100000", "-d", str(raw), str(theirs)],
                   check=True, capture_output=True)
    assert ours.read_bytes() == theirs.read_bytes()


def test_sim_uart_process_serves_until_sigterm(tmp_path, fsbl_mp13):
    record = tmp_path / "rec"
    env = dict(os.environ)
    with subprocess.Popen([sys.executable, "-m", "mp1boot", "sim", "--soc", "stm32mp135", "--uart",
                           "--record", str(record)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as proc:
        try:
            first = proc.stdout.readline().strip()
            assert first.startswith("uart: /dev/pts/"), first
            path = first.split(": ", 1)[1]
            dev = mp1boot.connect(f"serial:{path}")
            dev.boot(fsbl_mp13)
            del dev
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert (record / "phase-0x01.bin").read_bytes() == fsbl_mp13
    log = json.loads((record / "exchange.json").read_text())
    assert log, "the exchange log is not empty"


def test_python_dash_m_help():
    r = subprocess.run([sys.executable, "-m", "mp1boot", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for verb in ("info", "boot", "image", "sim"):
        assert verb in r.stdout


def test_cli_package_uses_only_the_public_api():
    """The CLI translates and never reaches into the extension: no module of mp1boot.cli names _core."""
    import mp1boot.cli
    folder = Path(mp1boot.cli.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) > 5
    offenders = [m.name for m in modules if "_core" in m.read_text()]
    assert offenders == []
