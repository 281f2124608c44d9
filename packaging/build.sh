#!/usr/bin/env bash
# Build the one-folder desktop app into dist/walt3d-studio (PyInstaller), from the repository root's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip install -q "pyinstaller>=6"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "${DIST:-dist}" --workpath "${WORK:-build/pyinstaller}" \
    packaging/walt3d-studio.spec
echo "built ${DIST:-dist}/walt3d-studio/walt3d-studio"
