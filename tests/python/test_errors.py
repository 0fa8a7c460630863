# SPDX-License-Identifier: MIT
"""Bad input and faults: each gives a typed error naming the thing, and no Download is sent
when the input is invalid."""
from __future__ import annotations

import os

import pytest

import mp1boot
from peers import PtyPeer, RomLike


def _no_download(sim):
    assert sim.received_images() == {}, "no image may reach the device"


def test_missing_file_is_named(uart_sim, tmp_path):
    sim = uart_sim("stm32mp135")
    dev = mp1boot.connect(f"serial:{sim.path}")
    missing = tmp_path / "nope.stm32"
    with pytest.raises(mp1boot.LayoutError) as ei:
        dev.boot(missing)
    assert ei.value.code == "file_not_found"
    assert str(missing) in str(ei.value)
    _no_download(sim)


def test_not_an_stm32_image(uart_sim):
    sim = uart_sim("stm32mp135")
    dev = mp1boot.connect(f"serial:{sim.path}")
    with pytest.raises(mp1boot.LayoutError) as ei:
        dev.boot(b"\x7fELF" + b"\x00" * 1000)
    assert ei.value.code == "bad_image"
    assert "magic" in str(ei.value) and "offset 0x0" in str(ei.value)
    _no_download(sim)


def test_mp15_image_to_an_mp13_rom(uart_sim, fsbl_mp15):
    sim = uart_sim("stm32mp135")
    dev = mp1boot.connect(f"serial:{sim.path}")
    with pytest.raises(mp1boot.LayoutError) as ei:
        dev.boot(fsbl_mp15)
    text = str(ei.value)
    assert "STM32MP13x" in text and "v1" in text and "v2" in text, text
    _no_download(sim)


def test_checksum_mismatch(uart_sim, fsbl_mp13):
    sim = uart_sim("stm32mp135")
    bad = bytearray(fsbl_mp13)
    bad[600] ^= 0xFF
    dev = mp1boot.connect(f"serial:{sim.path}")
    with pytest.raises(mp1boot.LayoutError) as ei:
        dev.boot(bytes(bad))
    assert ei.value.code == "bad_checksum"
    assert "checksum" in str(ei.value)
    _no_download(sim)


def test_image_larger_than_sysram_allows(uart_sim):
    sim = uart_sim("stm32mp135")
    big = mp1boot.image_wrap(b"\x00" * (128 * 1024 + 1), soc="stm32mp135", load=0x2FFE0000, entry=0x2FFE0000)
    dev = mp1boot.connect(f"serial:{sim.path}")
    with pytest.raises(mp1boot.LayoutError) as ei:
        dev.boot(big)
    assert "131073" in str(ei.value) and "131072" in str(ei.value), str(ei.value)
    _no_download(sim)


def test_port_that_does_not_exist():
    with pytest.raises(mp1boot.TransportError) as ei:
        mp1boot.connect("serial:/dev/ttyDOESNOTEXIST9")
    assert ei.value.code == "no_device"
    assert "/dev/ttyDOESNOTEXIST9" in str(ei.value)


def test_port_that_is_busy(uart_sim):
    sim = uart_sim("stm32mp135")
    first = mp1boot.connect(f"serial:{sim.path}")
    with pytest.raises(mp1boot.TransportError) as ei:
        mp1boot.connect(f"serial:{sim.path}")
    assert ei.value.code == "port_busy"
    assert sim.path in str(ei.value) and "busy" in str(ei.value)
    del first


def test_bad_port_url():
    with pytest.raises(mp1boot.UsageError) as ei:
        mp1boot.connect("bluetooth:foo")
    assert "accepted ports" in str(ei.value)


def test_device_that_does_not_answer_names_the_command():
    peer = PtyPeer()  # nobody answers
    try:
        with pytest.raises(mp1boot.TimeoutError) as ei:
            mp1boot.connect(f"serial:{peer.path}", timeout=0.1, retries=2)
        assert ei.value.operation == "sync"
        assert "sync" in str(ei.value) and peer.path in str(ei.value)
        assert isinstance(ei.value, TimeoutError)  # also the builtin
    finally:
        peer.close()


def test_nack_is_retried_then_named_with_the_packet(fsbl_mp13):
    rom = RomLike(on_packet=lambda n: b"\x1f" if n == 3 else b"\x79")
    peer = PtyPeer().serve(rom)
    try:
        dev = mp1boot.connect(f"serial:{peer.path}", timeout=0.3, retries=3)
        with pytest.raises(mp1boot.NackError) as ei:
            dev.boot(fsbl_mp13)
        e = ei.value
        assert (e.operation, e.packet, e.bytes_sent, e.bytes_total, e.phase) == (
            "download", 3, 3 * 256, len(fsbl_mp13), 1)
        assert "packet 3" in str(e) and "768/" in str(e) and "3 attempts" in str(e)
        assert rom.packets_seen.count(3) == 3, "retried per the policy"
    finally:
        peer.close()


def test_a_single_nack_is_absorbed(fsbl_mp13):
    seen = {"n": 0}

    def on_packet(n):
        if n == 5 and seen["n"] == 0:
            seen["n"] += 1
            return b"\x1f"
        return b"\x79"
    rom = RomLike(on_packet=on_packet)
    peer = PtyPeer().serve(rom)
    try:
        mp1boot.connect(f"serial:{peer.path}").boot(fsbl_mp13)
        assert rom.packets_seen.count(5) == 2
    finally:
        peer.close()


def test_abort_on_start(fsbl_mp13):
    peer = PtyPeer().serve(RomLike(on_start=lambda: b"\x5f"))
    try:
        dev = mp1boot.connect(f"serial:{peer.path}")
        with pytest.raises(mp1boot.DeviceError) as ei:
            dev.boot(fsbl_mp13)
        assert ei.value.code == "abort" and ei.value.operation == "start"
    finally:
        peer.close()


def test_simulated_rom_refuses_a_corrupted_image_at_start(uart_sim, fsbl_mp13):
    # The host check is bypassed with download()+start(): the simulated ROM's own check refuses it.
    sim = uart_sim("stm32mp135")
    bad = bytearray(fsbl_mp13)
    bad[-1] ^= 1
    dev = mp1boot.connect(f"serial:{sim.path}", timeout=0.3, retries=2)
    dev.download(bytes(bad), phase=1, name="bad")
    with pytest.raises(mp1boot.NackError) as ei:
        dev.start(0xFFFFFFFF)
    assert ei.value.operation == "start"
    assert sim.stage == "rom"


def test_error_attributes_and_exit_code_table():
    e = mp1boot.NackError("x", code="nack", operation="download", packet=3, bytes_sent=768)
    assert e.to_dict()["packet"] == 3
    assert isinstance(e, mp1boot.ProtocolError) and isinstance(e, mp1boot.Error)
    names = set(mp1boot._core.errc_names())
    assert set(mp1boot.errors.EXIT_CODES) <= names
    assert names - {"ok"} <= set(mp1boot.errors.EXIT_CODES), "every code has an exit status"
