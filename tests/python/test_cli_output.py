# SPDX-License-Identifier: MIT
"""Output people like: progress with bytes, rate and ETA and an overall part, colour only on a
terminal without NO_COLOR, a summary table, the line rate only where one applies, Ctrl-C on its
own line, readable reprs, JSON numbers, a closed pipe ending quietly."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

import mp1boot
from mp1boot import progress
from mp1boot.cli import main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def report(done, total, partition="rootfs", stage="u-boot", phase=0x10):
    return SimpleNamespace(stage=stage, phase=phase, partition=partition, bytes_done=done, bytes_total=total)


def test_text_bar_shows_bytes_rate_eta_and_the_overall_part(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    bar = progress.TextBar(stream=out, total=4000)
    bar(report(0, 1000, "fsbl1", phase=0x04))
    bar(report(1000, 1000, "fsbl1", phase=0x04))
    bar(report(1500, 3000))
    last = out.getvalue().split("\r")[-1]
    assert "rootfs" in last and " 50.0%" in last
    assert "1.5 kB/3.0 kB" in last and "B/s" in last and "ETA " in last
    assert "| all  62% ETA" in last  # (1000 + 1500) of 4000 bytes
    assert "\x1b[32m" not in out.getvalue()  # NO_COLOR


def test_colour_only_on_a_terminal_and_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        progress.TextBar(stream=stream)(report(500, 1000))
        progress.TextBar(stream=stream)(report(1000, 1000))
    assert "\x1b[32m" in tty.getvalue()
    assert "\x1b[" not in pipe.getvalue() and pipe.getvalue().count("\n") == 1  # only the finished line
    progress.end_line()


def test_interrupt_message_starts_its_own_line(monkeypatch, tmp_path, fsbl_mp15):
    from test_flash import _folder
    _folder(tmp_path, fsbl_mp15)
    monkeypatch.setenv("NO_COLOR", "1")
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)

    def interrupted_flash(layout, *, progress=None, **kw):
        progress(report(4096, 10000))
        raise KeyboardInterrupt

    monkeypatch.setattr(mp1boot, "flash", interrupted_flash)
    assert main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--port", "sim:stm32mp157"]) == 130
    text = err.getvalue()
    assert "\nmp1boot: interrupted\n" in text
    assert "ETA" in text.split("\n")[-3]  # the bar's line, ended before the message


def test_flash_prints_a_summary_table(tmp_path, fsbl_mp15, capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    from test_flash import _folder
    _folder(tmp_path, fsbl_mp15)
    assert main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--port", "sim:stm32mp157",
                 "--verify"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "partition" in line and "result" in line)
    rows = lines[header + 1:]
    assert any(r.split()[:2] == ["0x01", "fsbl-boot"] and "ram" in r and r.endswith("ok") for r in rows), out
    assert any(r.split()[:2] == ["0x10", "rootfs"] and r.endswith("ok, verified") for r in rows), out
    assert any(r.strip().startswith("total sent") for r in rows), out


def test_line_rate_only_where_a_line_rate_applies(uart_sim, fsbl_mp13, tmp_path, capsys):
    image = tmp_path / "tf-a.stm32"
    image.write_bytes(fsbl_mp13)
    # A pseudo-terminal without line timing is faster than any 115200 line: no percentage.
    sim = uart_sim("stm32mp135")
    assert main(["boot", str(image), "--port", f"serial:{sim.path}", "-q"]) == 0
    out = capsys.readouterr().out
    assert "FSBL started" in out and "line rate" not in out


def test_result_types_have_readable_reprs(fsbl_mp15):
    r = mp1boot.connect("sim:stm32mp157").boot(fsbl_mp15)
    assert repr(r).startswith("<BootResult <bytes> phase 0x01 on STM32MP15x: 8448 bytes in ")
    assert repr(r.transfer).startswith("<TransferStats 8448 bytes in ") and "kB/s" in repr(r.transfer)
    assert repr(mp1boot.connect("sim:stm32mp157").get_phase()).startswith("<PhaseInfo 0x01 (FSBL)")


def test_json_ids_and_addresses_are_numbers(tmp_path, fsbl_mp15, capsys):
    """docs: JSON carries numbers for ids, phases and addresses; hex only in human output."""
    def no_hex_strings(obj, where=""):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k != "offset":  # the layout's Offset column, verbatim
                    no_hex_strings(v, f"{where}.{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                no_hex_strings(v, f"{where}[{i}]")
        else:
            assert not (isinstance(obj, str) and obj.startswith("0x")), f"{where} = {obj!r}"

    assert main(["info", "--port", "sim:stm32mp157?link=usb", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["device_id"] == info["usb"]["device_id"] == 0x500
    no_hex_strings(info)
    (tmp_path / "tf-a.stm32").write_bytes(fsbl_mp15)
    assert main(["image", "info", str(tmp_path / "tf-a.stm32"), "--json"]) == 0
    no_hex_strings(json.loads(capsys.readouterr().out))
    from test_flash import _folder
    _folder(tmp_path, fsbl_mp15)
    assert main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--port", "sim:stm32mp157",
                 "--json"]) == 0
    done = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert done["report"]["device_id"] == 0x500
    no_hex_strings(done)


def test_closed_pipe_ends_quietly(tmp_path):
    payload = bytes((i * 7) & 0xFF for i in range(200 * 1024))
    image = tmp_path / "big.stm32"
    image.write_bytes(mp1boot.image_wrap(payload, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500))
    proc = subprocess.Popen([sys.executable, "-m", "mp1boot", "boot", str(image), "--json",
                             "--port", "sim:stm32mp157?link=usb&realtime=1&block_us=5000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # like `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert json.loads(first)["event"] == "progress"
    assert proc.wait(timeout=60) == 141, err
    assert err == ""
