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
    "connect", "list_devices", "flash", "image_info", "image_wrap", "Device", "PhaseInfo", "Progress", "GetReply",
    "VersionReply", "BootResult", "TransferStats", "UartSimServer", "device_id_name",
    "Error", "ProtocolError", "NackError", "DeviceError", "TimeoutError", "TransportError",
    "UsageError", "LayoutError", "CancelledError", "errors", "progress", "__version__",
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


def flash(layout, *, port: str, defines: dict | None = None, progress=None, boot_only: bool = False) -> dict:
    """Program a board from a flash layout (.tsv), driven by the phases the device asks for.

    The layout and every binary are checked before the first byte goes out. Returns the report:
    tool version, transport, SoC, and per partition the id, name, device, offset, size, SHA-256,
    time, throughput and result. With ``boot_only`` only the ``-`` lines (TF-A, FIP) are loaded
    into RAM and nothing is programmed (``mp1boot boot FlashLayout.tsv``).
    """
    return _core.flash(str(layout), port, dict(defines or {}), progress, boot_only)


def image_info(path) -> dict:
    """Every header field of an STM32 image file, and whether its checksum holds."""
    return _core.image_info(path)


def image_wrap(payload: bytes, *, soc: str, load: int, entry: int, binary_type: int = 0x10,
               image_version: int = 0, header_major: int = 0) -> bytes:
    """Wrap a raw binary into an STM32 image for ``soc`` (header v1 on STM32MP15x, v2 on MP13x)."""
    return _core.image_wrap(payload, soc, load, entry, binary_type, image_version, header_major)
