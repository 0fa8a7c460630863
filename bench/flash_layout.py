# SPDX-License-Identifier: MIT
"""bench/flash_layout: a full 64 MiB flash layout on the in-process simulated STM32MP157 over USB,
against the device-bound limit, and the aggregate of 1, 4, 8 and 16 boards flashed in parallel by
the C++ core's flash_many (one thread per board), with the host CPU time each board costs.

Each board is `sim:stm32mp157?link=usb&realtime=1` with modelled device time: --block-us per
1024-byte block in the ROM and TF-A (1500 us ~ the 0.64 MB/s of TF-A into DDR, FIELD.md) and
--uboot-block-us per 4096-byte block in U-Boot stm32prog (2000 us ~ the 2 MB/s STM32CubeProgrammer
reaches for a whole SD image, FIELD.md). The device-bound limit is the time the device itself
needs: every block's device time, the ROM's 1 ms bwPollTimeout per block, and the simulator's
re-enumeration delays (TF-A -> U-Boot, U-Boot layout -> partitions). Targets: one board >= 0.95 of
that limit; N boards in parallel >= 0.95 of N times one board's throughput (linear) at 16 boards.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import mp1boot
from benchlib import MachineLoad, set_timer_slack_1ns

ROM_POLL_S = 0.001
REENUMERATIONS = 2        # TF-A -> U-Boot gadget, U-Boot layout -> partition gadget (MP15 ROM -> TF-A: none)
REENUMERATE_DELAY_S = 0.010


def make_layout(folder: str, total_mib: int) -> tuple[str, dict]:
    """FSBL, FIP and a layout whose programmed partitions sum to `total_mib` MiB."""
    fsbl = mp1boot.image_wrap(bytes((i * 7) & 0xFF for i in range(240 * 1024)), soc="stm32mp157",
                              load=0x2FFC2500, entry=0x2FFC2500)
    fip = bytearray((i * 13) & 0xFF for i in range(2 * 1024 * 1024))
    fip[0:8] = bytes.fromhex("010064aa78563412")
    rest = total_mib * 1024 * 1024 - 2 * len(fsbl) - len(fip)
    if rest < 1024 * 1024:
        raise SystemExit("bench/flash_layout: --size-mib must be at least 4 (the FIP alone is 2 MiB)")
    bootfs = min(8 * 1024 * 1024, rest // 4)
    rootfs = rest - bootfs
    files = {"tf-a.stm32": fsbl, "fip.bin": bytes(fip),
             "bootfs.ext4": bytes((i * 5 + 1) & 0xFF for i in range(bootfs)),
             "rootfs.ext4": os.urandom(rootfs)}
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    layout = ("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
              "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
              "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
              "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
              "P\t0x05\tfsbl2\tBinary\tmmc0\t0x00044400\ttf-a.stm32\n"
              "P\t0x10\tfip-a\tFIP\tmmc0\t0x00084400\tfip.bin\n"
              "P\t0x21\tbootfs\tSystem\tmmc0\t0x00484400\tbootfs.ext4\n"
              "P\t0x22\trootfs\tFileSystem\tmmc0\t0x00C84400\trootfs.ext4\n")
    tsv = os.path.join(folder, "FlashLayout.tsv")
    with open(tsv, "w") as f:
        f.write(layout)
    sizes = {"fsbl": len(fsbl), "fip": len(fip), "layout": len(layout),
             "partitions": [len(fsbl), len(fsbl), len(fip), bootfs, rootfs]}
    return tsv, sizes


def device_bound(sizes: dict, block_us: int, uboot_block_us: int) -> float:
    blocks = lambda n, b: (n + b - 1) // b  # noqa: E731
    t = blocks(sizes["fsbl"], 1024) * (block_us / 1e6 + ROM_POLL_S)
    t += blocks(sizes["fip"], 1024) * block_us / 1e6
    t += sum(blocks(n, 4096) for n in [sizes["layout"], *sizes["partitions"]]) * uboot_block_us / 1e6
    return t + REENUMERATIONS * REENUMERATE_DELAY_S


def run(tsv: str, boards: int, block_us: int, uboot_block_us: int) -> tuple[float, float, dict]:
    ports = [f"sim:stm32mp157?link=usb&realtime=1&block_us={block_us}&uboot_block_us={uboot_block_us}"
             f"&serial=0028004232325115383{i:05d}" for i in range(boards)]
    t0, c0 = time.perf_counter(), time.process_time()
    if boards == 1:
        report = mp1boot.flash(tsv, port=ports[0])
        result = {"result": report["result"], "boards": {report["serial"]: report}}
    else:
        result = mp1boot.flash_many(tsv, ports=ports)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0  # CPU: every thread of the process
    if result["result"] != "ok":
        raise RuntimeError(json.dumps({k: r.get("error") for k, r in result["boards"].items()}))
    return seconds, cpu, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=64, help="programmed bytes of the layout, MiB")
    ap.add_argument("--block-us", type=int, default=1500, help="ROM/TF-A device time per 1024-byte block")
    ap.add_argument("--uboot-block-us", type=int, default=2000, help="U-Boot device time per 4096-byte block")
    ap.add_argument("--boards", default="1,4,8,16", help="parallel board counts to run")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    set_timer_slack_1ns()
    counts = [int(c) for c in args.boards.split(",")]
    res = {"size_mib": args.size_mib, "block_us": args.block_us, "uboot_block_us": args.uboot_block_us, "runs": []}
    load = MachineLoad()
    with tempfile.TemporaryDirectory() as tmp:
        tsv, sizes = make_layout(tmp, args.size_mib)
        total = sizes["fsbl"] + sizes["fip"] + sizes["layout"] + sum(sizes["partitions"])
        limit = device_bound(sizes, args.block_us, args.uboot_block_us)
        print(f"layout: {total / 2**20:.1f} MiB sent per board ({sum(sizes['partitions']) / 2**20:.1f} MiB programmed); "
              f"device-bound limit {limit:.2f} s")
        single = None
        for n in counts:
            seconds, cpu, result = run(tsv, n, args.block_us, args.uboot_block_us)
            rate = n * total / seconds
            row = {"boards": n, "seconds": round(seconds, 3), "aggregate_bytes_per_s": round(rate),
                   "cpu_seconds_per_board": round(cpu / n, 4)}
            cpu_text = f"  host CPU {cpu / n:.3f} s/board"
            if n == 1:
                single = rate
                row["fraction_of_device_bound"] = round(limit / seconds, 4)
                print(f"  1 board : {seconds:7.2f} s  {rate / 1e6:6.2f} MB/s  = {limit / seconds:.4f} of the device "
                      f"bound (target >= 0.95){cpu_text}")
            else:
                if single:
                    row["fraction_of_linear"] = round(rate / (n * single), 4)
                lin = f" = {rate / (n * single):.4f} of linear (target >= 0.95 at 16)" if single else ""
                print(f"  {n:2d} boards: {seconds:7.2f} s  {rate / 1e6:6.2f} MB/s aggregate{lin}{cpu_text}")
            res["runs"].append(row)
    res["machine_load"] = load.report()
    print(f"  {MachineLoad.describe(res['machine_load'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
