# SPDX-License-Identifier: MIT
"""Progress shape and throttling, GIL release during a transfer, Ctrl-C and cancellation by a
callback. Transfers here run over a pty with line timing, so they take real time."""
from __future__ import annotations

import signal
import threading
import time

import pytest

import mp1boot


def _big_image():
    payload = bytes(range(256)) * 256  # 64 KiB: ~7 s at 115200 8E1, longer than any test waits
    return mp1boot.image_wrap(payload, soc="stm32mp135", load=0x2FFE0000, entry=0x2FFE0000)


def test_progress_reports_are_throttled_and_complete(fsbl_mp13):
    reports = []
    mp1boot.connect("sim:stm32mp135").download(fsbl_mp13 * 8, phase=1, name="big",
                                                progress=lambda p: reports.append(p.bytes_done))
    total = len(fsbl_mp13) * 8
    assert reports[0] == 0 and reports[-1] == total
    assert reports == sorted(reports)
    assert len(reports) <= 102, "at most one report per 1% (plus first and last)"


def test_gil_is_released_during_a_transfer(uart_sim):
    sim = uart_sim("stm32mp135", line_timing=True, baud=460800)
    dev = mp1boot.connect(f"serial:{sim.path}")
    image = mp1boot.image_wrap(bytes(16 * 1024), soc="stm32mp135", load=0x2FFE0000, entry=0x2FFE0000)
    ticks = {"n": 0}
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks["n"] += 1
            time.sleep(0.001)
    t = threading.Thread(target=spin)
    t.start()
    t0 = time.monotonic()
    dev.boot(image)
    elapsed = time.monotonic() - t0
    stop.set()
    t.join()
    assert elapsed > 0.2, "the line timing makes the transfer take real time"
    # With the GIL held the whole time, the other thread would barely run.
    assert ticks["n"] > elapsed * 100, (ticks["n"], elapsed)


def test_ctrl_c_stops_a_download_quickly_with_a_clean_error(uart_sim):
    sim = uart_sim("stm32mp135", line_timing=True)
    dev = mp1boot.connect(f"serial:{sim.path}")
    image = _big_image()
    main = threading.get_ident()
    sent = {}

    def interrupt():
        time.sleep(0.5)
        sent["t"] = time.monotonic()
        signal.pthread_kill(main, signal.SIGINT)
    threading.Thread(target=interrupt).start()
    with pytest.raises(mp1boot.CancelledError) as ei:
        dev.boot(image)
    latency = time.monotonic() - sent["t"]
    e = ei.value
    assert isinstance(e, KeyboardInterrupt)
    assert e.operation == "download" and e.phase == 1
    assert 0 < e.bytes_sent < len(image)
    print(f"Ctrl-C latency: {latency * 1000:.1f} ms")
    assert latency < 0.1, f"stopped {latency * 1000:.0f} ms after Ctrl-C"
    # The device stays usable: a new command resynchronises.
    assert dev.get_phase().phase == 1


def test_exception_in_progress_callback_cancels_and_propagates(fsbl_mp13):
    class Stop(Exception):
        pass

    def progress(p):
        if p.bytes_done > 2048:
            raise Stop("enough")
    dev = mp1boot.connect("sim:stm32mp135")
    with pytest.raises(Stop):
        dev.boot(fsbl_mp13, progress=progress)


def test_trace_callback_sees_the_wire():
    lines = []
    dev = mp1boot.connect("sim:stm32mp135")
    dev.get_phase(trace=lambda d, b, n: lines.append((d, b.hex(" "), n)))
    assert lines[0] == (">", "03 fc", "")
    assert lines[1] == ("<", "79", "")
