# SPDX-License-Identifier: MIT
"""Verbs that talk to one board: info, boot."""
from __future__ import annotations

import os

from . import args as a
from .output import emit_json, json_progress_event, show

EXIT_OK = 0


def cmd_info(args) -> int:
    import mp1boot
    trace = args.console.trace
    dev = args.console.connect(args.port)
    out = {"transport": dev.transport, "link": dev.link}
    if dev.link == "uart":
        g = dev.get(trace=trace)
        out["protocol_version"] = f"{g.protocol_version >> 4}.{g.protocol_version & 15}"
        out["commands"] = list(g.commands)
        out["command_names"] = list(g.command_names)
        v = dev.get_version(trace=trace)
        out["version"] = v.version
        if v.options is not None:
            out["option_bytes"] = list(v.options)
    dev_id = dev.get_id(trace=trace)
    out["device_id"] = dev_id
    out["soc"] = mp1boot.device_id_name(dev_id)
    usb = mp1boot.usb_identity(dev)
    if usb:
        out["usb"] = usb
    ph = dev.get_phase(trace=trace)
    out["phase"] = ph.phase
    out["phase_name"] = ph.name
    out["address"] = ph.address
    if ph.message:
        out["message"] = ph.message

    def text():
        yield f"transport:      {out['transport']}"
        if "commands" in out:
            yield f"protocol:       v{out['protocol_version']}"
            yield f"commands:       {', '.join(f'0x{c:02x} {n}' for c, n in zip(out['commands'], out['command_names']))}"
            opts = f" (option bytes {' '.join(f'0x{b:02x}' for b in out['option_bytes'])})" if "option_bytes" in out else ""
            yield f"version:        0x{out['version']:02x}{opts}"
        if usb:
            yield f"usb:            bus {usb['bus']} port {usb['port_path']} address {usb['address']}, {usb['speed']} speed"
            yield f"product:        {usb['product']}"
            yield f"serial:         {usb['serial']}"
            yield f"stage:          {usb['stage']}"
            if usb["speed"] == "full":
                args.console.warn("full speed only: check the cable, hub and port (high speed expected)")
        yield f"device id:      0x{dev_id:03x} ({out['soc']})"
        yield f"phase:          0x{ph.phase:02x} ({ph.name}), address 0x{ph.address:08x}"
        if ph.message:
            yield f"device message: {ph.message}"
    show(args, out, text)
    return EXIT_OK


def _is_pty(port: str) -> bool:
    """A pseudo-terminal has no line rate of its own (whatever paces it, the host cannot know)."""
    if not port.startswith("serial:"):
        return False
    path = port[len("serial:"):].split("?", 1)[0]
    return os.path.realpath(path).startswith("/dev/pts/")


def cmd_boot(args) -> int:
    import mp1boot
    from ..progress import TextBar
    if args.file.lower().endswith(".tsv"):
        # A flash layout: load its "-" lines (TF-A, FIP) into RAM, program nothing.
        report = mp1boot.flash(args.file, port=args.port, defines=a.defines(args.define), boot_only=True,
                               progress=TextBar() if args.console.progress_bars else None,
                               trace=args.console.trace, record=args.console.record)
        served = [p for p in report["partitions"] if p["result"] == "ok"]
        show(args, {"event": "done", "report": report},
             f"booted {args.file} on {report['soc']}: " +
             ", ".join(f"0x{p['phase']:02x} {p['name']}" for p in served) + " loaded; nothing programmed")
        return EXIT_OK
    dev = args.console.connect(args.port)
    args.console.note(f"connected: {dev.transport}")

    def json_progress(p):
        emit_json(json_progress_event(p))

    progress = json_progress if args.json else (TextBar() if args.console.progress_bars else None)
    r = dev.boot(args.file, progress=progress, trace=args.console.trace)
    t = r.transfer
    summary = {"event": "done", "file": args.file, "soc": r.soc, "phase": r.phase, "bytes": t.bytes,
               "seconds": round(t.seconds, 4), "bytes_per_second": round(t.bytes_per_second, 1),
               "transport": dev.transport}
    line_rate = 0 < t.line_fraction <= 1.0 and not _is_pty(args.port)
    if line_rate:
        summary["line_fraction"] = round(t.line_fraction, 4)
    line = f" ({t.line_fraction * 100:.1f}% of the line rate)" if line_rate else ""
    show(args, summary, f"booted {args.file} on {r.soc}: {t.bytes} bytes in {t.seconds:.2f} s, "
                        f"{t.bytes_per_second / 1000:.1f} kB/s{line}; FSBL started")
    return EXIT_OK


def register(sub) -> None:
    sp = a.subparser(sub, "info", help="identify the board: commands, version, device id, USB identity, phase",
                     description="Identify the board: the ROM's commands and version (UART), the device id, "
                                 "the USB identity (bus, port path, speed, serial) and the phase it asks for.")
    a.add_board(sp)
    a.add_json(sp)
    sp.set_defaults(func=cmd_info)

    sp = a.subparser(sub, "boot", help="download an FSBL image and start it, or boot a layout's '-' lines",
                     description="Download an STM32 image (TF-A) into SYSRAM and start it; with a flash layout "
                                 "(.tsv), load its '-' lines (TF-A, FIP) into RAM and program nothing.")
    sp.add_argument("file", help="STM32 image (tf-a.stm32), or FlashLayout.tsv (TF-A and FIP into RAM)")
    a.add_define(sp)
    a.add_board(sp)
    a.add_json(sp, "one JSON event per line (progress, done, error)")
    sp.set_defaults(func=cmd_boot)
