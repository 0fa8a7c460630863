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


def u32(text: str) -> int:
    """An argparse type: 0x.. hex or decimal, 0..0xFFFFFFFF (a bad value is a usage error, exit 2)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number (write 0x-prefixed hex or decimal)") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..0xFFFFFFFF (32 bits)")
    return value


def positive(text: str) -> int:
    """An argparse type: a whole number above 0 (baud rates, block times)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be above 0")
    return value


def milliseconds(text: str) -> float:
    """An argparse type: a time in ms, 0 or more, at most one hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of milliseconds") from None
    if not 0 <= value <= 3_600_000:
        raise argparse.ArgumentTypeError(f"{text}: must be 0..3600000 ms")
    return value


def word_value(option: str, spec: str) -> tuple:
    """``N=VALUE`` of ``--word``: both numbers, N >= 0, VALUE in 32 bits; else a UsageError naming it."""
    n, sep, v = spec.partition("=")
    try:
        if not sep:
            raise ValueError("expected N=VALUE")
        word, value = int(n, 0), int(v, 0)
    except ValueError:
        raise errors.UsageError(f"{option} {spec}: expected N=VALUE with two numbers (0x.. hex or decimal)",
                                code="usage") from None
    if word < 0:
        raise errors.UsageError(f"{option} {spec}: the word number cannot be negative", code="usage")
    if not 0 <= value <= 0xFFFFFFFF:
        raise errors.UsageError(f"{option} {spec}: the value is outside 0..0xFFFFFFFF (32 bits)", code="usage")
    return word, value


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
                    help="record the whole exchange to FILE as a field trace (JSON lines, docs/TRACES.md) that "
                         "--port sim:replay=FILE replays; without FILE or '-': print the wire exchange "
                         "('> 31 ce', '< 79') on stderr")
    sp.add_argument("--trace-data", action="store_true",
                    help="keep the files' bytes in the --trace FILE (default: only their sizes and SHA-256)")
