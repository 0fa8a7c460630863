# SPDX-License-Identifier: MIT
"""Formatting of the CLI's output: JSON event lines, wire traces, partition tables, report files."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def emit_json(obj) -> None:
    """One JSON document on one line of stdout."""
    sys.stdout.write(json.dumps(obj, indent=None, sort_keys=False) + "\n")
    sys.stdout.flush()


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


def print_partitions(report, prefix: str = "") -> None:
    for part in report["partitions"]:
        if part["result"] in ("ok", "resumed"):
            check = {"ok": "  verified", "mismatch": "  MISMATCH"}.get(part.get("verified", ""), "")
            rate = "  (resumed)" if part["result"] == "resumed" else f"{part['bytes_per_second'] / 1000:8.1f} kB/s"
            print(f"{prefix}  0x{part['phase']:02x} {part['name']:<16} {part['size']:>10} B  "
                  f"sha256 {part['sha256'][:16]}…  {rate}{check}")
