# SPDX-License-Identifier: MIT
"""docs/flash-report.schema.json is a valid JSON Schema, real reports (one board, several boards, a
failed run) match it, and it rejects what the core never writes. (Every report any test produces
is checked against it by the autouse fixture in conftest.py.)"""
from __future__ import annotations

import copy

import pytest

import mp1boot
from conftest import report_validator
from test_flash import _folder


def test_reports_of_one_and_several_boards_match(tmp_path, fsbl_mp15):
    _, storage = _folder(tmp_path, fsbl_mp15)
    v = report_validator()
    one = mp1boot.flash(tmp_path / "flash.tsv", port=f"sim:stm32mp157?storage={storage}",
                        defines={"FSBL": "tf-a.stm32"}, verify=True)
    assert list(v.iter_errors(one)) == []
    many = mp1boot.flash_many(tmp_path / "flash.tsv", ports=[f"sim:stm32mp157?link=usb&storage={storage}",
                                                              "sim:stm32mp999"], defines={"FSBL": "tf-a.stm32"})
    assert many["result"] == "failed"
    assert list(v.iter_errors(many)) == []
    with pytest.raises(mp1boot.DeviceError) as info:  # the board is done now: board_state
        dev = mp1boot.connect(f"sim:stm32mp157?storage={storage}")
        dev.flash(tmp_path / "flash.tsv", defines={"FSBL": "tf-a.stm32"})
        dev.flash(tmp_path / "flash.tsv", defines={"FSBL": "tf-a.stm32"})
    assert info.value.code == "board_state"

    bad = copy.deepcopy(one)
    bad["partitions"][0]["result"] = "resumed"  # the old name: no longer written
    assert list(v.iter_errors(bad))
    bad = copy.deepcopy(one)
    del bad["board"]
    assert list(v.iter_errors(bad))
    bad = copy.deepcopy(many)
    bad["boards"]["x"] = {"result": "ok"}
    assert list(v.iter_errors(bad))
