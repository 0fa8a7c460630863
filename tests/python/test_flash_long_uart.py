# SPDX-License-Identifier: MIT
"""A UART flash of more than an hour: the CLI shows the estimate before the first download and,
without --yes, refuses in --json mode and when nobody can be asked (exit 12, needs_consent),
naming USB as the way out; the API asks ``confirm(question)``. The rootfs is a 48 MB sparse file
(about 80 minutes at 115200 baud); nothing of it is sent in these tests."""
from __future__ import annotations

import json

import pytest

import mp1boot
from mp1boot.cli import main
from test_flash import _folder

ROOTFS = 48_000_000


def _big_folder(tmp_path, fsbl):
    _, storage = _folder(tmp_path, fsbl)
    with open(tmp_path / "rootfs.ext4", "r+b") as f:
        f.truncate(ROOTFS)
    return storage


def test_cli_json_refuses_without_yes_after_the_estimate(tmp_path, fsbl_mp15, capsys):
    storage = _big_folder(tmp_path, fsbl_mp15)
    code = main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--port",
                 f"sim:stm32mp157?storage={storage}", "--json"])
    assert code == mp1boot.errors.EXIT_CODES["needs_consent"] == 12
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    estimate = next(e for e in lines if e.get("event") == "estimate")
    assert estimate["link"] == "uart" and estimate["bytes"] > ROOTFS and estimate["eta_seconds"] > 3600
    assert "MB over UART at" in estimate["text"] and "about 1 h" in estimate["text"]
    error = lines[-1]
    assert error["event"] == "error" and error["code"] == "needs_consent", error
    assert "--yes" in error["message"] and "--port usb" in error["message"], error
    assert not any(e.get("event") == "progress" for e in lines), "nothing may be downloaded"


def test_cli_text_shows_the_estimate_and_refuses_when_not_interactive(tmp_path, fsbl_mp15, capsys):
    storage = _big_folder(tmp_path, fsbl_mp15)
    code = main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--port",
                 f"sim:stm32mp157?storage={storage}"])
    assert code == 12
    err = capsys.readouterr().err
    # The estimate is the core's sentence (FlashEstimate::describe), on its own line before the refusal.
    lines = [line for line in err.splitlines() if "MB over UART at" in line and "about 1 h" in line]
    assert any(line.rstrip().endswith("at the protocol bound") for line in lines), err
    assert "pass --yes" in err, err


def test_api_asks_confirm_and_a_no_refuses(tmp_path, fsbl_mp15):
    storage = _big_folder(tmp_path, fsbl_mp15)
    asked = []
    with pytest.raises(mp1boot.UsageError) as info:
        mp1boot.flash(tmp_path / "flash.tsv", port=f"sim:stm32mp157?storage={storage}",
                      defines={"FSBL": "tf-a.stm32"}, confirm=lambda q: asked.append(q) or False)
    assert info.value.code == "needs_consent"
    assert len(asked) == 1 and "over UART" in asked[0] and "USB (--port usb)" in asked[0], asked
    assert info.value.report["result"] == "failed"
    assert all(p["result"] == "skipped" for p in info.value.report["partitions"])
