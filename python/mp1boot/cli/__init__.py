# SPDX-License-Identifier: MIT
"""The ``mp1boot`` command-line tool: a thin layer over the Python API.

Human output by default, ``--json`` for machines. Exit codes are stable: 0 success, 1 unexpected
error, 2 usage, 3 bad input file (image, layout), 4 port or device not available, 5 device
disconnected, 6 timeout, 7 refused by the device (NACK, stall), 8 device-reported failure,
130 cancelled. See :data:`mp1boot.errors.EXIT_CODES`.

One module per verb group (``device``: info, boot; ``image``; ``layout``; ``flash``; ``nvm``: otp,
pmic; ``usb``: list, udev; ``sim``), each registering its sub-parser; ``main`` parses and
dispatches; ``output`` formats.
"""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
