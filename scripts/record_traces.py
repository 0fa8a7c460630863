#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Records the field traces of tests/data/traces from the simulated boards, one per stage and link,
with small input files (tests/data/traces/inputs). The suite replays each (tests/python/test_traces.py).

    PYTHONPATH=build/python python3 scripts/record_traces.py [FOLDER]

Run it again when the host's exchange changes on purpose (a new request, another timeout): the
replays then fail, naming the first step that differs, until the traces are recorded anew.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import mp1boot
from mp1boot.cli import main

LAYOUT_MP15 = ("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
               "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a-mp15.stm32\n"
               "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
               "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a-mp15.stm32\n"
               "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00084400\trootfs.ext4\n")
LAYOUT_MP13 = LAYOUT_MP15.replace("tf-a-mp15", "tf-a-mp13")

# name: (command, port). Every stage of both links: the ROM (boot), TF-A and U-Boot (flash).
TRACES = {
    "uart-mp13-rom-boot": (["boot", "tf-a-mp13.stm32", "-q"], "sim:stm32mp135"),
    "uart-mp15-info": (["info", "--json"], "sim:stm32mp157"),
    "uart-mp15-flash": (["flash", "FlashLayout-mp15.tsv", "-q"], "sim:stm32mp157"),
    "uart-mp15-flash-verify": (["flash", "FlashLayout-mp15.tsv", "-q", "--verify", "--trace-data"], "sim:stm32mp157"),
    "usb-mp13-rom-boot": (["boot", "tf-a-mp13.stm32", "-q"], "sim:stm32mp135?link=usb"),
    "usb-mp13-flash": (["flash", "FlashLayout-mp13.tsv", "-q"], "sim:stm32mp135?link=usb"),
    "usb-mp15-flash": (["flash", "FlashLayout-mp15.tsv", "-q"], "sim:stm32mp157?link=usb"),
    "usb-mp15-flash-verify": (["flash", "FlashLayout-mp15.tsv", "-q", "--verify", "--trace-data"],
                              "sim:stm32mp157?link=usb"),
    # Faults as the field sees them: a lost GETSTATUS reply recovered, a stalled request that ends
    # the run in a typed error (the replay must end with the same exit status).
    "usb-mp15-flash-lost-status": (["flash", "FlashLayout-mp15.tsv", "-q"], "sim:stm32mp157?link=usb&lose_status=30"),
    "usb-mp15-flash-stall": (["flash", "FlashLayout-mp15.tsv", "-q"], "sim:stm32mp157?link=usb&stall_transfer=60"),
}


def _pattern(size: int, seed: int) -> bytes:
    return bytes((i * seed + 11) & 0xFF for i in range(size))


def write_inputs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fip = bytearray(_pattern(4096, 3))
    fip[0:8] = bytes.fromhex("010064aa78563412")  # the FIP ToC header TF-A checks
    files = {
        "tf-a-mp13.stm32": mp1boot.image_wrap(_pattern(2048, 37), soc="stm32mp135", load=0x2FFE0000,
                                              entry=0x2FFE0000),
        "tf-a-mp15.stm32": mp1boot.image_wrap(_pattern(2048, 7), soc="stm32mp157", load=0x2FFC2500,
                                              entry=0x2FFC2500),
        "fip.bin": bytes(fip),
        "rootfs.ext4": _pattern(6000, 13),
        "FlashLayout-mp15.tsv": LAYOUT_MP15.encode(),
        "FlashLayout-mp13.tsv": LAYOUT_MP13.encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)


def record(folder: Path) -> None:
    inputs = folder / "inputs"
    write_inputs(inputs)
    before = Path.cwd()
    os.chdir(inputs)
    try:
        for name, (argv, port) in TRACES.items():
            trace = folder / f"{name}.jsonl"
            with contextlib.redirect_stdout(open(os.devnull, "w")):
                code = main(argv + ["--port", port, "--trace", str(trace)])
            print(f"{trace.name}: exit {code}, {trace.stat().st_size} bytes")
    finally:
        os.chdir(before)


if __name__ == "__main__":
    record(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "tests/data/traces")
