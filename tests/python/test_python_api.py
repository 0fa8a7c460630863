# SPDX-License-Identifier: MIT
"""The Python API as its ecosystem expects it: Device.close() and `with connect(...) as dev`,
a docstring on every Device method and public function (what help() shows), and _core.pyi in
step with the compiled module (every name, every parameter name, nothing extra)."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import mp1boot
from mp1boot import _core

PYI = Path(__file__).resolve().parents[2] / "python" / "mp1boot" / "_core.pyi"  # the source of truth


def test_close_and_context_manager():
    with mp1boot.connect("sim:stm32mp157") as dev:
        assert dev.get_id() == 0x500 and not dev.closed
    assert dev.closed
    with pytest.raises(mp1boot.UsageError, match="was closed"):
        dev.get_phase()
    dev.close()  # idempotent
    usb = mp1boot.connect("sim:stm32mp157?link=usb")
    assert usb.get_phase().phase == 0x01
    usb.close()
    with pytest.raises(mp1boot.UsageError, match="was closed"):
        usb.get_phase()
    assert "usb:" in usb.transport


def test_close_releases_the_serial_port(uart_sim):
    sim = uart_sim("stm32mp135")
    dev = mp1boot.connect(f"serial:{sim.path}")
    dev.close()
    again = mp1boot.connect(f"serial:{sim.path}")  # the port is free again
    assert again.get_id() == 0x501
    again.close()


def _public(obj) -> list:
    return [n for n in dir(obj) if not n.startswith("_")]


def test_every_device_method_and_public_function_has_a_docstring():
    missing = [f"Device.{n}" for n in _public(mp1boot.Device) if not (getattr(mp1boot.Device, n).__doc__ or "").strip()]
    for name in mp1boot.__all__:
        obj = getattr(mp1boot, name)
        if callable(obj) and not (obj.__doc__ or "").strip():
            missing.append(name)
    for name in _public(_core):
        obj = getattr(_core, name)
        if callable(obj) and not inspect.isclass(obj) and not (obj.__doc__ or "").strip():
            missing.append(f"_core.{name}")
    assert not missing, f"no docstring: {missing}"
    assert "Releases the port" in mp1boot.Device.close.__doc__


def _split_params(text: str) -> list:
    params, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        params.append(cur)
    return [p.split(":")[0].split("=")[0].strip() for p in params]


def _native_params(fn) -> list | None:
    """Parameter names from pybind11's signature line ("name(a: int, b: str = 'x') -> None")."""
    first = (fn.__doc__ or "").splitlines()[0] if fn.__doc__ else ""
    if "(" not in first or first.startswith("Overloaded"):
        return None
    inner = first[first.index("(") + 1:first.rindex(")")]
    return _split_params(inner)


def _stub_params(node: ast.FunctionDef) -> list:
    a = node.args
    names = [x.arg for x in a.posonlyargs + a.args]
    if a.kwonlyargs:
        names += ["*"] + [x.arg for x in a.kwonlyargs]
    return names


def test_core_pyi_matches_the_compiled_module():
    tree = ast.parse(PYI.read_text())
    stub_funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    stub_classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    native = {n: getattr(_core, n) for n in _public(_core)}
    native_classes = {n for n, o in native.items() if inspect.isclass(o) and not issubclass(o, BaseException)}
    native_funcs = {n for n, o in native.items() if callable(o) and not inspect.isclass(o)}
    assert set(stub_funcs) == native_funcs, "functions differ"
    assert set(stub_classes) == native_classes, "classes differ"
    problems = []
    for name, node in stub_funcs.items():
        params = _native_params(getattr(_core, name))
        if params is not None and params != _stub_params(node):
            problems.append(f"{name}: module {params} stub {_stub_params(node)}")
    for cname, cnode in stub_classes.items():
        cls = getattr(_core, cname)
        members = {n.name: n for n in cnode.body if isinstance(n, ast.FunctionDef)}
        fields = {n.target.id for n in cnode.body if isinstance(n, ast.AnnAssign)}
        stub_names = {n for n in members if not n.startswith("_")} | fields
        if stub_names != set(_public(cls)):
            problems.append(f"{cname}: module {sorted(_public(cls))} stub {sorted(stub_names)}")
        for mname, node in members.items():
            if mname == "__init__" or isinstance(inspect.getattr_static(cls, mname, None), property):
                continue
            params = _native_params(getattr(cls, mname))
            if params is not None and params != _stub_params(node):
                problems.append(f"{cname}.{mname}: module {params} stub {_stub_params(node)}")
    assert not problems, "\n".join(problems)
