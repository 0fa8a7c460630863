# SPDX-License-Identifier: MIT
"""The notebooks run top to bottom on the simulated board."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs(name, tmp_path):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    import mp1boot
    env = dict(os.environ)
    # The kernel runs in tmp_path: give it the package this test imported, by absolute path.
    env["PYTHONPATH"] = os.pathsep.join([str(Path(mp1boot.__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    client.execute(env=env)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "the notebook printed nothing"
