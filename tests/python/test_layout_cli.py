# SPDX-License-Identifier: MIT
"""mp1boot layout check: U-Boot's rules with line numbers, before touching a board."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mp1boot.cli import main

REAL = Path(__file__).resolve().parents[1] / "data" / "layouts" / "real"


def test_real_sdcard_layout_is_clean(capsys):
    f = REAL / "STMicroelectronics__meta-st-stm32mp__files__flashlayouts__FlashLayout_sdcard_stm32mp157f-ev1_sample.tsv"
    assert main(["layout", "check", str(f), "--no-binaries"]) == 0
    out = capsys.readouterr().out
    assert "0 error(s)" in out and "order the device will ask for: 0x01" in out


def test_duplicate_id_names_the_line(tmp_path, capsys):
    f = tmp_path / "bad.tsv"
    f.write_text("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
                 "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a.stm32\n"
                 "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a.stm32\n"
                 "P\t0x04\tfsbl2\tBinary\tmmc0\t0x00044400\ttf-a.stm32\n")
    assert main(["layout", "check", str(f), "--no-binaries", "--json"]) == 3
    res = json.loads(capsys.readouterr().out)
    errors = [d for d in res["diagnostics"] if d["severity"] == "error"]
    assert any(d["line"] == 3 and d["rule"] == "duplicate-id" and "line 4" in d["message"] for d in errors), errors


def test_placeholders_and_missing_binaries(tmp_path, capsys):
    src = REAL / "bootlin__buildroot-external-st__board__stmicroelectronics__stm32mp1__flash.tsv"
    assert main(["layout", "check", str(src), "--no-binaries"]) == 3
    assert "unresolved" in capsys.readouterr().out.lower()


def test_missing_layout_file(capsys):
    assert main(["layout", "check", "/nonexistent/FlashLayout.tsv"]) == 3
    assert "/nonexistent/FlashLayout.tsv" in capsys.readouterr().err
