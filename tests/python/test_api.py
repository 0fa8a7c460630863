# SPDX-License-Identifier: MIT
"""The public Python surface: names, stubs, the simulated board through connect()."""
from __future__ import annotations

from pathlib import Path

import pytest

import mp1boot


def test_public_names_exist_and_are_listed():
    for name in mp1boot.__all__:
        assert hasattr(mp1boot, name), name
    assert mp1boot.__version__.count(".") == 2


def test_stubs_cover_the_extension():
    stub = Path(mp1boot.__file__).with_name("_core.pyi")
    assert stub.is_file(), "the _core.pyi stubs ship with the package"
    text = stub.read_text()
    for name in ("def connect", "class Device", "def boot", "def get_phase", "class UartSimServer", "def image_wrap"):
        assert name in text, name


@pytest.mark.parametrize("soc,dev_id,address", [("stm32mp135", 0x501, 0x2FFDFE00), ("stm32mp157", 0x500, 0x2FFC2400)],
                         ids=["mp13", "mp15"])
def test_rom_identity_in_process(soc, dev_id, address):
    dev = mp1boot.connect(f"sim:{soc}")
    assert dev.link == "uart"
    assert dev.transport == f"sim:{soc}"
    g = dev.get()
    assert g.protocol_version == 0x40
    assert list(g.commands)[:4] == [0, 1, 2, 3]
    assert "Download" in g.command_names
    assert dev.get_id() == dev_id
    ph = dev.get_phase()
    assert (ph.phase, ph.address, ph.name) == (1, address, "FSBL")


def test_mp13_rom_get_version_has_two_option_bytes():
    v = mp1boot.connect("sim:stm32mp135").get_version()
    assert v.version == 0x10
    assert v.options == (0, 0)


def test_boot_in_process_reports_and_hands_over_to_tfa(fsbl_mp13):
    dev = mp1boot.connect("sim:stm32mp135")
    reports = mp1boot.progress.Collect()
    r = dev.boot(fsbl_mp13, progress=reports)
    assert r.soc == "STM32MP13x"
    assert r.transfer.bytes == len(fsbl_mp13)
    assert reports.reports[0][3] == 0 and reports.reports[-1][3] == len(fsbl_mp13)
    assert all(rep[0] == "download" and rep[1] == 1 for rep in reports.reports)
    # TF-A now runs and asks for the FIP (phase 0x03) at its DDR buffer.
    ph = dev.get_phase()
    assert (ph.phase, ph.address) == (3, 0xC7000000)


def test_boot_accepts_a_path(tmp_path, fsbl_mp15):
    p = tmp_path / "tf-a.stm32"
    p.write_bytes(fsbl_mp15)
    r = mp1boot.connect("sim:stm32mp157").boot(p)
    assert r.image == str(p)
    assert r.soc == "STM32MP15x"


def test_read_memory_is_refused_by_the_mp13_rom():
    dev = mp1boot.connect("sim:stm32mp135", timeout=0.2, retries=1)
    with pytest.raises(mp1boot.NackError) as ei:
        dev.read_memory(0x2FFE0000, 16)
    assert ei.value.operation == "read_memory"


def test_read_memory_on_mp15_rom_when_enabled(fsbl_mp15):
    dev = mp1boot.connect("sim:stm32mp157?rom_read_memory=1")
    dev.download(fsbl_mp15, phase=1, name="fsbl")
    data = dev.read_memory(0x2FFC2400, 300)
    assert data == fsbl_mp15[:300]


def test_manual_download_then_start_over_the_real_serial_transport(uart_sim, fsbl_mp13):
    sim = uart_sim("stm32mp135")
    dev = mp1boot.connect(f"serial:{sim.path}")
    assert dev.transport.startswith(f"serial:{sim.path}@115200")
    dev.download(fsbl_mp13, phase=1, name="fsbl")
    dev.start(0xFFFFFFFF)
    assert sim.received_images()[1] == fsbl_mp13
    assert sim.stage == "tf-a"


def test_special_download_operations_need_the_opt_in():
    dev = mp1boot.connect("sim:stm32mp135")
    with pytest.raises(mp1boot.UsageError):
        dev.download(b"\x00" * 8, op=0xF2)


def test_image_info_and_wrap_round_trip(tmp_path):
    img = mp1boot.image_wrap(b"\x01\x02\x03", soc="stm32mp157", load=0xC0000000, entry=0xC0000100, binary_type=0)
    p = tmp_path / "a.stm32"
    p.write_bytes(img)
    info = mp1boot.image_info(p)
    assert info["header_version"].startswith("v1")
    assert info["header_size"] == 256 and info["image_length"] == 3
    assert info["entry_point"] == 0xC0000100 and info["load_address"] == 0xC0000000
    assert info["checksum"] == 6 and info["checksum_ok"]
    v2 = mp1boot.image_wrap(b"\x01" * 10, soc="stm32mp135", load=0x2FFE0000, entry=0x2FFE0000)
    assert len(v2) == 512 + 10


def test_tqdm_adapter_counts_every_byte(fsbl_mp13):
    bar = mp1boot.progress.Tqdm(disable=True)
    mp1boot.connect("sim:stm32mp135").boot(fsbl_mp13, progress=bar)
    assert bar._bar is None  # closed at the last report


def test_pytest_plugin_fixture_gives_the_simulator(mp1_board, mp1_port):
    assert mp1_port == "sim:stm32mp135"
    assert mp1_board.get_phase().phase == 1


@pytest.mark.hil
def test_hil_board_answers_get_phase(mp1_board):
    assert mp1_board.get_phase().phase in range(256)
