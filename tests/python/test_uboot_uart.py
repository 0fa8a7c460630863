# SPDX-License-Identifier: MIT
"""A thin slice of the full flash over UART on the simulated board: ROM -> TF-A -> U-Boot
stm32prog, driven by Get Phase with the public Device API (the flash runner builds on this)."""
from __future__ import annotations

import mp1boot

LAYOUT = ("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
          "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
          "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
          "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
          "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n")


def _fip(size=4096):
    fip = bytearray((i * 3) & 0xFF for i in range(size))
    fip[0:8] = bytes.fromhex("010064aa78563412")  # FIP ToC header, serial number != 0
    return bytes(fip)


def test_rom_tfa_uboot_layout_and_partitions(tmp_path, fsbl_mp15):
    dev = mp1boot.connect(f"sim:stm32mp157?storage={tmp_path}")
    dev.boot(fsbl_mp15)
    ph = dev.get_phase()
    assert (ph.phase, ph.address) == (0x03, 0xC7000000)
    dev.download(_fip(), phase=3, name="fip.bin")
    dev.start(0xFFFFFFFF)
    ph = dev.get_phase()  # U-Boot's unsolicited NACK is absorbed by the retry policy
    assert (ph.phase, ph.address) == (0x00, 0xC2000000)
    dev.download(LAYOUT.encode(), phase=0, name="FlashLayout.tsv")
    dev.start(0xFFFFFFFF)
    assert dev.get_phase().phase == 0x04
    dev.download(fsbl_mp15, phase=4, name="fsbl1")
    dev.start(0xFFFFFFFF)
    assert dev.get_phase().phase == 0x10
    rootfs = bytes((i * 11) & 0xFF for i in range(10000))
    dev.download(rootfs, phase=0x10, name="rootfs")
    dev.start(0xFFFFFFFF)
    assert dev.get_phase().phase == 0xFE
    # Read back through Read Partition, and in the storage image the simulator keeps.
    assert dev.read_partition(0x10, 0, len(rootfs)) == rootfs
    with open(tmp_path / "mmc0.img", "rb") as f:  # a sparse file the size of the card
        mmc0 = f.read(0x100000 + len(rootfs))
    assert mmc0[0x4400:0x4400 + len(fsbl_mp15)] == fsbl_mp15
    assert mmc0[0x100000:] == rootfs


def test_layout_error_text_reaches_the_user_verbatim(fsbl_mp15):
    dev = mp1boot.connect("sim:stm32mp157")
    dev.boot(fsbl_mp15)
    dev.download(_fip(), phase=3, name="fip.bin")
    dev.start(0xFFFFFFFF)
    assert dev.get_phase().phase == 0x00
    bad = LAYOUT.replace("P\t0x10\trootfs", "P\t0x04\trootfs")  # duplicate Id
    dev.download(bad.encode(), phase=0, name="FlashLayout.tsv")
    dev.start(0xFFFFFFFF)  # U-Boot ACKs; the error surfaces at the next Get Phase
    ph = dev.get_phase()
    assert ph.phase == 0xFF
    assert "0x04" in ph.message or "4" in ph.message, ph.message
