# SPDX-License-Identifier: MIT
"""USB DFU through the in-process simulated board (sim:SOC?link=usb): the same Device API as
UART, DFU errors named as in the specification, and hand-overs across re-enumeration."""
from __future__ import annotations

import pytest

import mp1boot


def test_identity_and_phase_of_the_mp13_rom():
    dev = mp1boot.connect("sim:stm32mp135?link=usb")
    assert dev.link == "usb"
    assert dev.get_id() == 0x501
    usb = mp1boot._core.usb_identity(dev)
    assert usb["stage"] == "rom" and usb["serial"] == "002800423232511538303631"
    assert usb["product"].startswith("DFU in HS Mode @Device ID /0x501")
    ph = dev.get_phase()
    assert ph.phase == 1


def test_uart_only_commands_are_refused_over_usb():
    dev = mp1boot.connect("sim:stm32mp135?link=usb")
    with pytest.raises(mp1boot.UsageError) as ei:
        dev.get_version()
    assert "UART" in str(ei.value)


def test_boot_mp13_detaches_and_follows_the_board_to_tfa(fsbl_mp13):
    dev = mp1boot.connect("sim:stm32mp135?link=usb")
    reports = mp1boot.progress.Collect()
    r = dev.boot(fsbl_mp13, progress=reports)
    assert r.soc == "STM32MP13x" and r.transfer.bytes == len(fsbl_mp13)
    assert reports.reports[-1][3] == len(fsbl_mp13)
    usb = mp1boot._core.usb_identity(dev)
    assert usb["stage"] == "tf-a", usb["product"]
    assert usb["serial"] == "002800423232511538303631"
    ph = dev.get_phase()
    assert (ph.phase, ph.address) == (3, 0xC7000000)


def test_boot_mp15_hands_over_at_manifestation(fsbl_mp15):
    dev = mp1boot.connect("sim:stm32mp157?link=usb")
    dev.boot(fsbl_mp15)
    assert dev.get_phase().phase == 3


def test_wrong_soc_image_is_refused_before_any_download(fsbl_mp15):
    dev = mp1boot.connect("sim:stm32mp135?link=usb")
    with pytest.raises(mp1boot.LayoutError):
        dev.boot(fsbl_mp15)
    assert dev.get_phase().phase == 1


def test_device_refuses_a_corrupted_fsbl_with_a_named_dfu_status(fsbl_mp13):
    bad = bytearray(fsbl_mp13)
    bad[-3] ^= 0x40
    dev = mp1boot.connect("sim:stm32mp135?link=usb")
    with pytest.raises(mp1boot.DeviceError) as ei:
        dev.download(bytes(bad), phase=1, name="bad.stm32")
    e = ei.value
    assert e.code == "dfu_status"
    assert "errVERIFY" in str(e) or "errFILE" in str(e), str(e)
    assert e.phase == 1 and e.partition == "bad.stm32"


def test_missing_alt_setting_for_the_phase():
    dev = mp1boot.connect("sim:stm32mp135?link=usb")
    with pytest.raises(mp1boot.UsageError) as ei:
        dev.download(b"\x00" * 64, phase=0x05, name="x")
    assert "0x05" in str(ei.value) and "FSBL" in str(ei.value)
