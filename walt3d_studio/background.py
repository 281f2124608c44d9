"""Median background of a camera's frames, exact and in bounded memory.

`median_background(frames)` returns exactly ``numpy.median(np.stack(frames), axis=0)`` as float32 (for an even
number of frames the mean of the two middle values), without ever stacking the frames.

How it works
------------
The frames are processed in *tiles*: a tile is a run of consecutive values of the flattened frame (``H*W*C``
values); all N frames' values of one tile are gathered into a buffer laid out as ``(chunks, N, CHUNK)`` so
that each chunk -- N rows of ``CHUNK`` values -- is contiguous and stays in the CPU's caches while it is
searched (CHUNK = 16384 measured best on a 2-core EPYC: smaller chunks lose to per-call overhead and the GIL).

For each chunk the k-th smallest value of every column is found by a binary search on the value itself,
one bit at a time from the top: with ``t`` the bits found so far, count per pixel how many frames have a
value below ``t + 2**b`` (one vectorised uint8 compare and one uint8 add-reduce over the frames); keep the
bit when that count is ``<= k``. Eight passes give the k-th value exactly (uint8 has 8 bits), and the
count kept with the last accepted bit is ``#{x < v}``. For an even count the other middle value is then
either ``v`` itself (when ``#{x < v} <= k-1``) or the largest value below ``v``, found in one more pass as
``v + max((x - v) mod 256)`` (values below ``v`` wrap to the top of the uint8 range). All of it is plain
numpy on uint8 arrays (SIMD compare/add/max), which releases the GIL, so tiles run on a small thread pool.

Input kinds
-----------
* a list, tuple or numpy array of decoded frames: tiles are gathered straight from them (no full copy);
* any other iterable (a one-shot stream such as frames decoded from a video, or a lazy sequence): each frame
  is read once; while the frames fit in ``memory_budget_bytes`` they are kept in memory (in one block that is
  released in one piece if the stream outgrows it); beyond that all frames are spooled, in order, to an
  anonymous temporary file with plain sequential writes, and tiles are read back with positional reads into
  the reusable tile buffer (``os.preadv``; not ``np.memmap``, whose mapped pages would count towards the
  process's resident memory). The file is deleted on success, error and cancel.

Memory: the tile buffers (one per worker) are sized so that together they take about
``memory_budget_bytes``; the result (float32, ``4*H*W*C`` bytes) comes on top, and a short stream kept in
memory (at most the budget) too. Measured: 300 frames of 1280x720x3 with the default 64 MiB budget raise the
peak RSS by about 81 MiB (numpy.median over the stacked frames: about 1600 MiB); see docs/benchmarks.md.
"""
from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import BadInputError, Cancelled
from .jobs import JobContext

__all__ = ["median_background", "to_display", "hour_windows", "window_for_time", "window_label"]

#: values per cache chunk (N*CHUNK bytes of frames plus _ROWS*CHUNK of scratch are searched at a time).
_CHUNK = 16384
_MIN_CHUNK = 64
#: frames compared per call (<= 255 so that a uint8 add-reduce cannot overflow); sizes the scratch buffer.
_ROWS = 128
#: seconds between progress reports (cancel is checked far more often than that).
_PROGRESS_EVERY = 0.1


# ----------------------------------------------------------------------------------------------- public API


def median_background(
    frames: Sequence[np.ndarray] | Iterable[np.ndarray],
    *,
    memory_budget_bytes: int = 64 << 20,
    workers: int | None = None,
    ctx: JobContext | None = None,
    total: int | None = None,
    spool_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """The per-pixel median of `frames`, exactly ``np.median(np.stack(frames), axis=0).astype(np.float32)``.

    frames: uint8 arrays, all HxW or all HxWxC (C = 3 for colour) of one size. A list, tuple or a numpy array
        with the frame index first (N x H x W or N x H x W x 3) is read tile by tile in place; any other
        iterable (a generator, a lazy video reader) is consumed once, and spooled to a temporary file when it
        does not fit in the memory budget.
    memory_budget_bytes: about how much memory the working buffers may take (the float32 result, 4 bytes per
        value, comes on top). Larger is a little faster; it never needs to hold all frames.
    workers: threads; None = the number of CPUs (at most 8).
    ctx: progress and cancellation; `Cancelled` propagates and nothing is left behind.
    total: the number of frames when `frames` is a stream of known length (only used for progress).
    spool_dir: where the temporary file goes when a stream is spooled (default: the system's temp folder).

    Raises BadInputError for no frames, frames of different sizes or kinds, or frames that are not uint8.
    """
    if memory_budget_bytes <= 0:
        raise ValueError("memory_budget_bytes must be positive")
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    workers = max(1, int(workers))
    reporter = _Reporter(ctx)

    if isinstance(frames, np.ndarray):
        if frames.ndim not in (3, 4):
            raise BadInputError(
                f"Expected a stack of frames (N x H x W or N x H x W x 3), got an array of shape {frames.shape}.",
                "Pass a list of frames or an array with the frame index first.")
        frames = list(frames)  # views, no copy
    if isinstance(frames, (list, tuple)):
        if len(frames) == 0:
            raise _no_frames()
        shape, _ = _check_frame(frames[0], 0, None)
        for i in range(1, len(frames)):
            _check_frame(frames[i], i, shape)
        source: _Source = _MemorySource(list(frames), shape)
        return _run(source, memory_budget_bytes, workers, reporter)

    source = _spool(iter(frames), memory_budget_bytes, reporter, total, spool_dir)
    try:
        return _run(source, memory_budget_bytes, workers, reporter)
    finally:
        source.close()


def to_display(median: np.ndarray) -> np.ndarray:
    """A float median image as uint8 for showing and compositing: rounded (``np.rint``) and clipped to 0..255."""
    m = np.asarray(median)
    return np.clip(np.rint(m), 0, 255).astype(np.uint8)


def hour_windows(capture_times_utc: Sequence[float], tz: str, hours_per_window: int = 1) -> dict[str, list[int]]:
    """Group frames by local hour of day.

    capture_times_utc: capture instants as POSIX timestamps (seconds since 1970-01-01 UTC).
    tz: the camera's IANA time zone ("Europe/Berlin"); the hour of day is local time there, DST included
        (in the repeated hour when clocks go back, both passes fall in that hour's window).
    hours_per_window: 1..24; windows start at local midnight and every `hours_per_window` hours after it
        (the last one of the day is shorter when 24 is not a multiple).

    Returns {key: ascending frame indices} for the windows that hold frames, in key order. Keys are "h07" for
    one-hour windows and "h06-08" (first and last hour, inclusive) for longer ones.
    """
    hpw = int(hours_per_window)
    if not 1 <= hpw <= 24:
        raise BadInputError(f"Hours per window must be between 1 and 24, got {hours_per_window}.",
                            "Use 1 for one window per hour of day, 24 for one window per day.")
    zone = _zone(tz)
    out: dict[str, list[int]] = {}
    for i, t in enumerate(capture_times_utc):
        t = float(t)
        if not math.isfinite(t):
            raise BadInputError(f"Capture time of frame {i} is not a number ({t}).",
                                "Check the video's start time or set it with --start.")
        hour = datetime.fromtimestamp(t, tz=timezone.utc).astimezone(zone).hour
        start = (hour // hpw) * hpw
        out.setdefault(_window_key(start, hpw), []).append(i)
    return dict(sorted(out.items()))


def window_for_time(stored: list[dict], capture_time_utc: float, tz: str) -> str | None:
    """Which stored background to show at a capture time: the window covering it, else "all", else the first.

    `stored` is `Project.backgrounds(camera_id)`: dicts with "window" and "settings" (hours_per_window).
    """
    keys = [b["window"] for b in stored]
    if not keys:
        return None
    hours = stored[0]["settings"].get("hours_per_window")
    if hours:
        key = next(iter(hour_windows([capture_time_utc], tz, hours)))
        if key in keys:
            return key
    return "all" if "all" in keys else keys[0]


def window_label(key: str) -> str:
    """A human label for an `hour_windows` key: "h07" -> "07:00–08:00", "h06-08" -> "06:00–09:00"."""
    try:
        if not key.startswith("h"):
            raise ValueError
        body = key[1:]
        if "-" in body:
            a, b = body.split("-")
            first, last = int(a), int(b)
        else:
            first = last = int(body)
        if not (0 <= first <= last <= 23):
            raise ValueError
    except ValueError:
        raise BadInputError(f"'{key}' is not a time window name.",
                            "Window names look like h07 (one hour) or h06-08 (hours 6 to 8).") from None
    return f"{first:02d}:00–{last + 1:02d}:00"


# ------------------------------------------------------------------------------------------- input checks


def _no_frames() -> BadInputError:
    return BadInputError("No frames to compute a background from.",
                         "Choose a time window or video range that contains frames.")


def _check_frame(f, i: int, shape: tuple[int, ...] | None) -> tuple[tuple[int, ...], np.dtype]:
    if not isinstance(f, np.ndarray):
        raise BadInputError(f"Frame {i} is not an image array (got {type(f).__name__}).",
                            "Pass decoded frames as numpy uint8 arrays.")
    if f.dtype != np.uint8:
        raise BadInputError(f"Frame {i} has pixel type {f.dtype}; the background needs 8-bit frames (uint8).",
                            "Convert the frames to uint8 (0-255) before computing the background.")
    if f.ndim not in (2, 3) or f.size == 0:
        raise BadInputError(f"Frame {i} has shape {f.shape}; expected H x W (grey) or H x W x 3 (colour).",
                            "Pass whole decoded images, one per frame.")
    if shape is not None and f.shape != shape:
        raise BadInputError(
            f"Frame {i} has size {_fmt_shape(f.shape)} but frame 0 has {_fmt_shape(shape)}; "
            "all frames of a background must be the same size.",
            "Compute one background per camera and resolution (a camera that changed resolution needs a new "
            "calibration and its own background).")
    return f.shape, f.dtype


def _fmt_shape(s: tuple[int, ...]) -> str:
    return f"{s[1]}x{s[0]}" + (f"x{s[2]}" if len(s) == 3 else " (grey)")


def _zone(tz: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise BadInputError(f"Unknown time zone '{tz}'.",
                            "Use an IANA time zone name such as Europe/Berlin or America/New_York.") from None


def _window_key(start: int, hpw: int) -> str:
    if hpw == 1:
        return f"h{start:02d}"
    return f"h{start:02d}-{min(start + hpw, 24) - 1:02d}"


# ------------------------------------------------------------------------------------------------ progress


class _Reporter:
    """Throttled progress; `check` is cheap and called often so that a cancel takes effect quickly."""

    def __init__(self, ctx: JobContext | None):
        self.ctx = ctx
        self._last = 0.0

    def check(self) -> None:
        if self.ctx is not None:
            if hasattr(self.ctx, "check"):
                self.ctx.check()
            elif getattr(self.ctx, "cancelled", False):
                raise Cancelled()

    def progress(self, done: int, total: int, msg: str, force: bool = False) -> None:
        if self.ctx is None:
            return
        now = time.monotonic()
        if force or now - self._last >= _PROGRESS_EVERY:
            self._last = now
            self.ctx.progress(done, total, msg)
        else:
            self.check()


# --------------------------------------------------------------------------------------------- frame sources


class _Source:
    """N frames of one shape, from which a tile (flat value range) of every frame can be copied."""

    n: int
    shape: tuple[int, ...]

    def read_tile(self, i: int, p0: int, p1: int, views: list[np.ndarray]) -> None:
        """Copy values [p0, p1) of frame i's flattened data into `views` (consecutive pieces, in order)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class _MemorySource(_Source):
    def __init__(self, frames: list[np.ndarray], shape: tuple[int, ...]):
        self.frames = frames
        self.n = len(frames)
        self.shape = shape
        self.row = int(np.prod(shape[1:]))  # values per image row

    def read_tile(self, i, p0, p1, views):
        f = self.frames[i]
        if f.flags.c_contiguous:
            src = f.reshape(-1)[p0:p1]
        else:  # copy only the rows the tile touches
            r0, r1 = p0 // self.row, -(-p1 // self.row)
            src = np.ascontiguousarray(f[r0:r1]).reshape(-1)[p0 - r0 * self.row:p1 - r0 * self.row]
        o = 0
        for v in views:
            v[...] = src[o:o + v.size]
            o += v.size


class _FileSource(_Source):
    """Frames spooled to an anonymous temporary file, frame after frame."""

    def __init__(self, fh, n: int, shape: tuple[int, ...]):
        self.fh = fh
        self.fd = fh.fileno()
        self.n = n
        self.shape = shape
        self.frame_bytes = int(np.prod(shape))
        self._lock = threading.Lock()
        self._preadv = getattr(os, "preadv", None)
        iov_max = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024
        self._iov_max = max(16, min(int(iov_max) if iov_max and iov_max > 0 else 1024, 1024))

    def read_tile(self, i, p0, p1, views):
        off = i * self.frame_bytes + p0
        if self._preadv is not None:
            bufs = [memoryview(v).cast("B") for v in views]
            while bufs:
                got = self._preadv(self.fd, bufs[:self._iov_max], off)
                if got <= 0:
                    raise OSError("The temporary frame file ended early.")
                off += got
                # drop what was filled; keep the rest of a partly filled buffer
                while got > 0 and bufs:
                    if got >= bufs[0].nbytes:
                        got -= bufs[0].nbytes
                        bufs.pop(0)
                    else:
                        bufs[0] = bufs[0][got:]
                        got = 0
        else:  # no positional vector reads (Windows): one reader at a time
            with self._lock:
                self.fh.seek(off)
                for v in views:
                    mv = memoryview(v).cast("B")
                    while mv.nbytes:
                        got = self.fh.readinto(mv)
                        if not got:
                            raise OSError("The temporary frame file ended early.")
                        mv = mv[got:]

    def close(self):
        try:
            self.fh.close()
        except OSError:
            pass


def _spool(it: Iterator[np.ndarray], budget: int, rep: _Reporter, total: int | None, spool_dir) -> _Source:
    """Consume a stream once: keep it in memory while it fits the budget, else write it all to a temp file.

    Frames kept in memory go into one block allocated for the whole budget (pages become resident only as
    they are written), so that when the stream outgrows it the block is released in one piece before the
    tile buffers are allocated: the peak stays near the budget instead of adding both.
    """
    arena = None
    fh = None
    n = 0
    shape = None
    tot = int(total) if total else 0
    msg = "Reading frames for the background"
    try:
        for f in it:
            rep.progress(n, tot, msg)
            shape, _ = _check_frame(f, n, shape)
            if n == 0:
                cap = budget // f.nbytes
                if cap >= 1 and not (tot and tot > cap):
                    arena = np.empty((cap,) + shape, np.uint8)
            if arena is not None and n < len(arena):
                arena[n] = f  # a copy: a decoder may reuse its buffer
            else:
                if fh is None:
                    fh = tempfile.TemporaryFile(prefix="walt3d-median-", suffix=".u8", dir=spool_dir)
                    if arena is not None:
                        _write(fh, arena[:n])
                        arena = None
                _write(fh, f)
            n += 1
        if n == 0:
            raise _no_frames()
        rep.progress(n, max(tot, n), msg, force=True)
        if fh is None:
            return _MemorySource(list(arena[:n]), shape)
        fh.flush()
        return _FileSource(fh, n, shape)
    except BaseException:
        if fh is not None:
            fh.close()
        raise


def _write(fh, f: np.ndarray) -> None:
    data = np.ascontiguousarray(f)
    try:
        fh.write(memoryview(data).cast("B"))
    except OSError as e:
        if getattr(e, "errno", None) in (28, 122):  # ENOSPC, EDQUOT
            raise BadInputError(
                "There is not enough disk space to hold the frames while computing the background.",
                "Free some disk space, choose a shorter time window, or keep fewer frames per window.") from e
        raise


# ------------------------------------------------------------------------------------------------- the core


def _run(src: _Source, budget: int, workers: int, rep: _Reporter) -> np.ndarray:
    n = src.n
    size = int(np.prod(src.shape))
    # per worker: the tile buffer (a whole number of chunks of N x chunk values), a scratch block of
    # min(N, _ROWS) x chunk and about 16 bytes per chunk value of per-pixel arrays
    per_worker = max(1, budget // workers)
    rows = min(n, _ROWS)
    chunk = _CHUNK
    while chunk > _MIN_CHUNK and (n + rows + 16) * chunk > per_worker:
        chunk //= 2
    chunk = min(chunk, size)
    chunks_per_tile = max(1, (per_worker - (rows + 16) * chunk) // (n * chunk))
    chunks_per_tile = min(chunks_per_tile, -(-size // chunk))
    tile = chunks_per_tile * chunk
    n_tiles = -(-size // tile)
    workers = max(1, min(workers, n_tiles))
    # keep at least ~2 tiles per worker for balance when the budget would allow fewer, bigger tiles
    if workers > 1 and n_tiles < 2 * workers and chunks_per_tile > 1:
        chunks_per_tile = max(1, -(-size // (chunk * 2 * workers)))
        tile = chunks_per_tile * chunk
        n_tiles = -(-size // tile)

    out = np.empty(size, dtype=np.float32)
    k = n // 2
    even = n % 2 == 0
    cnt_dtype = np.uint16 if n < (1 << 16) else np.uint32
    msg = "Computing the median background"
    rep.progress(0, n_tiles, msg, force=True)

    local = threading.local()
    stop = threading.Event()

    def check() -> None:
        if stop.is_set():
            raise Cancelled()
        rep.check()

    def buffers():
        b = getattr(local, "bufs", None)
        if b is None:
            b = local.bufs = (np.empty((chunks_per_tile, n, chunk), np.uint8),  # gathered tile
                              np.empty((rows, chunk), np.uint8))          # scratch
        return b

    def do_tile(ti: int) -> None:
        X, scratch = buffers()
        p0 = ti * tile
        p1 = min(size, p0 + tile)
        m = p1 - p0
        nfull, rem = divmod(m, chunk)
        for i in range(n):
            views = [X[j, i] for j in range(nfull)]
            if rem:
                views.append(X[nfull, i, :rem])
            src.read_tile(i, p0, p1, views)
            if i % 64 == 63:
                check()
        for j in range(nfull + (1 if rem else 0)):
            check()
            w = chunk if j < nfull else rem
            c0 = p0 + j * chunk
            _select_chunk(X[j, :, :w], scratch[:, :w], k, even, cnt_dtype, out[c0:c0 + w])

    if workers == 1:
        for ti in range(n_tiles):
            do_tile(ti)
            rep.progress(ti + 1, n_tiles, msg)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="median") as pool:
            pending: set[Future] = set()
            nxt = 0
            done = 0
            try:
                while done < n_tiles:
                    while nxt < n_tiles and len(pending) < 2 * workers:
                        pending.add(pool.submit(do_tile, nxt))
                        nxt += 1
                    finished, pending = wait(pending, timeout=_PROGRESS_EVERY, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        fut.result()
                        done += 1
                    rep.progress(done, n_tiles, msg)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                stop.set()  # running tiles stop at their next chunk
                wait(pending)
                raise
    rep.progress(n_tiles, n_tiles, msg, force=True)
    return out.reshape(src.shape)


def _select_chunk(X: np.ndarray, scratch: np.ndarray, k: int, even: bool, cnt_dtype, out: np.ndarray) -> None:
    """Per column of X (N x w, uint8), the median of the N values -> out (float32, w)."""
    n, w = X.shape
    rows = scratch.shape[0]
    t = np.zeros(w, np.uint8)
    clt = np.zeros(w, cnt_dtype)   # #{x < t} for the accepted t
    cnt = np.empty(w, cnt_dtype)
    part = np.empty(w, np.uint8)
    acc = np.empty(w, np.bool_)
    thr = np.empty(w, np.uint8)
    bit_u8 = np.empty(w, np.uint8)
    kk = cnt_dtype(k)
    for b in range(7, -1, -1):
        np.add(t, np.uint8(1 << b), out=thr)              # t has no bits at or below b: no overflow
        cnt[...] = 0
        for s in range(0, n, rows):
            e = min(n, s + rows)
            sc = scratch[:e - s]
            np.less(X[s:e], thr, out=sc.view(np.bool_))
            np.add.reduce(sc, axis=0, dtype=np.uint8, out=part)
            np.add(cnt, part, out=cnt, casting="unsafe")
        np.less_equal(cnt, kk, out=acc)
        np.copyto(t, thr, where=acc)
        np.copyto(clt, cnt, where=acc)
    # t is the k-th smallest value (0-based) of every column; #{x < t} = clt
    if not even:
        out[...] = t
        return
    # the (k-1)-th: t itself when #{x < t} <= k-1, else the largest value below t
    need = clt > cnt_dtype(k - 1)
    lo = t.copy()
    if need.any():
        mx = np.zeros(w, np.uint8)
        for s in range(0, n, rows):
            e = min(n, s + rows)
            sc = scratch[:e - s]
            np.subtract(X[s:e], t, out=sc)                 # x < t wraps above every x >= t
            np.maximum(mx, np.maximum.reduce(sc, axis=0), out=mx)
        np.add(mx, t, out=bit_u8)                          # (t + (max - t) mod 256) mod 256 = max below t
        np.copyto(lo, bit_u8, where=need)
    np.add(lo, t, out=out, dtype=np.float32)
    out *= np.float32(0.5)
