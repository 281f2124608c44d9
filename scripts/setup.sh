#!/usr/bin/env bash
# Set up WALT3D Studio in ./.venv: the system libraries Qt needs headless, then the package and its tools.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian libraries for Qt (offscreen or xcb) and OpenGL (libosmesa6: VTK inside offscreen Qt); installed only when one is missing.
debs="libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 libosmesa6"
missing=""
for p in $debs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ] && command -v apt-get >/dev/null; then
  echo "installing system packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch and torchvision first, pinned to the pair that installs from local disk on our machines and imports
# together (torchvision fails beside torch 2.13); on other machines pip fetches the same pair.
# Every other dependency at the version tested with this checkout (scripts/constraints.txt).
.venv/bin/python -m pip install -q -c scripts/constraints.txt "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -c scripts/constraints.txt -e ".[dev,ray]"
echo "set up: .venv ($(.venv/bin/python --version))"
