# SPDX-License-Identifier: MIT
"""Option types, the help formatter and the option groups shared by the verbs."""
from __future__ import annotations

import argparse
import textwrap

from .. import errors

PORT_HELP = ("the board: serial:PATH[?baud=N&parity=even], sim:SOC[?link=usb&OPTION=VALUE...] (simulated), "
             "usb[:SERIAL|:BUS-PORTPATH]; `mp1boot help ports` gives every option")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" to options whose default means something (not None, False or [])."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or default is None or default is False or default == [] or
                default == argparse.SUPPRESS or action.nargs == 0):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            shown = f"0x{action.default:x}" if getattr(action.type, "hex_default", False) else "%(default)s"
            text += f" (default: {shown})"
        return text


def subparser(sub, name: str, **kw):
    """A verb's parser, with the shared formatter (descriptions wrapped, epilogs kept as written)."""
    if "description" in kw:
        kw["description"] = textwrap.fill(kw["description"], 90)
    return sub.add_parser(name, formatter_class=HelpFormatter, **kw)


def integer(text: str) -> int:
    """A number: decimal, or hex with 0x."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (decimal, or hex with 0x)") from None


integer.hex_default = True


def address(text: str) -> int:
    """An address: hex, with or without 0x (2FFC2500 or 0x2FFC2500)."""
    t = text.lower().replace("_", "")
    try:
        value = int(t[2:] if t.startswith("0x") else t, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an address (hex, 0x optional: 2FFC2500)") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} does not fit 32 bits")
    return value


address.hex_default = True


def defines(pairs, option: str = "--define") -> dict:
    """``--define NAME=PATH`` (or another NAME=PATH option's) items as a dict."""
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise errors.UsageError(f"{option} {item}: expected NAME=PATH", code="usage")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def add_define(sp) -> None:
    sp.add_argument("--define", "-D", action="append", metavar="NAME=PATH",
                    help="value of a %%NAME%% placeholder in the layout's Binary column (repeatable)")


def add_json(sp, what: str = "one JSON document on stdout instead of text") -> None:
    sp.add_argument("--json", action="store_true", help=what)


def add_board(sp, *, many: bool = False) -> None:
    """The options of a verb that talks to a board: --port, -v, -q, --trace."""
    if many:
        sp.add_argument("--port", "-p", action="append", metavar="PORT",
                        help=PORT_HELP + "; repeat it to flash boards in parallel")
    else:
        sp.add_argument("--port", "-p", required=True, metavar="PORT", help=PORT_HELP)
    sp.add_argument("--verbose", "-v", action="count", default=0,
                    help="-v: stage changes and events on stderr; -vv: also the wire exchange")
    sp.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no notes; errors only")
    sp.add_argument("--trace", nargs="?", const="-", metavar="FILE",
                    help="write the wire exchange ('> 31 ce', '< 79') to FILE; without FILE or '-': stderr")
