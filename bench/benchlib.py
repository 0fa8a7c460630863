# SPDX-License-Identifier: MIT
"""Helpers shared by the benchmarks in bench/."""
from __future__ import annotations

import ctypes


def set_timer_slack_1ns() -> None:
    """Ask the kernel for 1 ns timer slack, so that modelled device waits end on time."""
    try:
        ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK
    except Exception:
        pass
