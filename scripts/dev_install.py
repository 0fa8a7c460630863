#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Make the build tree the `mp1boot` of a virtual environment (an editable install, by hand).

    python scripts/dev_install.py BUILD_DIR

Installs, through pip, a tiny wheel named mp1boot that holds only a .pth file pointing at
BUILD_DIR/python and the entry points of pyproject.toml: afterwards the environment's
`bin/mp1boot`, `python -m mp1boot`, its Jupyter kernel and the pytest plugin all use the build
tree, and a rebuild is picked up without reinstalling. Does nothing when that install is present.
"""
from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
PTH = "mp1boot_build_tree.pth"


def project() -> dict:
    text = (ROOT / "pyproject.toml").read_text()
    if tomllib is not None:
        return tomllib.loads(text)["project"]
    raise SystemExit("dev_install.py needs Python 3.11 or newer (tomllib)")


def entry_points(proj: dict) -> str:
    groups = {"console_scripts": proj.get("scripts", {}), **proj.get("entry-points", {})}
    out = []
    for group, items in groups.items():
        out.append(f"[{group}]")
        out += [f"{name} = {target}" for name, target in items.items()]
        out.append("")
    return "\n".join(out)


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path, python_dir: Path, proj: dict) -> Path:
    name, version = proj["name"], proj["version"]
    dist = f"{name}-{version}.dist-info"
    files = {
        PTH: (str(python_dir) + "\n").encode(),
        f"{dist}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             f"Summary: {proj.get('description', '')} (build tree at {python_dir})\n").encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: mp1boot-dev-install\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": entry_points(proj).encode(),
    }
    record = [record_line(n, d) for n, d in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return wheel


def main() -> int:
    build = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
    python_dir = build / "python"
    proj = project()
    site = Path(sysconfig.get_paths()["purelib"])
    script = Path(sysconfig.get_paths()["scripts"]) / "mp1boot"
    pth = site / PTH
    if pth.is_file() and pth.read_text().strip() == str(python_dir) and script.is_file():
        return 0
    with tempfile.TemporaryDirectory(prefix="mp1boot-dev-install-") as tmp:
        wheel = build_wheel(Path(tmp), python_dir, proj)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-deps", "--force-reinstall", str(wheel)], check=True)
    print(f"dev_install: {sys.prefix} now uses the build tree {python_dir} "
          f"(`. {Path(sys.prefix).name}/bin/activate`, then `mp1boot --help`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
