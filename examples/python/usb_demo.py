# SPDX-License-Identifier: MIT
"""USB part of `make demo`, run with a simulated board attached through umockdev:

    mp1boot sim --soc stm32mp135 --usb -- python examples/python/usb_demo.py

Lists the STM32MP boards in DFU mode through libusb, then boots an FSBL on the one it finds and
follows it across the re-enumeration to TF-A, exactly as with a real board on a USB port.
"""
from __future__ import annotations

import sys

import mp1boot
from mp1boot.progress import TextBar


def main() -> int:
    devices = mp1boot.list_devices()
    print(f">>> mp1boot.list_devices()   # {len(devices)} device(s)")
    for i, d in enumerate(devices):
        print(f"  #{i} bus {d['bus']} port {d['port_path']} address {d['address']} {d['speed']} speed, "
              f"{d['stage']}, device 0x{d['device_id']:03x} ({d['soc']}), serial {d['serial']}")
        print(f"      {d['product']}")
    if len(devices) != 1:
        return 1
    soc = {0x501: "stm32mp135", 0x500: "stm32mp157"}[devices[0]["device_id"]]
    dev = mp1boot.connect(f"usb:{devices[0]['serial']}")
    print(f"\n>>> dev = mp1boot.connect('usb:{devices[0]['serial']}')  -> {dev.transport}")
    print(f">>> dev.get_phase()  -> {dev.get_phase()}")
    load = 0x2FFE0000 if soc == "stm32mp135" else 0x2FFC2500
    fsbl = mp1boot.image_wrap(bytes((i * 5) & 0xFF for i in range(64 * 1024)), soc=soc, load=load, entry=load)
    print(f">>> dev.boot(fsbl)   # {len(fsbl)} bytes over DFU, then the ROM starts it")
    r = dev.boot(fsbl, progress=TextBar(stream=sys.stdout))
    usb = mp1boot._core.usb_identity(dev)
    print(f"    {r.transfer.bytes} bytes in {r.transfer.seconds:.2f} s; the board re-enumerated as {usb['stage']}:")
    print(f"      {usb['product']}")
    ph = dev.get_phase()
    print(f">>> dev.get_phase()  -> {ph}   # TF-A asks for the FIP")
    return 0 if usb["stage"] == "tf-a" and ph.phase == 3 else 1


if __name__ == "__main__":
    sys.exit(main())
