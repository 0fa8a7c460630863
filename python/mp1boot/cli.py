# SPDX-License-Identifier: MIT
"""The ``mp1boot`` command-line tool: a thin layer over the Python API.

Human output by default, ``--json`` for machines. Exit codes are stable: 0 success, 1 unexpected
error, 2 usage, 3 bad input file (image, layout), 4 port or device not available, 5 device
disconnected, 6 timeout, 7 refused by the device (NACK, stall), 8 device-reported failure,
130 cancelled. See :data:`mp1boot.errors.EXIT_CODES`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import List, Optional

from . import errors

EXIT_OK = 0
EXIT_UNEXPECTED = 1


def _int(text: str) -> int:
    return int(text, 0)


def _emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=None, sort_keys=False) + "\n")
    sys.stdout.flush()


def _trace_printer(stream):
    """Prints the wire exchange in transcript form ('> 31 ce', '< 79')."""
    def trace(direction: str, data: bytes, note: str) -> None:
        line = direction + (" " + data.hex(" ") if data else "")
        if note:
            line += ("    # " if data else " ") + note
        stream.write(line + "\n")
        stream.flush()
    return trace


# ---- verbs -----------------------------------------------------------------------------------

def cmd_info(args) -> int:
    import mp1boot
    trace = _trace_printer(sys.stderr) if args.trace else None
    dev = mp1boot.connect(args.port)
    out = {"transport": dev.transport, "link": dev.link}
    if dev.link == "uart":
        g = dev.get(trace=trace)
        out["protocol_version"] = f"{g.protocol_version >> 4}.{g.protocol_version & 15}"
        out["commands"] = [f"0x{c:02x}" for c in g.commands]
        out["command_names"] = list(g.command_names)
        v = dev.get_version(trace=trace)
        out["version"] = f"0x{v.version:02x}"
        if v.options is not None:
            out["option_bytes"] = [f"0x{b:02x}" for b in v.options]
    dev_id = dev.get_id(trace=trace)
    out["device_id"] = f"0x{dev_id:03x}"
    out["soc"] = mp1boot.device_id_name(dev_id)
    usb = mp1boot._core.usb_identity(dev)
    if usb:
        out["usb"] = usb
    ph = dev.get_phase(trace=trace)
    out["phase"] = f"0x{ph.phase:02x}"
    out["phase_name"] = ph.name
    out["address"] = f"0x{ph.address:08x}"
    if ph.message:
        out["message"] = ph.message
    if args.json:
        _emit_json(out)
        return EXIT_OK
    print(f"transport:      {out['transport']}")
    if "commands" in out:
        print(f"protocol:       v{out['protocol_version']}")
        print(f"commands:       {', '.join(f'{c} {n}' for c, n in zip(out['commands'], out['command_names']))}")
        opts = f" (option bytes {' '.join(out['option_bytes'])})" if "option_bytes" in out else ""
        print(f"version:        {out['version']}{opts}")
    if usb:
        print(f"usb:            bus {usb['bus']} port {usb['port_path']} address {usb['address']}, {usb['speed']} speed")
        print(f"product:        {usb['product']}")
        print(f"serial:         {usb['serial']}")
        print(f"stage:          {usb['stage']}")
        if usb["speed"] == "full":
            print("warning:        full speed only: check the cable, hub and port (high speed expected)")
    print(f"device id:      {out['device_id']} ({out['soc']})")
    print(f"phase:          {out['phase']} ({out['phase_name']}), address {out['address']}")
    if ph.message:
        print(f"device message: {ph.message}")
    return EXIT_OK


def cmd_boot(args) -> int:
    import mp1boot
    from .progress import TextBar
    if args.file.lower().endswith(".tsv"):
        # A flash layout: load its "-" lines (TF-A, FIP) into RAM, program nothing.
        report = mp1boot.flash(args.file, port=args.port, defines=_defines(args.define), boot_only=True,
                               progress=None if (args.quiet or args.json) else TextBar())
        served = [p for p in report["partitions"] if p["result"] == "ok"]
        if args.json:
            _emit_json({"event": "done", "report": report})
        else:
            print(f"booted {args.file} on {report['soc']}: " +
                  ", ".join(f"0x{p['phase']:02x} {p['name']}" for p in served) + " loaded; nothing programmed")
        return EXIT_OK
    trace = _trace_printer(sys.stderr) if args.trace else None
    dev = mp1boot.connect(args.port)
    events = []

    def json_progress(p):
        events.append(1)
        _emit_json({"event": "progress", "stage": p.stage, "phase": p.phase, "partition": p.partition,
                    "bytes_done": p.bytes_done, "bytes_total": p.bytes_total})

    progress = json_progress if args.json else (None if args.quiet else TextBar())
    r = dev.boot(args.file, progress=progress, trace=trace)
    t = r.transfer
    summary = {"event": "done", "file": args.file, "soc": r.soc, "phase": r.phase, "bytes": t.bytes,
               "seconds": round(t.seconds, 4), "bytes_per_second": round(t.bytes_per_second, 1),
               "transport": dev.transport}
    if t.line_fraction:
        summary["line_fraction"] = round(t.line_fraction, 4)
    if args.json:
        _emit_json(summary)
    else:
        line = f" ({t.line_fraction * 100:.1f}% of the line rate)" if t.line_fraction else ""
        print(f"booted {args.file} on {r.soc}: {t.bytes} bytes in {t.seconds:.2f} s, "
              f"{t.bytes_per_second / 1000:.1f} kB/s{line}; FSBL started")
    return EXIT_OK


def cmd_image_info(args) -> int:
    import mp1boot
    info = mp1boot.image_info(args.file)
    if args.json:
        info = {k: v for k, v in info.items() if k != "text"}
        _emit_json(info)
    else:
        print(f"file: {args.file}")
        print(info["text"].rstrip("\n"))
    return EXIT_OK if info["checksum_ok"] else 3


def cmd_image_wrap(args) -> int:
    import mp1boot
    payload = Path(args.input).read_bytes() if os.path.exists(args.input) else None
    if payload is None:
        raise errors.LayoutError(f"{args.input}: no such file", code="file_not_found", file=args.input)
    out = mp1boot.image_wrap(payload, soc=args.soc, load=args.load, entry=args.entry,
                             binary_type=args.binary_type, image_version=args.image_version,
                             header_major=args.header_version or 0)
    Path(args.output).write_bytes(out)
    info = mp1boot._core.image_info_bytes(out, args.output)
    if args.json:
        _emit_json({"output": args.output, "bytes": len(out), "header_version": info["header_version"],
                    "checksum": info["checksum"]})
    else:
        print(f"wrote {args.output}: {len(out)} bytes, header {info['header_version']}, "
              f"checksum 0x{info['checksum']:08x}")
    return EXIT_OK


def _defines(pairs) -> dict:
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise errors.UsageError(f"--define {item}: expected NAME=PATH", code="usage")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def cmd_layout_check(args) -> int:
    import mp1boot
    res = mp1boot._core.layout_check(args.file, _defines(args.define), not args.no_binaries)
    errs = [d for d in res["diagnostics"] if d["severity"] == "error"]
    if args.json:
        _emit_json(res)
    else:
        for d in res["diagnostics"]:
            print(d["text"])
        warn = len(res["diagnostics"]) - len(errs)
        print(f"{args.file}: {len(res['entries'])} lines, {len(errs)} error(s), {warn} warning(s); "
              f"for {res['service']}")
        if not errs:
            print("order the device will ask for: " + ", ".join(f"0x{s['phase']:02x} {s['name']}" for s in res["order"]))
    return 3 if errs else EXIT_OK


def _flash_ports(args) -> list:
    """The ports of `mp1boot flash`: --port (repeatable) or --all (every board in the ROM's DFU mode)."""
    import mp1boot
    ports = list(args.port or [])
    if args.all:
        found = [d for d in mp1boot.list_devices() if d.get("stage") == "rom" and d.get("serial")]
        if not found:
            raise errors.TransportError("--all: no STM32MP board in USB DFU mode (boot ROM) was found; check the "
                                        "boot pins and the USB cable, or run `mp1boot list`", code="no_device")
        ports += [f"usb:{d['serial']}" for d in found]
    if not ports:
        raise errors.UsageError("mp1boot flash needs --port PORT (repeatable) or --all", code="usage")
    if args.storage:
        if any(not p.startswith("sim:") for p in ports):
            raise errors.UsageError("--storage applies to simulated boards (sim:SOC ports) only", code="usage")
        out = []
        for i, p in enumerate(ports):
            folder = Path(args.storage) if len(ports) == 1 else Path(args.storage) / f"board{i}"
            folder.mkdir(parents=True, exist_ok=True)
            out.append(p + ("&" if "?" in p else "?") + f"storage={folder}")
        ports = out
    return ports


def _write_report(path, report) -> None:
    if path and report is not None:
        Path(path).write_text(json.dumps(report, indent=1) + "\n")


def _print_partitions(report, prefix: str = "") -> None:
    for part in report["partitions"]:
        if part["result"] in ("ok", "resumed"):
            check = {"ok": "  verified", "mismatch": "  MISMATCH"}.get(part.get("verified", ""), "")
            rate = "  (resumed)" if part["result"] == "resumed" else f"{part['bytes_per_second'] / 1000:8.1f} kB/s"
            print(f"{prefix}  0x{part['phase']:02x} {part['name']:<16} {part['size']:>10} B  "
                  f"sha256 {part['sha256'][:16]}…  {rate}{check}")


def cmd_flash(args) -> int:
    import mp1boot
    from .progress import MultiBar, TextBar
    ports = _flash_ports(args)
    defines = _defines(args.define)

    if len(ports) > 1:
        bar = None if (args.quiet or args.json) else MultiBar(ports)

        def progress(port, p):
            if args.json:
                _emit_json({"event": "progress", "board": port, "stage": p.stage, "phase": p.phase,
                            "partition": p.partition, "bytes_done": p.bytes_done, "bytes_total": p.bytes_total})
            elif bar:
                bar(port, p)

        def events(port, e):
            if args.json:
                _emit_json({"board": port, **e})

        result = None
        try:
            result = mp1boot.flash_many(args.layout, ports=ports, defines=defines, progress=progress,
                                        verify=args.verify, resume=args.resume, events=events)
        finally:
            if bar:
                bar.close()
        _write_report(args.report, result)
        if args.json:
            _emit_json({"event": "done", "report": result})
        else:
            for key, rep in result["boards"].items():
                print(f"{key}: {rep['result']}" + (f" ({rep.get('error')})" if rep["result"] != "ok" else ""))
                _print_partitions(rep, "  ")
            print(f"{len(result['boards'])} boards: {result['result']}")
        if result["result"] == "ok":
            return EXIT_OK
        codes = [errors.EXIT_CODES.get(r.get("error_code", ""), EXIT_UNEXPECTED)
                 for r in result["boards"].values() if r["result"] != "ok"]
        return max(codes)

    port = ports[0]
    if args.json:
        def progress(p):
            _emit_json({"event": "progress", "stage": p.stage, "phase": p.phase, "partition": p.partition,
                        "bytes_done": p.bytes_done, "bytes_total": p.bytes_total})

        def events(e):
            _emit_json(e)
    else:
        progress = None if args.quiet else TextBar()
        events = None
    try:
        report = mp1boot.flash(args.layout, port=port, defines=defines, progress=progress, verify=args.verify,
                               resume=args.resume, events=events)
    except BaseException as exc:
        _write_report(args.report, getattr(exc, "report", None))
        if args.report and getattr(exc, "report", None) is not None and not args.json:
            print(f"mp1boot: report written to {args.report}; resume with --resume {args.report}",
                  file=sys.stderr)
        raise
    _write_report(args.report, report)
    if args.json:
        _emit_json({"event": "done", "report": report})
    else:
        _print_partitions(report)
        where = report.get("serial") or report.get("port_path") or port
        extra = f", {report['speed']} speed" if report.get("link") == "usb" and report.get("speed") else ""
        print(f"flashed {args.layout} on {report['soc']} ({where}{extra}) in {report['seconds']:.2f} s: "
              f"{report['result']}")
        if report.get("speed") == "full":
            print("mp1boot: warning: the board runs at USB full speed (12 Mbit/s): check the cable and hub",
                  file=sys.stderr)
    return EXIT_OK


def _nvm_device(args):
    """Connect; with --layout, boot its '-' lines first so that U-Boot stm32prog answers."""
    import mp1boot
    dev = mp1boot.connect(args.port)
    if args.layout:
        dev.flash(args.layout, defines=_defines(args.define), boot_only=True)
    return dev


def cmd_otp(args) -> int:
    import mp1boot
    dev = _nvm_device(args)
    image = dev.read_otp()
    if args.action == "write":
        if not args.word:
            raise errors.UsageError("otp write needs --word N=VALUE (repeatable)", code="usage")
        values = {}
        for spec in args.word:
            n, _, v = spec.partition("=")
            values[int(n, 0)] = int(v, 0)
        request = mp1boot._core.otp_request(image, values, set(args.lock or []))  # checks the word numbers
        if not args.i_understand_this_is_permanent:
            print("mp1boot: OTP fuses cannot be cleared once blown. Words to program: " +
                  ", ".join(args.word) + ". Add --i-understand-this-is-permanent to do it.", file=sys.stderr)
            return 2
        dev.write_otp(request, i_understand_this_is_permanent=True)
        image = dev.read_otp()
    decoded = mp1boot._core.otp_decode(image)
    words = decoded["words"]
    if args.output:
        Path(args.output).write_bytes(image)
    if args.json:
        _emit_json({"bsec_state": decoded["bsec_state"], "words": words})
    else:
        shown = [w for w in words if w["value"] or w["locked"]] if not args.all_words else words
        for w in shown:
            print(f"  OTP {w['word']:3d}: 0x{w['value']:08x}" + ("  locked" if w["locked"] else ""))
        print(f"{len(words)} OTP words, {len(shown)} shown" + ("" if args.all_words else " (non-zero or locked)"))
    return EXIT_OK


def cmd_pmic(args) -> int:
    dev = _nvm_device(args)
    if args.action == "write":
        data = Path(args.file).read_bytes() if args.file else b""
        if len(data) != 8:
            raise errors.UsageError("pmic write needs FILE holding the 8 NVM bytes", code="usage")
        if not args.i_understand_this_is_permanent:
            print(f"mp1boot: writing the PMIC NVM ({data.hex(' ')}) changes the board's power-up sequence for good. "
                  "Add --i-understand-this-is-permanent to do it.", file=sys.stderr)
            return 2
        dev.write_pmic(data, i_understand_this_is_permanent=True)
    nvm = dev.read_pmic()
    if args.json:
        _emit_json({"pmic_nvm": nvm.hex()})
    else:
        print("PMIC NVM: " + nvm.hex(" "))
    return EXIT_OK


# Payload rates used for the plan's ETA, bytes/s. UART: the protocol bound at the line rate
# (256 payload bytes per 268 bytes on the wire, 11 bits a byte). USB: the stage figures in FIELD.md
# (ROM into SYSRAM, TF-A into DDR, U-Boot stm32prog to flash).
USB_RATES = {"rom": 200_000, "tf-a": 640_000, "u-boot": 2_000_000}


def _eta_rate(link: str, baud: int, phase: int) -> float:
    if link == "uart":
        return baud / 11 * 256 / 268
    stage = "rom" if phase == 0x01 else "tf-a" if phase in (0x02, 0x03) else "u-boot"
    return USB_RATES[stage]


def cmd_layout_plan(args) -> int:
    import mp1boot
    res = mp1boot._core.layout_check(args.layout, _defines(args.define), True)
    errs = [d for d in res["diagnostics"] if d["severity"] == "error"]
    if errs:
        for d in errs:
            print(d["text"], file=sys.stderr)
        return 3
    dev = mp1boot.connect(args.port)
    baud = 115200
    if "@" in dev.transport:
        try:
            baud = int(dev.transport.split("@", 1)[1].split()[0])
        except ValueError:
            pass
    sizes = {e["line"]: e for e in res["entries"]}
    rows, total = [], 0.0
    for step in res["order"]:
        path = step["binary_path"]
        size = os.path.getsize(path) if path and os.path.exists(path) else 0
        eta = size / _eta_rate(dev.link, baud, step["phase"])
        total += eta
        rows.append({"phase": step["phase"], "name": step["name"], "file": path, "bytes": size,
                     "eta_seconds": round(eta, 2),
                     "device": sizes[step["line"]]["ip"] if step["line"] in sizes else "ram"})
    plan = {"layout": args.layout, "transport": dev.transport, "link": dev.link,
            "soc": mp1boot.device_id_name(dev.get_id()), "steps": rows, "eta_seconds": round(total, 1)}
    if args.json:
        _emit_json(plan)
        return EXIT_OK
    print(f"{args.layout} on {plan['soc']} over {plan['transport']}:")
    for r in rows:
        print(f"  0x{r['phase']:02x} {r['name']:<16} {r['device']:<6} {r['bytes']:>12} B  ~{r['eta_seconds']:8.1f} s")
    print(f"  total ETA ~{total:.0f} s (transfer only; device flush/erase time not included)")
    return EXIT_OK


def cmd_list(args) -> int:
    import mp1boot
    devices = mp1boot.list_devices()
    if args.json:
        _emit_json({"devices": [dict(index=i, **d) for i, d in enumerate(devices)]})
        return EXIT_OK
    if not devices:
        print("no STM32MP device in DFU mode (0483:df11) found")
        return EXIT_OK
    print(f"{'#':>2}  {'bus':>3} {'port':<10} {'addr':>4} {'speed':<6} {'stage':<7} {'device':<20} {'rev':<6} serial")
    for i, d in enumerate(devices):
        dev = f"0x{d['device_id']:03x} {d['soc']}" if d["device_id"] else "?"
        line = (f"{i:>2}  {d['bus']:>3} {d['port_path']:<10} {d['address']:>4} {d['speed']:<6} {d['stage']:<7} "
                f"{dev:<20} 0x{d['revision']:04x} {d['serial']}")
        if not d["accessible"]:
            line += f"   ({d['problem']}: see `mp1boot udev --print`)"
        print(line)
        if d["product"]:
            print(f"      {d['product']}")
    return EXIT_OK


def cmd_udev(args) -> int:
    import mp1boot
    rules = mp1boot._core.udev_rules()
    if args.install:
        target = Path(args.rules_dir) / "60-mp1boot.rules"
        try:
            target.write_text(rules)
        except OSError as e:
            raise errors.TransportError(f"cannot write {target}: {e.strerror} (run with sudo)",
                                        code="permission_denied", file=str(target))
        print(f"installed {target}; reload with: udevadm control --reload-rules && udevadm trigger")
        return EXIT_OK
    sys.stdout.write(rules)
    return EXIT_OK


def _sim_keys_help() -> str:
    import mp1boot
    return mp1boot.sim_board_keys_help()


def _usbsim_tool() -> str:
    here = Path(__file__).resolve().parent / "bin" / "mp1boot-usbsim"
    if here.is_file():
        return str(here)
    found = shutil.which("mp1boot-usbsim")
    if not found:
        raise errors.TransportError("mp1boot-usbsim (the USB simulator server) is not installed or built",
                                    code="no_device")
    return found


def cmd_sim(args) -> int:
    import mp1boot
    options = list(args.set or [])
    # Checked here, before any server starts: errors name the key and what it accepts.
    mp1boot.sim_check_options(args.soc, (["link=usb"] if args.usb else []) + options)
    if args.usb:
        argv = [_usbsim_tool(), "--soc", args.soc]
        for kv in options:
            argv += ["--set", kv]
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
                                   baud=args.baud, turnaround_ms=args.turnaround_ms, storage_dir=args.storage or "",
                                   options=options)
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


# ---- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mp1boot", description="Boot and flash STM32MP1 boards over UART and USB.")
    p.add_argument("--version", action="version", version=f"mp1boot {_version()}")
    sub = p.add_subparsers(dest="verb", required=True)

    def port_arg(sp):
        sp.add_argument("--port", "-p", required=True,
                        help="serial:/dev/ttyUSB0[?baud=115200], sim:stm32mp135, usb[:SERIAL]")
        sp.add_argument("--trace", action="store_true", help="print the wire exchange on stderr")

    sp = sub.add_parser("info", help="identify the device: commands, version, id, phase")
    port_arg(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("boot", help="download an FSBL image and start it, or boot a layout's '-' lines")
    sp.add_argument("file", help="STM32 image (tf-a.stm32), or FlashLayout.tsv (TF-A and FIP into RAM)")
    sp.add_argument("--define", "-D", action="append", metavar="NAME=PATH", help="with a layout: %%NAME%% value")
    port_arg(sp)
    sp.add_argument("--json", action="store_true", help="one JSON event per line")
    sp.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_boot)

    sp = sub.add_parser("image", help="STM32 image files")
    isub = sp.add_subparsers(dest="image_verb", required=True)
    ip = isub.add_parser("info", help="show every header field and check the checksum")
    ip.add_argument("file")
    ip.add_argument("--json", action="store_true")
    ip.set_defaults(func=cmd_image_info)
    wp = isub.add_parser("wrap", help="wrap a raw binary into an STM32 image")
    wp.add_argument("--soc", required=True, help="stm32mp135, stm32mp157, ...")
    wp.add_argument("--load", type=_int, required=True, help="load address")
    wp.add_argument("--entry", type=_int, required=True, help="entry point")
    wp.add_argument("--binary-type", type=_int, default=0x10, help="binary type (0x10 TF-A BL2, 0x00 U-Boot)")
    wp.add_argument("--image-version", type=_int, default=0)
    wp.add_argument("--header-version", type=int, choices=(1, 2), help="force header v1 or v2")
    wp.add_argument("--json", action="store_true")
    wp.add_argument("input")
    wp.add_argument("output")
    wp.set_defaults(func=cmd_image_wrap)

    sp = sub.add_parser("layout", help="flash layouts (.tsv)")
    lsub = sp.add_subparsers(dest="layout_verb", required=True)
    lp = lsub.add_parser("check", help="every problem, with its line number, in U-Boot's terms")
    lp.add_argument("file")
    lp.add_argument("--define", "-D", action="append", metavar="NAME=PATH", help="value of a %%NAME%% placeholder")
    lp.add_argument("--no-binaries", action="store_true", help="do not check that the binaries exist and fit")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_layout_check)
    pp = lsub.add_parser("plan", help="the phases in the order the device will ask for them, sizes and an ETA")
    pp.add_argument("layout")
    pp.add_argument("--port", "-p", required=True)
    pp.add_argument("--define", "-D", action="append", metavar="NAME=PATH")
    pp.add_argument("--json", action="store_true")
    pp.set_defaults(func=cmd_layout_plan)

    sp = sub.add_parser("flash", help="program a board from a flash layout, driven by Get Phase")
    sp.add_argument("layout", help="FlashLayout.tsv")
    sp.add_argument("--port", "-p", action="append",
                    help="serial:PATH, sim:stm32mp157[?link=usb], usb[:SERIAL]; repeat it to flash boards in parallel")
    sp.add_argument("--all", action="store_true", help="every STM32MP board waiting in USB DFU mode, in parallel")
    sp.add_argument("--define", "-D", action="append", metavar="NAME=PATH", help="value of a %%NAME%% placeholder")
    sp.add_argument("--verify", action="store_true", help="read every programmed partition back and compare SHA-256")
    sp.add_argument("--resume", metavar="REPORT", help="skip the partitions this earlier report lists as done")
    sp.add_argument("--storage", metavar="DIR", help="simulated boards: keep their storage images here")
    sp.add_argument("--report", metavar="FILE", help="write the JSON report here (also when the run fails)")
    sp.add_argument("--json", action="store_true", help="one JSON event per line")
    sp.add_argument("--quiet", "-q", action="store_true")
    sp.set_defaults(func=cmd_flash)

    sp = sub.add_parser("otp", help="read (or, with explicit consent, program) OTP fuses through U-Boot stm32prog")
    sp.add_argument("action", choices=["read", "write"])
    sp.add_argument("--port", "-p", required=True)
    sp.add_argument("--layout", metavar="TSV", help="boot this layout's '-' lines first (a board still at the ROM)")
    sp.add_argument("--define", "-D", action="append", metavar="NAME=PATH")
    sp.add_argument("--word", action="append", metavar="N=VALUE", help="write: program word N with VALUE")
    sp.add_argument("--lock", action="append", type=int, metavar="N", help="write: also lock word N for good")
    sp.add_argument("--i-understand-this-is-permanent", action="store_true", help="write: required; fuses cannot be undone")
    sp.add_argument("--all-words", action="store_true", help="read: show zero words too")
    sp.add_argument("--output", "-o", metavar="FILE", help="save the raw OTP image (OP-TEE TA format)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_otp)

    sp = sub.add_parser("pmic", help="read (or, with explicit consent, write) the STPMIC1 NVM through U-Boot stm32prog")
    sp.add_argument("action", choices=["read", "write"])
    sp.add_argument("file", nargs="?", help="write: the 8 NVM bytes")
    sp.add_argument("--port", "-p", required=True)
    sp.add_argument("--layout", metavar="TSV", help="boot this layout's '-' lines first (a board still at the ROM)")
    sp.add_argument("--define", "-D", action="append", metavar="NAME=PATH")
    sp.add_argument("--i-understand-this-is-permanent", action="store_true", help="write: required")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_pmic)

    sp = sub.add_parser("list", help="list STM32MP devices in USB DFU mode")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("udev", help="the udev rule that gives users access to the boards")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--print", action="store_true", default=True, help="print the rules file (default)")
    g.add_argument("--install", action="store_true", help="write it to --rules-dir (needs root)")
    sp.add_argument("--rules-dir", default="/etc/udev/rules.d")
    sp.set_defaults(func=cmd_udev)

    sp = sub.add_parser("sim", help="serve a simulated board", formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="board options (--set KEY=VALUE; the same keys as sim: URLs and mp1boot-usbsim):\n" +
                        _sim_keys_help())
    sp.add_argument("--soc", default="stm32mp135")
    sp.add_argument("--uart", action="store_true", help="on a pseudo-terminal (prints 'uart: /dev/pts/N')")
    sp.add_argument("--record", metavar="DIR", help="write received images and an exchange log here")
    sp.add_argument("--line-timing", action="store_true", help="pace bytes like a real UART line")
    sp.add_argument("--baud", type=int, default=115200)
    sp.add_argument("--turnaround-ms", type=float, default=0.0)
    sp.add_argument("--usb", action="store_true", help="as a USB device that libusb programs can open (umockdev)")
    sp.add_argument("--daemon", action="store_true", help="with --usb: serve for other processes, print their environment")
    sp.add_argument("--storage", metavar="DIR",
                    help="keep the board's storage images (mmc0.img, nor0.img, ...) here for inspection")
    sp.add_argument("--uboot-block-us", type=int, metavar="N",
                    help="with --usb: modelled U-Boot time per 4096-byte block (2000 = about 2 MB/s)")
    sp.add_argument("--set", "-o", action="append", metavar="KEY=VALUE",
                    help="a board option (listed below); repeat it")
    sp.add_argument("command", nargs=argparse.REMAINDER, help="with --usb: -- COMMAND ARGS... to run with the board attached")
    sp.set_defaults(func=cmd_sim)
    return p


def _version() -> str:
    try:
        from . import _core
        return _core.__version__
    except ImportError:
        return "unknown"


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except errors.Error as e:
        if getattr(args, "json", False):
            _emit_json({"event": "error", **e.to_dict()})
        else:
            print(f"mp1boot: error: {e}", file=sys.stderr)
        return errors.EXIT_CODES.get(e.code, EXIT_UNEXPECTED)
    except KeyboardInterrupt:
        print("mp1boot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
