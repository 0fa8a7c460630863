# SPDX-License-Identifier: MIT
"""The binary wheel installs and runs anywhere: a fresh virtual environment made from the plain
interpreter, with no compiler, headers, pkg-config or library path on the search paths."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

FSBL_SCRIPT = """
import mp1boot
payload = bytes((i * 13 + 5) & 0xFF for i in range(8 * 1024))
open("tf-a.stm32", "wb").write(mp1boot.image_wrap(payload, soc="stm32mp157", load=0x2FFC2500, entry=0x2FFC2500))
fip = bytearray((i * 3) & 0xFF for i in range(4096)); fip[0:8] = bytes.fromhex("010064aa78563412")
open("fip.bin", "wb").write(fip)
open("rootfs.ext4", "wb").write(bytes((i * 11) & 0xFF for i in range(10000)))
open("flash.tsv", "w").write("#Opt\\tId\\tName\\tType\\tIP\\tOffset\\tBinary\\n"
    "-\\t0x01\\tfsbl-boot\\tBinary\\tnone\\t0x0\\ttf-a.stm32\\n-\\t0x03\\tfip-boot\\tFIP\\tnone\\t0x0\\tfip.bin\\n"
    "P\\t0x04\\tfsbl1\\tBinary\\tmmc0\\t0x00004400\\ttf-a.stm32\\nP\\t0x10\\trootfs\\tFileSystem\\tmmc0\\t0x00100000\\trootfs.ext4\\n")
print(mp1boot.__file__)
"""


@pytest.fixture(scope="module")
def wheel(request) -> Path:
    folder = request.config.getoption("--wheel-dir")
    assert folder, "give --wheel-dir (make test-wheel does)"
    found = sorted(Path(folder).glob("mp1boot-*.whl"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed; returns (bin folder, scrubbed environment, work folder)."""
    root = tmp_path_factory.mktemp("wheel")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    bin_dir = root / "venv" / "bin"
    env = {"PATH": str(bin_dir), "HOME": str(root), "LANG": "C.UTF-8", "PKG_CONFIG_PATH": "",
           "PKG_CONFIG_LIBDIR": str(root / "no-pkgconfig"), "NO_COLOR": "1"}
    r = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        "--disable-pip-version-check", str(wheel)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    work = root / "work"
    work.mkdir()
    return bin_dir, env, work


def run(venv, *argv, timeout=120):
    bin_dir, env, work = venv
    return subprocess.run([str(a) for a in argv], env=env, cwd=work, capture_output=True, text=True,
                          timeout=timeout)


def test_wheel_carries_libusb_and_the_usb_simulator(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    print(f"{wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB")
    assert any(n.startswith("mp1boot.libs/libusb-1") for n in names), names  # libusb-1-HASH.0.so
    assert "mp1boot/bin/mp1boot-usbsim" in names
    assert not any("umockdev" in n or "glib" in n for n in names if n.startswith("mp1boot.libs/"))
    assert "manylinux" in wheel.name


def test_import_mp1boot_from_the_venv(venv):
    bin_dir = venv[0]
    r = run(venv, bin_dir / "python", "-c", "import mp1boot; print(mp1boot.__file__, mp1boot.__version__)")
    assert r.returncode == 0, r.stderr
    assert str(bin_dir.parent) in r.stdout


def test_info_on_the_simulated_board(venv):
    r = run(venv, venv[0] / "mp1boot", "info", "--port", "sim:stm32mp157")
    assert r.returncode == 0, r.stderr
    assert "0x500 (STM32MP15x)" in r.stdout


def test_flash_over_simulated_usb(venv):
    bin_dir = venv[0]
    r = run(venv, bin_dir / "python", "-c", FSBL_SCRIPT)
    assert r.returncode == 0, r.stderr
    r = run(venv, bin_dir / "mp1boot", "flash", "flash.tsv", "--port", "sim:stm32mp157?link=usb", "--verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok, verified" in r.stdout and ": ok" in r.stdout


def test_usb_simulator_from_the_wheel(venv):
    bin_dir = venv[0]
    r = run(venv, bin_dir / "mp1boot", "sim", "--soc", "stm32mp135", "--usb", "--",
            bin_dir / "mp1boot", "info", "--port", "usb")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0x501 (STM32MP13x)" in r.stdout
