# SPDX-License-Identifier: MIT
"""A build without its dependencies stops with what to install (the Debian package) and how to
build without the part that needs it; `pip install .` shows the same message."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def configure(tmp_path, *extra, env=None):
    return subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path / "b"), "-G", "Ninja",
                           "-DMP1BOOT_BUILD_PYTHON=OFF", "-DMP1BOOT_BUILD_TESTS=OFF", *extra],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_without_boost_the_message_names_the_package_and_the_option(tmp_path):
    r = configure(tmp_path, "-DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON")
    assert r.returncode != 0
    text = " ".join(r.stderr.split())
    assert "mp1boot: Boost (the Asio headers, for the serial transport) not found" in text
    assert "sudo apt install libboost-dev" in text
    assert "cmake -DMP1BOOT_WITH_SERIAL=OFF" in text and "-Ccmake.define.MP1BOOT_WITH_SERIAL=OFF" in text


def test_without_serial_and_usb_no_boost_nor_libusb_is_needed(tmp_path):
    r = configure(tmp_path, "-DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON", "-DMP1BOOT_WITH_SERIAL=OFF",
                  "-DMP1BOOT_WITH_USB=OFF", env={"PKG_CONFIG_LIBDIR": str(tmp_path / "none")})
    assert r.returncode == 0, r.stdout + r.stderr


def test_pip_install_without_libusb_names_the_package_and_the_option(tmp_path):
    env = {**os.environ, "PKG_CONFIG_LIBDIR": str(tmp_path / "none"), "PKG_CONFIG_PATH": ""}
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w",
                        str(tmp_path / "wheels"), f"-Cbuild-dir={tmp_path / 'build'}", str(ROOT)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode != 0
    text = " ".join((r.stdout + r.stderr).split())
    assert "libusb-1.0 (its headers and libusb-1.0.pc, for the USB transport) not found" in text, text[-3000:]
    assert "sudo apt install libusb-1.0-0-dev" in text
    assert "pip install . -Ccmake.define.MP1BOOT_WITH_USB=OFF" in text
