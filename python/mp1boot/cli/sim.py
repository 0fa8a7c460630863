# SPDX-License-Identifier: MIT
"""``mp1boot sim``: serve a simulated board on a pseudo-terminal or as an emulated USB device."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

from .. import errors
from . import args as a

EXIT_OK = 0


def _usbsim_tool() -> str:
    here = Path(__file__).resolve().parent.parent / "bin" / "mp1boot-usbsim"
    if here.is_file():
        return str(here)
    found = shutil.which("mp1boot-usbsim")
    if not found:
        raise errors.TransportError("mp1boot-usbsim (the USB simulator server) is not installed or built",
                                    code="no_device")
    return found


def cmd_sim(args) -> int:
    import mp1boot
    if args.usb:
        argv = [_usbsim_tool(), "--soc", args.soc]
        if args.record:
            argv += ["--record", args.record]
        if args.storage:
            argv += ["--storage", args.storage]
        if args.uboot_block_us:
            argv += ["--uboot-block-us", str(args.uboot_block_us)]
        if args.daemon:
            argv.append("--daemon")
        command = list(args.command or [])
        if command and command[0] == "--":
            command = command[1:]
        if command:
            argv += ["--"] + command
        elif not args.daemon:
            raise errors.UsageError("mp1boot sim --usb: give --daemon or -- COMMAND ARGS...", code="usage")
        sys.stdout.flush()
        os.execv(argv[0], argv)
    if not args.uart:
        raise errors.UsageError("mp1boot sim: choose a link: --uart or --usb", code="usage")
    server = mp1boot.UartSimServer(args.soc, record_dir=args.record or "", line_timing=args.line_timing,
                                   baud=args.baud, turnaround_ms=args.turnaround_ms, storage_dir=args.storage or "")
    # First line of output: where to connect (scripts read it).
    print(f"uart: {server.path}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    if args.record:
        print(f"recorded to {args.record}", file=sys.stderr)
    return EXIT_OK


def register(sub) -> None:
    sp = sub.add_parser("sim", help="serve a simulated board")
    sp.add_argument("--soc", default="stm32mp135")
    sp.add_argument("--uart", action="store_true", help="on a pseudo-terminal (prints 'uart: /dev/pts/N')")
    sp.add_argument("--record", metavar="DIR", help="write received images and an exchange log here")
    sp.add_argument("--line-timing", action="store_true", help="pace bytes like a real UART line")
    sp.add_argument("--baud", type=a.positive, default=115200)
    sp.add_argument("--turnaround-ms", type=a.milliseconds, default=0.0)
    sp.add_argument("--usb", action="store_true", help="as a USB device that libusb programs can open (umockdev)")
    sp.add_argument("--daemon", action="store_true", help="with --usb: serve for other processes, print their environment")
    sp.add_argument("--storage", metavar="DIR",
                    help="keep the board's storage images (mmc0.img, nor0.img, ...) here for inspection")
    sp.add_argument("--uboot-block-us", type=a.positive, metavar="N",
                    help="with --usb: modelled U-Boot time per 4096-byte block (2000 = about 2 MB/s)")
    sp.add_argument("command", nargs=argparse.REMAINDER, help="with --usb: -- COMMAND ARGS... to run with the board attached")
    sp.set_defaults(func=cmd_sim)
