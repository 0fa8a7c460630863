# SPDX-License-Identifier: MIT
"""Option types and option groups shared by the verbs."""
from __future__ import annotations

from .. import errors


def integer(text: str) -> int:
    return int(text, 0)


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
