# SPDX-License-Identifier: MIT
"""The simulated board as a USB device that libusb programs can open (umockdev): our CLI and
library through the real libusb transport, and clients we did not write (lsusb, dfu-util).
Every run has a timeout: the umockdev preload has none."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import mp1boot

SIM = [sys.executable, "-m", "mp1boot", "sim", "--usb"]


def run_under_sim(soc, *command, timeout=60, record=None):
    argv = SIM + ["--soc", soc] + (["--record", str(record)] if record else []) + ["--"] + list(command)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def test_list_shows_the_simulated_rom():
    r = run_under_sim("stm32mp135", sys.executable, "-m", "mp1boot", "list", "--json")
    assert r.returncode == 0, r.stderr
    devices = json.loads(r.stdout)["devices"]
    assert len(devices) == 1
    d = devices[0]
    assert (d["vendor_id"], d["product_id"]) == (0x0483, 0xDF11)
    assert d["stage"] == "rom" and d["device_id"] == 0x501 and d["soc"] == "STM32MP13x"
    assert d["serial"] == "002800423232511538303631" and d["speed"] == "high"
    assert d["port_path"] and d["bus"] >= 1 and d["accessible"]


def test_list_human_output():
    r = run_under_sim("stm32mp157", sys.executable, "-m", "mp1boot", "list")
    assert r.returncode == 0, r.stderr
    assert "STM32MP15x" in r.stdout and "rom" in r.stdout and "DFU in HS Mode" in r.stdout


def test_info_over_usb():
    r = run_under_sim("stm32mp135", sys.executable, "-m", "mp1boot", "info", "--port", "usb", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["link"] == "usb" and d["device_id"] == 0x501 and d["phase"] == 0x01
    assert d["usb"]["stage"] == "rom"


def test_boot_over_libusb_follows_the_reenumeration(tmp_path, fsbl_mp13):
    image = tmp_path / "tf-a.stm32"
    image.write_bytes(fsbl_mp13)
    script = textwrap.dedent(f"""
        import mp1boot
        dev = mp1boot.connect("usb:002800423232511538303631")
        r = dev.boot({str(image)!r})
        usb = mp1boot._core.usb_identity(dev)
        ph = dev.get_phase()
        print(usb["stage"], hex(ph.phase), hex(ph.address), r.transfer.bytes)
    """)
    record = tmp_path / "rec"
    r = run_under_sim("stm32mp135", sys.executable, "-c", script, record=record)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["tf-a", "0x3", "0xc7000000", str(len(fsbl_mp13))]
    assert (record / "phase-0x01.bin").read_bytes() == fsbl_mp13


def test_cli_boot_over_usb(tmp_path, fsbl_mp15):
    image = tmp_path / "tf-a.stm32"
    image.write_bytes(fsbl_mp15)
    r = run_under_sim("stm32mp157", sys.executable, "-m", "mp1boot", "boot", str(image), "--port", "usb", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "FSBL started" in r.stdout


def test_no_device_outside_the_simulator():
    with pytest.raises(mp1boot.TransportError) as ei:
        mp1boot.connect("usb")
    assert ei.value.code == "no_device"


def test_selector_that_matches_nothing():
    r = run_under_sim("stm32mp135", sys.executable, "-m", "mp1boot", "info", "--port", "usb:DEADBEEF")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "DEADBEEF" in r.stderr and "002800423232511538303631" in r.stderr


def test_dfu_util_lists_the_alt_settings():
    r = run_under_sim("stm32mp135", "dfu-util", "-l")
    assert r.returncode == 0, r.stderr
    assert "[0483:df11]" in r.stdout
    assert 'name="@FSBL /0x01/1*128Ke"' in r.stdout
    assert 'name="@virtual /0xF1/1*512Ba"' in r.stdout


def test_dfu_util_download_reaches_the_simulator_byte_for_byte(tmp_path, fsbl_mp13):
    image = tmp_path / "tf-a.stm32"
    image.write_bytes(fsbl_mp13)
    record = tmp_path / "rec"
    r = run_under_sim("stm32mp135", "dfu-util", "-a", "0", "-D", str(image), record=record)
    assert r.returncode == 0, r.stderr
    assert (record / "phase-0x01.bin").read_bytes() == fsbl_mp13


def test_lsusb_shows_the_descriptors():
    r = run_under_sim("stm32mp135", "lsusb", "-v", "-d", "0483:df11")
    assert r.returncode == 0, r.stderr
    assert "STMicroelectronics" in r.stdout
    assert "Device Firmware Upgrade" in r.stdout or "bInterfaceClass       254" in r.stdout
    assert "wTransferSize" in r.stdout and "1024" in r.stdout


def test_udev_rule_printed():
    r = subprocess.run([sys.executable, "-m", "mp1boot", "udev", "--print"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert 'idVendor}=="0483"' in r.stdout and 'idProduct}=="df11"' in r.stdout


def test_udev_install_writes_the_rules_file(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mp1boot", "udev", "--install", "--rules-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert 'idProduct}=="df11"' in (tmp_path / "60-mp1boot.rules").read_text()
    r = subprocess.run([sys.executable, "-m", "mp1boot", "udev", "--install", "--rules-dir", str(tmp_path / "no" / "dir")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 4 and "cannot write" in r.stderr


def test_flash_layout_over_libusb_with_verify(tmp_path, fsbl_mp15):
    """The whole job through the real libusb transport: ROM -> TF-A -> U-Boot gadget -> partition
    gadget, three re-enumerations followed by serial number, then every partition read back."""
    from test_flash import _folder
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    report = tmp_path / "report.json"
    argv = SIM + ["--soc", "stm32mp157", "--storage", str(storage), "--", sys.executable, "-m", "mp1boot", "flash",
                  str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--port", "usb", "--verify",
                  "--report", str(report), "-q"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(report.read_text())
    assert rep["link"] == "usb" and rep["port_path"] == "1-1" and rep["speed"] == "high"
    assert {p["name"]: p["verified"] for p in rep["partitions"]}["rootfs"] == "ok"
    with open(storage / "mmc0.img", "rb") as f:
        f.seek(0x100000)
        assert f.read(len(rootfs)) == rootfs
