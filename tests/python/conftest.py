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


# ---- every flash report a test produces is checked against docs/flash-report.schema.json ----------

REPORT_SCHEMA = ROOT / "docs" / "flash-report.schema.json"


def report_validator():
    import json

    import jsonschema
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _looks_like_report(obj) -> bool:
    return isinstance(obj, dict) and ("partitions" in obj or "boards" in obj) and "tool_version" in obj


@pytest.fixture(autouse=True)
def _reports_match_the_schema(monkeypatch, tmp_path):
    """Wraps the core's flash entry points (mp1boot.flash, flash_many, Device.flash and the CLI
    all go through them) and collects their reports, including the report of a failed run; after
    the test, those and every report-like JSON file in tmp_path (CLI --report, subprocesses) must
    validate against the schema."""
    import json

    try:
        from mp1boot import _core
    except ImportError:  # pragma: no cover - tests that do not need the module
        yield
        return
    seen: list = []

    def wrap(fn, sink_index=None):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
            finally:
                sink = kwargs.get("report_sink", args[sink_index] if sink_index is not None and
                                  len(args) > sink_index else None)
                if isinstance(sink, list):
                    seen.extend(sink)
            seen.append(result)
            return result
        return wrapper

    monkeypatch.setattr(_core, "flash", wrap(_core.flash, sink_index=9))
    monkeypatch.setattr(_core, "flash_many", wrap(_core.flash_many))
    monkeypatch.setattr(_core.Device, "flash", wrap(_core.Device.flash))
    yield
    for path in sorted(tmp_path.rglob("*.json")):
        try:
            obj = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if _looks_like_report(obj):
            seen.append(obj)
    if seen:
        validator = report_validator()
        for report in seen:
            errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
            assert not errors, "report does not match docs/flash-report.schema.json: " + "; ".join(
                f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])
