# SPDX-License-Identifier: MIT
"""After `make build` (also `make demo`) the .venv uses the build tree: its mp1boot command,
`python -m mp1boot`, its Jupyter kernel, the pytest plugin and `mp1boot sim --usb` all work from
any folder, with no PYTHONPATH and without the build folder on PATH."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


def clean_env() -> dict:
    """The environment of a user who only activated the .venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"])
    return env


def run(argv, cwd, timeout=120, **kw):
    return subprocess.run(argv, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, **kw)


def test_venv_mp1boot_command_uses_the_build_tree(tmp_path):
    r = run([str(VENV_BIN / "mp1boot"), "info", "--port", "sim:stm32mp157"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "0x500 (STM32MP15x)" in r.stdout


def test_venv_python_dash_m(tmp_path):
    r = run([sys.executable, "-m", "mp1boot", "--version"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("mp1boot ")


def test_pytest_plugin_outside_the_repository(tmp_path):
    (tmp_path / "test_board.py").write_text(
        "def test_board(mp1_board):\n"
        "    assert mp1_board.get_id() == 0x501\n")
    r = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_board.py"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout


def test_jupyter_kernel_imports_mp1boot(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import mp1boot\nprint(hex(mp1boot.connect('sim:stm32mp135').get_id()))")])
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=clean_env())
    out = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert out.strip() == "0x501"


def test_sim_usb_finds_the_simulator_next_to_the_package(tmp_path):
    r = run([str(VENV_BIN / "mp1boot"), "sim", "--soc", "stm32mp157", "--usb", "--",
             str(VENV_BIN / "mp1boot"), "info", "--port", "usb"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0x500 (STM32MP15x)" in r.stdout


def test_sim_usb_without_the_simulator_says_where_it_looked(monkeypatch, tmp_path, capsys):
    from mp1boot.cli import main
    from mp1boot.cli import sim
    monkeypatch.setattr(sim, "__file__", str(tmp_path / "mp1boot" / "cli" / "sim.py"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("os.execv", lambda *a: pytest.fail("a simulator was started"))
    assert main(["sim", "--usb", "--", "true"]) == 4
    err = capsys.readouterr().err
    assert str(tmp_path / "mp1boot" / "bin" / "mp1boot-usbsim") in err
    assert "on PATH" in err and "libumockdev-dev" in err


def test_sim_usb_without_umockdev_names_the_package(monkeypatch, capsys):
    import ctypes

    from mp1boot.cli import main
    real = ctypes.CDLL

    def cdll(name, *a, **kw):
        if "umockdev" in str(name):
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *a, **kw)

    def no_exec(*a):
        raise AssertionError("the simulator was started without umockdev")

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setattr("os.execv", no_exec)
    assert main(["sim", "--usb", "--", "true"]) == 4
    err = capsys.readouterr().err
    assert "libumockdev.so.0 was not found" in err and "apt install libumockdev0" in err
