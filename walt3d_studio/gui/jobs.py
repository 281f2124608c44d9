"""Work off the UI thread. `JobRunner.start(fn)` runs a long job `fn(ctx)` on a worker thread (with
`JobPanel`, its progress and Cancel in the status bar); `LatestCall` runs short calls, newest first.

A `Job` reports progress / finished / failed / cancelled as Qt signals delivered on the UI thread, so
slots may touch widgets. Progress is coalesced: however often the worker reports, at most one progress
event waits in the UI's queue, so a chatty job can never flood (and freeze) the event loop.
"""
from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ..errors import Cancelled
from ..jobs import JobContext


class Job(QObject):
    """One run of a function. Signals arrive on the UI thread; exactly one of the last three fires."""

    progress = Signal(int, int, str)  # done, total, message
    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception (with .traceback_text)
    cancelled = Signal()
    ended = Signal()  # after any of the three above

    # Internal: emitted from the worker thread, queued to the slots below on the UI thread.
    _post_progress = Signal()
    _post_end = Signal(str, object)

    def __init__(self, fn: Callable[[JobContext], Any], title: str, parent: QObject | None = None):
        super().__init__(parent)
        self.fn = fn
        self.title = title
        self.ctx = JobContext(self._on_worker_progress)
        self.running = False
        self.last_progress = (0, 0, "")
        self._pending_progress = False
        self._post_progress.connect(self._deliver_progress, Qt.QueuedConnection)
        self._post_end.connect(self._deliver_end, Qt.QueuedConnection)

    def cancel(self) -> None:
        """Ask the function to stop; it raises `Cancelled` at its next progress report."""
        self.ctx.cancel()

    # -- worker thread -----------------------------------------------------------------------
    def _on_worker_progress(self, done: int, total: int, message: str) -> None:
        self.last_progress = (int(done), int(total), str(message))
        if not self._pending_progress:  # one queued event at a time; it reads the latest value
            self._pending_progress = True
            self._post_progress.emit()

    def _run(self) -> None:
        try:
            result = self.fn(self.ctx)
        except Cancelled:
            self._post_end.emit("cancelled", None)
        except BaseException as e:  # report everything: a worker must never die silently
            e.traceback_text = traceback.format_exc()
            self._post_end.emit("failed", e)
        else:
            self._post_end.emit("finished", result)

    # -- UI thread ---------------------------------------------------------------------------
    @Slot()
    def _deliver_progress(self) -> None:
        self._pending_progress = False
        self.progress.emit(*self.last_progress)

    @Slot(str, object)
    def _deliver_end(self, how: str, value: object) -> None:
        self.running = False
        if how == "finished":
            self.finished.emit(value)
        elif how == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.ended.emit()


class _Runnable(QRunnable):
    def __init__(self, job: Job):
        super().__init__()
        self.job = job
        self.setAutoDelete(True)

    def run(self) -> None:
        self.job._run()


class JobRunner(QObject):
    """Starts jobs on its own thread pool and tells whether any is running (to disable writing actions)."""

    busy_changed = Signal(bool)
    job_started = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 1):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        # One at a time by default: jobs share the project's single SQLite writer.
        self.pool.setMaxThreadCount(max_threads)
        self.jobs: list[Job] = []

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def start(self, fn: Callable[[JobContext], Any], title: str = "Working") -> Job:
        job = Job(fn, title, self)
        job.running = True
        was_busy = self.busy
        self.jobs.append(job)
        job.ended.connect(lambda: self._forget(job))
        self.pool.start(_Runnable(job))
        self.job_started.emit(job)
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    def _forget(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
            job.deleteLater()
        if not self.jobs:
            self.busy_changed.emit(False)

    def cancel_all(self, wait_ms: int = -1) -> bool:
        """Cancel every job and wait for the workers (e.g. before closing the project). True if all stopped."""
        for job in list(self.jobs):
            job.cancel()
        return self.pool.waitForDone(wait_ms)


class JobPanel(QWidget):
    """Status-bar panel for the running job: title, progress bar, Cancel. Hidden when idle."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job; nothing partial is kept")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.bar, self.cancel_button):
            lay.addWidget(w)
        self._job: Job | None = None
        self.cancel_button.clicked.connect(self._cancel)
        runner.job_started.connect(self._track)
        self.hide()

    def _track(self, job: Job) -> None:
        self._job = job
        self.label.setText(job.title)
        self.bar.setRange(0, 0)  # busy indicator until the first report
        self.cancel_button.setEnabled(True)
        job.progress.connect(self._on_progress)
        job.ended.connect(self._on_end)
        self.show()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        self.label.setText(f"{self._job.title}: {message}" if message and self._job else self.label.text())

    def _cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText(f"{self._job.title}: cancelling…")

    def _on_end(self) -> None:
        self._job = None
        self.hide()


_NOTHING = object()


class LatestCall(QObject):
    """Runs `fn(arg)` on its own worker thread, newest request first: while a call runs, further requests
    replace each other, so only the latest waits (scrubbing through a video decodes where the playhead *is*,
    not every position it passed). `done(arg, result)` / `failed(arg, exception)` arrive on the UI thread."""

    done = Signal(object, object)
    failed = Signal(object, object)
    _post = Signal(object, object, object)

    def __init__(self, fn: Callable[[Any], Any], parent: QObject | None = None):
        super().__init__(parent)
        self.fn = fn
        self._lock = threading.Lock()
        self._queued = _NOTHING
        self._busy = False
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._post.connect(self._deliver, Qt.QueuedConnection)

    @property
    def busy(self) -> bool:
        return self._busy

    def request(self, arg) -> None:
        with self._lock:
            if self._busy:
                self._queued = arg
                return
            self._busy = True
        self._pool.start(lambda: self._loop(arg))

    def _loop(self, arg) -> None:
        while True:
            try:
                result, error = self.fn(arg), None
            except Exception as e:  # delivered to the UI, never lost on the worker
                result, error = None, e
            self._post.emit(arg, result, error)
            with self._lock:
                if self._queued is _NOTHING:
                    self._busy = False
                    return
                arg, self._queued = self._queued, _NOTHING

    @Slot(object, object, object)
    def _deliver(self, arg, result, error) -> None:
        if error is None:
            self.done.emit(arg, result)
        else:
            self.failed.emit(arg, error)

    def wait(self, ms: int = -1) -> bool:
        """Block until no call runs (e.g. before a screenshot or closing the source)."""
        return self._pool.waitForDone(ms)
