# SPDX-License-Identifier: MIT
"""The flash-layout runner through the binding: a full flash of a small layout on the simulated
STM32MP157 (ROM -> TF-A -> U-Boot over UART), the report it returns, and a layout error that stops
the run before anything is sent."""
from __future__ import annotations

import hashlib

import pytest

import mp1boot
from mp1boot import _core

LAYOUT = ("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
          "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\t%FSBL%\n"
          "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
          "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\t%FSBL%\n"
          "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n")


def _fip(size=4096):
    fip = bytearray((i * 3) & 0xFF for i in range(size))
    fip[0:8] = bytes.fromhex("010064aa78563412")  # FIP ToC header, serial number != 0
    return bytes(fip)


def _folder(tmp_path, fsbl, layout=LAYOUT):
    (tmp_path / "tf-a.stm32").write_bytes(fsbl)
    (tmp_path / "fip.bin").write_bytes(_fip())
    rootfs = bytes((i * 11) & 0xFF for i in range(10000))
    (tmp_path / "rootfs.ext4").write_bytes(rootfs)
    (tmp_path / "flash.tsv").write_text(layout)
    storage = tmp_path / "storage"
    storage.mkdir()
    return rootfs, storage


def test_flash_small_layout_returns_the_report(tmp_path, fsbl_mp15):
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    names = []
    report = _core.flash(str(tmp_path / "flash.tsv"), f"sim:stm32mp157?storage={storage}",
                         {"FSBL": "tf-a.stm32"}, progress=lambda p: names.append(p.partition))
    assert report["result"] == "ok", report
    assert report["error"] == ""
    assert report["tool_version"] == mp1boot._core.__version__
    assert report["transport"].startswith("sim:")
    assert report["soc"] == "STM32MP15x"
    assert report["device_id"] == 0x500
    parts = report["partitions"]
    assert [p["phase"] for p in parts] == [0x01, 0x03, 0x00, 0x04, 0x10]
    assert all(p["result"] == "ok" for p in parts)
    rfs = parts[-1]
    assert (rfs["name"], rfs["ip"], rfs["offset"], rfs["size"]) == ("rootfs", "mmc0", "0x00100000", 10000)
    assert rfs["sha256"] == hashlib.sha256(rootfs).hexdigest()
    for key in ("seconds", "bytes_per_second", "layout_line", "file"):
        assert key in rfs
    assert {"fsbl-boot", "fip-boot", "FlashLayout", "fsbl1", "rootfs"} <= set(names)
    with open(storage / "mmc0.img", "rb") as f:
        mmc0 = f.read(0x100000 + len(rootfs))
    assert mmc0[0x4400:0x4400 + len(fsbl_mp15)] == fsbl_mp15
    assert mmc0[0x100000:] == rootfs


def test_flash_layout_error_names_the_line(tmp_path, fsbl_mp15):
    _, storage = _folder(tmp_path, fsbl_mp15)
    with pytest.raises(mp1boot.LayoutError) as info:  # %FSBL% has no value
        _core.flash(str(tmp_path / "flash.tsv"), f"sim:stm32mp157?storage={storage}", {})
    assert "flash.tsv:2" in str(info.value)


def test_cli_flash_writes_the_report_and_streams_json(tmp_path, fsbl_mp15, capsys):
    import json
    from mp1boot.cli import main
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    report_file = tmp_path / "r.json"
    assert main(["flash", str(tmp_path / "flash.tsv"), "--port", f"sim:stm32mp157?storage={storage}",
                 "-D", "FSBL=tf-a.stm32", "--report", str(report_file), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["report"]["result"] == "ok"
    assert any(e["event"] == "progress" and e["partition"] == "rootfs" for e in events)
    saved = json.loads(report_file.read_text())
    assert saved["partitions"][-1]["sha256"] == hashlib.sha256(rootfs).hexdigest()


def test_cli_flash_layout_error_exit_code(tmp_path, fsbl_mp15, capsys):
    from mp1boot.cli import main
    _folder(tmp_path, fsbl_mp15, LAYOUT.replace("P\t0x10\trootfs", "P\t0x04\trootfs"))
    assert main(["flash", str(tmp_path / "flash.tsv"), "--port", "sim:stm32mp157", "-D", "FSBL=tf-a.stm32"]) == 3
    assert "flash.tsv:" in capsys.readouterr().err


def test_boot_layout_loads_only_the_dash_lines(tmp_path, fsbl_mp15, capsys):
    from mp1boot.cli import main
    _folder(tmp_path, fsbl_mp15)
    storage = tmp_path / "storage"
    assert main(["boot", str(tmp_path / "flash.tsv"), "--port", f"sim:stm32mp157?storage={storage}",
                 "-D", "FSBL=tf-a.stm32", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "0x01 fsbl-boot, 0x03 fip-boot loaded; nothing programmed" in out, out
    assert not (storage / "mmc0.img").exists() or (storage / "mmc0.img").stat().st_blocks == 0


def test_layout_plan_over_uart(tmp_path, fsbl_mp15, capsys):
    import json
    from mp1boot.cli import main
    _folder(tmp_path, fsbl_mp15)
    assert main(["layout", "plan", str(tmp_path / "flash.tsv"), "--port", "sim:stm32mp157", "-D", "FSBL=tf-a.stm32",
                 "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [s["phase"] for s in plan["steps"]] == [0x01, 0x03, 0x00, 0x04, 0x10]
    assert plan["steps"][-1]["bytes"] == 10000 and plan["link"] == "uart"
    # UART at 115200: about 8.9 kB/s of payload.
    assert 0.9 < plan["steps"][-1]["eta_seconds"] < 1.3


def test_pytest_plugin_flashes_once_per_session(tmp_path, fsbl_mp15):
    import subprocess
    import sys
    _folder(tmp_path, fsbl_mp15)
    test = tmp_path / "test_inner.py"
    test.write_text("def test_a(mp1_flashed):\n    assert mp1_flashed['result'] == 'ok'\n"
                    "def test_b(mp1_flashed):\n    assert mp1_flashed['partitions'][-1]['name'] == 'rootfs'\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", str(test),  # plugin: the pytest11 entry point
                        "--mp1-sim", "sim:stm32mp157", "--mp1-layout", str(tmp_path / "flash.tsv"),
                        "--mp1-define", "FSBL=tf-a.stm32", "-p", "no:cacheprovider"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
