# SPDX-License-Identifier: MIT
"""The runner's user-facing features through Python and the CLI, on simulated boards: --verify,
the report written even when Ctrl-C stops a run and --resume from it, a board reset mid-partition
named as such, JSON events per partition, and several boards flashed in parallel with one report
entry each."""
from __future__ import annotations

import hashlib
import json

import pytest

import mp1boot
from mp1boot import cli
from test_flash import _folder


def _run(tmp_path, *extra):
    return cli.main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", *extra])


def test_flash_verify_reports_readback(tmp_path, fsbl_mp15):
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    events = []
    report = mp1boot.flash(tmp_path / "flash.tsv", port=f"sim:stm32mp157?storage={storage}",
                           defines={"FSBL": "tf-a.stm32"}, verify=True, events=events.append)
    assert report["result"] == "ok" and report["verify"] is True
    rfs = next(p for p in report["partitions"] if p["name"] == "rootfs")
    assert rfs["verified"] == "ok"
    assert rfs["readback_sha256"] == hashlib.sha256(rootfs).hexdigest()
    kinds = [(e["event"], e.get("name") or e.get("stage")) for e in events]
    assert ("partition", "rootfs") in kinds and ("verified", "rootfs") in kinds
    assert ("stage", "verify") in kinds
    assert kinds.index(("stage", "verify")) > kinds.index(("partition", "rootfs"))
    assert report["link"] == "uart" and report["port"].startswith("sim:")


def test_ctrl_c_writes_the_report_and_resume_finishes(tmp_path, fsbl_mp15, capsys):
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    port = f"sim:stm32mp157?storage={storage}"

    def interrupt(p):  # Ctrl-C while rootfs is on its way
        if p.partition == "rootfs" and 0 < p.bytes_done < p.bytes_total:
            raise KeyboardInterrupt

    with pytest.raises(mp1boot.CancelledError) as info:
        mp1boot.flash(tmp_path / "flash.tsv", port=port, defines={"FSBL": "tf-a.stm32"}, progress=interrupt)
    report = info.value.report
    assert report["result"] == "failed"
    by_name = {p["name"]: p["result"] for p in report["partitions"]}
    assert by_name["fsbl1"] == "ok" and by_name["rootfs"] == "failed"
    (tmp_path / "r1.json").write_text(json.dumps(report))

    assert _run(tmp_path, "--port", port, "--resume", str(tmp_path / "r1.json"), "--verify", "--report",
                str(tmp_path / "r2.json"), "-q") == 0
    r2 = json.loads((tmp_path / "r2.json").read_text())
    results = {p["name"]: (p["result"], p["verified"]) for p in r2["partitions"]}
    assert results["fsbl1"] == ("skipped-done-earlier", "ok")  # not sent, read back with --verify
    assert results["rootfs"] == ("ok", "ok")
    assert r2["resumed"] is True
    with open(storage / "mmc0.img", "rb") as f:
        f.seek(0x100000)
        assert f.read(len(rootfs)) == rootfs


def test_cli_reset_mid_partition_exit_code_and_report(tmp_path, fsbl_mp15, capsys):
    _folder(tmp_path, fsbl_mp15)
    port = f"sim:stm32mp157?storage={tmp_path / 'storage'}&reset_phase=0x10&reset_after=4000"
    code = _run(tmp_path, "--port", port, "--report", str(tmp_path / "r.json"), "--json")
    assert code == mp1boot.errors.EXIT_CODES["device_reset"] == 5
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    err = lines[-1]
    assert err["event"] == "error" and err["code"] == "device_reset"
    assert err["phase"] == 0x10 and err["partition"] == "rootfs" and err["layout_line"] == 5
    assert "boot ROM answers again" in err["message"]
    assert any(e["event"] == "partition" and e["name"] == "fsbl1" for e in lines)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["result"] == "failed" and "reset" in saved["error"]


def test_cli_parallel_boards_each_get_a_report_entry(tmp_path, fsbl_mp15, capsys):
    rootfs, _ = _folder(tmp_path, fsbl_mp15)
    boards = tmp_path / "boards"
    ports = ["sim:stm32mp157", "sim:stm32mp157?link=uart", "sim:stm32mp157?rom_read_memory=0"]
    args = []
    for p in ports:
        args += ["--port", p]
    code = _run(tmp_path, *args, "--storage", str(boards), "--verify", "--report", str(tmp_path / "all.json"),
                "--json")
    assert code == 0
    report = json.loads((tmp_path / "all.json").read_text())
    assert report["result"] == "ok" and len(report["boards"]) == 3
    for rep in report["boards"].values():
        assert rep["result"] == "ok"
        assert {p["name"]: p["verified"] for p in rep["partitions"]}["rootfs"] == "ok"
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {e.get("board") for e in events if e["event"] == "partition"} == {
        p + ("&" if "?" in p else "?") + f"storage={boards / f'board{i}'}" for i, p in enumerate(ports)}
    for i in range(3):
        with open(boards / f"board{i}" / "mmc0.img", "rb") as f:
            f.seek(0x100000)
            assert f.read(len(rootfs)) == rootfs


def test_cli_flash_needs_a_port(tmp_path, fsbl_mp15, capsys):
    _folder(tmp_path, fsbl_mp15)
    assert _run(tmp_path) == 2
    assert "--port" in capsys.readouterr().err
