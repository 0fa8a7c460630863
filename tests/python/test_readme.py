# SPDX-License-Identifier: MIT
"""Every command and Python snippet of the README runs as written against the simulated board.

The README's blocks are extracted and run in a folder filled by the helper the README names
(`python -m mp1boot.examples`). Real hardware is swapped for simulated boards: a serial port
becomes the in-process simulated STM32MP135 (sim:stm32mp135), and lines or snippets that talk to
USB boards run with simulated boards attached to an emulated USB bus (mp1boot-usbsim), two of them
when the line flashes several boards. The examples in `--help` texts run the same way. The C++
and CMake snippets are checked to be the code of examples/cpp, which the consumer tests build."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Lines that are not run, each with the reason: they set up or build this tree (the tests run in
# it already) or install into the system.
NOT_RUN = {
    "make ": "make targets build and test this tree (make demo, make test, make asan, ...)",
    ". .venv/bin/activate": "the tests already run in the .venv",
    "labgrid-": "a labgrid coordinator, exporter and client on real hosts (tests/python/test_labgrid_*.py)",
    "pytest --lg-env": "labgrid's pytest plugin against a coordinator (tests/python/test_labgrid_*.py)",
}


def not_run(command: str) -> bool:
    return any(command.startswith(prefix) for prefix in NOT_RUN)


def blocks(lang: str) -> list:
    """(first line number, text) of each ```lang block."""
    out, current, start = [], None, 0
    for n, line in enumerate(README.read_text().splitlines(), 1):
        if current is None and line.strip() == f"```{lang}":
            current, start = [], n + 1
        elif current is not None and line.strip() == "```":
            out.append((start, "\n".join(current) + "\n"))
            current = None
        elif current is not None:
            current.append(line)
    return out


def shell_lines() -> list:
    """(line number, command) of every line of the sh blocks."""
    out = []
    for start, text in blocks("sh"):
        for i, line in enumerate(text.splitlines()):
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                out.append((start + i, command))
    return out


def help_examples() -> list:
    """The example commands printed by `--help` (epilogs)."""
    from mp1boot.cli import build_parser
    from test_cli_help import all_parsers
    out = []
    for path, parser in all_parsers(build_parser()):
        for line in (parser.epilog or "").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("mp1boot "):
                out.append((" ".join(path), line))
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """One folder for the whole README (its lines build on each other, e.g. --report then --resume)
    with the example files, and an environment with the .venv's mp1boot on PATH."""
    folder = tmp_path_factory.mktemp("readme")
    r = subprocess.run([sys.executable, "-m", "mp1boot.examples", str(folder)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    env = dict(os.environ, NO_COLOR="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return folder, env


def usbsim() -> str:
    found = shutil.which("mp1boot-usbsim")
    assert found, "mp1boot-usbsim is built with the tree (tests/python/conftest.py puts it on PATH)"
    return found


def soc_for(text: str) -> str:
    """The example files: tf-a.stm32 is for the STM32MP135, FlashLayout.tsv for the STM32MP157."""
    return "stm32mp157" if "FlashLayout.tsv" in text or "stm32mp157" in text else "stm32mp135"


def swap_ports(text: str) -> str:
    """A real serial port becomes the simulated board."""
    return re.sub(r"serial:/dev/ttyUSB0(\?baud=\d+)?", "sim:" + soc_for(text), text)


def on_usb_bus(text: str, argv: list, boards: int = 1) -> list:
    """argv run with simulated boards on an emulated USB bus, when the text talks to USB boards."""
    if not re.search(r"--port usb|--all|mp1boot list|list_devices|\"usb\"", text) or "sim --" in text or \
            "--usb" in text:
        return argv
    bus = [usbsim(), "--soc", soc_for(text)]
    for i in range(boards):
        bus += ["--serial", f"0028004232325115383036{30 + i}"]
    return bus + ["--", *argv]


def run_line(command: str, folder: Path, env: dict):
    command = swap_ports(command)
    boards = 2 if "--all" in command else 1
    if "--uart" in command:  # serves until stopped: its first line says where
        proc = subprocess.Popen(["bash", "-c", "exec " + command], cwd=folder, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline()
            assert first.startswith("uart: /dev/pts/"), first + proc.stderr.read()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()
        return
    argv = on_usb_bus(command, ["bash", "-c", command], boards)
    r = subprocess.run(argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"{command}\n{r.stdout}\n{r.stderr}"


SHELL = [(n, c) for n, c in shell_lines() if not c.startswith("cmake ") and not not_run(c)]


def test_the_readme_has_commands_and_snippets():
    assert len(SHELL) > 20 and len(blocks("python")) >= 3
    skipped = [c for _, c in shell_lines() if not_run(c)]
    assert {p for p in NOT_RUN if any(c.startswith(p) for c in skipped)} == set(NOT_RUN)  # each reason used


@pytest.mark.parametrize("line,command", SHELL, ids=[f"line{n}" for n, _ in SHELL])
def test_readme_command(line, command, work):
    folder, env = work
    run_line(command, folder, env)


@pytest.mark.parametrize("where,command", help_examples(), ids=[f"{w}:{c}" for w, c in help_examples()])
def test_help_example(where, command, work):
    folder, env = work
    run_line(command, folder, env)


@pytest.mark.parametrize("line,code", blocks("python"), ids=[f"line{n}" for n, _ in blocks("python")])
def test_readme_python(line, code, work):
    folder, env = work
    code = swap_ports(code)
    (folder / "snippet.py").write_text(code)
    boards = 2 if "flash_many" in code else 1
    argv = on_usb_bus(code, [sys.executable, "snippet.py"], boards)
    r = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"README line {line}:\n{r.stdout}\n{r.stderr}"


def test_readme_plain_cmake_configure_works_as_written(tmp_path):
    """The README's C++ build command, configure step (the build itself: make test-packaging)."""
    command = next(c for _, c in shell_lines() if c.startswith("cmake -S . -B build -G Ninja"))
    configure = command.split(" && ")[0].replace("-B build", f"-B {tmp_path / 'build'}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # no .venv: no pybind11 unless the system has it
    r = subprocess.run(["bash", "-c", configure], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Build files have been written" in r.stdout


def test_readme_cpp_snippets_are_the_example_program():
    (_, cmake), = blocks("cmake")
    (_, cpp), = blocks("cpp")
    example_cmake = [line for line in (ROOT / "examples/cpp/CMakeLists.txt").read_text().splitlines()
                     if not line.startswith("#")]
    assert cmake.splitlines() == example_cmake
    main = (ROOT / "examples/cpp/main.cpp").read_text()
    assert cpp == main[main.index("#include"):]
