#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite headless. CI runs exactly this.
# Tests run in parallel, one worker per core (at most 4; WALT3D_TEST_WORKERS=N to choose, 0 for one process);
# a test file stays on one worker, so its module fixtures are built once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
workers=${WALT3D_TEST_WORKERS:-$(python3 -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')}
if [ "$workers" -gt 1 ]; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one thread per worker: the workers already fill the cores
  # a crashed worker fails the run at once: with restarts, xdist's loadfile scheduling can wait forever after one
  exec .venv/bin/python -m pytest -q -n "$workers" --dist loadfile --max-worker-restart 0 "$@"
fi
exec .venv/bin/python -m pytest -q "$@"
