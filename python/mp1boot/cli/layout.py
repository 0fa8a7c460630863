# SPDX-License-Identifier: MIT
"""``mp1boot layout``: flash layouts (check, plan)."""
from __future__ import annotations

import os
import sys

from . import args as a
from .output import show

EXIT_OK = 0

def steps(res) -> list:
    """(step, file size, layout entry or None) for each phase of a checked layout, in the device's order."""
    entries = {e["line"]: e for e in res["entries"]}
    out = []
    for step in res["order"]:
        path = step["binary_path"]
        size = os.path.getsize(path) if path and os.path.exists(path) else 0
        out.append((step, size, entries.get(step["line"])))
    return out


def cmd_layout_check(args) -> int:
    import mp1boot
    res = mp1boot.layout_check(args.file, a.defines(args.define), check_binaries=not args.no_binaries)
    errs = [d for d in res["diagnostics"] if d["severity"] == "error"]

    def text():
        yield from (d["text"] for d in res["diagnostics"])
        warn = len(res["diagnostics"]) - len(errs)
        yield (f"{args.file}: {len(res['entries'])} lines, {len(errs)} error(s), {warn} warning(s); "
               f"for {res['service']}")
        if not errs:
            yield "order the device will ask for: " + ", ".join(f"0x{s['phase']:02x} {s['name']}" for s in res["order"])
    show(args, res, text)
    return 3 if errs else EXIT_OK


def cmd_layout_plan(args) -> int:
    import mp1boot
    res = mp1boot.layout_check(args.layout, a.defines(args.define))
    errs = [d for d in res["diagnostics"] if d["severity"] == "error"]
    if errs:
        for d in errs:
            print(d["text"], file=sys.stderr)
        return 3
    plan = mp1boot.plan(args.layout, port=args.console.connect(args.port),
                        defines=a.defines(args.define))  # the core plans
    for r in plan["steps"]:
        r["eta_seconds"] = round(r["eta_seconds"], 2)
    plan["eta_seconds"] = round(plan["eta_seconds"], 1)

    def text():
        yield f"{args.layout} on {plan['soc']} over {plan['transport']}:"
        for r in plan["steps"]:
            yield f"  0x{r['phase']:02x} {r['name']:<16} {r['device']:<6} {r['bytes']:>12} B  ~{r['eta_seconds']:8.1f} s"
        yield f"  total ETA ~{plan['eta_seconds']:.0f} s (transfer only; device flush/erase time not included)"
    show(args, plan, text)
    return EXIT_OK


def register(sub) -> None:
    sp = a.subparser(sub, "layout", help="flash layouts (.tsv): check one, plan a run on a board")
    lsub = sp.add_subparsers(dest="layout_verb", required=True, metavar="{check,plan}")
    lp = a.subparser(lsub, "check", help="every problem, with its line number, in U-Boot's terms")
    lp.add_argument("file", help="FlashLayout.tsv")
    a.add_define(lp)
    lp.add_argument("--no-binaries", action="store_true", help="do not check that the binaries exist and fit")
    a.add_json(lp)
    lp.set_defaults(func=cmd_layout_check)
    pp = a.subparser(lsub, "plan", help="the phases in the order the device will ask for them, sizes and an ETA")
    pp.add_argument("layout", help="FlashLayout.tsv")
    a.add_board(pp)
    a.add_define(pp)
    a.add_json(pp)
    pp.set_defaults(func=cmd_layout_plan)
