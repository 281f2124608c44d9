"""Long work, Qt-free: a job is a function taking a `JobContext` for progress and cancel.

The GUI runs jobs on a worker thread and turns progress into signals; the CLI turns it into a tqdm bar.
"""
from __future__ import annotations

import threading
from typing import Callable

from .errors import Cancelled

ProgressFn = Callable[[int, int, str], None]


class JobContext:
    """Passed to long-running functions: report progress, check for cancellation."""

    def __init__(self, on_progress: ProgressFn | None = None):
        self._on_progress = on_progress
        self._cancel = threading.Event()

    def progress(self, done: int, total: int, message: str = "") -> None:
        """Report progress and raise `Cancelled` if the user asked to stop."""
        if self._on_progress is not None:
            self._on_progress(done, total, message)
        self.check()

    def report(self, done: int, total: int, message: str = "") -> None:
        """Report progress without stopping: the last report of a stage whose results are stored already (a
        cancel arriving then must not claim that nothing was stored)."""
        if self._on_progress is not None:
            self._on_progress(done, total, message)

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


def silent() -> JobContext:
    """A context that reports nowhere and is never cancelled (tests, scripts)."""
    return JobContext()
