#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs every notebook in notebooks/ on the simulated boards and stores it with its outputs, so that
a reader on a code host sees them:  .venv/bin/python scripts/run_notebooks.py  (after make build)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory(prefix="mp1boot-notebook-") as tmp:
            NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
        for cell in nb.cells:  # outputs only: no run counters or timings to churn the diff
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, path)
        print(f"{path.relative_to(ROOT)}: stored with its outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
