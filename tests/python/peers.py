# SPDX-License-Identifier: MIT
"""A scripted device on a real pseudo-terminal, for tests that need the device to misbehave in
one exact way (NACK a packet forever, ABORT, stay silent) or to replay a shared transcript. The
host side under test is the real library: Boost.Asio serial transport, engine, driver."""
from __future__ import annotations

import os
import select
import threading
import time
import tty
from pathlib import Path
from typing import Callable, List, Optional, Tuple

Step = Tuple[str, bytes]  # (">" host-to-device | "<" device-to-host, bytes)


def load_transcript(path: Path) -> List[Step]:
    """Reads tests/data/transcripts/*.txt ('> 31 ce  # comment', '< 79')."""
    steps: List[Step] = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line[0] not in "<>":
            continue
        steps.append((line[0], bytes.fromhex(line[1:])))
    return steps


class PtyPeer:
    """Owns a pty pair; `path` is what the host opens. `handler(data) -> reply` answers each
    chunk of host bytes, or a transcript is replayed and checked."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.received = bytearray()
        self.errors: List[str] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _read(self, timeout: float) -> bytes:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return b""
        self.received += data
        return data

    def serve(self, handler: Callable[[bytes], bytes]) -> "PtyPeer":
        def loop():
            while not self._stop.is_set():
                data = self._read(0.05)
                if data:
                    reply = handler(data)
                    if reply:
                        os.write(self.master, reply)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def replay(self, steps: List[Step]) -> "PtyPeer":
        def loop():
            for i, (direction, data) in enumerate(steps):
                if direction == "<":
                    os.write(self.master, data)
                    continue
                got = b""
                deadline = time.monotonic() + 5
                while len(got) < len(data) and time.monotonic() < deadline and not self._stop.is_set():
                    got += self._read(0.05)
                if got != data:
                    self.errors.append(f"step {i}: host sent {got.hex(' ')!r}, transcript says {data.hex(' ')!r}")
                    return
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)


class RomLike:
    """A minimal ROM-like responder used to inject one fault: answers sync, Get ID (MP13),
    Get Phase (0x01), and Download/Start per `on_packet` / `on_start`."""

    def __init__(self, on_packet=None, on_start=None) -> None:
        self.buf = bytearray()
        self.on_packet = on_packet or (lambda n: b"\x79")
        self.on_start = on_start or (lambda: b"\x79")
        self.state = "cmd"
        self.packet = 0
        self.need = 0
        self.packets_seen: List[int] = []

    def __call__(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while True:
            if self.state == "cmd":
                if not self.buf:
                    break
                if self.buf[0] == 0x7F:
                    del self.buf[0]
                    out += b"\x79"
                    continue
                if len(self.buf) < 2:
                    break
                c = self.buf[0]
                del self.buf[:2]
                if c == 0x02:
                    out += bytes.fromhex("79 01 05 01 79")
                elif c == 0x03:
                    out += bytes.fromhex("79 06 01 00 fe fd 2f 01 00 79")
                elif c == 0x31:
                    out += b"\x79"
                    self.state = "addr"
                elif c == 0x21:
                    out += b"\x79"
                    self.state = "start"
                else:
                    out += b"\x1f"
            elif self.state == "addr":
                if len(self.buf) < 5:
                    break
                self.packet = int.from_bytes(self.buf[1:4], "big")
                del self.buf[:5]
                out += b"\x79"
                self.state = "len"
            elif self.state == "len":
                if not self.buf:
                    break
                self.need = self.buf[0] + 3
                self.state = "data"
            elif self.state == "data":
                if len(self.buf) < self.need:
                    break
                del self.buf[:self.need]
                self.packets_seen.append(self.packet)
                out += self.on_packet(self.packet)
                self.state = "cmd"
            elif self.state == "start":
                if len(self.buf) < 5:
                    break
                del self.buf[:5]
                out += self.on_start()
                self.state = "cmd"
        return bytes(out)
