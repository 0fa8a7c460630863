# SPDX-License-Identifier: MIT
"""bench/factory_image: a factory-size SD image over USB, everything sent against block map.

One run, side by side, on the in-process simulated STM32MP157 over USB with modelled device time
(`realtime=1`, --uboot-block-us per 4096-byte DNLOAD block in U-Boot: 1000 us ~ 4 MB/s over the
wire; the ROM's 1 ms bwPollTimeout per FSBL block) and an eMMC medium behind U-Boot's 8 MiB DFU
buffer (--medium-bps, default 25 MB/s: the DNLOAD that fills the buffer stalls while it goes to
the medium, the rest is written in the manifestation's GETSTATUS): a layout with TF-A, a FIP and
a 512 MiB ext4 rootfs made by mke2fs holding about 60 MiB of files, with its block map from
`bmaptool create`. For "everything sent" (--no-bmap) and "block map", each in its own child
process: bytes sent, wall time, throughput against the device-bound limit for those bytes (every
DNLOAD block's device time, offset commands included, every byte's medium write, plus the ROM's
poll and two re-enumerations), peak RSS (VmHWM) and host CPU seconds per GiB sent. Targets: block-map wall time <= 0.15 of everything-sent; each
mode >= 0.95 of its own device bound; peak RSS <= 64 MiB in both. Then the peak RSS for sparse
rootfs sizes 64 MiB, 1 GiB, 4 GiB and 8 GiB (8 GiB - 2 MiB: it must fit the 8 GiB card after the
partition offset), everything sent, no device time, to show it flat.

--repeat N runs each mode N times, alternating, and compares the best wall time of each (a
disturbance of the machine only adds time). Not a test: run on an idle machine (PITFALLS.md: timing falls while a compile runs).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET

import mp1boot
from benchlib import MachineLoad, set_timer_slack_1ns

ROM_POLL_S = 0.001
REENUMERATE_S = 2 * 0.010
GIB = 1 << 30
OFFSET_COMMAND_BYTES = 5  # the virtual alt's phase + offset command, one per extent
# Sequential write rate of the eMMC behind U-Boot: 4-8 GB eMMC 4.5/5.x parts as fitted to STM32MP1
# boards are specified at about 10-40 MB/s sequential write in their data sheets (the smaller
# parts at the low end); 25 MB/s is the middle of that range. The SDMMC bus (8-bit, 52 MHz DDR:
# 104 MB/s) is not the bound, the card is. A model figure, not a measurement: set --medium-bps.
EMMC_WRITE_BPS = 25_000_000

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import mp1boot
    layout, port, no_bmap = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    t0 = time.perf_counter()
    report = mp1boot.flash(layout, port=port, no_bmap=no_bmap)
    seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(json.dumps({"result": report["result"], "seconds": seconds, "hwm_kib": hwm,
                      "cpu_s": ru.ru_utime + ru.ru_stime, "partitions": report["partitions"]}))
""")


def make_files(folder: str, rootfs_mib: int, files_mib: int) -> str:
    fsbl = mp1boot.image_wrap(bytes((i * 7) & 0xFF for i in range(64 * 1024)), soc="stm32mp157",
                              load=0x2FFC2500, entry=0x2FFC2500)
    fip = bytearray((i * 13) & 0xFF for i in range(1024 * 1024))
    fip[0:8] = bytes.fromhex("010064aa78563412")
    with open(os.path.join(folder, "tf-a.stm32"), "wb") as f:
        f.write(fsbl)
    with open(os.path.join(folder, "fip.bin"), "wb") as f:
        f.write(fip)
    content = os.path.join(folder, "content")
    os.makedirs(content, exist_ok=True)
    for i in range(files_mib // 4):
        with open(os.path.join(content, f"file{i:03d}.bin"), "wb") as f:
            f.write(os.urandom(4 << 20))
    rootfs = os.path.join(folder, "rootfs.ext4")
    subprocess.run(["truncate", "-s", f"{rootfs_mib}M", rootfs], check=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", content, rootfs], check=True, capture_output=True)
    subprocess.run(["bmaptool", "create", rootfs, "-o", rootfs + ".bmap"], check=True, capture_output=True)
    return write_layout(folder)


def write_layout(folder: str) -> str:
    tsv = os.path.join(folder, "FlashLayout.tsv")
    with open(tsv, "w") as f:
        f.write("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
                "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
                "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
                "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
                "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n")
    return tsv


def child(tsv: str, port: str, no_bmap: bool) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, tsv, port, "1" if no_bmap else "0"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)


def device_bound(run: dict, uboot_block_us: int, medium_bps: int) -> float:
    """Device time of what was sent: U-Boot blocks (offset commands included), the medium writes
    of every byte U-Boot takes through its DFU buffer (the simulated board writes each one once,
    in the stall of the DNLOAD that fills the buffer or in the manifestation's flush), the ROM's
    polls and the re-enumerations."""
    blocks = lambda n, b: (n + b - 1) // b  # noqa: E731
    t = REENUMERATE_S
    medium_bytes = run["extents"] * OFFSET_COMMAND_BYTES
    for p in run["partitions"]:
        if p["phase"] == 0x01:
            t += blocks(p["bytes_sent"], 1024) * ROM_POLL_S
        elif p["phase"] >= 0x04 or p["phase"] == 0x00:
            t += blocks(p["bytes_sent"], 4096) * uboot_block_us / 1e6
            medium_bytes += p["bytes_sent"]
    t += run["extents"] * uboot_block_us / 1e6
    return t + (medium_bytes / medium_bps if medium_bps else 0.0)


def measure(tsv: str, port: str, no_bmap: bool, args: argparse.Namespace) -> dict:
    """One flash in a child process: the row of figures the report prints."""
    run = child(tsv, port, no_bmap)
    assert run["result"] == "ok"
    rootfs = next(p for p in run["partitions"] if p["name"] == "rootfs")
    sent = sum(p["bytes_sent"] for p in run["partitions"])
    # One offset command per extent, plus the reset of the next partition's offset.
    bmap_ranges = 0
    if rootfs["bmap"]:
        bmap_ranges = len(ET.parse(rootfs["bmap"]).getroot().find("BlockMap"))
    run["extents"] = bmap_ranges
    bound = device_bound(run, args.uboot_block_us, args.medium_bps)
    return {"bytes_sent": sent, "rootfs_bytes_sent": rootfs["bytes_sent"], "seconds": round(run["seconds"], 3),
            "bytes_per_s": round(sent / run["seconds"]), "device_bound_s": round(bound, 3),
            "fraction_of_device_bound": round(bound / run["seconds"], 4), "peak_rss_mib": round(run["hwm_kib"] / 1024, 1),
            "cpu_s_per_gib_sent": round(run["cpu_s"] / (sent / GIB), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rootfs-mib", type=int, default=512)
    ap.add_argument("--files-mib", type=int, default=60)
    ap.add_argument("--uboot-block-us", type=int, default=1000, help="U-Boot device time per 4096-byte block")
    ap.add_argument("--medium-bps", type=int, default=EMMC_WRITE_BPS,
                    help=f"eMMC write rate behind the 8 MiB DFU buffer in bytes/s (default {EMMC_WRITE_BPS}; 0: none)")
    ap.add_argument("--sizes", default="64M,1G,4G,8G", help="sparse rootfs sizes for the flat-RSS series ('' skips)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each mode N times, alternating, and compare the best wall time of each (default 1)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    out: dict = {"uboot_block_us": args.uboot_block_us, "medium_bps": args.medium_bps, "dfu_buffer_bytes": 8 << 20,
                 "modes": {}, "rss_series": []}
    set_timer_slack_1ns()  # inherited by the child processes
    with tempfile.TemporaryDirectory() as tmp:
        tsv = make_files(tmp, args.rootfs_mib, args.files_mib)
        print(f"rootfs: {args.rootfs_mib} MiB ext4 with {args.files_mib} MiB of files; U-Boot "
              f"{args.uboot_block_us} us per 4096-byte block; eMMC {args.medium_bps / 1e6:g} MB/s behind an 8 MiB "
              f"DFU buffer")
        load = MachineLoad()
        # Alternating the modes spreads a slow spell of the machine over both; a disturbance only
        # adds time, so with --repeat the best run of each mode is the one compared.
        for rep in range(args.repeat):
            for mode, no_bmap in (("everything", True), ("bmap", False)):
                storage = os.path.join(tmp, f"storage-{mode}-{rep}")
                os.makedirs(storage)
                port = (f"sim:stm32mp157?link=usb&realtime=1&uboot_block_us={args.uboot_block_us}"
                        f"&medium_bps={args.medium_bps}&storage={storage}")
                os.sync()  # the previous run's card writes reach the disk before this run's clock starts
                row = measure(tsv, port, no_bmap, args)
                best = out["modes"].get(mode)
                runs = (best or {}).get("all_seconds", []) + [row["seconds"]]
                if best is None or row["seconds"] < best["seconds"]:
                    best = row
                out["modes"][mode] = dict(best, all_seconds=runs)
                print(f"  {mode:<10}: {row['bytes_sent'] / 1e6:8.1f} MB sent in {row['seconds']:7.2f} s = "
                      f"{row['bytes_per_s'] / 1e6:5.2f} MB/s, {row['fraction_of_device_bound']:.3f} of its device bound "
                      f"({row['device_bound_s']:.2f} s), peak RSS {row['peak_rss_mib']} MiB, "
                      f"{row['cpu_s_per_gib_sent']} CPU s/GiB", flush=True)
            for mode in ("everything", "bmap"):  # deleted between repetitions, not between the two runs
                shutil.rmtree(os.path.join(tmp, f"storage-{mode}-{rep}"))
        if args.repeat > 1:
            for mode in ("everything", "bmap"):
                secs = ", ".join(f"{s:.2f}" for s in out["modes"][mode]["all_seconds"])
                print(f"  {mode:<10}: best of {args.repeat}: {out['modes'][mode]['seconds']:.2f} s (all: {secs} s)")
        ratio = out["modes"]["bmap"]["seconds"] / out["modes"]["everything"]["seconds"]
        out["bmap_wall_time_ratio"] = round(ratio, 4)
        # What the device alone allows: the same ratio of the two device bounds.
        bound_ratio = out["modes"]["bmap"]["device_bound_s"] / out["modes"]["everything"]["device_bound_s"]
        out["bmap_device_bound_ratio"] = round(bound_ratio, 4)
        out["machine_load"] = load.report()
        print(f"  block map wall time = {ratio:.4f} of everything sent (target <= 0.15; the device bounds' ratio is "
              f"{bound_ratio:.4f}); targets: each >= 0.95 of its device bound, peak RSS <= 64 MiB")
        # The wall ratio is the bounds' ratio times the ratio of the two runs' efficiencies: a
        # block-map run exactly as efficient as the everything run would reach bound_ratio.
        print(f"  wall ratio / device bounds' ratio = {ratio / bound_ratio:.4f} (the block-map run's efficiency against "
              f"the everything run's; its fixed costs, start and boot, weigh {1 / bound_ratio:.1f} times more)")
        if bound_ratio > 0.15:
            print(f"  note: the device alone needs {bound_ratio:.3f} of everything-sent's time on this image (mapped "
                  f"bytes, their medium writes and one offset command per extent), so the 0.15 wall target is out of "
                  f"reach here whatever the host does")
        print(f"  {MachineLoad.describe(out['machine_load'])}")

        units = {"M": 1 << 20, "G": GIB}
        for size in [s for s in args.sizes.split(",") if s]:
            n = int(size[:-1]) * units[size[-1]]
            n = min(n, 8 * GIB - (2 << 20))
            folder = os.path.join(tmp, f"rss-{size}")
            os.makedirs(os.path.join(folder, "storage"))
            for name in ("tf-a.stm32", "fip.bin"):
                os.link(os.path.join(tmp, name), os.path.join(folder, name))
            with open(os.path.join(folder, "rootfs.ext4"), "wb") as f:
                f.truncate(n)
                f.seek(n - 4096)
                f.write(b"\x5a" * 4096)
            run = child(write_layout(folder), f"sim:stm32mp157?link=usb&storage={folder}/storage", True)
            out["rss_series"].append({"rootfs": size, "bytes": n, "peak_rss_mib": round(run["hwm_kib"] / 1024, 1),
                                      "seconds": round(run["seconds"], 2)})
            print(f"  rootfs {size:>4} everything sent, no device time: peak RSS {run['hwm_kib'] / 1024:5.1f} MiB "
                  f"({run['seconds']:.1f} s)")
            shutil.rmtree(folder)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
