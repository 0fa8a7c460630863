# SPDX-License-Identifier: MIT
"""bench/dfu_throughput: USB DFU download throughput against the device-bound limit, and mp1boot
against dfu-util on the same emulated USB device.

Part 1, in process: the simulated STM32MP157 over USB (sim:stm32mp157?link=usb) in real time,
with a modelled device time per DNLOAD block (--block-us) and the ROM's bwPollTimeout (1 ms).
Boot a 240 KiB FSBL (the MP15 ROM takes at most 247 KiB), then download 16 MiB to
TF-A (phase 0x03). The device-bound limit is what the device itself needs: per block, its busy
time plus the bwPollTimeout the host must wait (DFU 1.1). Target: >= 0.98 of that limit.

Part 2, over umockdev: `dfu-util -a 3 -D` and mp1boot download the same 16 MiB to TF-A's FIP alt
of the same simulated board served by mp1boot-usbsim; the ratio of their times is reported.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import mp1boot
from benchlib import MachineLoad, set_timer_slack_1ns

ROM_POLL_MS = 1.0


def in_process(block_us: int, fip_size: int) -> dict:
    payload = bytes((i * 7) & 0xFF for i in range(240 * 1024))
    fsbl = mp1boot.image_wrap(payload, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500)
    fip = bytearray((i * 13) & 0xFF for i in range(fip_size))
    fip[0:8] = bytes.fromhex("0100 64aa 7856 3412".replace(" ", ""))  # FIP ToC header, serial != 0
    dev = mp1boot.connect(f"sim:stm32mp157?link=usb&realtime=1&block_us={block_us}")
    t0 = time.perf_counter()
    dev.boot(fsbl)
    t_fsbl = time.perf_counter() - t0
    blocks_fsbl = (len(fsbl) + 1023) // 1024
    limit_fsbl = blocks_fsbl * (block_us / 1e6 + ROM_POLL_MS / 1e3)
    t0, c0 = time.perf_counter(), time.process_time()
    dev.download(bytes(fip), phase=3, name="fip")
    t_fip, c_fip = time.perf_counter() - t0, time.process_time() - c0
    blocks_fip = (len(fip) + 1023) // 1024
    limit_fip = blocks_fip * (block_us / 1e6)  # TF-A reports bwPollTimeout 0
    return {
        "fsbl_bytes": len(fsbl), "fsbl_seconds": round(t_fsbl, 3),
        "fsbl_fraction_of_device_bound": round(limit_fsbl / t_fsbl, 4),
        "fip_bytes": len(fip), "fip_seconds": round(t_fip, 3),
        "fip_bytes_per_s": round(len(fip) / t_fip),
        "fip_fraction_of_device_bound": round(limit_fip / t_fip, 4),
        "cpu_s_per_gib": round(c_fip / (len(fip) / 2**30), 2),
    }


def over_umockdev(fip_size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        fsbl_payload = bytes(4096)
        fsbl = mp1boot.image_wrap(fsbl_payload, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500)
        fip = bytearray((i * 13) & 0xFF for i in range(fip_size))
        fip[0:8] = bytes.fromhex("010064aa78563412")
        fsbl_path, fip_path = os.path.join(tmp, "fsbl.stm32"), os.path.join(tmp, "fip.bin")
        open(fsbl_path, "wb").write(fsbl)
        open(fip_path, "wb").write(bytes(fip))
        script = textwrap.dedent(f"""
            import subprocess, sys, time, mp1boot
            dev = mp1boot.connect("usb")
            dev.boot({fsbl_path!r})
            fip = open({fip_path!r}, "rb").read()
            t0 = time.perf_counter(); dev.download(fip, phase=3, name="fip"); t1 = time.perf_counter()
            print("mp1boot", t1 - t0)
        """)
        sim = [sys.executable, "-m", "mp1boot", "sim", "--soc", "stm32mp157", "--usb", "--"]
        r = subprocess.run(sim + [sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        t_ours = float(r.stdout.split()[-1])
        # dfu-util: FSBL to alt 1 (MP15 ROM hands over at manifestation), then the FIP to alt 3.
        shell = (f"dfu-util -a 1 -D {fsbl_path} >/dev/null 2>&1; s=$(date +%s.%N); "
                 f"dfu-util -a 3 -D {fip_path} >/dev/null 2>&1; rc=$?; e=$(date +%s.%N); "
                 f"echo $rc $(echo \"$e - $s\" | bc)")
        r = subprocess.run(sim + ["sh", "-c", shell], capture_output=True, text=True, timeout=600)
        rc, t_dfu = r.stdout.split()[-2:]
        return {"mp1boot_seconds": round(t_ours, 3), "dfu_util_seconds": round(float(t_dfu), 3),
                "dfu_util_rc": int(rc), "dfu_util_over_mp1boot_time": round(float(t_dfu) / t_ours, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--block-us", type=int, default=1500,
                    help="device time per 1024-byte block (1500 us ~ the 0.64 MB/s of TF-A into DDR in FIELD.md)")
    ap.add_argument("--fip-size", type=int, default=16 * 1024 * 1024)
    ap.add_argument("--skip-umockdev", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    set_timer_slack_1ns()
    load = MachineLoad()
    res = {"block_us": args.block_us, "in_process": in_process(args.block_us, args.fip_size)}
    ip = res["in_process"]
    res["machine_load"] = load.report()
    print(f"in process, {args.block_us} us device time per 1024-byte block")
    print(f"  FSBL {ip['fsbl_bytes']} B in {ip['fsbl_seconds']} s = {ip['fsbl_fraction_of_device_bound']:.4f} of the device bound (ROM bwPollTimeout 1 ms)")
    print(f"  FIP  {ip['fip_bytes']} B in {ip['fip_seconds']} s ({ip['fip_bytes_per_s'] / 1e6:.2f} MB/s) = "
          f"{ip['fip_fraction_of_device_bound']:.4f} of the device bound (target >= 0.98)")
    print(f"  host CPU {ip['cpu_s_per_gib']} s per GiB; {MachineLoad.describe(res['machine_load'])}")
    if not args.skip_umockdev:
        res["umockdev"] = over_umockdev(args.fip_size)
        u = res["umockdev"]
        print(f"over umockdev, {args.fip_size} B to TF-A's FIP alt")
        print(f"  mp1boot  {u['mp1boot_seconds']} s; dfu-util {u['dfu_util_seconds']} s (exit {u['dfu_util_rc']})"
              f" -> dfu-util / mp1boot time = {u['dfu_util_over_mp1boot_time']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
