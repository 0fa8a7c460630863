# SPDX-License-Identifier: MIT
"""``mp1boot flash``: program one board, or several in parallel, from a flash layout."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import errors
from . import args as a
from .layout import steps
from .output import describe_event, emit_json, json_progress_event, print_partitions, show, write_report

EXIT_OK = 0
EXIT_UNEXPECTED = 1


def _event_line(e: dict) -> str:
    """One line for a flash event; the UART estimate in the core's own sentence (FlashEstimate::describe)."""
    return e["text"] if e.get("event") == "estimate" and "text" in e else describe_event(e)


def _flash_ports(args) -> list:
    """The ports of `mp1boot flash`: --port (repeatable) or --all (every board in the ROM's DFU mode)."""
    import mp1boot
    ports = list(args.port or [])
    if args.all:
        found = [d for d in mp1boot.list_devices() if d.get("stage") == "rom" and d.get("port_path")]
        if not found:
            raise errors.TransportError("--all: no STM32MP board in USB DFU mode (boot ROM) was found; check the "
                                        "boot pins and the USB cable, or run `mp1boot list`", code="no_device")
        ports += [f"usb:{d['port_path']}" for d in found]  # the port is a board's identity (serials may repeat)
    if not ports:
        raise errors.UsageError("mp1boot flash needs --port PORT (repeatable) or --all", code="usage")
    if args.storage:
        if any(not p.startswith("sim:") for p in ports):
            raise errors.UsageError("--storage applies to simulated boards (sim:SOC ports) only", code="usage")
        if Path(args.storage).exists() and not Path(args.storage).is_dir():
            raise errors.UsageError(f"--storage {args.storage}: not a folder", code="usage")
        out = []
        for i, p in enumerate(ports):
            folder = Path(args.storage) if len(ports) == 1 else Path(args.storage) / f"board{i}"
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise errors.UsageError(f"--storage {args.storage}: cannot create {folder}: {exc.strerror}",
                                        code="usage") from None
            out.append(p + ("&" if "?" in p else "?") + f"storage={folder}")
        ports = out
    return ports


def _total_bytes(layout, defines, verify: bool):
    """Bytes a flash of ``layout`` sends (every phase in the device's order) and, with verify, reads
    back: the overall part of the progress bar. None when the layout does not check (the run says why)."""
    import mp1boot
    try:
        res = mp1boot.layout_check(layout, defines)
    except errors.Error:
        return None
    if any(d["severity"] == "error" for d in res["diagnostics"]):
        return None
    total = 0
    for _, size, entry in steps(res):
        read_back = verify and entry and entry.get("ip") not in (None, "", "none")
        total += size * (2 if read_back else 1)
    return total or None


def _flash_several(args, ports, defines) -> int:
    import mp1boot
    from ..progress import MultiBar
    bar = MultiBar(ports) if args.console.progress_bars else None

    def progress(port, p):
        if args.json:
            emit_json(json_progress_event(p, board=port))
        elif bar:
            bar(port, p)

    def events(port, e):
        if args.json:
            emit_json({"board": port, **e})
        else:
            args.console.note(f"{port}: {_event_line(e)}")

    result = None
    try:
        result = mp1boot.flash_many(args.layout, ports=ports, defines=defines, progress=progress,
                                    verify=args.verify, resume=args.resume, resume_any_board=args.resume_any_board,
                                    events=events, yes=args.yes, **_bmap_options(args))
    finally:
        if bar:
            bar.close()
    write_report(args.report, result)

    def text():
        for key, rep in result["boards"].items():
            yield f"{key}: {rep['result']}" + (f" ({rep.get('error')})" if rep["result"] != "ok" else "")
            print_partitions(rep, "  ")
        yield f"{len(result['boards'])} boards: {result['result']}"
    show(args, {"event": "done", "report": result}, text)
    if result["result"] == "ok":
        return EXIT_OK
    codes = [errors.EXIT_CODES.get(r.get("error_code", ""), EXIT_UNEXPECTED)
             for r in result["boards"].values() if r["result"] != "ok"]
    return max(codes)


def _bmap_options(args) -> dict:
    """--bmap NAME=FILE, --no-bmap, --skip-holes as keyword arguments of mp1boot.flash."""
    return {"bmaps": a.defines(args.bmap, "--bmap"), "no_bmap": args.no_bmap, "skip_holes": args.skip_holes}


def cmd_flash(args) -> int:
    import mp1boot
    from ..progress import TextBar
    ports = _flash_ports(args)
    defines = a.defines(args.define)
    if len(ports) > 1:
        if args.console.record is not None:
            raise errors.UsageError("--trace FILE records one board; flash the boards one at a time to trace "
                                    "each (or use -vv for the wire exchange)", code="usage")
        return _flash_several(args, ports, defines)

    port = ports[0]
    if args.json:
        def progress(p):
            emit_json(json_progress_event(p))

        def events(e):
            emit_json(e)
    else:
        progress = TextBar(total=_total_bytes(args.layout, defines, args.verify)) \
            if args.console.progress_bars else None

        def events(e):
            # The UART estimate is shown before the first download; the rest with -v.
            (args.console.info if e.get("event") == "estimate" else args.console.note)(_event_line(e))
    try:
        report = mp1boot.flash(args.layout, port=port, defines=defines, progress=progress, verify=args.verify,
                               resume=args.resume, resume_any_board=args.resume_any_board, events=events,
                               trace=args.console.trace, yes=args.yes, confirm=args.console.confirm,
                               record=args.console.record,
                               **_bmap_options(args))
    except BaseException as exc:
        write_report(args.report, getattr(exc, "report", None))
        if args.report and getattr(exc, "report", None) is not None and not args.json:
            print(f"mp1boot: report written to {args.report}; resume with --resume {args.report}",
                  file=sys.stderr)
        raise
    write_report(args.report, report)

    def text():
        print_partitions(report)
        where = report.get("serial") or report.get("port_path") or port
        extra = f", {report['speed']} speed" if report.get("link") == "usb" and report.get("speed") else ""
        yield f"flashed {args.layout} on {report['soc']} ({where}{extra}) in {report['seconds']:.2f} s: {report['result']}"
        if report.get("speed") == "full":
            args.console.warn("the board runs at USB full speed (12 Mbit/s): check the cable and hub")
    show(args, {"event": "done", "report": report}, text)
    return EXIT_OK


def register(sub) -> None:
    sp = a.subparser(sub, "flash", help="program a board from a flash layout, driven by Get Phase",
                     description="Program one board, or several in parallel, from a flash layout: every phase "
                                 "the board asks for (ROM, TF-A, U-Boot stm32prog) is served from the layout. "
                                 "The layout and every binary are checked before the first byte goes out.")
    sp.add_argument("layout", help="FlashLayout.tsv")
    a.add_board(sp, many=True)
    sp.add_argument("--all", action="store_true", help="every STM32MP board waiting in USB DFU mode, in parallel")
    a.add_define(sp)
    sp.add_argument("--verify", action="store_true", help="read every programmed partition back and compare SHA-256")
    sp.add_argument("--resume", metavar="REPORT",
                    help="skip the partitions this earlier report lists as done on this board (same USB port path "
                         "and serial, or serial port); refused for a report of another board")
    sp.add_argument("--resume-any-board", action="store_true",
                    help="with --resume: use the report's only board even if it names another port or serial")
    sp.add_argument("--bmap", action="append", metavar="NAME=FILE",
                    help="block map (bmaptool create) of partition NAME: over USB only its mapped ranges are sent "
                         "(default: IMAGE.bmap or the name with .bmap beside an MMC partition's binary; repeatable)")
    sp.add_argument("--no-bmap", action="store_true", help="send every byte of every binary, ignore block maps")
    sp.add_argument("--skip-holes", action="store_true",
                    help="sparse binaries without a block map: send only their data ranges (SEEK_DATA/SEEK_HOLE); "
                         "never implied, a raw image may rely on its zeros")
    sp.add_argument("--yes", action="store_true",
                    help="go ahead with a UART flash of more than an hour (asked on a terminal; refused without "
                         "--yes in --json mode or when not interactive)")
    sp.add_argument("--storage", metavar="DIR", help="simulated boards: keep their storage images here")
    sp.add_argument("--report", metavar="FILE", help="write the JSON report here (also when the run fails)")
    a.add_json(sp, "one JSON event per line (progress, stage, partition, verified, done, error)")
    sp.set_defaults(func=cmd_flash)
