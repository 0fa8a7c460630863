# SPDX-License-Identifier: MIT
"""Option types and option groups shared by the verbs."""
from __future__ import annotations

import argparse

from .. import errors


def integer(text: str) -> int:
    return int(text, 0)


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


def defines(pairs) -> dict:
    """``--define NAME=PATH`` items as a dict."""
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise errors.UsageError(f"--define {item}: expected NAME=PATH", code="usage")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def add_port(sp) -> None:
    """``--port`` and ``--trace`` of a verb that talks to one board."""
    sp.add_argument("--port", "-p", required=True,
                    help="serial:/dev/ttyUSB0[?baud=115200], sim:stm32mp135, usb[:SERIAL]")
    sp.add_argument("--trace", action="store_true", help="print the wire exchange on stderr")
