# SPDX-License-Identifier: MIT
"""mp1boot.Link, Stage, FlashResult, FlashStep, PartitionResult and VerifyResult (the C++ mp1boot/vocabulary.hpp mirrored):
their values are today's report strings, the API's results carry them, and a report holding them
serializes to exactly the JSON it did with plain strings."""
from __future__ import annotations

import json

import pytest

import mp1boot
from mp1boot import FlashResult, FlashStep, Link, PartitionResult, Stage, VerifyResult
from test_flash import _folder

SPELLINGS = {
    Link: {"unknown": "", "uart": "uart", "usb": "usb"},
    Stage: {"unknown": "unknown", "rom": "rom", "tfa": "tf-a", "uboot": "u-boot"},
    PartitionResult: {"ok": "ok", "failed": "failed", "skipped": "skipped",
                      "skipped_done_earlier": "skipped-done-earlier"},
    VerifyResult: {"not_read": "", "ok": "ok", "mismatch": "mismatch"},
    FlashResult: {"ok": "ok", "failed": "failed"},
    FlashStep: {"none": "", "check": "check", "fsbl": "fsbl", "fip": "fip", "layout": "layout",
                "partitions": "partitions", "verify": "verify", "done": "done", "failed": "failed"},
}


@pytest.mark.parametrize("enum", list(SPELLINGS), ids=lambda e: e.__name__)
def test_values_are_todays_strings(enum):
    assert {m.name: m.value for m in enum} == SPELLINGS[enum]
    for member in enum:
        text = SPELLINGS[enum][member.name]
        assert member == text and text == member
        assert enum(text) is member
        assert str(member) == text and f"{member}" == text and "%s" % member == text
        assert repr(member) == repr(text)  # a printed report looks as it did with plain strings
        assert json.dumps(member) == json.dumps(text)
        assert {text: 1}[member] == 1 and {member: 1}[text] == 1  # dict keys either way
    with pytest.raises(ValueError):
        enum("no such word")


def _plain(obj):
    """The same value with every str (enum members included) as a plain str."""
    if isinstance(obj, dict):
        return {str.__str__(k) if isinstance(k, str) else k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return str.__str__(obj) if isinstance(obj, str) else obj


def test_results_carry_the_enums_and_serialize_unchanged(tmp_path, fsbl_mp15):
    _, storage = _folder(tmp_path, fsbl_mp15)
    events = []
    report = mp1boot.flash(tmp_path / "flash.tsv", port=f"sim:stm32mp157?link=usb&storage={storage}",
                           defines={"FSBL": "tf-a.stm32"}, verify=True, events=events.append)
    assert report["result"] == "ok", report
    assert type(report["result"]) is FlashResult
    assert type(report["link"]) is Link and report["link"] == "usb"
    parts = report["partitions"]
    assert all(type(p["result"]) is PartitionResult and p["result"] == "ok" for p in parts)
    assert all(type(p["verified"]) is VerifyResult for p in parts)
    assert {p["verified"] for p in parts} == {VerifyResult.ok, VerifyResult.not_read}
    for text in (json.dumps(report), json.dumps(report, indent=2, sort_keys=True)):
        assert json.loads(text) == report
    assert json.dumps(report, sort_keys=True) == json.dumps(_plain(report), sort_keys=True)
    assert '"link": "usb"' in json.dumps(report)
    steps = [e["stage"] for e in events if e["event"] == "stage"]
    assert all(type(s) is FlashStep for s in steps)
    assert steps == ["check", "fsbl", "fip", "layout", "partitions", "verify", "done"]
    done = [e for e in events if e["event"] == "partition"]
    assert done and all(type(e["result"]) is PartitionResult for e in done)

    # Several boards: each board's report has them too.
    storage2 = tmp_path / "storage2"
    storage2.mkdir()
    many = mp1boot.flash_many(tmp_path / "flash.tsv", ports=[f"sim:stm32mp157?storage={storage2}"],
                              defines={"FSBL": "tf-a.stm32"})
    (board,) = many["boards"].values()
    assert type(board["link"]) is Link and board["link"] == Link.uart
    assert type(board["result"]) is FlashResult and board["result"] == "ok"
    assert type(many["result"]) is FlashResult and many["result"] is FlashResult.ok
    assert json.dumps(many, sort_keys=True) == json.dumps(_plain(many), sort_keys=True)


def test_device_link_and_plan_link(tmp_path, fsbl_mp15):
    _folder(tmp_path, fsbl_mp15)
    with mp1boot.connect("sim:stm32mp157") as dev:
        assert dev.link is Link.uart and dev.link == "uart"
        plan = mp1boot.plan(tmp_path / "flash.tsv", port=dev, defines={"FSBL": "tf-a.stm32"})
    assert plan["link"] is Link.uart
    with mp1boot.connect("sim:stm32mp157?link=usb") as dev:
        assert dev.link is Link.usb
        ident = mp1boot.usb_identity(dev)
        assert ident["stage"] is Stage.rom and ident["stage"] == "rom"
