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


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_is_stored_with_its_outputs_and_uses_the_public_api(name):
    """A reader on a code host sees the outputs (scripts/run_notebooks.py stores them); the code
    uses only mp1boot's public names."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("outputs") for c in code if "print(" in c.source), "run scripts/run_notebooks.py"
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    private = [c.source for c in code if "_core" in c.source or "mp1boot._" in c.source]
    assert private == []
