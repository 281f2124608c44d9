"""JobRunner: work on a worker thread, signals on the UI thread, cancel, failure, the UI stays responsive."""
import threading
import time

import pytest
from PySide6.QtCore import QThread, QTimer

from .gui_helpers import wait_job
from walt3d_studio.errors import BadInputError
from walt3d_studio.gui.jobs import JobRunner


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    r.cancel_all(5000)


def test_result_and_progress_on_ui_thread(qtbot, runner):
    ui = QThread.currentThread()
    seen = []

    def work(ctx):
        assert threading.current_thread() is not threading.main_thread()
        for i in range(2000):
            ctx.progress(i + 1, 2000, f"step {i}")
        return 42

    job = runner.start(work, "counting")
    job.progress.connect(lambda d, t, m: seen.append((QThread.currentThread() == ui, d, t, m)))
    assert runner.busy
    how, value = wait_job(qtbot, job)
    assert (how, value) == ("finished", 42)
    assert seen and all(s[0] for s in seen)
    assert len(seen) < 2000  # coalesced: never more queued events than the UI can take
    assert not runner.busy


def test_failure_is_reported(qtbot, runner):
    def work(ctx):
        raise BadInputError("bad", "fix it")

    how, err = wait_job(qtbot, runner.start(work))
    assert how == "failed" and isinstance(err, BadInputError) and "BadInputError" in err.traceback_text


def test_cancel_and_ui_not_frozen(qtbot, runner):
    started = threading.Event()

    def work(ctx):
        started.set()
        while True:  # runs until cancelled
            time.sleep(0.002)
            ctx.progress(0, 0, "")

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)
    job = runner.start(work)
    assert started.wait(5)
    qtbot.wait(200)
    assert len(ticks) >= 8  # the event loop ran while the job worked
    job.cancel()
    how, _ = wait_job(qtbot, job)
    assert how == "cancelled"
    timer.stop()


def test_busy_changed_signals(qtbot, runner):
    states = []
    runner.busy_changed.connect(states.append)
    gate = threading.Event()
    job = runner.start(lambda ctx: gate.wait(5))
    gate.set()
    wait_job(qtbot, job)
    assert states == [True, False]
