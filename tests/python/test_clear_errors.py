# SPDX-License-Identifier: MIT
"""Clear errors for the usual traps: OTP/PMIC on a board not yet in U-Boot stm32prog, and a UART
board left inside an earlier download (the simulated board has a reset button for it)."""
from __future__ import annotations

import subprocess
import sys

import pytest

import mp1boot
from mp1boot.cli import main


@pytest.mark.parametrize("argv", [["otp", "read", "--port", "sim:stm32mp157?link=usb"],
                                  ["pmic", "read", "--port", "sim:stm32mp157"]], ids=["otp-usb", "pmic-uart"])
def test_otp_and_pmic_at_the_boot_rom_say_uboot_is_needed_and_how(argv, capsys):
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is served by U-Boot stm32prog, and the board is at the boot ROM" in err
    assert "--layout FlashLayout.tsv" in err and "nothing was sent" in err


def test_otp_decode_is_public(tmp_path):
    from test_flash import _folder
    import mp1boot as m
    payload = bytes((i * 13 + 5) & 0xFF for i in range(8 * 1024))
    _folder(tmp_path, m.image_wrap(payload, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500))
    dev = m.connect("sim:stm32mp157?link=usb")
    dev.flash(str(tmp_path / "flash.tsv"), defines={"FSBL": "tf-a.stm32"}, boot_only=True)
    decoded = m.otp_decode(dev.read_otp())
    assert len(decoded["words"]) > 90 and {"word", "value", "locked"} <= set(decoded["words"][0])


def test_uart_sim_reset_ends_an_interrupted_download(uart_sim, fsbl_mp13):
    sim = uart_sim("stm32mp135")
    dev = mp1boot.connect(f"serial:{sim.path}")

    class Stop(Exception):
        pass

    def stop_midway(p):
        if p.bytes_done > 2048:
            raise Stop

    with pytest.raises(Stop):
        dev.boot(fsbl_mp13, progress=stop_midway)
    del dev  # the program ends (the port is free again); the board does not notice
    import gc
    gc.collect()
    # The board still counts bytes into the interrupted download: the error says so, and what to do.
    again = []
    with pytest.raises(mp1boot.Error) as ei:
        again.append(mp1boot.connect(f"serial:{sim.path}"))
        again[0].boot(fsbl_mp13)
    again.clear()
    gc.collect()
    assert "still inside an earlier, interrupted download: reset it" in str(ei.value), str(ei.value)
    sim.reset()
    assert sim.stage == "rom"
    dev = mp1boot.connect(f"serial:{sim.path}")
    assert dev.boot(fsbl_mp13).phase == 0x01


def test_sim_uart_process_takes_reset_on_stdin():
    proc = subprocess.Popen([sys.executable, "-m", "mp1boot", "sim", "--soc", "stm32mp135", "--uart"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("uart: /dev/pts/")
        assert "commands on stdin: reset" in proc.stderr.readline()
        proc.stdin.write("help\n")
        proc.stdin.flush()
        assert proc.stdout.readline().startswith("reset ")
        proc.stdout.readline(), proc.stdout.readline()
        proc.stdin.write("reset\nstatus\n")
        proc.stdin.flush()
        assert proc.stdout.readline().startswith("OK: the board is in the boot ROM")
        assert proc.stdout.readline().strip() == "stage: rom"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for f in (proc.stdin, proc.stdout, proc.stderr):
            f.close()
