# SPDX-License-Identifier: MIT
"""Helpers shared by the benchmarks in bench/."""
from __future__ import annotations

import ctypes
import os
import resource
import time


def set_timer_slack_1ns() -> None:
    """Ask the kernel for 1 ns timer slack, so that modelled device waits end on time."""
    try:
        ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK
    except Exception:
        pass


class MachineLoad:
    """What else ran on the machine during a measurement: the benchmarks share their cores.

    Started at construction; `report()` gives the cores, the load average at the end, and how
    busy all cores were (from /proc/stat) against what this process and its children used
    (getrusage), so a reader can tell an idle machine from a busy one. Linux only (else {})."""

    def __init__(self) -> None:
        self._stat = self._busy_idle()
        self._self = self._cpu_self()
        self._t0 = time.monotonic()

    @staticmethod
    def _busy_idle() -> tuple[float, float] | None:
        try:
            with open("/proc/stat") as f:
                fields = [float(x) for x in f.readline().split()[1:]]
        except OSError:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / tick, idle / tick

    @staticmethod
    def _cpu_self() -> float:
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            ru = resource.getrusage(who)
            total += ru.ru_utime + ru.ru_stime
        return total

    def report(self) -> dict:
        end = self._busy_idle()
        if not self._stat or not end:
            return {}
        wall = time.monotonic() - self._t0
        cores = os.cpu_count() or 1
        busy = end[0] - self._stat[0]
        mine = self._cpu_self() - self._self
        return {"cores": cores, "seconds": round(wall, 1), "loadavg_1min": round(os.getloadavg()[0], 2),
                "busy_cores": round(busy / wall, 2) if wall > 0 else 0.0,
                "this_benchmark_cores": round(mine / wall, 2) if wall > 0 else 0.0,
                "other_processes_cores": round(max(0.0, busy - mine) / wall, 2) if wall > 0 else 0.0}

    @staticmethod
    def describe(r: dict) -> str:
        if not r:
            return "machine load: unknown"
        return (f"machine load over {r['seconds']} s: {r['busy_cores']} of {r['cores']} cores busy "
                f"({r['this_benchmark_cores']} this benchmark, {r['other_processes_cores']} other processes), "
                f"load average {r['loadavg_1min']}")
