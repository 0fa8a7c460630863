# SPDX-License-Identifier: MIT
"""Hostile inputs: a table of bad files, numbers, options and arguments given to the ``mp1boot``
command. Each row runs the real command in a subprocess and asserts the exit code (2 usage, 3 bad
input file, 4 port or device), a message that names the problem, no Python traceback, and an
end within 10 s (a FIFO or /dev/zero must not block or exhaust memory).

URL values of ``sim:`` ports go through the one simulator-option parser (sim::BoardConfig)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

LAYOUT = ("-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
          "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
          "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00100000\trootfs.ext4\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    data_dir = Path(__file__).resolve().parents[1] / "data"
    d = tmp_path_factory.mktemp("hostile")
    f = {"dir": d / "a-directory", "fifo": d / "pipe", "empty": d / "empty.bin", "garbage": d / "garbage.bin",
         "huge": d / "huge.bin", "missing": d / "missing.bin", "nofolder": d / "no" / "such" / "out.stm32",
         "payload": d / "payload.bin", "bigpayload": d / "big-payload.bin", "notjson": d / "report.txt",
         "jsonlist": d / "list.json", "layout": d / "flash.tsv", "biglayout": d / "big.tsv",
         "manylines": d / "many.tsv", "nullayout": d / "nul.tsv", "fifolayout": d / "fifo-binary.tsv",
         "dirlayout": d / "dir-binary.tsv", "pmic7": d / "pmic7.bin", "badreport": d / "bad-report.json"}
    f["dir"].mkdir()
    os.mkfifo(f["fifo"])
    f["empty"].write_bytes(b"")
    f["garbage"].write_bytes(bytes(range(256)) * 40)
    with open(f["huge"], "wb") as h:  # 4 GiB, sparse
        h.truncate(4 << 30)
    f["payload"].write_bytes(bytes(700 * 1024))
    with open(f["bigpayload"], "wb") as h:
        h.truncate(300 << 20)
    f["notjson"].write_text("this is not JSON\n")
    f["jsonlist"].write_text("[1, 2, 3]\n")
    f["badreport"].write_text('{"result": "failed", "partitions": "none"}\n')
    f["layout"].write_text(LAYOUT)
    for name in ("tf-a.stm32", "fip.bin", "rootfs.ext4"):
        (d / name).write_bytes(b"\x01" * 4096)
    f["biglayout"].write_text("#" * (300 * 1024) + "\n" + LAYOUT)
    f["manylines"].write_text("".join(f"P\t0x10\tp{i}\tBinary\tmmc0\t0x{0x4400 + i * 0x200:x}\tx\n" for i in range(5000)))
    f["nullayout"].write_bytes(LAYOUT.encode() + b"\0garbage")
    f["fifolayout"].write_text(LAYOUT.replace("rootfs.ext4", "pipe"))
    f["dirlayout"].write_text(LAYOUT.replace("rootfs.ext4", "a-directory"))
    f["pmic7"].write_bytes(b"\x01" * 7)
    f["good_image"] = data_dir / "images" / "v1_mp15.stm32"
    f["truncated_image"] = data_dir / "images" / "v1_mp15_truncated.stm32"
    f["bad_checksum"] = data_dir / "images" / "v1_mp15_bad_checksum.stm32"
    return {k: str(v) for k, v in f.items()}


WRAP = ["image", "wrap", "--soc", "stm32mp157", "--load", "0x2FFC2500", "--entry", "0x2FFC2500"]
SIM = ["--port", "sim:stm32mp157"]

# (id, argv with {name} file placeholders, exit code, text the message must contain)
ROWS = [
    # image info: files
    ("image-info-missing", ["image", "info", "{missing}"], 3, "no such file"),
    ("image-info-directory", ["image", "info", "{dir}"], 3, "is a directory"),
    ("image-info-fifo", ["image", "info", "{fifo}"], 3, "FIFO"),
    ("image-info-dev-zero", ["image", "info", "/dev/zero"], 3, "character device"),
    ("image-info-dev-null", ["image", "info", "/dev/null"], 3, "character device"),
    ("image-info-empty", ["image", "info", "{empty}"], 3, "STM32"),
    ("image-info-garbage", ["image", "info", "{garbage}"], 3, "bad magic"),
    ("image-info-4gib-zeros", ["image", "info", "{huge}"], 3, "bad magic"),
    ("image-info-truncated", ["image", "info", "{truncated_image}"], 3, "truncated"),
    ("image-info-bad-checksum", ["image", "info", "{bad_checksum}"], 3, "MISMATCH"),
    # image wrap: numbers
    ("wrap-load-negative", [*WRAP[:4], "--load", "-1", "--entry", "0", "{payload}", "{dir}/o.stm32"], 2, "--load"),
    ("wrap-load-33-bits", [*WRAP[:4], "--load", "0x100000000", "--entry", "0", "{payload}", "{dir}/o.stm32"], 2, "--load"),
    ("wrap-load-not-a-number", [*WRAP[:4], "--load", "zz", "--entry", "0", "{payload}", "{dir}/o.stm32"], 2, "--load"),
    ("wrap-entry-negative", [*WRAP[:6], "--entry", "-5", "{payload}", "{dir}/o.stm32"], 2, "--entry"),
    ("wrap-binary-type-33-bits", [*WRAP, "--binary-type", "0x1ffffffff", "{payload}", "{dir}/o.stm32"], 2, "--binary-type"),
    ("wrap-image-version-negative", [*WRAP, "--image-version", "-1", "{payload}", "{dir}/o.stm32"], 2, "--image-version"),
    ("wrap-unknown-soc", ["image", "wrap", "--soc", "stm32mp999", "--load", "0", "--entry", "0", "{payload}",
                          "{dir}/o.stm32"], 2, "stm32mp999"),
    # image wrap: files
    ("wrap-input-directory", [*WRAP, "{dir}", "{dir}/o.stm32"], 3, "is a directory"),
    ("wrap-input-missing", [*WRAP, "{missing}", "{dir}/o.stm32"], 3, "no such file"),
    ("wrap-input-fifo", [*WRAP, "{fifo}", "{dir}/o.stm32"], 3, "FIFO"),
    ("wrap-input-dev-zero", [*WRAP, "/dev/zero", "{dir}/o.stm32"], 3, "character device"),
    ("wrap-input-300mib", [*WRAP, "{bigpayload}", "{dir}/o.stm32"], 3, "more than"),
    ("wrap-output-missing-folder", [*WRAP, "{payload}", "{nofolder}"], 3, "no such folder"),
    ("wrap-output-is-directory", [*WRAP, "{payload}", "{dir}"], 3, "is a directory"),
    # layout check
    ("layout-missing", ["layout", "check", "{missing}"], 3, "no such file"),
    ("layout-directory", ["layout", "check", "{dir}"], 3, "is a directory"),
    ("layout-fifo", ["layout", "check", "{fifo}"], 3, "FIFO"),
    ("layout-dev-zero", ["layout", "check", "/dev/zero"], 3, "character device"),
    ("layout-over-256kib", ["layout", "check", "{biglayout}"], 3, "256 KiB"),
    ("layout-4gib", ["layout", "check", "{huge}"], 3, "256 KiB"),
    ("layout-binary-garbage", ["layout", "check", "{garbage}"], 3, "error"),
    ("layout-empty", ["layout", "check", "{empty}"], 3, "no partition"),
    ("layout-5000-lines", ["layout", "check", "{manylines}"], 3, "too many partition"),
    ("layout-nul-byte", ["layout", "check", "--no-binaries", "{nullayout}"], 0, "NUL byte"),
    ("layout-binary-is-fifo", ["layout", "check", "{fifolayout}"], 3, "not a regular file"),
    ("layout-binary-is-directory", ["layout", "check", "{dirlayout}"], 3, "not a regular file"),
    ("layout-define-without-value", ["layout", "check", "-D", "FSBL", "{layout}"], 2, "NAME=PATH"),
    # flash: arguments and files before anything reaches a board
    ("flash-no-port", ["flash", "{layout}"], 2, "--port"),
    ("flash-layout-missing", ["flash", "{missing}", *SIM], 3, "no such file"),
    ("flash-layout-fifo", ["flash", "{fifo}", *SIM], 3, "FIFO"),
    ("flash-layout-directory", ["flash", "{dir}", *SIM], 3, "is a directory"),
    ("flash-resume-missing", ["flash", "{layout}", *SIM, "--resume", "{missing}"], 3, "no such file"),
    ("flash-resume-not-json", ["flash", "{layout}", *SIM, "--resume", "{notjson}"], 3, "not a JSON report"),
    ("flash-resume-json-list", ["flash", "{layout}", *SIM, "--resume", "{jsonlist}"], 3, "not a JSON report"),
    ("flash-resume-fields-of-wrong-type", ["flash", "{layout}", *SIM, "--resume", "{badreport}"], 2,
     "wrong type"),
    ("flash-resume-directory", ["flash", "{layout}", *SIM, "--resume", "{dir}"], 3, "is a directory"),
    ("flash-resume-fifo", ["flash", "{layout}", *SIM, "--resume", "{fifo}"], 3, "FIFO"),
    ("flash-storage-is-a-file", ["flash", "{layout}", *SIM, "--storage", "{payload}"], 2, "--storage"),
    ("flash-storage-on-real-port", ["flash", "{layout}", "--port", "usb:XYZ", "--storage", "{dir}"], 2, "--storage"),
    ("flash-define-without-value", ["flash", "{layout}", *SIM, "-D", "X"], 2, "NAME=PATH"),
    ("flash-serial-port-missing", ["flash", "{layout}", "--port", "serial:/nonexistent/tty"], 4, "/nonexistent/tty"),
    ("flash-unknown-port-kind", ["flash", "{layout}", "--port", "ftp:board"], 2, "ftp:board"),
    # otp / pmic numbers and files
    ("otp-word-without-value", ["otp", "write", *SIM, "--word", "60"], 2, "--word 60"),
    ("otp-word-value-not-a-number", ["otp", "write", *SIM, "--word", "60=zz"], 2, "--word 60=zz"),
    ("otp-word-number-not-a-number", ["otp", "write", *SIM, "--word", "x=1"], 2, "--word x=1"),
    ("otp-word-value-33-bits", ["otp", "write", *SIM, "--word", "60=0x100000000"], 2, "32 bits"),
    ("otp-word-negative", ["otp", "write", *SIM, "--word=-1=5"], 2, "cannot be negative"),
    ("otp-lock-not-a-number", ["otp", "write", *SIM, "--word", "60=1", "--lock", "zz"], 2, "--lock"),
    ("pmic-write-fifo", ["pmic", "write", "{fifo}", *SIM], 3, "FIFO"),
    ("pmic-write-directory", ["pmic", "write", "{dir}", *SIM], 3, "is a directory"),
    ("pmic-write-7-bytes", ["pmic", "write", "{pmic7}", *SIM], 2, "8 NVM bytes"),
    # boot / info
    ("boot-image-directory", ["boot", "{dir}", "--port", "sim:stm32mp135"], 3, "is a directory"),
    ("boot-image-fifo", ["boot", "{fifo}", "--port", "sim:stm32mp135"], 3, "FIFO"),
    ("boot-image-dev-zero", ["boot", "/dev/zero", "--port", "sim:stm32mp135"], 3, "character device"),
    ("boot-image-missing", ["boot", "{missing}", "--port", "sim:stm32mp135"], 3, "no such file"),
    ("info-unknown-soc", ["info", "--port", "sim:stm32mp999"], 2, "stm32mp999"),
    ("info-empty-port", ["info", "--port", ""], 2, "port"),
    ("sim-baud-zero", ["sim", "--uart", "--baud", "0"], 2, "--baud"),
    ("sim-turnaround-negative", ["sim", "--uart", "--turnaround-ms", "-5"], 2, "--turnaround-ms"),
    ("sim-block-time-not-a-number", ["sim", "--usb", "--uboot-block-us", "fast"], 2, "--uboot-block-us"),
    ("unknown-verb", ["frobnicate"], 2, "invalid choice"),
    # sim: URL values (one parser, sim::BoardConfig)
    ("url-reset-phase-not-a-number", ["info", "--port", "sim:stm32mp157?reset_phase=x"], 2, "reset_phase"),
    ("url-reset-phase-over-a-byte", ["info", "--port", "sim:stm32mp157?reset_phase=0x1234"], 2, "out of range"),
    ("url-reset-after-negative", ["info", "--port", "sim:stm32mp157?reset_after=-1"], 2, "reset_after"),
    ("url-reconnect-negative", ["info", "--port", "sim:stm32mp157?link=usb&reconnect_ms=-5"], 2, "reconnect_ms"),
    ("url-unknown-key", ["info", "--port", "sim:stm32mp157?blocks_us=1"], 2, "blocks_us"),
    ("url-number-with-trailing-text", ["info", "--port", "sim:stm32mp157?reset_after=12abc"], 2, "reset_after"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_hostile_input(row, files):
    name, argv, code, text = row
    args = [a.format(**files) for a in argv]
    start = time.monotonic()
    try:
        r = subprocess.run([sys.executable, "-m", "mp1boot", *args], capture_output=True, text=True, timeout=10,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: no end within 10 s: mp1boot {' '.join(args)}")
    elapsed = time.monotonic() - start
    out = r.stdout + r.stderr
    assert "Traceback" not in out, f"{name}: traceback\n{out[-3000:]}"
    assert len(r.stderr) < 20000, f"{name}: {len(r.stderr)} bytes of stderr (a payload printed?)"
    assert r.returncode == code, f"{name}: exit {r.returncode}, expected {code}\n{out[-2000:]}"
    assert text in out, f"{name}: '{text}' not in the output\n{out[-2000:]}"
    assert elapsed < 10


def test_table_is_large_enough():
    assert len(ROWS) >= 50
    assert len({r[0] for r in ROWS}) == len(ROWS)


def test_binding_error_never_prints_the_payload():
    """A pybind11 argument error lists the arguments it got: with a 700 KB payload that was 2 MB
    of stderr. The binding checks the numbers itself now."""
    import mp1boot
    with pytest.raises(mp1boot.errors.UsageError) as ei:
        mp1boot.image_wrap(bytes(700 * 1024), soc="stm32mp157", load=-1, entry=0)
    assert len(str(ei.value)) < 300
    assert "load" in str(ei.value)
