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

__all__ = ["TextBar", "MultiBar", "Tqdm", "Collect", "tqdm_progress", "end_line", "use_colour"]


class Collect:
    """Keeps every progress report in ``self.reports``."""

    def __init__(self) -> None:
        self.reports: List[Any] = []

    def __call__(self, p) -> None:
        self.reports.append((p.stage, p.phase, p.partition, p.bytes_done, p.bytes_total))


def use_colour(stream) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (https://no-color.org); FORCE_COLOR forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


# Streams on which a bar left a line without its newline (a transfer cut short).
_open_lines: dict = {}


def end_line(stream: Optional[TextIO] = None) -> None:
    """Ends a bar's unfinished line, so that the next message (an error, "interrupted") starts on
    a line of its own. Without ``stream``: every stream a bar drew on."""
    for key, s in list(_open_lines.items()):
        if stream is None or s is stream:
            s.write("\n")
            s.flush()
            del _open_lines[key]


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, as the rates)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def clock(seconds: float) -> str:
    """Seconds as m:ss or h:mm:ss."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TextBar:
    """A text progress bar on stderr, one line per transfer:
    ``fsbl1  [#######.....]  61.0%  40.0 kB/65.5 kB  5.9 kB/s  ETA 0:04``.

    ``total``: the bytes of every transfer to come (all partitions of a flash): each line then also
    shows the overall part, ``| all 34% ETA 1:05``. On a terminal the line is redrawn in place (in
    colour unless NO_COLOR is set); otherwise one line is written per finished transfer.
    """

    def __init__(self, stream: Optional[TextIO] = None, width: int = 24, total: Optional[int] = None) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.total = total
        self._key = None
        self._t0 = 0.0
        self._start: Optional[float] = None
        self._done_before = 0   # bytes of the finished transfers
        self._last = 0          # bytes_done of the current transfer

    def __call__(self, p) -> None:
        now = time.monotonic()
        key = (p.stage, p.phase, p.partition)
        if key != self._key or p.bytes_done < self._last:
            self._done_before += self._last
            self._key, self._t0, self._last = key, now, 0
        if self._start is None:
            self._start = now
        self._last = p.bytes_done
        finished = p.bytes_done >= p.bytes_total
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if not tty and not finished:
            return  # not a terminal: one line at the end, no carriage-return animation
        self.stream.write(("\r" if tty else "") + self.line(p, now) + ("\x1b[K" if tty else ""))
        if finished:
            self.stream.write("\n")
            _open_lines.pop(id(self.stream), None)
        else:
            _open_lines[id(self.stream)] = self.stream
        self.stream.flush()

    def line(self, p, now: float) -> str:
        frac = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        fill = int(frac * self.width)
        elapsed = max(now - self._t0, 1e-3)
        rate = p.bytes_done / elapsed
        name = os.path.basename(p.partition) if p.partition else p.stage
        if p.stage == "read":
            name += " (read back)"
        bar = "#" * fill
        if use_colour(self.stream):
            bar = f"\x1b[32m{bar}\x1b[0m"
        eta = "done" if p.bytes_done >= p.bytes_total else clock((p.bytes_total - p.bytes_done) / rate) \
            if rate > 0 else "?"
        text = (f"{name:<16} [{bar}{'.' * (self.width - fill)}] {frac * 100:5.1f}%  "
                f"{human_bytes(p.bytes_done)}/{human_bytes(p.bytes_total)}  {human_bytes(rate)}/s  ETA {eta}")
        if self.total:
            done = self._done_before + p.bytes_done
            all_rate = done / max(now - (self._start or now), 1e-9)
            left = max(self.total - done, 0)
            all_eta = clock(left / all_rate) if all_rate > 0 and left else "done" if not left else "?"
            text += f"  | all {min(done / self.total, 1.0) * 100:3.0f}% ETA {all_eta}"
        return text


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
            rate = p.bytes_done / max(time.monotonic() - self._t0[key], 1e-9)
            eta = "done" if frac >= 1 else clock((p.bytes_total - p.bytes_done) / rate) if rate > 0 else "?"
            name = os.path.basename(p.partition) if p.partition else p.stage
            self.lines[board] = (f"{board}: {p.stage} 0x{p.phase:02x} {name:<14} [{'#' * fill}{'.' * (self.width - fill)}]"
                                 f" {frac * 100:5.1f}% {human_bytes(p.bytes_done)}/{human_bytes(p.bytes_total)}"
                                 f" {human_bytes(rate)}/s ETA {eta}")
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
