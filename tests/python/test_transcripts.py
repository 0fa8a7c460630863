# SPDX-License-Identifier: MIT
"""The shared wire transcripts (tests/data/transcripts, device side from PROTOCOL.md) replayed
against the real host stack: Boost.Asio serial transport on a pty, engine, driver."""
from __future__ import annotations

import pytest

import mp1boot
from peers import PtyPeer, load_transcript


def test_rom_mp13_session(data_dir):
    steps = load_transcript(data_dir / "transcripts" / "rom_mp13_session.txt")
    peer = PtyPeer().replay(steps)
    try:
        dev = mp1boot.connect(f"serial:{peer.path}", timeout=2)
        assert dev.get().protocol_version == 0x40
        v = dev.get_version()
        assert v.version == 0x10 and v.options == (0, 0)
        assert dev.get_id() == 0x501
        ph = dev.get_phase()
        assert (ph.phase, ph.address) == (1, 0x2FFDFE00)
        assert peer.errors == []
    finally:
        peer.close()


def test_tfa_get_id_quirk(data_dir):
    steps = load_transcript(data_dir / "transcripts" / "tfa_get_id_quirk.txt")
    # Starts with TF-A's unsolicited NACK: the host drains pending input before each command.
    assert steps[0] == ("<", b"\x1f")
    peer = PtyPeer().replay(steps)
    try:
        import time
        time.sleep(0.1)  # let the NACK arrive before the host connects, as on a real board
        dev = mp1boot.connect(f"serial:{peer.path}", timeout=2)
        assert dev.get_id() == 0x500
        v = dev.get_version()
        assert v.version == 0 and v.options is None
        assert dev.get().commands == [0, 1, 2, 3, 0x21, 0x31]
        assert dev.get_phase().address == 0xC7000000
        assert peer.errors == []
    finally:
        peer.close()


def test_download_one_packet(data_dir):
    steps = load_transcript(data_dir / "transcripts" / "download_one_packet.txt")
    # Our encoder never sends a bad checksum: replay up to the second Download command.
    second = [i for i, (d, b) in enumerate(steps) if d == ">" and b == b"\x31\xce"][1]
    steps = steps[:second]
    data_frame = [b for d, b in steps if d == ">"][-1]
    payload = data_frame[1:-1]
    peer = PtyPeer().replay(steps)
    try:
        dev = mp1boot.connect(f"serial:{peer.path}", timeout=2, sync=steps[0][1] == b"\x7f")
        dev.download(payload, phase=1, name="t")
        assert peer.errors == []
    finally:
        peer.close()
