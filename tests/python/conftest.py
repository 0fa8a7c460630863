# SPDX-License-Identifier: MIT
"""Shared fixtures: the package is imported from the build tree (make test sets PYTHONPATH) or
from an installed wheel; the pytest plugin is loaded from the package."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_PY = ROOT / "build" / "python"
if BUILD_PY.is_dir() and str(BUILD_PY) not in sys.path and "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(BUILD_PY))

# mp1boot-usbsim (the USB simulator server) is built next to the library.
BUILD_TOOLS = ROOT / "build" / "cpp"
if (BUILD_TOOLS / "mp1boot-usbsim").is_file() and str(BUILD_TOOLS) not in os.environ.get("PATH", ""):
    os.environ["PATH"] = str(BUILD_TOOLS) + os.pathsep + os.environ.get("PATH", "")

def _plugin_has_entry_point() -> bool:
    """True when an installed mp1boot (the .venv's editable install, a wheel) registers the plugin."""
    from importlib.metadata import entry_points
    eps = entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
    return any(ep.value == "mp1boot.pytest_plugin" for ep in group)


if not _plugin_has_entry_point():
    pytest_plugins = ["mp1boot.pytest_plugin"]

DATA = ROOT / "tests" / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def fsbl_mp13() -> bytes:
    """A valid 8 KiB FSBL for the STM32MP13x ROM (header v2)."""
    import mp1boot
    payload = bytes((i * 13 + 5) & 0xFF for i in range(8 * 1024))
    return mp1boot.image_wrap(payload, soc="stm32mp135", load=0x2FFE0000, entry=0x2FFE0000)


@pytest.fixture
def fsbl_mp15() -> bytes:
    """A valid 8 KiB FSBL for the STM32MP15x ROM (header v1)."""
    import mp1boot
    payload = bytes((i * 7 + 1) & 0xFF for i in range(8 * 1024))
    return mp1boot.image_wrap(payload, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500)


@pytest.fixture
def uart_sim():
    """A simulated board on a pseudo-terminal; yields a factory (soc, **options) -> server."""
    import mp1boot
    servers = []

    def make(soc: str = "stm32mp135", **kw):
        s = mp1boot.UartSimServer(soc, **kw)
        s.start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()
