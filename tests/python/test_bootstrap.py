# SPDX-License-Identifier: MIT
"""scripts/bootstrap.sh wait: make demo's background install of pytest and ipykernel is waited for
before pip runs again, and its failure fails make demo with pip's own message."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tree_with_pending_install(tmp_path: Path, status: str, log: str) -> tuple[Path, subprocess.Popen]:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    venv = tmp_path / ".venv"
    venv.mkdir()
    # Stands for the background pip: still running when `wait` starts, its status written when it ends.
    pending = subprocess.Popen([sys.executable, "-c",
                                "import sys, time; time.sleep(0.5); open(sys.argv[1], 'w').write(sys.argv[2])",
                                str(venv / "bootstrap-background.status"), status])
    (venv / "bootstrap-background.pid").write_text(f"{pending.pid}\n")
    (venv / "bootstrap-background.log").write_text(log)
    return tmp_path, pending


def _wait(tree: Path, pending: subprocess.Popen) -> subprocess.CompletedProcess:
    # The real background install is a child of the shell that started it, not of this test: reap
    # ours once it has ended so that `kill -0` in the script sees it gone.
    threading.Thread(target=pending.wait, daemon=True).start()
    return subprocess.run(["bash", str(tree / "scripts" / "bootstrap.sh"), "wait"], capture_output=True,
                          text=True, timeout=30)


def test_wait_returns_after_a_successful_background_install(tmp_path):
    tree, pending = _tree_with_pending_install(tmp_path, "0", "")
    r = _wait(tree, pending)
    assert r.returncode == 0, r.stderr
    assert pending.poll() is not None, "bootstrap.sh wait returned before the install ended"
    assert not list((tree / ".venv").glob("bootstrap-background.*"))


def test_wait_fails_with_pips_message_when_the_background_install_failed(tmp_path):
    tree, pending = _tree_with_pending_install(tmp_path, "1", "ERROR: No matching distribution found for ipykernel\n")
    r = _wait(tree, pending)
    assert r.returncode == 1
    assert "installing the Python packages in the background failed" in r.stderr
    assert "No matching distribution found for ipykernel" in r.stderr
