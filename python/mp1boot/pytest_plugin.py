# SPDX-License-Identifier: MIT
"""pytest plugin (entry point ``pytest11``): ``--mp1-port``, the ``mp1_board`` fixture and the
``hil`` marker.

Without ``--mp1-port`` the fixture gives the in-process simulated board (``sim:stm32mp135``) and
tests marked ``hil`` are skipped with the reason printed; with ``--mp1-port serial:/dev/ttyUSB0``
(or ``usb``) they run against the real board.
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("mp1boot")
    group.addoption("--mp1-port", default=None,
                    help="board for hardware-in-the-loop tests (serial:PATH, usb[:SERIAL]); default: simulator")
    group.addoption("--mp1-sim", default="sim:stm32mp135", help="simulated board used when no --mp1-port is given")
    group.addoption("--mp1-layout", default=None, help="flash layout (.tsv) programmed once per session by mp1_flashed")
    group.addoption("--mp1-define", action="append", default=[], metavar="NAME=PATH",
                    help="value of a %%NAME%% placeholder of --mp1-layout")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil: needs a real board (--mp1-port); skipped with its reason otherwise")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--mp1-port"):
        return
    skip = pytest.mark.skip(reason="hil: no board given (run with --mp1-port serial:/dev/ttyUSB0 or usb)")
    for item in items:
        if "hil" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def mp1_port(request) -> str:
    """The port URL of the board under test (the simulator when no --mp1-port is given)."""
    return request.config.getoption("--mp1-port") or request.config.getoption("--mp1-sim")


@pytest.fixture
def mp1_board(mp1_port):
    """A connected :class:`mp1boot.Device`."""
    import mp1boot
    return mp1boot.connect(mp1_port)


@pytest.fixture(scope="session")
def mp1_flashed(request):
    """Programs --mp1-layout once per test session on the board under test and returns the report
    (a dict: per partition id, name, size, SHA-256, result). Skipped with its reason when no layout
    is given."""
    layout = request.config.getoption("--mp1-layout")
    if not layout:
        pytest.skip("hil: no --mp1-layout given")
    import mp1boot
    port = request.config.getoption("--mp1-port") or request.config.getoption("--mp1-sim")
    defines = dict(item.split("=", 1) for item in request.config.getoption("--mp1-define"))
    return mp1boot.flash(layout, port=port, defines=defines)
