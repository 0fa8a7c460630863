# SPDX-License-Identifier: MIT
"""mp1boot: boot and flash STM32MP1 boards through the ROM bootloader, over UART and USB DFU.

Quick start::

    import mp1boot
    dev = mp1boot.connect("sim:stm32mp135")          # or "serial:/dev/ttyUSB0", "usb"
    print(dev.get_phase())
    dev.boot("tf-a.stm32", progress=mp1boot.progress.TextBar())

Ports: ``serial:/dev/ttyUSB0[?baud=115200&parity=even&low_latency=1]``, ``sim:stm32mp135`` /
``sim:stm32mp157`` (the in-process simulated board), ``usb[:SERIAL|:BUS-PORTPATH]``.
Errors are the classes of :mod:`mp1boot.errors`; each says where it happened.
"""
from __future__ import annotations

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        "mp1boot's native extension (mp1boot._core) could not be loaded: " + str(exc) +
        ". Build it with `pip install .` or `make build` (see README.md)."
    ) from exc

from . import errors, progress
from ._core import (BootResult, Device, GetReply, PhaseInfo, Progress, TraceWriter, TransferStats,
                    UartSimServer, VersionReply, device_id_name, sim_board_keys, sim_board_keys_help,
                    sim_check_options)
from .errors import (CancelledError, DeviceError, Error, LayoutError, NackError, ProtocolError,
                     TimeoutError, TransportError, UsageError)
from .vocabulary import FlashResult, FlashStep, Link, PartitionResult, Stage, VerifyResult

__version__: str = _core.__version__

__all__ = [
    "connect", "list_devices", "flash", "flash_many", "image_info", "image_wrap", "Device", "PhaseInfo", "Progress", "GetReply",
    "VersionReply", "BootResult", "TransferStats", "TraceWriter", "UartSimServer", "device_id_name",
    "sim_board_keys", "sim_board_keys_help", "sim_check_options",
    "Error", "ProtocolError", "NackError", "DeviceError", "TimeoutError", "TransportError",
    "UsageError", "LayoutError", "CancelledError", "errors", "progress", "__version__",
    "layout_check", "plan", "usb_identity", "udev_rules", "otp_decode", "otp_request", "soc_names", "port_help",
    "read_input_file", "Link", "Stage", "FlashResult", "FlashStep", "PartitionResult", "VerifyResult",
]


def connect(url: str, *, timeout: float | None = None, retries: int | None = None,
            sync: bool = True, record=None) -> Device:
    """Connect to a board.

    ``url`` is ``serial:PATH[?baud=...]``, ``sim:SOC``, ``usb[:SELECTOR]`` or ``sim:replay=FILE`` (a
    recorded trace answering as the recorded device). ``timeout`` is the reply timeout of one
    command in seconds (default 1 s), ``retries`` the number of tries per command (default 3). With
    ``sync`` (the default) a UART device is synchronised (0x7F) first. ``record`` (a file name or a
    :class:`TraceWriter`) writes the whole session as a field trace (JSON lines, docs/TRACES.md);
    with ``sim:replay=FILE``, ``close()`` raises ProtocolError ``replay_mismatch`` when the host
    stopped before the end of the trace.
    """
    return _core.connect(url, timeout or 0.0, retries or 0, sync, _trace_writer(record))


def _trace_writer(record):
    """A TraceWriter for ``record`` (a path, a TraceWriter or None)."""
    if record is None or isinstance(record, TraceWriter):
        return record
    return TraceWriter(str(record))


def list_devices() -> list:
    """Every STM32MP device in USB DFU mode: bus, address, port path, speed, product string,
    device id, revision, serial number and the stage that answers (rom, tf-a, u-boot)."""
    return _core.list_devices()


def flash(layout, *, port: str, defines: dict | None = None, progress=None, boot_only: bool = False,
          verify: bool = False, resume=None, resume_any_board: bool = False, events=None, cancel=None,
          trace=None, bmaps: dict | None = None, no_bmap: bool = False, skip_holes: bool = False,
          yes: bool = False, confirm=None, record=None) -> dict:
    """Program a board from a flash layout (.tsv), driven by the phases the device asks for.

    The layout and every binary are checked before the first byte goes out. Returns the report:
    tool version, link, serial number, port path and speed, SoC, and per partition the id, name,
    device, offset, size, SHA-256, time, throughput and result (docs/flash-report.schema.json).

    A board that is not at a stage that programs the layout (U-Boot already done at phase 0xFE,
    or inside an earlier session) raises DeviceError with code ``board_state``: nothing would be
    programmed. ``verify`` reads every programmed partition back at the end and compares SHA-256 (a
    difference raises DeviceError with code ``verify_mismatch``). ``resume`` is an earlier report
    (dict or JSON file, one board or flash_many's): the entry of this board (same USB port path and
    serial number, or the same serial port) says which partitions were done; those whose files are
    unchanged are not sent again and are reported as ``"skipped-done-earlier"`` (read back too with
    ``verify``). A report of another board raises UsageError with code ``other_board`` unless
    ``resume_any_board``. ``events`` is called with one dict per stage change (``{"event": "stage",
    ...}``), finished partition (``"partition"``) and verified partition (``"verified"``).
    ``trace(direction, data, note)`` sees the wire exchange, as in :meth:`Device.boot`. With
    ``boot_only`` only the ``-`` lines (TF-A, FIP) are loaded into RAM and nothing is programmed.
    ``record`` (a file name or a :class:`TraceWriter`) writes the run as a field trace that
    ``port="sim:replay=FILE"`` replays (docs/TRACES.md); a file name also gets the run's outcome.

    Block maps (bmaptool's XML, ``IMAGE.bmap`` or the name with ``.bmap`` beside an MMC partition's
    binary, or ``bmaps={"rootfs": "file.bmap"}``): over USB only the mapped ranges are sent, through
    U-Boot's offset command; each partition's report gives ``bytes_sent``, ``bytes_skipped`` and
    ``bmap``. ``no_bmap`` sends everything; ``skip_holes`` sends only the data of sparse binaries
    that have no block map (never implied: a raw image may rely on its zeros).

    Over UART every byte is sent at about 10 kB/s (115200 baud): before the first download an
    ``estimate`` event gives the bytes and ``eta_seconds``, and a run of more than an hour needs
    ``yes=True`` or a ``confirm(question)`` callable returning True; otherwise UsageError with code
    ``needs_consent`` (nothing downloaded).

    When the run fails (or is interrupted), the exception carries the report so far as
    ``exc.report``: write it out and pass it as ``resume`` next time.
    """
    sink: list = []
    writer = _trace_writer(record)
    try:
        report = _core.flash(str(layout), port, dict(defines or {}), progress, boot_only, verify,
                             _resume_text(resume), resume_any_board, events, sink, cancel, trace,
                             {k: str(v) for k, v in (bmaps or {}).items()}, no_bmap, skip_holes, yes, confirm,
                             writer)
    except BaseException as exc:
        if sink:
            exc.report = sink[-1]
        if writer is not None and writer is not record:
            writer.end(getattr(exc, "code", None) or type(exc).__name__, str(exc))
        raise
    if writer is not None and writer is not record:
        writer.end("ok")
    return report


def _read_report(path) -> dict:
    """An earlier JSON report, checked: a missing, unreadable or non-regular file and text that is
    not a JSON object are LayoutErrors naming the file (never a traceback)."""
    import json
    text = read_input_file(path, 64 << 20, "a report")
    try:
        report = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: not a JSON report ({exc})", code="file_not_found", file=str(path)) from None
    if not isinstance(report, dict):
        raise LayoutError(f"{path}: not a JSON report (a JSON {type(report).__name__}, expected an object)",
                          code="file_not_found", file=str(path))
    return report


def _resume_text(resume) -> str:
    """The earlier report as JSON text for the core ("" for none); a file is checked first."""
    import json
    if resume is None:
        return ""
    return json.dumps(resume if isinstance(resume, dict) else _read_report(resume))


def flash_many(layout, *, ports: list, defines: dict | None = None, progress=None, verify: bool = False,
               resume=None, resume_any_board: bool = False, events=None, cancel=None, bmaps: dict | None = None,
               no_bmap: bool = False, skip_holes: bool = False, yes: bool = False) -> dict:
    """Flash several boards in parallel: one thread per board in the C++ core, without the GIL.

    ``progress(port, p)`` and ``events(port, event)`` receive the board's port first (called from
    the boards' threads, one at a time). Returns ``{"tool_version", "result": "ok"|"failed",
    "boards": {key: report}}`` keyed by board identity (``usb:PORTPATH`` over USB, else the port);
    a board that failed has its report (``result`` "failed", ``error``, ``error_code``) and does not
    stop the others. ``resume`` (an earlier report of one board or of several) gives each board
    the entry of its own earlier run. Ctrl-C, or ``cancel`` (a CancelToken), stops every board.
    ``yes`` lets UART runs of more than an hour go ahead (nobody is asked: boards run in threads).
    """
    return _core.flash_many(str(layout), [str(p) for p in ports], dict(defines or {}), progress, verify,
                            _resume_text(resume), resume_any_board, events, cancel,
                            {k: str(v) for k, v in (bmaps or {}).items()}, no_bmap, skip_holes, yes)


def image_info(image, *, name: str | None = None) -> dict:
    """Every header field of an STM32 image, and whether its checksum holds.

    ``image`` is a file path, or the image's bytes (``name`` then names it in errors)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _core.image_info_bytes(image, name or "<bytes>")
    return _core.image_info(image)


def read_input_file(path, limit: int = 256 << 20, what: str = "") -> bytes:
    """Read a whole input file after checking it: a regular file of at most ``limit`` bytes. A
    missing file, a directory, a FIFO, a device node or a larger file is a LayoutError naming the
    file (and ``what`` accepts the limit, e.g. "U-Boot's flash-layout buffer"); nothing blocks."""
    return _core.read_input_file(str(path), limit, what)


def image_wrap(payload: bytes, *, soc: str, load: int, entry: int, binary_type: int = 0x10,
               image_version: int = 0, header_major: int = 0) -> bytes:
    """Wrap a raw binary into an STM32 image for ``soc`` (header v1 on STM32MP15x, v2 on MP13x)."""
    return _core.image_wrap(payload, soc, load, entry, binary_type, image_version, header_major)


def plan(layout, *, port, defines: dict | None = None) -> dict:
    """What flashing ``layout`` onto the board at ``port`` (a URL or a connected Device) would send,
    in the order the device will ask for it: ``steps`` (phase, name, device, file, bytes,
    eta_seconds) and the total ``eta_seconds`` (transfer time at the link's rate; no flash erase
    time). The layout and its files are checked first (LayoutError); only Get ID goes to the board."""
    if isinstance(port, Device):
        return _core.plan_flash(port, str(layout), dict(defines or {}))
    with connect(port) as dev:
        return _core.plan_flash(dev, str(layout), dict(defines or {}))


def layout_check(layout, defines: dict | None = None, *, check_binaries: bool = True) -> dict:
    """Check a flash layout (.tsv) as U-Boot would: ``entries``, ``diagnostics`` (each with
    ``severity``, line and ``text``), ``order`` (the phases the device will ask for) and ``service``."""
    return _core.layout_check(str(layout), dict(defines or {}), check_binaries)


def usb_identity(device: Device) -> dict | None:
    """Bus, port path, address, speed, product, serial and stage of a USB device; None for UART."""
    return _core.usb_identity(device)


def udev_rules() -> str:
    """The udev rules file that gives users access to STM32MP boards in DFU mode."""
    return _core.udev_rules()


def otp_decode(image) -> dict:
    """Decode an OTP image read by :meth:`Device.read_otp`: ``bsec_state`` and ``words`` (each
    ``word``, ``value``, ``locked``)."""
    return _core.otp_decode(image)


def otp_request(image, values: dict, lock=()) -> bytes:
    """The OTP image to pass to :meth:`Device.write_otp` that programs ``values`` (word -> value)
    and locks the words in ``lock``; checks the word numbers against the image read before."""
    return _core.otp_request(image, values, set(lock))


def soc_names() -> list:
    """The SoCs mp1boot knows (image headers, simulated boards): stm32mp135, stm32mp157, ..."""
    return [s["name"] for s in _core.socs()]


def port_help() -> str:
    """The grammar of the ports :func:`connect` accepts, as the library parses them."""
    return _core.connect_url_help()
