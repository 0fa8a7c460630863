# SPDX-License-Identifier: MIT
"""Builds the SD-card flash layout of `make demo` in a folder: TF-A (serial-boot copy and the two
fsbl copies), a FIP, a boot filesystem and a root filesystem (real ext4 images made with mke2fs
when it is available, else patterned bytes, each with its block map from bmaptool when that is
available), and FlashLayout.tsv in ST's format.

    python examples/python/sdcard_layout.py DIR
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import mp1boot

LAYOUT = """#Opt\tId\tName\tType\tIP\tOffset\tBinary
-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a-stm32mp157c-dk2-usb.stm32
-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip-stm32mp157c-dk2-optee.bin
P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a-stm32mp157c-dk2-sdcard.stm32
P\t0x05\tfsbl2\tBinary\tmmc0\t0x00044400\ttf-a-stm32mp157c-dk2-sdcard.stm32
P\t0x10\tfip-a\tFIP\tmmc0\t0x00084400\tfip-stm32mp157c-dk2-optee.bin
PE\t0x11\tu-boot-env\tENV\tmmc0\t0x00484400\tnone
P\t0x21\tbootfs\tSystem\tmmc0\t0x004C4400\tst-image-bootfs.ext4
P\t0x22\trootfs\tFileSystem\tmmc0\t0x024C4400\tst-image-rootfs.ext4
"""


def _ext4(path: str, size_kib: int, label: str, files: dict) -> None:
    """A real ext4 image holding `files`, or patterned bytes when mke2fs is missing."""
    mke2fs = shutil.which("mke2fs") or ("/usr/sbin/mke2fs" if os.path.exists("/usr/sbin/mke2fs") else None)
    if mke2fs:
        src = path + ".d"
        os.makedirs(src, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(src, name), "w") as f:
                f.write(text)
        r = subprocess.run([mke2fs, "-q", "-F", "-t", "ext4", "-L", label, "-d", src, path, f"{size_kib}k"],
                           capture_output=True)
        shutil.rmtree(src)
        if r.returncode == 0:
            # Its block map, as Yocto's "wic.bmap" / `bmaptool create` make it: only the mapped
            # ranges go over USB.
            bmaptool = shutil.which("bmaptool")
            if bmaptool:
                subprocess.run([bmaptool, "create", path, "-o", path + ".bmap"], capture_output=True, check=True)
            return
    with open(path, "wb") as f:
        f.write(bytes((i * 13 + len(label)) & 0xFF for i in range(size_kib * 1024)))


def make(folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    code = bytes((i * 7 + 3) & 0xFF for i in range(120 * 1024))
    tfa = mp1boot.image_wrap(code, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500)
    for name in ("tf-a-stm32mp157c-dk2-usb.stm32", "tf-a-stm32mp157c-dk2-sdcard.stm32"):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(tfa)
    with open(os.path.join(folder, "fip-stm32mp157c-dk2-optee.bin"), "wb") as f:
        f.write(bytes.fromhex("010064aa78563412") + bytes((i * 3) & 0xFF for i in range(1024 * 1024 - 8)))
    _ext4(os.path.join(folder, "st-image-bootfs.ext4"), 1024, "bootfs",
          {"extlinux.conf": "label demo\n  kernel /uImage\n  fdt /stm32mp157c-dk2.dtb\n"})
    _ext4(os.path.join(folder, "st-image-rootfs.ext4"), 32 * 1024, "rootfs",
          {"os-release": 'NAME="mp1boot demo"\n', "hostname": "stm32mp1\n"})
    tsv = os.path.join(folder, "FlashLayout_sdcard_stm32mp157c-dk2-optee.tsv")
    with open(tsv, "w") as f:
        f.write(LAYOUT)
    return tsv


if __name__ == "__main__":
    print(make(sys.argv[1]))
