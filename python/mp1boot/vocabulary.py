# SPDX-License-Identifier: MIT
"""The words of the reports, as enums (the C++ ``mp1boot/vocabulary.hpp`` mirrored).

Each member *is* its string: ``Link.usb == "usb"``, ``f"{Link.usb}"`` and ``str(Link.usb)`` give
``usb``, ``repr()`` gives ``'usb'``, and ``json.dumps`` writes ``"usb"``, so a report with these members serializes exactly as
the JSON report (docs/flash-report.schema.json). The API puts them in its results: ``Device.link``,
a flash report's ``link`` and ``result`` and each partition's ``result`` and ``verified``, the
``stage`` of a flash run's events, the ``stage`` of
:func:`mp1boot.list_devices`, the ``link`` of :func:`mp1boot.plan`.
"""
from __future__ import annotations

import enum

__all__ = ["Link", "Stage", "FlashResult", "FlashStep", "PartitionResult", "VerifyResult"]


class _Word(str, enum.Enum):
    """A str enum whose str(), format(), repr() and hash are its value's on every Python version
    (3.9..3.12+): a member is found as a dict key by its string, and a report holding members prints
    as it did with plain strings (``{'result': 'ok', ...}``); ``type()`` tells them apart."""

    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__
    __repr__ = str.__repr__


class Link(_Word):
    """The link a board is attached by; ``unknown`` ("") before anything was connected."""

    unknown = ""
    uart = "uart"
    usb = "usb"


class Stage(_Word):
    """The boot stage that answers (USB: from the product string)."""

    unknown = "unknown"
    rom = "rom"
    tfa = "tf-a"
    uboot = "u-boot"


class FlashResult(_Word):
    """How a whole flash run ended (a report's ``result``; flash_many's: ok when every board's is)."""

    ok = "ok"            #: every phase sent and started (and read back, with verify)
    failed = "failed"    #: the run ended early (the report's ``error`` says why)


class FlashStep(_Word):
    """The step a flash run is at (the ``stage`` of its events)."""

    none = ""                  #: before the first step
    check = "check"            #: layout, files and board checked before the first byte
    fsbl = "fsbl"              #: the FSBL to the ROM
    fip = "fip"                #: the FIP (and DDR FIP) to TF-A
    layout = "layout"          #: the flash layout to U-Boot
    partitions = "partitions"  #: the partitions
    verify = "verify"          #: reading the partitions back
    done = "done"              #: the run succeeded
    failed = "failed"          #: the run ended with an error


class PartitionResult(_Word):
    """What happened to one phase of a flash run (a partition's ``result``)."""

    ok = "ok"                                        #: sent and started
    failed = "failed"                                #: the run ended during it
    skipped = "skipped"                              #: not reached
    skipped_done_earlier = "skipped-done-earlier"    #: resume: the earlier run programmed it


class VerifyResult(_Word):
    """What reading a partition back said (a partition's ``verified``)."""

    not_read = ""        #: not read back
    ok = "ok"            #: the read-back has the file's SHA-256
    mismatch = "mismatch"
