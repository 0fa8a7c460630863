# SPDX-License-Identifier: MIT
"""Packaging tests (`make test-packaging`): what a user outside this tree installs."""
from __future__ import annotations


def pytest_addoption(parser):
    parser.addoption("--wheel-dir", default=None, help="folder holding the repaired mp1boot wheel (make wheel)")
