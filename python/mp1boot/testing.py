# SPDX-License-Identifier: MIT
"""Field traces as regression tests.

A trace written with ``mp1boot VERB ... --trace FILE`` (docs/TRACES.md) keeps the command it
recorded. :func:`replay_test` turns it into a pytest test in one line::

    from mp1boot.testing import replay_test

    test_board_17_lost_ack = replay_test("traces/board-17.jsonl")

The test runs the recorded command again with ``--port sim:replay=FILE``: the trace answers as the
recorded board did, and the test fails when the host deviates (another request, another payload,
stopping early: exit 13, ``replay_mismatch``, naming the step and the line of the trace) or ends
differently from the recorded run (another exit code). Relative file names of the command are
resolved in ``inputs`` (default: the trace's folder); the files must be the recorded ones (the
trace holds their sizes and SHA-256).
"""
from __future__ import annotations

import contextlib
import inspect
import json
import os
from pathlib import Path

from . import errors

__all__ = ["replay_test", "replay", "trace_outcome"]


def _header_and_end(trace: Path) -> tuple:
    header, end = None, None
    with open(trace, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            if header is None:
                header = record
            elif record.get("k") == "end":
                end = record
    if not header or "mp1boot_trace" not in header:
        raise errors.UsageError(f"{trace}: not an mp1boot trace (no header line)", code="usage")
    return header, end


def trace_outcome(trace) -> int:
    """The exit status the recorded run ended with (from the trace's ``end`` record; 0 when the
    trace has none, i.e. it was not written by the CLI)."""
    _, end = _header_and_end(Path(trace))
    if end is None or end.get("result") == "ok":
        return 0
    result = end.get("result", "")
    if result.startswith("exit "):
        return int(result.split()[1])
    if result == "cancelled":
        return 130
    return errors.EXIT_CODES.get(result, 1)


@contextlib.contextmanager
def _cwd(folder: Path):
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def replay(trace, inputs=None, extra_args=()) -> int:
    """Runs the command recorded in ``trace`` against ``sim:replay=TRACE`` (in ``inputs``, default
    the trace's folder) and returns its exit status."""
    from .cli import main
    trace = Path(trace).resolve()
    header, _ = _header_and_end(trace)
    argv = list(header.get("argv") or [])
    if not argv:
        raise errors.UsageError(f"{trace} keeps no command (recorded through the Python API): replay it with "
                                f"mp1boot.connect('sim:replay={trace}') and the same calls", code="usage")
    with _cwd(Path(inputs).resolve() if inputs else trace.parent):
        return main(argv + ["--port", f"sim:replay={trace}", *extra_args])


def replay_test(trace, *, inputs=None):
    """A pytest test function replaying ``trace`` (relative names are taken from the calling test
    file's folder): it passes when the recorded command, run against the trace, ends as the
    recorded run did."""
    caller = Path(inspect.stack()[1].filename).parent
    path = Path(trace) if Path(trace).is_absolute() else caller / trace
    folder = None if inputs is None else (Path(inputs) if Path(inputs).is_absolute() else caller / inputs)

    def test_replay():
        expected = trace_outcome(path)
        code = replay(path, folder)
        assert code == expected, (f"replay of {path}: exit {code}, the recorded run ended with exit {expected} "
                                  f"(see the error above)")

    test_replay.__name__ = "test_replay_" + path.stem.replace("-", "_")
    test_replay.__doc__ = f"Replays {path.name} (mp1boot.testing.replay_test)."
    return test_replay
