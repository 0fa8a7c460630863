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
from ._core import (BootResult, Device, GetReply, PhaseInfo, Progress, TransferStats,
                    UartSimServer, VersionReply, device_id_name)
from .errors import (CancelledError, DeviceError, Error, LayoutError, NackError, ProtocolError,
                     TimeoutError, TransportError, UsageError)

__version__: str = _core.__version__

__all__ = [
    "connect", "list_devices", "flash", "flash_many", "image_info", "image_wrap", "Device", "PhaseInfo", "Progress", "GetReply",
    "VersionReply", "BootResult", "TransferStats", "UartSimServer", "device_id_name",
    "Error", "ProtocolError", "NackError", "DeviceError", "TimeoutError", "TransportError",
    "UsageError", "LayoutError", "CancelledError", "errors", "progress", "__version__",
    "layout_check", "usb_identity", "udev_rules", "otp_decode", "otp_request", "soc_names", "port_help",
]


def connect(url: str, *, timeout: float | None = None, retries: int | None = None,
            sync: bool = True) -> Device:
    """Connect to a board.

    ``url`` is ``serial:PATH[?baud=...]``, ``sim:SOC`` or ``usb[:SELECTOR]``. ``timeout`` is the
    reply timeout of one command in seconds (default 1 s), ``retries`` the number of tries per
    command (default 3). With ``sync`` (the default) a UART device is synchronised (0x7F) first.
    """
    return _core.connect(url, timeout or 0.0, retries or 0, sync)


def list_devices() -> list:
    """Every STM32MP device in USB DFU mode: bus, address, port path, speed, product string,
    device id, revision, serial number and the stage that answers (rom, tf-a, u-boot)."""
    return _core.list_devices()


def flash(layout, *, port: str, defines: dict | None = None, progress=None, boot_only: bool = False,
          verify: bool = False, resume=None, events=None, cancel=None, trace=None, bmaps: dict | None = None,
          no_bmap: bool = False, skip_holes: bool = False) -> dict:
    """Program a board from a flash layout (.tsv), driven by the phases the device asks for.

    The layout and every binary are checked before the first byte goes out. Returns the report:
    tool version, link, serial number, port path and speed, SoC, and per partition the id, name,
    device, offset, size, SHA-256, time, throughput and result.

    ``verify`` reads every programmed partition back at the end and compares SHA-256 (a difference
    raises DeviceError with code ``verify_mismatch``). ``resume`` is an earlier report (dict or
    JSON file): partitions it lists as done, whose files are unchanged, are not sent again.
    ``events`` is called with one dict per stage change (``{"event": "stage", ...}``), finished
    partition (``"partition"``) and verified partition (``"verified"``). ``trace(direction, data,
    note)`` sees the wire exchange, as in :meth:`Device.boot`. With ``boot_only`` only
    the ``-`` lines (TF-A, FIP) are loaded into RAM and nothing is programmed.

    Block maps (bmaptool's XML, ``IMAGE.bmap`` or the name with ``.bmap`` beside an MMC partition's
    binary, or ``bmaps={"rootfs": "file.bmap"}``): over USB only the mapped ranges are sent, through
    U-Boot's offset command; each partition's report gives ``bytes_sent``, ``bytes_skipped`` and
    ``bmap``. ``no_bmap`` sends everything; ``skip_holes`` sends only the data of sparse binaries
    that have no block map (never implied: a raw image may rely on its zeros).

    When the run fails (or is interrupted), the exception carries the report so far as
    ``exc.report``: write it out and pass it as ``resume`` next time.
    """
    completed = _completed(resume, port) if resume is not None else {}
    sink: list = []
    try:
        report = _core.flash(str(layout), port, dict(defines or {}), progress, boot_only, verify, completed,
                             events, sink, cancel, trace, {k: str(v) for k, v in (bmaps or {}).items()}, no_bmap,
                             skip_holes)
    except BaseException as exc:
        if sink:
            exc.report = dict(sink[-1], port=port)
        raise
    report["port"] = port
    return report


def _completed(resume, port: str) -> dict:
    """Phase -> SHA-256 of the partitions an earlier report says were programmed."""
    import json
    from pathlib import Path
    report = resume if isinstance(resume, dict) else json.loads(Path(resume).read_text())
    if "boards" in report:  # a report of several boards: the entry of this port (or the only one)
        boards = report["boards"]
        entry = next((b for b in boards.values() if b.get("port") == port or b.get("serial") and
                      port.endswith(b["serial"])), None)
        if entry is None and len(boards) == 1:
            entry = next(iter(boards.values()))
        if entry is None:
            return {}
        report = entry
    return {int(p["phase"]): p["sha256"] for p in report.get("partitions", [])
            if p.get("result") in ("ok", "resumed") and p.get("sha256")}


def flash_many(layout, *, ports: list, defines: dict | None = None, progress=None, verify: bool = False,
               resume=None, events=None, bmaps: dict | None = None, no_bmap: bool = False,
               skip_holes: bool = False) -> dict:
    """Flash several boards in parallel, one thread per board (the transfers run without the GIL).

    ``progress(port, p)`` and ``events(port, event)`` receive the board's port first. Returns
    ``{"result": "ok"|"failed", "boards": {key: report}}`` keyed by serial number (the port when the
    link has none); a board that failed has its report (``result`` "failed", ``error``,
    ``error_code``). Ctrl-C stops every board.
    """
    import threading
    token = _core.CancelToken()
    results: dict = {}

    def run(port: str) -> None:
        def prog(p):
            if progress:
                progress(port, p)

        def ev(e):
            if events:
                events(port, e)

        try:
            results[port] = flash(layout, port=port, defines=defines, progress=prog if progress else None,
                                  verify=verify, resume=resume, events=ev if events else None, cancel=token,
                                  bmaps=bmaps, no_bmap=no_bmap, skip_holes=skip_holes)
        except BaseException as exc:  # noqa: BLE001 - reported per board
            report = getattr(exc, "report", None) or {"result": "failed", "partitions": []}
            report["error"] = str(exc)
            report["error_code"] = getattr(exc, "code", "")
            results[port] = report

    threads = [threading.Thread(target=run, args=(p,), name=f"mp1boot-flash-{p}") for p in ports]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.05)
    except KeyboardInterrupt:
        token.cancel()
        for t in threads:
            t.join()
        raise
    boards = {}
    for port in ports:
        report = results[port]
        report["port"] = port
        key = report.get("serial") or port
        boards[key if key not in boards else port] = report
    ok = all(r.get("result") == "ok" for r in boards.values())
    return {"tool_version": __version__, "result": "ok" if ok else "failed", "boards": boards}


def image_info(image, *, name: str | None = None) -> dict:
    """Every header field of an STM32 image, and whether its checksum holds.

    ``image`` is a file path, or the image's bytes (``name`` then names it in errors)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _core.image_info_bytes(image, name or "<bytes>")
    return _core.image_info(image)


def image_wrap(payload: bytes, *, soc: str, load: int, entry: int, binary_type: int = 0x10,
               image_version: int = 0, header_major: int = 0) -> bytes:
    """Wrap a raw binary into an STM32 image for ``soc`` (header v1 on STM32MP15x, v2 on MP13x)."""
    return _core.image_wrap(payload, soc, load, entry, binary_type, image_version, header_major)


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
