# SPDX-License-Identifier: MIT
"""Board identity is the USB port path: two simulated boards with the same serial number on one
emulated bus (mp1boot-usbsim, umockdev, real libusb) flashed in parallel by flash_many, each
followed by its port across the ROM -> TF-A -> U-Boot re-enumerations, with a separate report
and separate storage (named by port)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

from test_flash import _folder

SERIAL = "000000000000000000000000"  # what some boot ROMs report: every board the same


def test_two_boards_with_the_same_serial_flashed_in_parallel(tmp_path, fsbl_mp15):
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    usbsim = shutil.which("mp1boot-usbsim")
    assert usbsim, "mp1boot-usbsim is built into build/cpp (on PATH under make test)"
    script = textwrap.dedent(f"""
        import json, mp1boot
        boards = [d for d in mp1boot.list_devices()]
        assert sorted(d["port_path"] for d in boards) == ["1-1", "1-2"], boards
        assert {{d["serial"] for d in boards}} == {{{SERIAL!r}}}, boards
        r = mp1boot.flash_many({str(tmp_path / "flash.tsv")!r}, ports=["usb:1-1", "usb:1-2"],
                               defines={{"FSBL": "tf-a.stm32"}}, verify=True)
        print(json.dumps(r))
    """)
    argv = [usbsim, "--soc", "stm32mp157", "--serial", SERIAL, "--serial", SERIAL, "--storage", str(storage),
            "--", sys.executable, "-c", script]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    assert result["result"] == "ok", {k: b["error"] for k, b in result["boards"].items()}
    assert sorted(result["boards"]) == ["usb:1-1", "usb:1-2"]
    for key, board in result["boards"].items():
        port = key.removeprefix("usb:")
        assert board["port_path"] == port and board["board"] == key and board["port"] == key
        assert board["serial"] == SERIAL
        assert {p["name"]: p["verified"] for p in board["partitions"]}["rootfs"] == "ok"
        with open(storage / port / "mmc0.img", "rb") as f:  # each board's own storage, named by port
            f.seek(0x100000)
            assert f.read(len(rootfs)) == rootfs
    assert not (storage / SERIAL).exists()
