# SPDX-License-Identifier: MIT
"""``mp1boot sim``: serve a simulated board on a pseudo-terminal or as an emulated USB device."""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .. import errors
from . import args as a

EXIT_OK = 0


def _usbsim_tool() -> str:
    """mp1boot-usbsim: next to the package (wheel, build tree), else on PATH."""
    here = Path(__file__).resolve().parent.parent / "bin" / "mp1boot-usbsim"
    if here.is_file():
        return str(here)
    found = shutil.which("mp1boot-usbsim")
    if not found:
        raise errors.TransportError(
            f"the USB simulator mp1boot-usbsim was not found: looked for {here} and on PATH. It is built with "
            "the library when umockdev's headers are present (Debian: apt install libumockdev-dev umockdev, "
            "then `make build`), and it ships in the mp1boot wheel", code="no_device")
    return found


def _check_umockdev() -> None:
    """mp1boot-usbsim runs on umockdev's libraries (the wheel does not carry them): say which package
    gives them rather than let the loader fail."""
    import ctypes
    import ctypes.util
    missing = ""
    try:
        ctypes.CDLL("libumockdev.so.0")
    except OSError:
        missing = "libumockdev.so.0"
    if not missing and not ctypes.util.find_library("umockdev-preload"):
        missing = "libumockdev-preload.so.0"
    if missing:
        raise errors.TransportError(
            f"the USB simulator needs umockdev, and {missing} was not found: install it (Debian/Ubuntu: "
            "sudo apt install libumockdev0 umockdev). The in-process simulated board needs nothing: "
            "--port 'sim:stm32mp157?link=usb'", code="no_device")


def _daemon(argv) -> int:
    """Runs the USB simulator as a server: its environment as `export` lines a shell can paste, how to
    stop it, then its answers to the commands typed on stdin (which it reads directly)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    ready = False
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if not ready and line == "READY":
                ready = True
                print(f"# the board is attached: run libusb programs (mp1boot --port usb, dfu-util) in a shell "
                      f"with the lines above;\n# stop it with Ctrl-C or Ctrl-D here, or `kill {os.getpid()}`; "
                      f"type help for its commands")
            elif not ready and "=" in line:
                name, _, value = line.partition("=")
                print(f"export {name}={shlex.quote(value)}")
            else:
                print(line)
            sys.stdout.flush()
        return proc.wait()
    except KeyboardInterrupt:  # the server got the SIGINT too and stops
        proc.wait()
        return EXIT_OK


UART_COMMANDS = {
    "reset": "the reset button: the board starts again in the boot ROM (after an interrupted download)",
    "status": "the stage the board is in (rom, tf-a, u-boot, booted, halted)",
    "help": "this list",
}


def _uart_commands(server) -> None:
    """Reads commands from stdin while the board serves (end of input: the board keeps serving)."""
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "reset":
            server.reset()
            print("OK: the board is in the boot ROM again", flush=True)
        elif cmd == "status":
            print(f"stage: {server.stage}", flush=True)
        elif cmd == "help":
            print("\n".join(f"{c:<7} {what}" for c, what in UART_COMMANDS.items()), flush=True)
        elif cmd:
            print(f"error: unknown command {cmd!r} (try help)", flush=True)


def cmd_sim(args) -> int:
    import mp1boot
    options = list(args.set or [])
    # Checked here, before any server starts: errors name the key and what it accepts.
    mp1boot.sim_check_options(args.soc, (["link=usb"] if args.usb else []) + options)
    if args.usb:
        argv = [_usbsim_tool(), "--soc", args.soc]
        _check_umockdev()
        for kv in options:
            argv += ["--set", kv]
        if args.record:
            argv += ["--record", args.record]
        if args.storage:
            argv += ["--storage", args.storage]
        if args.uboot_block_us:
            argv += ["--uboot-block-us", str(args.uboot_block_us)]
        for serial in args.serial or []:
            argv += ["--serial", serial]
        command = list(args.command or [])
        if command and command[0] == "--":
            command = command[1:]
        if args.daemon == bool(command):
            raise errors.UsageError("mp1boot sim --usb: give either --daemon or -- COMMAND ARGS...", code="usage")
        if args.daemon:
            return _daemon(argv + ["--daemon"])
        argv += ["--"] + command
        sys.stdout.flush()
        os.execv(argv[0], argv)
    if not args.uart:
        raise errors.UsageError("mp1boot sim: choose a link: --uart or --usb", code="usage")
    server = mp1boot.UartSimServer(args.soc, record_dir=args.record or "", line_timing=args.line_timing,
                                   baud=args.baud, turnaround_ms=args.turnaround_ms, storage_dir=args.storage or "",
                                   options=options)
    # First line of output: where to connect (scripts read it).
    print(f"uart: {server.path}", flush=True)
    print(f"mp1boot sim: serving a simulated {args.soc}; commands on stdin: {', '.join(UART_COMMANDS)}; "
          f"`kill -USR1 {os.getpid()}` resets the board; Ctrl-C or SIGTERM stops", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGUSR1, lambda *_: server.reset())
    import threading
    threading.Thread(target=_uart_commands, args=(server,), daemon=True, name="mp1boot-sim-stdin").start()
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    server.stop()  # writes the records
    if args.record:
        print(f"recorded to {args.record}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_OK)  # the stdin reader may hold stdin's lock: end without waiting for it


def register(sub) -> None:
    import mp1boot
    sp = a.subparser(sub, "sim", help="serve a simulated board (pseudo-terminal or emulated USB device)",
                     description="Serve a simulated board: on a pseudo-terminal that serial programs open "
                                 "(--uart), or as a USB device that libusb programs open through umockdev "
                                 "(--usb). In-process boards need no server: use the port sim:SOC.",
                     epilog="examples:\n"
                            "  mp1boot sim --soc stm32mp157 --uart\n"
                            "  mp1boot sim --soc stm32mp157 --usb -- mp1boot info --port usb\n"
                            "  mp1boot sim --soc stm32mp157 --usb --daemon   # prints export lines; "
                            "type 'help' on its stdin\n"
                            "  mp1boot sim --soc stm32mp157 --usb --set uboot_block_us=2000 --set reset_phase=0x10 --daemon\n\n"
                            "board options (--set KEY=VALUE; the same keys as sim: URLs and mp1boot-usbsim):\n" +
                            mp1boot.sim_board_keys_help())
    sp.add_argument("--soc", default="stm32mp135", choices=mp1boot.soc_names(), help="the simulated SoC")
    sp.add_argument("--uart", action="store_true", help="on a pseudo-terminal (prints 'uart: /dev/pts/N')")
    sp.add_argument("--usb", action="store_true", help="as a USB device that libusb programs can open (umockdev)")
    sp.add_argument("--record", metavar="DIR", help="write received images and an exchange log here")
    sp.add_argument("--storage", metavar="DIR",
                    help="keep the board's storage images (mmc0.img, nor0.img, ...) here for inspection")
    sp.add_argument("--line-timing", action="store_true", help="--uart: pace bytes like a real UART line at --baud")
    sp.add_argument("--baud", type=a.positive, default=115200, metavar="N", help="--uart: line rate for --line-timing")
    sp.add_argument("--turnaround-ms", type=a.milliseconds, default=0.0, metavar="MS",
                    help="--uart: the board's reply delay after each command")
    sp.add_argument("--daemon", action="store_true",
                    help="--usb: serve for other processes; prints the `export` lines they need and how to stop")
    sp.add_argument("--serial", action="append", metavar="SERIAL",
                    help="--usb: the board's USB serial number; repeat it for several boards on one bus "
                         "(ports 1-1, 1-2, ...), e.g. to try `mp1boot flash --all`")
    sp.add_argument("--uboot-block-us", type=a.positive, metavar="N",
                    help="--usb: modelled U-Boot time per 4096-byte block (2000 = about 2 MB/s)")
    sp.add_argument("--set", "-o", action="append", metavar="KEY=VALUE",
                    help="a board option (listed below); repeat it")
    sp.add_argument("command", nargs=argparse.REMAINDER,
                    help="--usb: -- COMMAND ARGS... to run with the board attached")
    sp.set_defaults(func=cmd_sim)
