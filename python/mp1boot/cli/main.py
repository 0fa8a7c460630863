# SPDX-License-Identifier: MIT
"""The parser of ``mp1boot`` and the dispatch to the verbs; errors become exit codes."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .. import errors
from . import device, flash, image, layout, nvm, sim, usb
from .output import emit_json

EXIT_UNEXPECTED = 1

# The verb modules, in the order their verbs appear in the help.
VERB_MODULES = (device, image, layout, flash, nvm, usb, sim)


def _version() -> str:
    try:
        import mp1boot
        return mp1boot.__version__
    except ImportError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mp1boot", description="Boot and flash STM32MP1 boards over UART and USB.")
    p.add_argument("--version", action="version", version=f"mp1boot {_version()}")
    sub = p.add_subparsers(dest="verb", required=True)
    for module in VERB_MODULES:
        module.register(sub)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except errors.Error as e:
        if getattr(args, "json", False):
            emit_json({"event": "error", **e.to_dict()})
        else:
            print(f"mp1boot: error: {e}", file=sys.stderr)
        return errors.EXIT_CODES.get(e.code, EXIT_UNEXPECTED)
    except KeyboardInterrupt:
        print("mp1boot: interrupted", file=sys.stderr)
        return 130
