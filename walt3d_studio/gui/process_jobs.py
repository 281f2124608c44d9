"""Long jobs in a child process: `python -m walt3d_studio.cli --progress jsonl ...` run through QProcess.

Why a child: a training run of hours must not stop labelling, and a crash in native code (CUDA, codecs)
must not take the app and its unsaved state down. The child runs in a session of its own, so Cancel can end
its whole process group (its worker threads' helpers too); it reads the project and writes files of its own
(a mining shard), or its own rows through SQLite; the app merges or reloads when it succeeds.

A `ProcessJob` has the same signals as a thread `Job` (progress, finished, failed, cancelled, ended), so
callers treat both alike. While a job runs it locks the camera it writes (`camera_id`): edits on that camera
are refused with the reason, every other camera stays editable. Short work (a label, a crop) stays in process.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from ..errors import Walt3DError
from ..progress import parse_line

LOG_LINES = 2000  # per job: enough for a training run's epochs, bounded for a chatty one
KILL_GRACE_MS = 5000  # after SIGTERM, how long the child may take to unwind before SIGKILL
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding walt3d_studio/


class ProcessJobError(Walt3DError):
    """A child job failed: its own error (message + hint), or a crash (exit status, last message, log tail)."""

    def __init__(self, message: str, hint: str = "", log_tail: str = ""):
        super().__init__(message, hint)
        self.log_tail = log_tail


class ProcessJob(QObject):
    """One child run. States: running -> (merging ->) finished | failed | cancelled."""

    progress = Signal(int, int, str)
    finished = Signal(object)  # the result: what `on_success` returned (or the child's result dict)
    failed = Signal(object)  # a ProcessJobError / Walt3DError
    cancelled = Signal()
    ended = Signal()
    changed = Signal()  # state, progress or log changed (the Jobs panel redraws)

    def __init__(self, args: list[str], title: str, camera_id: int | None = None,
                 on_success: Callable[[dict], Any] | None = None, on_end: Callable[[], None] | None = None,
                 parent: QObject | None = None, env: dict | None = None):
        super().__init__(parent)
        self.env = dict(env or {})
        self.args = [str(a) for a in args]
        self.title = title
        self.camera_id = camera_id
        self.on_success = on_success
        self.on_end = on_end
        self.state = "starting"
        self.done = self.total = 0
        self.message = ""
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.result: dict | None = None
        self.error: Walt3DError | None = None
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.running = True  # thread Job compatibility
        self._child_outcome: dict | None = None  # the child's last line: result / error / cancelled
        self._cancel_requested = False
        self._out_buf = b""
        self._logged_step: tuple | None = None
        self.proc: QProcess | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.kill)

    # -- starting --------------------------------------------------------------------------------------
    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "walt3d_studio.cli", "--progress", "jsonl", *self.args]

    def start(self) -> None:
        proc = QProcess(self)
        proc.setProgram(self.command[0])
        proc.setArguments(self.command[1:])
        env = QProcessEnvironment.systemEnvironment()
        # the child imports this very code, whatever is installed elsewhere
        env.insert("PYTHONPATH", os.pathsep.join([PACKAGE_ROOT] + [p for p in [env.value("PYTHONPATH")] if p]))
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("WALT3D_EXIT_WITH_PARENT", str(os.getpid()))  # the app dies: the child cancels
        for k, v in self.env.items():  # e.g. the project's lock delegation: the child may write it too
            env.insert(k, v)
        proc.setProcessEnvironment(env)
        params = QProcess.UnixProcessParameters()
        params.flags = QProcess.UnixProcessFlag.CreateNewSession  # own process group: Cancel ends all of it
        proc.setUnixProcessParameters(params)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_exit)
        proc.errorOccurred.connect(self._on_error)
        self.proc = proc
        self.log.append("$ walt3d --progress jsonl " + " ".join(self.args))
        self.state = "running"
        proc.start()
        self.changed.emit()

    @property
    def pid(self) -> int | None:
        return int(self.proc.processId()) or None if self.proc is not None else None

    # -- reading the child -----------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        self._out_buf += bytes(self.proc.readAllStandardOutput())
        *lines, self._out_buf = self._out_buf.split(b"\n")
        latest = None
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            obj = parse_line(line)
            if obj is None:
                if line.strip():
                    self.log.append(line)
            elif "done" in obj:
                latest = obj
            else:
                self._child_outcome = obj
                # the command's own printed lines reached the log already through stderr (run_jsonl tees them
                # there); the outcome's "output" repeats them, so only an error is logged from it
                if isinstance(obj.get("error"), dict):
                    self.log.append("error: " + obj["error"].get("message", ""))
        if latest is not None:  # many lines in one read: only the newest matters on screen
            tenth = (int(latest["done"]) * 10 // int(latest["total"])) if int(latest["total"]) > 0 else -1
            if (tenth, latest.get("stage")) != self._logged_step:  # the log keeps a line per tenth of the way
                self._logged_step = (tenth, latest.get("stage"))
                self.log.append(f"[{latest['done']}/{latest['total']}] {latest['message']}")
            self.done, self.total, self.message = int(latest["done"]), int(latest["total"]), str(latest["message"])
            self.progress.emit(self.done, self.total, self.message)
        self.changed.emit()

    def _read_stderr(self) -> None:
        text = bytes(self.proc.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                self.log.append(line)
        self.changed.emit()

    # -- ending ----------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """SIGTERM to the child's process group: it stops at its next progress report and unwinds;
        SIGKILL follows if it has not exited after a grace period."""
        if self.state != "running":
            return
        self._cancel_requested = True
        self.message = "cancelling…"
        self._signal(signal.SIGTERM)
        self._kill_timer.start(KILL_GRACE_MS)
        self.changed.emit()

    def kill(self) -> None:
        """SIGKILL to the child's process group (what a crash looks like from here)."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig) -> None:
        pid = self.pid
        if pid:
            try:
                os.killpg(pid, sig)  # the child leads its own session: its pgid is its pid
            except ProcessLookupError:
                pass

    def _on_error(self, err) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self._end("failed", ProcessJobError(f"Could not start the job “{self.title}”: {self.proc.errorString()}.",
                                                "Check that Python and WALT3D Studio are installed correctly."))

    def _on_exit(self, code: int, status) -> None:
        self._kill_timer.stop()
        if self._out_buf:  # a last line without its newline
            self._out_buf += b"\n"
            self._read_stdout()
        self._read_stderr()
        out = self._child_outcome or {}
        crashed = status == QProcess.ExitStatus.CrashExit
        if "result" in out and code == 0 and not crashed:
            self.result = out["result"]
            self._succeeded()
        elif self._cancel_requested or out.get("cancelled"):
            self._end("cancelled")
        elif isinstance(out.get("error"), dict):
            e = out["error"]
            self._end("failed", ProcessJobError(e.get("message", "The job failed."), e.get("hint", ""),
                                                self.log_tail()))
        else:
            how = "was killed or crashed" if crashed else f"stopped with exit status {code}"
            after = f" after “{self.message}” ({self.done}/{self.total})" if self.message else " before its first report"
            self._end("failed", ProcessJobError(
                f"The job “{self.title}” {how}{after}.",
                "Nothing it was writing was stored: the project is as it was before the job. "
                "Its log is in the Jobs panel (View > Jobs).", self.log_tail()))

    def _succeeded(self) -> None:
        if self.on_success is None:
            self._end("finished", value=self.result)
            return
        self.state = "merging"
        self.message = "storing the results…"
        self.changed.emit()
        try:
            follow = self.on_success(self.result)
        except Exception as e:  # never leave a job "storing" (and its camera locked) forever
            import traceback

            e.traceback_text = traceback.format_exc()
            self._end("failed", e)
            return
        if hasattr(follow, "ended") and hasattr(follow, "failed"):  # a thread Job (the merge): wait for it
            out = {}
            follow.finished.connect(lambda v: out.setdefault("r", ("finished", v)))
            follow.failed.connect(lambda e: out.setdefault("r", ("failed", e)))

            def after_follow():
                how, value = out.get("r", ("cancelled", None))
                if how == "finished":
                    self._end("finished", value=value)
                elif how == "failed":
                    self._end("failed", value)
                else:
                    self._end("cancelled")

            follow.ended.connect(after_follow)
        else:
            self._end("finished", value=follow)

    def _end(self, state: str, error: BaseException | None = None, value: Any = None) -> None:
        if self.ended_at is not None:
            return
        self.state, self.ended_at, self.running = state, time.time(), False
        if state == "failed":
            self.error = error if error is not None else ProcessJobError("The job failed.")
            self.message = getattr(self.error, "message", str(self.error))
            self.log.append(f"failed: {self.error}")
        elif state == "cancelled":
            self.message = "cancelled; nothing was stored"
        if self.on_end is not None:
            try:
                self.on_end()
            except OSError:
                pass
        self.changed.emit()
        if state == "finished":
            self.finished.emit(value)
        elif state == "failed":
            self.failed.emit(self.error)
        else:
            self.cancelled.emit()
        self.ended.emit()

    # -- for the panel ---------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.state in ("starting", "running", "merging")

    def elapsed(self) -> float:
        return (self.ended_at or time.time()) - self.started_at

    def log_tail(self, n: int = 15) -> str:
        return "\n".join(list(self.log)[-n:])

    def log_text(self) -> str:
        return "\n".join(self.log)

    def wait(self, ms: int = 30000) -> bool:
        """Block until the child exited (closing the app, tests)."""
        return self.proc is None or self.proc.state() == QProcess.NotRunning or self.proc.waitForFinished(ms)


class ProcessJobRunner(QObject):
    """Every child job of this window (running and finished) and the cameras they lock."""

    job_added = Signal(object)
    changed = Signal()  # a job started, progressed or ended
    locks_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.jobs: list[ProcessJob] = []

    def start(self, args: list[str], title: str, camera_id: int | None = None, on_success=None,
              on_end=None, env: dict | None = None) -> ProcessJob:
        job = ProcessJob(args, title, camera_id, on_success, on_end, self, env)
        self._add(job)
        job.start()
        return job

    def failed_now(self, title: str, error: Walt3DError, camera_id: int | None = None) -> ProcessJob:
        """A job refused before it started (e.g. mined already): listed, and failing like any other."""
        job = ProcessJob([], title, camera_id, parent=self)
        self._add(job)
        QTimer.singleShot(0, lambda: job._end("failed", error))
        return job

    def _add(self, job: ProcessJob) -> None:
        self.jobs.append(job)
        job.changed.connect(self.changed)
        job.ended.connect(self.locks_changed)
        self.job_added.emit(job)
        self.locks_changed.emit()

    @property
    def busy(self) -> bool:
        return any(j.active for j in self.jobs)

    def running(self) -> list[ProcessJob]:
        return [j for j in self.jobs if j.active]

    def lock_reason(self, camera_id: int | None) -> str | None:
        """Why edits on this camera are refused now, or None when they are allowed."""
        if camera_id is None:
            return None
        for j in self.running():
            if j.camera_id == camera_id:
                return (f"“{j.title}” is writing this camera; its edits resume when the job ends "
                        f"(cancel it in View > Jobs). Other cameras stay editable.")
        return None

    def locked_cameras(self) -> dict[int, str]:
        return {j.camera_id: j.title for j in self.running() if j.camera_id is not None}

    def clear_finished(self) -> None:
        for j in [j for j in self.jobs if not j.active]:
            self.jobs.remove(j)
            j.deleteLater()
        self.changed.emit()

    def cancel_all(self, wait_ms: int = KILL_GRACE_MS + 2000) -> None:
        """Cancel every running child and wait for it (closing the project or the app)."""
        for j in self.running():
            j.cancel()
        deadline = time.monotonic() + wait_ms / 1000
        for j in self.running():
            if j.proc is not None and not j.wait(max(0, int((deadline - time.monotonic()) * 1000))):
                j.kill()
                j.wait(2000)



def run_process_job(window, args: list[str], title: str, camera_id: int | None = None, on_success=None,
                    on_done=None, on_end=None) -> ProcessJob:
    """Start a child job for `window`: a failure is shown (message, hint, log tail), `on_done` gets the result."""
    from .errors import show_error

    project = window.project  # the child may open it for writing while we hold it (store: lock delegation)
    env = project.delegate_lock() if project is not None and not project.readonly else {}
    job = window.process_jobs.start(args, title, camera_id, on_success, on_end, env)
    job.failed.connect(lambda e: _report_failure(window, job, e, show_error))
    if on_done is not None:
        job.finished.connect(on_done)
    return job


def _report_failure(window, job: ProcessJob, error, show_error) -> None:
    window.statusBar().showMessage(f"Job failed: {job.title}: {job.message}", 15000)
    if getattr(error, "log_tail", ""):
        error = ProcessJobError(error.message, (error.hint + "\n\nLast lines of its log:\n" + error.log_tail).strip(),
                                error.log_tail)
    show_error(window, error)


def refuse_locked_edit(window, command) -> bool:
    """True (and says why in the status bar) when undoing/redoing `command` would write a camera a child job
    locks. Commands name their camera as `place.camera_id` (review) or `camera_id` (tools)."""
    if command is None:
        return False
    cam = getattr(getattr(command, "place", None), "camera_id", None)
    if cam is None:
        cam = getattr(command, "camera_id", None)
    reason = window.lock_reason(cam) if isinstance(cam, int) else None
    if reason:
        window.statusBar().showMessage(f"Camera locked: {reason}", 8000)
        return True
    return False
