# SPDX-License-Identifier: MIT
"""Progress adapters: any callable taking a :class:`mp1boot.Progress` works as ``progress=``.

``TextBar()`` draws a one-line bar on stderr, ``Tqdm()`` feeds a tqdm bar (notebooks included),
``Collect()`` keeps every report (for tests and scripts).
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, List, Optional, TextIO

__all__ = ["TextBar", "Tqdm", "Collect", "tqdm_progress"]


class Collect:
    """Keeps every progress report in ``self.reports``."""

    def __init__(self) -> None:
        self.reports: List[Any] = []

    def __call__(self, p) -> None:
        self.reports.append((p.stage, p.phase, p.partition, p.bytes_done, p.bytes_total))


class TextBar:
    """A text progress bar: ``fsbl.stm32 [#######.....]  61%  5.9 kB/s``."""

    def __init__(self, stream: Optional[TextIO] = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._t0: Optional[float] = None

    def __call__(self, p) -> None:
        if self._t0 is None or p.bytes_done == 0:
            self._t0 = time.monotonic()
        frac = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        fill = int(frac * self.width)
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        rate = p.bytes_done / elapsed / 1000
        name = os.path.basename(p.partition) if p.partition else p.stage
        if p.stage == "read":
            name += " (read back)"
        if not getattr(self.stream, "isatty", lambda: False)() and p.bytes_done < p.bytes_total:
            return  # not a terminal: one line at the end, no carriage-return animation
        self.stream.write(f"\r{name} [{'#' * fill}{'.' * (self.width - fill)}] {frac * 100:5.1f}% "
                          f"{rate:8.1f} kB/s")
        if p.bytes_done >= p.bytes_total:
            self.stream.write("\n")
        self.stream.flush()


class Tqdm:
    """Feeds a tqdm bar (``tqdm.auto`` so that it renders in Jupyter too)."""

    def __init__(self, **tqdm_kwargs) -> None:
        from tqdm.auto import tqdm  # imported lazily: tqdm is optional
        self._tqdm = tqdm
        self._kwargs = dict(unit="B", unit_scale=True, unit_divisor=1024)
        self._kwargs.update(tqdm_kwargs)
        self._bar = None
        self._key = None

    def __call__(self, p) -> None:
        key = (p.stage, p.phase, p.partition)
        if self._bar is None or key != self._key:
            if self._bar is not None:
                self._bar.close()
            self._bar = self._tqdm(total=p.bytes_total, desc=p.partition or p.stage, **self._kwargs)
            self._key = key
        self._bar.update(p.bytes_done - self._bar.n)
        if p.bytes_done >= p.bytes_total:
            self._bar.close()
            self._bar = None


def tqdm_progress(**kwargs) -> Tqdm:
    """Shorthand for :class:`Tqdm`."""
    return Tqdm(**kwargs)


class MultiBar:
    """One progress line per board (``mp1boot flash --port A --port B``). On a terminal the lines are
    redrawn in place; otherwise one line is printed per finished transfer."""

    def __init__(self, boards, stream: Optional[TextIO] = None, width: int = 20) -> None:
        import threading
        self.stream = stream or sys.stderr
        self.width = width
        self.boards = list(boards)
        self.lines = {b: f"{b}: waiting" for b in self.boards}
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self._lock = threading.Lock()
        self._drawn = False
        self._t0 = {}

    def __call__(self, board, p) -> None:
        with self._lock:
            key = (board, p.stage, p.phase)
            if p.bytes_done == 0 or key not in self._t0:
                self._t0[key] = time.monotonic()
            frac = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
            fill = int(frac * self.width)
            rate = p.bytes_done / max(time.monotonic() - self._t0[key], 1e-9) / 1000
            name = os.path.basename(p.partition) if p.partition else p.stage
            self.lines[board] = (f"{board}: {p.stage} 0x{p.phase:02x} {name:<14} [{'#' * fill}{'.' * (self.width - fill)}]"
                                 f" {frac * 100:5.1f}% {rate:8.1f} kB/s")
            if self.tty:
                self._draw()
            elif p.bytes_done >= p.bytes_total:
                self.stream.write(self.lines[board] + "\n")
                self.stream.flush()

    def _draw(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{len(self.boards)}F")  # back to the first board's line
        for b in self.boards:
            self.stream.write("\x1b[2K" + self.lines[b] + "\n")
        self._drawn = True
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
