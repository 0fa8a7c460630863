# SPDX-License-Identifier: MIT
"""`make demo`: boot a simulated STM32MP135 over a pseudo-terminal through the real serial
transport, printing the exchange the way the article "Boot STM32MP135 Over UART With Python"
does, then a summary (bytes, time, throughput as a fraction of the line rate).

The simulated board runs in this process on a pty with line timing (115200 8E1: 11 bits a byte,
1 ms turnaround); mp1boot opens the pty's other end exactly as it would open /dev/ttyUSB0.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import mp1boot
from mp1boot.progress import TextBar

REPLY = {0x79: "ACK", 0x1F: "NACK", 0x5F: "ABORT"}


def wire(direction: str, data: bytes, note: str) -> None:
    """Trace callback: print each frame on the wire with a short decoding."""
    if direction == "#":
        print(f"      # {note}")
        return
    text = data.hex(" ")
    if len(text) > 47:
        text = text[:44] + "..."
    label = REPLY.get(data[0], "") if direction == "<" and len(data) == 1 else ""
    print(f"    {'host ->' if direction == '>' else '<- dev '} {text:<48} {label}")


# Every file of the demo goes under one temporary folder, removed at the end (--keep keeps it).
WORK = ""


def workdir(name: str) -> str:
    path = os.path.join(WORK, name)
    os.makedirs(path)
    return path


def main() -> int:
    global WORK
    argv = [a for a in sys.argv[1:] if a != "--keep"]
    keep = "--keep" in sys.argv[1:]
    WORK = tempfile.mkdtemp(prefix="mp1boot-demo-")
    try:
        return run(argv[0] if argv else "stm32mp135")
    finally:
        if keep:
            print(f"\nthe demo's files are kept in {WORK}")
        else:
            shutil.rmtree(WORK, ignore_errors=True)
            print(f"\nremoved the demo's files ({WORK}); `make demo DEMO_ARGS=--keep` keeps them")


def run(soc: str) -> int:
    record = workdir("uart-record")
    sim = mp1boot.UartSimServer(soc, record_dir=record, line_timing=True, baud=115200, turnaround_ms=1.0)
    sim.start()
    print(f"simulated {soc} serving on {sim.path} (115200 8E1 line timing, 1 ms turnaround)\n")
    try:
        port = f"serial:{sim.path}?baud=115200"
        print(f">>> dev = mp1boot.connect({port!r})")
        dev = mp1boot.connect(port)
        print(f"    connected: {dev.transport} (sync 0x7F answered with ACK)\n")

        print(">>> dev.get()")
        g = dev.get(trace=wire)
        print(f"    protocol v{g.protocol_version >> 4}.{g.protocol_version & 15}; commands: "
              + ", ".join(f"0x{c:02x} {n}" for c, n in zip(g.commands, g.command_names)) + "\n")

        print(">>> dev.get_version()")
        v = dev.get_version(trace=wire)
        opts = f", option bytes {v.options[0]:#04x} {v.options[1]:#04x}" if v.options else ""
        print(f"    version {v.version >> 4}.{v.version & 15}{opts}\n")

        print(">>> dev.get_id()")
        dev_id = dev.get_id(trace=wire)
        print(f"    device id 0x{dev_id:03x}: {mp1boot.device_id_name(dev_id)}\n")

        print(">>> dev.get_phase()")
        ph = dev.get_phase(trace=wire)
        print(f"    phase 0x{ph.phase:02x} ({ph.name}), download address 0x{ph.address:08x}\n")

        # A small FSBL: 16 KiB of code wrapped with the header this SoC's ROM expects.
        payload = bytes((i * 37 + 11) & 0xFF for i in range(16 * 1024))
        fsbl = mp1boot.image_wrap(payload, soc=soc, load=0x2FFE0000, entry=0x2FFE0000)
        path = os.path.join(record, "blink.stm32")
        with open(path, "wb") as f:
            f.write(fsbl)
        print(f">>> dev.boot({os.path.basename(path)!r}, progress=TextBar())   # {len(fsbl)} bytes")
        t0 = time.monotonic()
        r = dev.boot(path, progress=TextBar(stream=sys.stdout))
        t = r.transfer
        print(f"    FSBL started after {time.monotonic() - t0:.2f} s\n")

        print(">>> dev.get_phase()   # now answered by TF-A, which asks for the FIP")
        ph = dev.get_phase(trace=wire)
        print(f"    phase 0x{ph.phase:02x} ({ph.name}), download address 0x{ph.address:08x}\n")

        received = sim.received_images().get(1, b"")
        print("summary")
        print(f"  image:        {t.bytes} bytes ({(len(fsbl) + 255) // 256} packets of <= 256 bytes)")
        print(f"  time:         {t.seconds:.2f} s")
        print(f"  throughput:   {t.bytes_per_second:.0f} bytes/s = {t.line_fraction:.3f} of the 115200 8E1 "
              f"line rate (10,473 bytes/s)")
        bound = 256 / ((265 + 3) * 11 / 115200 + 3 * 0.001) / (115200 / 11)
        print(f"  protocol bound with 1 ms turnaround: {bound:.3f} of the line rate -> "
              f"{t.line_fraction / bound:.3f} of the bound")
        print(f"  simulator received phase 0x01 byte for byte: {received == fsbl}")
        print(f"  recorded exchange: {record}")
        if received != fsbl:
            return 1
    finally:
        sim.stop()
    return usb_part(soc) or usb_flash_part() or flash_part()


def flash_part() -> int:
    """A small flash layout over UART: ROM -> TF-A -> U-Boot stm32prog, then the storage checked."""
    print("\n--- flash layout over UART on the simulated STM32MP157 (ROM -> TF-A -> U-Boot stm32prog) ---\n")
    work = workdir("uart-flash")
    payload = bytes((i * 7 + 3) & 0xFF for i in range(32 * 1024))
    files = {
        "tf-a.stm32": mp1boot.image_wrap(payload, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500),
        "fip.bin": bytes.fromhex("010064aa78563412") + bytes((i * 3) & 0xFF for i in range(24 * 1024)),
        "rootfs.ext4": bytes((i * 11) & 0xFF for i in range(96 * 1024)),
    }
    for name, data in files.items():
        with open(os.path.join(work, name), "wb") as f:
            f.write(data)
    layout = ("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
              "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
              "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
              "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
              "P\t0x05\tfsbl2\tBinary\tmmc0\t0x00044400\ttf-a.stm32\n"
              "P\t0x06\tfip\tFIP\tmmc0\t0x00084400\tfip.bin\n"
              "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00484400\trootfs.ext4\n")
    tsv = os.path.join(work, "FlashLayout.tsv")
    with open(tsv, "w") as f:
        f.write(layout)
    storage = os.path.join(work, "storage")
    os.mkdir(storage)
    print(f"$ mp1boot flash {tsv} --port sim:stm32mp157?storage={storage}")
    report = mp1boot.flash(tsv, port=f"sim:stm32mp157?storage={storage}")
    ok = check_storage(report, storage)
    print(f"flash {report['result']} in {report['seconds']:.2f} s; storage in {storage}")
    return 0 if ok else 1


def check_storage(report: dict, storage: str) -> bool:
    """Prints each partition and whether mmc0.img holds exactly the file at the layout's offset."""
    import hashlib
    ok = report["result"] == "ok"
    with open(os.path.join(storage, "mmc0.img"), "rb") as f:
        for part in report["partitions"]:
            sent = part.get("bytes_sent", part["size"])
            line = (f"  0x{part['phase']:02x} {part['name']:<10} {part['ip']:<5} {part['offset']:<11} "
                    f"{part['size']:>8} B, {sent:>8} B sent" + (" (block map)" if part.get("bmap") else ""))
            if part["ip"] == "mmc0" and part["result"] == "ok":
                f.seek(int(part["offset"], 16))
                with open(part["file"], "rb") as image:  # the card was blank: unmapped blocks read as zeros
                    want = hashlib.sha256(image.read()).hexdigest()
                same = hashlib.sha256(f.read(part["size"])).hexdigest() == want
                ok &= same
                line += "  mmc0.img matches" if same else "  MISMATCH in mmc0.img"
            print(line)
    return ok


def usb_flash_part() -> int:
    """A full SD-card layout over USB through libusb/umockdev: ROM -> TF-A -> U-Boot stm32prog, with
    each re-enumeration followed by serial number, --verify reading every partition back, a JSON
    report, and the card image checked against the inputs."""
    import json
    import subprocess
    import sdcard_layout
    print("\n--- SD-card layout over USB on the simulated STM32MP157 (umockdev + libusb, U-Boot stm32prog) ---\n")
    work = workdir("usb-sdcard")
    tsv = sdcard_layout.make(work)
    storage = os.path.join(work, "storage")
    report_path = os.path.join(work, "report.json")
    print(open(tsv).read())
    cmd = [sys.executable, "-m", "mp1boot", "sim", "--soc", "stm32mp157", "--usb", "--storage", storage, "--",
           sys.executable, "-m", "mp1boot", "flash", tsv, "--port", "usb", "--verify", "--report", report_path]
    print("$ mp1boot sim --soc stm32mp157 --usb --storage STORAGE -- mp1boot flash "
          f"{os.path.basename(tsv)} --port usb --verify --report report.json")
    sys.stdout.flush()
    r = subprocess.run(cmd, timeout=600)
    if r.returncode != 0:
        return r.returncode
    with open(report_path) as f:
        report = json.load(f)
    ok = check_storage(report, storage)
    import shutil
    sfdisk = shutil.which("sfdisk") or shutil.which("/usr/sbin/sfdisk") or shutil.which("/sbin/sfdisk")
    gpt = subprocess.run([sfdisk, "--dump", os.path.join(storage, "mmc0.img")], capture_output=True,
                         text=True) if sfdisk else None
    if gpt and gpt.returncode == 0:
        print("\n$ sfdisk --dump mmc0.img   # the GPT U-Boot wrote for the full update")
        print("\n".join(line for line in gpt.stdout.splitlines() if "name=" in line or line.startswith("label")))
    size = sum(p["size"] for p in report["partitions"] if p["ip"] != "none")
    sent = sum(p.get("bytes_sent", p["size"]) for p in report["partitions"] if p["ip"] != "none")
    print(f"\nblock maps: {sent} bytes sent for {size} bytes of partition images ({sent / size:.1%})")
    print(f"\nUSB flash {report['result']}: serial {report['serial']}, port {report['port_path']}, "
          f"{report['speed']} speed, {report['revision']}; every partition verified by read-back; "
          f"report in {report_path}")
    return 0 if ok else 1


def usb_part(soc: str) -> int:
    """The same board as a USB device, seen through libusb (umockdev)."""
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    print("\n--- USB: the simulated board attached through umockdev, opened with libusb ---\n")
    print(f"$ mp1boot sim --soc {soc} --usb -- python examples/python/usb_demo.py")
    sys.stdout.flush()
    r = subprocess.run([sys.executable, "-m", "mp1boot", "sim", "--soc", soc, "--usb", "--",
                        sys.executable, os.path.join(here, "usb_demo.py")], timeout=120)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
