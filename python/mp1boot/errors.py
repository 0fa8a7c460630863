# SPDX-License-Identifier: MIT
"""Exception classes raised by mp1boot.

Every error carries where it happened: ``operation`` ("download", "get_phase", "DFU_DNLOAD"),
``phase``, ``partition``, ``packet``, ``bytes_sent`` (payload bytes the device acknowledged),
``bytes_total``, ``transport`` and, for layouts, ``file`` and ``layout_line``. ``code`` is the
stable error-code name ("nack", "timeout", ...), also used for the CLI exit status.
"""
from __future__ import annotations

import builtins
from typing import Optional

__all__ = [
    "Error", "ProtocolError", "NackError", "DeviceError", "TimeoutError", "TransportError",
    "UsageError", "LayoutError", "CancelledError", "EXIT_CODES",
]


class Error(Exception):
    """Base of all mp1boot errors."""

    def __init__(self, message: str = "", *, code: str = "io", operation: Optional[str] = None,
                 phase: Optional[int] = None, partition: Optional[str] = None,
                 packet: Optional[int] = None, bytes_sent: Optional[int] = None,
                 bytes_total: Optional[int] = None, transport: Optional[str] = None,
                 layout_line: Optional[int] = None, file: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.operation = operation
        self.phase = phase
        self.partition = partition
        self.packet = packet
        self.bytes_sent = bytes_sent
        self.bytes_total = bytes_total
        self.transport = transport
        self.layout_line = layout_line
        self.file = file

    def to_dict(self) -> dict:
        """The error as a JSON-ready dict (used by ``--json``)."""
        keys = ("code", "operation", "phase", "partition", "packet", "bytes_sent", "bytes_total",
                "transport", "layout_line", "file")
        d = {"type": type(self).__name__, "message": self.message}
        d.update({k: getattr(self, k) for k in keys if getattr(self, k) is not None})
        return d


class ProtocolError(Error):
    """The device broke the protocol (unexpected byte, malformed reply)."""


class NackError(ProtocolError):
    """The device refused a command or packet (NACK), after the retries."""


class DeviceError(Error):
    """The device reported a failure: ABORT, a DFU error status, a Get Phase 0xFF message."""


class TimeoutError(Error, builtins.TimeoutError):
    """An operation ran past its timeout."""


class TransportError(Error):
    """The port could not be opened or used (missing, busy, permission, disconnected)."""


class UsageError(Error, ValueError):
    """The API was called wrongly (bad argument, bad port URL)."""


class LayoutError(Error, ValueError):
    """A flash layout or an image is invalid. Nothing was sent to the device."""


class CancelledError(Error, KeyboardInterrupt):
    """The operation was cancelled (Ctrl-C or a progress callback that raised)."""


#: Stable exit codes of the command-line tool, by error code name. 0 is success, 1 an unexpected
#: error, 2 a command-line usage error (argparse).
EXIT_CODES = {
    "usage": 2,
    "layout_syntax": 3, "layout_rule": 3, "bad_image": 3, "bad_checksum": 3, "file_not_found": 3,
    "no_device": 4, "multiple_devices": 4, "permission_denied": 4, "port_busy": 4, "io": 4,
    "disconnected": 5, "device_reset": 5,
    "timeout": 6,
    "nack": 7, "unexpected_byte": 7, "stall": 7,
    "abort": 8, "dfu_status": 8, "device_reported": 8, "unsupported": 8,
    "verify_mismatch": 9,
    "board_state": 10, "other_board": 11, "needs_consent": 12,
    "replay_mismatch": 13,
    "cancelled": 130,
}
