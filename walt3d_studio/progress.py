"""How the `walt3d` command reports progress: a tqdm bar for people, JSON lines for programs (the app).

`walt3d --progress jsonl COMMAND ...` prints one JSON object per line on stdout and nothing else:

    {"done": 12, "total": 240, "message": "mining cam1: 30 detections", "stage": "mining cam1"}
    ...
    {"result": {"rc": 0, "output": "Mined ...", ...}}          # last line on success
    {"error": {"message": "...", "hint": "...", "kind": "BadInputError"}, "rc": 2}   # last line on failure
    {"cancelled": true, "rc": 130}                                                    # after SIGTERM/SIGINT

Whatever the command prints for people goes to stderr instead (the parent keeps it as the job's log); fd 1
itself is pointed at stderr while the command runs, so even native libraries cannot break the protocol.
SIGTERM or SIGINT asks every live JobContext to stop: the stage raises `Cancelled` at its next progress
report and unwinds through its transactions and atomic writes, so nothing half-written is left.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from typing import IO

from .jobs import JobContext

MODES = ("bar", "jsonl", "quiet")
MIN_INTERVAL_S = 0.1  # at most ~10 progress lines a second: the parent redraws on each

_mode = "bar"
_reporter: "JsonlReporter | None" = None
_live: "weakref.WeakSet[JobContext]" = weakref.WeakSet()
_cancel_requested = threading.Event()
_result_extra: dict = {}


def mode() -> str:
    return _mode


def set_mode(m: str) -> None:
    global _mode
    if m not in MODES:
        raise ValueError(f"progress mode {m!r} is not one of {MODES}")
    _mode = m


def set_result(**fields) -> None:
    """Add fields to the final `result` line (e.g. `shard="/path"` for a parent that merges it)."""
    _result_extra.update(fields)


class JsonlReporter:
    """Writes protocol lines to `stream`, thread-safe (mining reports from worker threads), throttled."""

    def __init__(self, stream: IO[str], min_interval: float = MIN_INTERVAL_S):
        self.stream = stream
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._last_t = 0.0
        self._pending: dict | None = None

    def emit(self, obj: dict) -> None:
        line = json.dumps(obj, default=str)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def progress(self, done: int, total: int, message: str = "", stage: str = "") -> None:
        obj = {"done": int(done), "total": int(total), "message": str(message), "stage": stage}
        now = time.monotonic()
        final = total > 0 and done >= total
        with self._lock:
            if not final and now - self._last_t < self.min_interval:
                self._pending = obj  # the newest report waits; an older one is never sent after it
                return
            self._pending = None
            self._last_t = now
        self.emit(obj)

    def flush_pending(self) -> None:
        with self._lock:
            obj, self._pending = self._pending, None
        if obj is not None:
            self.emit(obj)


def jsonl_context(reporter: JsonlReporter, stage: str = "") -> JobContext:
    """A JobContext whose progress reports are printed as JSON lines."""

    def update(done, total, message):
        text = f"{stage}: {message}" if stage and message else (message or stage)
        reporter.progress(done, total, text, stage)

    return _register(JobContext(update))


def _register(ctx: JobContext) -> JobContext:
    _live.add(ctx)
    if _cancel_requested.is_set():
        ctx.cancel()
    return ctx


@contextmanager
def progress_context(desc: str, quiet: bool = False, unit: str = "frame"):
    """The JobContext for one long step of a command: JSON lines, a tqdm bar on stderr, or nothing."""
    if _mode == "jsonl" and _reporter is not None:
        ctx = jsonl_context(_reporter, desc)
        try:
            yield ctx
        finally:
            _reporter.flush_pending()
        return
    if quiet or _mode == "quiet":
        yield _register(JobContext())
        return
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, dynamic_ncols=True, leave=False, file=sys.stderr)

    def update(done, total, message):
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        if message:
            bar.set_postfix_str(message[:40], refresh=False)
        bar.refresh()

    try:
        yield _register(JobContext(update))
    finally:
        bar.close()


# -- cancel by signal --------------------------------------------------------------------------------------
def request_cancel() -> None:
    """Ask every live context to stop at its next report (what SIGTERM/SIGINT do)."""
    _cancel_requested.set()
    for ctx in list(_live):
        ctx.cancel()


def _on_signal(signum, frame) -> None:
    if _cancel_requested.is_set():  # a second signal: stop now, wherever we are
        raise KeyboardInterrupt
    request_cancel()


@contextmanager
def cancel_on_signals():
    """SIGTERM and SIGINT cancel cooperatively while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    _cancel_requested.clear()
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def watch_parent(parent_pid: int, interval: float = 0.25) -> threading.Thread:
    """Cancel when our parent dies (the app crashed or was killed): a child in a session of its own would
    otherwise work on for nobody. Set WALT3D_EXIT_WITH_PARENT to the parent's pid (or 1: whoever started us)
    to have `run_jsonl` start it; a pid given up front also catches a parent that died before we got here."""

    def alive() -> bool:
        if os.getppid() != parent_pid:
            return False
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def loop():
        while alive():
            time.sleep(interval)
        request_cancel()

    t = threading.Thread(target=loop, name="watch-parent", daemon=True)
    t.start()
    return t


# -- running a command in jsonl mode -----------------------------------------------------------------------
class _Tee:
    """Text written for people: to stderr (the job's log) and kept for the result's `output`."""

    def __init__(self, target: IO[str]):
        self.target = target
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        self.target.write(s)
        return len(s)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()


def run_jsonl(fn, args, explain=None) -> int:
    """Run `fn(args)` (a CLI command) with the JSON-lines protocol on stdout; returns the exit status.
    `explain(exc)` may turn an OS or database fault into a Walt3DError (a full disk is not a bug)."""
    global _reporter
    from .errors import Cancelled, Walt3DError

    sys.stdout.flush()
    proto_fd = os.dup(1)
    saved_fd = os.dup(1)
    os.dup2(2, 1)  # anything written to fd 1 from here on (prints, C libraries) lands in the log
    proto = os.fdopen(proto_fd, "w", buffering=1, encoding="utf-8")
    old_stdout = sys.stdout
    tee = _Tee(sys.stderr)
    sys.stdout = tee
    _reporter = JsonlReporter(proto)
    _result_extra.clear()
    parent = os.environ.get("WALT3D_EXIT_WITH_PARENT", "")
    if parent.isdigit() and int(parent) > 0:
        watch_parent(os.getppid() if parent == "1" else int(parent))
    rc = 1
    try:
        with cancel_on_signals():
            try:
                rc = int(fn(args) or 0)
                _reporter.flush_pending()
                _reporter.emit({"result": {"rc": rc, "output": tee.text, **_result_extra}})
            except Cancelled:
                rc = 130
                _reporter.emit({"cancelled": True, "rc": rc, "output": tee.text})
            except KeyboardInterrupt:
                rc = 130
                _reporter.emit({"cancelled": True, "rc": rc, "output": tee.text})
            except Walt3DError as e:
                rc = 2
                _reporter.emit({"error": {"message": e.message, "hint": e.hint, "kind": type(e).__name__}, "rc": rc})
            except Exception as e:  # a bug: the parent shows the message; the traceback goes to the log
                import traceback

                traceback.print_exc(file=sys.stderr)
                try:
                    told = explain(e) if explain is not None else None
                except Exception:  # explaining must never hide the original failure
                    told = None
                if told is not None:
                    rc = 2
                    _reporter.emit({"error": {"message": told.message, "hint": told.hint,
                                              "kind": type(told).__name__}, "rc": rc})
                    return rc
                rc = 1
                _reporter.emit({"error": {"message": f"{type(e).__name__}: {e}", "kind": "internal",
                                          "hint": "This is a bug in WALT3D Studio; the job's log has the details."},
                                "rc": rc})
    finally:
        sys.stdout = old_stdout
        _reporter = None
        proto.close()
        sys.stderr.flush()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
    return rc


def parse_line(line: str) -> dict | None:
    """One protocol line as a dict, or None for a line that is not ours (the parent logs it)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None
