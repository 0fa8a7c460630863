# SPDX-License-Identifier: MIT
"""One vocabulary for the simulated board: sim: URLs, UartSimServer, `mp1boot sim` and
mp1boot-usbsim take the same key=value options, list the same keys in --help, and refuse bad
values with a UsageError that names the key (no ValueError traceback, no silent truncation)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

import mp1boot


def test_key_table_is_exposed_and_complete():
    keys = mp1boot.sim_board_keys()
    names = [k[0] for k in keys]
    assert len(names) == len(set(names))
    for expected in ("link", "record", "storage", "uboot", "reset_phase", "reset_after", "block_us",
                     "fail_transfer", "stall_transfer", "lose_status", "drop_phase", "no_reenumerate_after",
                     "status_block"):
        assert expected in names
    assert all(links in ("uart usb", "uart", "usb") for _, _, links, _ in keys)


@pytest.mark.parametrize("query, words", [
    ("reset_phase=x", ["reset_phase", "'x' is not a number"]),
    ("reset_phase=0x1FF", ["reset_phase", "0x1FF is out of range 0x0..0xff"]),
    ("link=usb&block_us=-3", ["block_us", "negative"]),
    ("link=usb&blocks_us=3", ["unknown sim option 'blocks_us'", "allowed:", "block_us"]),
])
def test_bad_sim_url_options_are_usage_errors_naming_the_key(query, words):
    with pytest.raises(mp1boot.UsageError) as exc:
        mp1boot.connect(f"sim:stm32mp157?{query}")
    for w in words:
        assert w in str(exc.value)


def test_uart_server_takes_the_same_options():
    with pytest.raises(mp1boot.UsageError, match="sim option 'tfa_boot_delay_ms': 'soon' is not a number"):
        mp1boot.UartSimServer("stm32mp135", options=["tfa_boot_delay_ms=soon"])
    server = mp1boot.UartSimServer("stm32mp135", options=["stage=tfa", "rom_read_memory=1"])
    assert server.stage == "tf-a"


def _help_keys(text: str) -> list[str]:
    """The "  key=VALUE   help" lines of a --help text."""
    return re.findall(r"^  ([a-z_]+=\S+)\s", text, flags=re.MULTILINE)


def test_both_tools_list_the_same_keys_in_help():
    cli = subprocess.run([sys.executable, "-m", "mp1boot", "sim", "--help"], capture_output=True, text=True, check=True)
    table = [f"{k[0]}={k[1]}" for k in mp1boot.sim_board_keys()]
    assert _help_keys(cli.stdout) == table
    tool = shutil.which("mp1boot-usbsim")
    assert tool, "mp1boot-usbsim is built with the project and on PATH for the tests"
    out = subprocess.run([tool, "--help"], capture_output=True, text=True, check=True)
    assert _help_keys(out.stdout) == table


def test_cli_refuses_a_bad_option_before_serving():
    out = subprocess.run([sys.executable, "-m", "mp1boot", "sim", "--uart", "--set", "reset_after=lots"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "sim option 'reset_after': 'lots' is not a number" in out.stderr
    assert "Traceback" not in out.stderr
    tool = shutil.which("mp1boot-usbsim")
    out = subprocess.run([tool, "--soc", "stm32mp157", "--set", "reset_phase=0x1FF", "--daemon"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "sim option 'reset_phase': 0x1FF is out of range 0x0..0xff" in out.stderr
