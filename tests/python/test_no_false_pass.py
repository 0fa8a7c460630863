# SPDX-License-Identifier: MIT
"""No silent false pass through the CLI: `mp1boot flash` on a board that already finished (U-Boot at
0xFE) exits 10 (board_state) and says what to do; --resume with a report of another board exits 11
(other_board) unless --resume-any-board; skipped partitions read "done earlier (not sent)"."""
from __future__ import annotations

import json

import mp1boot
from mp1boot.cli import main
from test_flash import _folder


def _flash(tmp_path, *extra):
    return main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", *extra])


def test_board_already_done_is_exit_10_not_ok(tmp_path, fsbl_mp15, uart_sim, capsys):
    _, storage = _folder(tmp_path, fsbl_mp15)
    sim = uart_sim("stm32mp157", storage_dir=str(storage))
    port = f"serial:{sim.path}"
    assert _flash(tmp_path, "--port", port, "-q") == 0
    capsys.readouterr()
    code = _flash(tmp_path, "--port", port, "-q", "--report", str(tmp_path / "again.json"))
    assert code == mp1boot.errors.EXIT_CODES["board_state"] == 10
    err = capsys.readouterr().err
    assert "phase 0xFE (done)" in err and "Reset the board" in err, err
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["result"] == "failed" and again["error_code"] == "board_state"
    assert all(p["result"] == "skipped" for p in again["partitions"])


def test_resume_onto_another_board_is_refused(tmp_path, fsbl_mp15, capsys):
    _, storage = _folder(tmp_path, fsbl_mp15)
    first = f"sim:stm32mp157?link=usb&serial=AAAA0001&storage={storage}"
    assert _flash(tmp_path, "--port", first, "-q", "--report", str(tmp_path / "r.json")) == 0
    (tmp_path / "blank").mkdir()
    blank = f"sim:stm32mp157?link=usb&serial=BBBB0002&storage={tmp_path / 'blank'}"
    capsys.readouterr()
    code = _flash(tmp_path, "--port", blank, "-q", "--resume", str(tmp_path / "r.json"))
    assert code == mp1boot.errors.EXIT_CODES["other_board"] == 11
    err = capsys.readouterr().err
    assert "AAAA0001" in err and "BBBB0002" in err and "--resume-any-board" in err, err

    # The same board, power-cycled: resumes, names what it skipped.
    assert _flash(tmp_path, "--port", first, "-q", "--resume", str(tmp_path / "r.json"), "--verify") == 0
    out = capsys.readouterr().out
    assert out.count("done earlier (not sent)") == 2 and "verified" in out, out

    # The operator insists: allowed, and --verify catches that the blank board lacks them.
    code = _flash(tmp_path, "--port", blank, "-q", "--resume", str(tmp_path / "r.json"), "--resume-any-board",
                  "--verify")
    assert code == mp1boot.errors.EXIT_CODES["verify_mismatch"]
