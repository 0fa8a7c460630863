# SPDX-License-Identifier: MIT
"""Formatting of the CLI's output: JSON event lines, wire traces, partition tables, report files."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..progress import human_bytes, use_colour


def emit_json(obj) -> None:
    """One JSON document on one line of stdout."""
    sys.stdout.write(json.dumps(obj, indent=None, sort_keys=False) + "\n")
    sys.stdout.flush()


def show(args, obj, text) -> None:
    """A verb's result on stdout: ``obj`` as one JSON line with ``--json``, otherwise ``text``: a
    line, a list of lines, or a function returning or yielding them (called for text output only)."""
    if getattr(args, "json", False):
        emit_json(obj)
        return
    if callable(text):
        text = text()
    for line in [text] if isinstance(text, str) else text:
        print(line)


_STYLES = {"ok": "32", "bad": "1;31", "warn": "33", "dim": "2", "bold": "1"}


def paint(text: str, style: str, stream=None) -> str:
    """``text`` in ``style`` (ok, bad, warn, dim, bold) when ``stream`` (stdout) shows colour."""
    if not use_colour(stream or sys.stdout):
        return text
    return f"\033[{_STYLES[style]}m{text}\033[0m"


class Console:
    """Where a board verb's side output goes, from -v/-q/--trace: notes (-v) and warnings on stderr,
    the wire exchange on stderr (``--trace``, -vv), the field trace into a file (``--trace FILE``:
    ``record``). Verbs connect through :meth:`connect`; :meth:`close` closes those devices and ends
    the field trace with the run's outcome."""

    def __init__(self, args, argv=None) -> None:
        self.verbosity = getattr(args, "verbose", 0) - (1 if getattr(args, "quiet", False) else 0)
        self.json = getattr(args, "json", False)
        self.record = None
        self._devices = []
        target = getattr(args, "trace", None)
        if target and target != "-":
            import mp1boot
            self.record = mp1boot.TraceWriter(target, getattr(args, "trace_data", False), traced_argv(argv or []))
        self.trace = trace_printer(sys.stderr) if target == "-" or self.verbosity >= 2 else None

    def connect(self, port: str):
        """Connects (recording into the --trace FILE, if any); close() closes the device."""
        import mp1boot
        dev = mp1boot.connect(port, record=self.record)
        self._devices.append(dev)
        return dev

    def close_devices(self) -> None:
        """Closes the devices of connect(); a replayed trace raises here when the host stopped
        before its end."""
        while self._devices:
            self._devices.pop().close()

    @property
    def progress_bars(self) -> bool:
        return self.verbosity >= 0 and not self.json

    def note(self, text: str) -> None:
        """A line for -v."""
        if self.verbosity >= 1:
            print(paint(f"mp1boot: {text}", "dim", sys.stderr), file=sys.stderr, flush=True)

    def info(self, text: str) -> None:
        """A line shown unless -q (on stderr: stdout keeps the result)."""
        if self.verbosity >= 0:
            print(f"mp1boot: {text}", file=sys.stderr, flush=True)

    def confirm(self, question: str) -> bool:
        """Asks on the terminal; False without one (--json, piped input): the run then refuses."""
        if self.json or not sys.stdin.isatty() or not sys.stderr.isatty():
            return False
        print(f"mp1boot: {question}.", file=sys.stderr, flush=True)
        try:
            return input("Go ahead? [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            return False

    def warn(self, text: str) -> None:
        print(paint(f"mp1boot: warning: {text}", "warn", sys.stderr), file=sys.stderr, flush=True)

    def close(self, result: str = "ok", message: str = "") -> None:
        """Ends the field trace with the run's outcome ("ok", an error code, "exit N")."""
        for dev in self._devices:
            try:
                dev.close()
            except Exception:  # the run already failed; its error is the one reported
                pass
        self._devices = []
        if self.record is not None:
            self.record.end(result, message)
            self.record = None


def traced_argv(argv: list) -> list:
    """The command line a field trace keeps for its replay: without --port, --trace and
    --trace-data (the replay supplies its own port)."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in ("--port", "-p"):
            skip = True
        elif arg == "--trace":
            skip = i + 1 < len(argv) and not argv[i + 1].startswith("-")
        elif arg.startswith(("--port=", "--trace=")) or arg == "--trace-data":
            continue
        else:
            out.append(arg)
    return out


def trace_printer(stream):
    """Prints the wire exchange in transcript form ('> 31 ce', '< 79')."""
    def trace(direction: str, data: bytes, note: str) -> None:
        line = direction + (" " + data.hex(" ") if data else "")
        if note:
            line += ("    # " if data else " ") + note
        stream.write(line + "\n")
        stream.flush()
    return trace


def json_progress_event(p, **extra) -> dict:
    """The JSON progress event of one Progress report (``extra`` first, e.g. the board)."""
    return {"event": "progress", **extra, "stage": p.stage, "phase": p.phase, "partition": p.partition,
            "bytes_done": p.bytes_done, "bytes_total": p.bytes_total}


def write_report(path, report) -> None:
    if path and report is not None:
        Path(path).write_text(json.dumps(report, indent=1) + "\n")


# The words of the report's partition results in the summary table.
RESULT_WORDS = {"ok": "ok", "resumed": "done earlier (not sent)", "skipped-done-earlier": "done earlier (not sent)",
                "skipped": "skipped", "failed": "FAILED", "": "not reached"}


def print_partitions(report, prefix: str = "") -> None:
    """The summary table of a flash report: one row per partition, then the total."""
    parts = report.get("partitions", [])
    if not parts:
        return
    print(paint(f"{prefix}  {'id':<5} {'partition':<16} {'device':<7} {'offset':<11} {'size':>10} {'time':>8} "
                f"{'rate':>11}  result", "bold"))
    total_bytes, total_seconds = 0, 0.0
    for part in parts:
        sent = part["result"] == "ok"
        word = RESULT_WORDS.get(part["result"], part["result"])
        check = {"ok": ", verified", "mismatch": ", VERIFY MISMATCH"}.get(part.get("verified", ""), "")
        style = "bad" if part["result"] == "failed" or part.get("verified") == "mismatch" else \
            "ok" if sent else "dim"
        rate = f"{human_bytes(part['bytes_per_second'])}/s" if sent and part.get("bytes_per_second") else ""
        secs = f"{part['seconds']:.2f} s" if sent else ""
        mapped = f", {human_bytes(part['bytes_sent'])} sent (block map)" if part.get("bmap") and sent else ""
        if sent:
            total_bytes += part.get("bytes_sent", part["size"])
            total_seconds += part.get("seconds", 0.0)
        print(f"{prefix}  0x{part['phase']:02x}  {part['name']:<16} {part.get('ip') if part.get('ip') not in (None, '', 'none') else 'ram':<7} "
              f"{part.get('offset') or '-':<11} {human_bytes(part['size']):>10} {secs:>8} {rate:>11}  "
              + paint(word + check, style) + mapped)
    rate = f"{human_bytes(total_bytes / total_seconds)}/s" if total_seconds > 0 else ""
    print(f"{prefix}  {'total sent':<42} {human_bytes(total_bytes):>10} {f'{total_seconds:.2f} s':>8} {rate:>11}")


def describe_event(e: dict) -> str:
    """One line for a flash event (stage change, partition done, partition verified)."""
    kind = e.get("event")
    if kind == "stage":
        return f"stage: {e.get('stage')}"
    if kind == "estimate":
        minutes = round(e.get("eta_seconds", 0) / 60)
        return (f"{e.get('bytes', 0) / 1e6:.1f} MB to send over {e.get('link', '?').upper()} at "
                f"{e.get('speed') or '?'}: about {minutes // 60} h {minutes % 60:02d} min")
    name = f"0x{e.get('phase', 0):02x} {e.get('name', '')}"
    if kind == "verified":
        return f"verified {name}: {e.get('verified', '?')}"
    return f"partition {name}: {e.get('result', '?')}, {e.get('size', 0)} bytes"
