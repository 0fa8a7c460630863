# SPDX-License-Identifier: MIT
"""Memory does not grow with the image: a child process flashes a layout whose rootfs is a 2 GiB
sparse file, every byte of it sent over USB DFU to the in-process simulated board (host and board
in one process), and its peak resident memory, as the kernel counts it (VmHWM, and the parent's
RUSAGE_CHILDREN maximum), stays at most 64 MiB, the read-back verify of those 2 GiB included."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap

from test_flash import _folder

LIMIT_KIB = 64 * 1024
ROOTFS = 2 << 30

CHILD = textwrap.dedent("""
    import sys
    import mp1boot
    layout, storage = sys.argv[1], sys.argv[2]
    report = mp1boot.flash(layout, port=f"sim:stm32mp157?link=usb&storage={storage}",
                           defines={"FSBL": "tf-a.stm32"}, verify=True)
    rootfs = next(p for p in report["partitions"] if p["name"] == "rootfs")
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(report["result"], rootfs["bytes_sent"], rootfs["verified"], int(hwm.split()[1]))
""")


def test_peak_rss_of_a_2gib_flash_is_bounded(tmp_path, fsbl_mp15):
    _, storage = _folder(tmp_path, fsbl_mp15)
    rootfs = tmp_path / "rootfs.ext4"
    with open(rootfs, "r+b") as f:  # sparse: 2 GiB with data at both ends
        f.truncate(ROOTFS)
        f.seek(ROOTFS - 4096)
        f.write(b"\x5a" * 4096)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "flash.tsv"), str(storage)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stderr
    result, sent, verified, hwm_kib = proc.stdout.split()
    assert result == "ok" and int(sent) == ROOTFS and verified == "ok"
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak RSS of the flashing process: {int(hwm_kib)} KiB (children max {children_kib} KiB)")
    assert int(hwm_kib) <= LIMIT_KIB, f"peak RSS {hwm_kib} KiB > 64 MiB"
    with open(storage / "mmc0.img", "rb") as f:
        f.seek(0x100000 + ROOTFS - 4096)
        assert f.read(4096) == b"\x5a" * 4096
