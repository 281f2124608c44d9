"""Median background: exact against numpy.median, bounded memory paths, cancel, input checks, hour windows."""
from __future__ import annotations

import os
import tempfile
import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest

from walt3d_studio import background as bgmod
from walt3d_studio.background import hour_windows, median_background, to_display, window_label
from walt3d_studio.errors import BadInputError, Cancelled
from walt3d_studio.jobs import JobContext


def ref_median(frames) -> np.ndarray:
    return np.median(np.stack(list(frames)), axis=0).astype(np.float32)


def rand_frames(n, shape, seed=0, lo=0, hi=256):
    rng = np.random.default_rng(seed)
    return [rng.integers(lo, hi, shape, dtype=np.uint8) for _ in range(n)]


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == np.float32 and a.shape == b.shape
    assert np.array_equal(a, b)


# ------------------------------------------------------------------------------------------------ exactness

# budgets: tiny (many tiles, small chunks, tiles that end mid-row), a few KiB, the default
BUDGETS = [1 << 12, 50_000, 64 << 20]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 128, 129, 255, 256, 257, 300])
@pytest.mark.parametrize("budget", BUDGETS)
def test_random_list_matches_numpy(n, budget):
    frames = rand_frames(n, (13, 17, 3), seed=n)
    assert_same(median_background(frames, memory_budget_bytes=budget), ref_median(frames))


@pytest.mark.parametrize("n", [1, 2, 5, 6, 257, 300])
@pytest.mark.parametrize("budget", BUDGETS)
def test_iterator_matches_numpy(n, budget):
    frames = rand_frames(n, (11, 19, 3), seed=100 + n)
    got = median_background((f for f in frames), memory_budget_bytes=budget, total=n)
    assert_same(got, ref_median(frames))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers_do_not_change_the_result(workers):
    frames = rand_frames(20, (37, 41, 3), seed=3)  # 37 rows: no band size divides it
    ref = ref_median(frames)
    assert_same(median_background(frames, memory_budget_bytes=20_000, workers=workers), ref)
    assert_same(median_background(iter(frames), memory_budget_bytes=20_000, workers=workers), ref)


def test_tuple_and_stacked_array_inputs():
    frames = rand_frames(9, (10, 12, 3), seed=4)
    ref = ref_median(frames)
    assert_same(median_background(tuple(frames), memory_budget_bytes=4096), ref)
    assert_same(median_background(np.stack(frames), memory_budget_bytes=4096), ref)


def test_grayscale():
    for n in (5, 6):
        frames = rand_frames(n, (23, 29), seed=n)
        got = median_background(frames, memory_budget_bytes=3000)
        assert got.shape == (23, 29)
        assert_same(got, ref_median(frames))
        assert_same(median_background(iter(frames), memory_budget_bytes=3000), ref_median(frames))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 10, 300])
def test_adversarial_values(n):
    shape = (6, 7, 3)
    rng = np.random.default_rng(n)
    cases = [
        [np.full(shape, 0, np.uint8) for _ in range(n)],
        [np.full(shape, 255, np.uint8) for _ in range(n)],
        [np.full(shape, 77, np.uint8) for _ in range(n)],
        # only the extremes, per pixel at random
        [(rng.integers(0, 2, shape, dtype=np.uint8) * 255).astype(np.uint8) for _ in range(n)],
        # half 0, half 255 (even n: 127.5)
        [np.full(shape, 0 if i % 2 else 255, np.uint8) for i in range(n)],
        # many ties around the middle
        [rng.integers(127, 130, shape, dtype=np.uint8) for _ in range(n)],
        # sorted and reverse-sorted along the frame axis
        [np.full(shape, i * 255 // max(1, n - 1), np.uint8) for i in range(n)],
        [np.full(shape, 255 - i * 255 // max(1, n - 1), np.uint8) for i in range(n)],
    ]
    for frames in cases:
        ref = ref_median(frames)
        assert_same(median_background(frames, memory_budget_bytes=2048), ref)
        assert_same(median_background(iter(frames), memory_budget_bytes=2048), ref)


def test_even_count_is_mean_of_two_middle_values():
    a = np.array([[10]], np.uint8)
    b = np.array([[13]], np.uint8)
    got = median_background([a, b, a, b])
    assert got.dtype == np.float32 and got[0, 0] == np.float32(11.5)


def test_non_contiguous_frames():
    base = rand_frames(8, (20, 30, 4), seed=5)
    frames = [f[:, ::-1, :3] for f in base]  # views with odd strides
    assert not frames[0].flags.c_contiguous
    assert_same(median_background(frames, memory_budget_bytes=3000), ref_median(frames))
    assert_same(median_background(iter(frames), memory_budget_bytes=3000), ref_median(frames))


def test_stream_that_reuses_its_buffer():
    """A decoder may hand out the same array each time; every frame must be taken as it was."""
    frames = rand_frames(12, (9, 10, 3), seed=6)
    ref = ref_median(frames)

    def reusing():
        buf = np.empty_like(frames[0])
        for f in frames:
            buf[...] = f
            yield buf

    for budget in (10**9, 2000):  # held in memory / spooled to a file
        assert_same(median_background(reusing(), memory_budget_bytes=budget), ref)


def test_large_stream_is_spooled_to_a_file(monkeypatch, tmp_path):
    made = []
    real = tempfile.TemporaryFile

    def spy(*a, **k):
        fh = real(*a, **k)
        made.append(fh)
        return fh

    monkeypatch.setattr(bgmod.tempfile, "TemporaryFile", spy)
    frames = rand_frames(30, (16, 20, 3), seed=7)
    got = median_background(iter(frames), memory_budget_bytes=8 * 16 * 20 * 3, spool_dir=tmp_path)
    assert_same(got, ref_median(frames))
    assert len(made) == 1 and made[0].closed
    assert list(tmp_path.iterdir()) == []
    # a small stream stays in memory
    made.clear()
    median_background(iter(frames[:3]), memory_budget_bytes=1 << 20)
    assert made == []


def test_spool_without_preadv(monkeypatch):
    """The seek+readinto fallback (platforms without os.preadv) gives the same result."""
    monkeypatch.delattr(bgmod.os, "preadv", raising=False)
    frames = rand_frames(25, (14, 15, 3), seed=13)
    for workers in (1, 2):
        got = median_background(iter(frames), memory_budget_bytes=5000, workers=workers)
        assert_same(got, ref_median(frames))


def test_more_frames_than_a_uint16_count():
    rng = np.random.default_rng(14)
    stack = rng.integers(0, 256, (65537, 1, 2), dtype=np.uint8)
    assert_same(median_background(stack), ref_median(stack))


def test_lazy_sequence_is_read_once():
    class Lazy:  # a Sequence that is not a list: read it once, like a stream
        def __init__(self, frames):
            self.frames = frames
            self.reads = 0

        def __len__(self):
            return len(self.frames)

        def __getitem__(self, i):
            f = self.frames[i]
            self.reads += 1
            return f

    frames = rand_frames(10, (8, 9, 3), seed=8)
    lazy = Lazy(frames)
    assert_same(median_background(lazy, memory_budget_bytes=1000), ref_median(frames))
    assert lazy.reads == 10


# ----------------------------------------------------------------------------------------- input checks


def test_empty_input():
    with pytest.raises(BadInputError):
        median_background([])
    with pytest.raises(BadInputError):
        median_background(iter([]))


@pytest.mark.parametrize("make", [list, iter])
def test_mixed_sizes_and_kinds(make):
    a = np.zeros((10, 12, 3), np.uint8)
    bad = [
        np.zeros((10, 13, 3), np.uint8),   # other width
        np.zeros((11, 12, 3), np.uint8),   # other height
        np.zeros((10, 12), np.uint8),      # grey among colour
        np.zeros((10, 12, 3), np.uint16),  # other dtype
        np.zeros((10, 12, 3), np.float32),
    ]
    for b in bad:
        with pytest.raises(BadInputError) as ei:
            median_background(make([a, a, b]))
        assert ei.value.hint


def test_non_uint8_and_bad_shapes():
    with pytest.raises(BadInputError):
        median_background([np.zeros((4, 4, 3), np.float64)])
    with pytest.raises(BadInputError):
        median_background([np.zeros((4,), np.uint8)])
    with pytest.raises(BadInputError):
        median_background([[1, 2, 3]])
    with pytest.raises(BadInputError):
        median_background(np.zeros((4, 4), np.uint8))


def test_mixed_sizes_in_a_spooled_stream_leave_nothing(tmp_path):
    a = np.zeros((10, 12, 3), np.uint8)
    b = np.zeros((10, 13, 3), np.uint8)
    with pytest.raises(BadInputError):
        median_background(iter([a] * 20 + [b]), memory_budget_bytes=1000, spool_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------- cancel


def _open_fds() -> set[str] | None:
    try:
        return set(os.listdir("/proc/self/fd"))
    except OSError:
        return None


@pytest.mark.parametrize("phase", ["Reading", "Computing"])
@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_raises_and_leaves_no_temp_file(tmp_path, phase, workers):
    frames = rand_frames(40, (32, 40, 3), seed=9)
    ctx = JobContext(lambda done, total, msg: ctx.cancel() if msg.startswith(phase) else None)
    fds = _open_fds()
    with pytest.raises(Cancelled):
        median_background(iter(frames), memory_budget_bytes=20_000, workers=workers, ctx=ctx,
                          spool_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    if fds is not None:
        assert _open_fds() - fds == set()  # the anonymous spool file was closed
    # and it still works afterwards
    assert_same(median_background(iter(frames), memory_budget_bytes=20_000, spool_dir=tmp_path),
                ref_median(frames))


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_takes_effect_quickly(workers):
    frames = rand_frames(60, (240, 320, 3), seed=10)
    started = threading.Event()
    ctx = JobContext(lambda d, t, m: started.set())
    when = {}

    def cancel_soon():
        started.wait(5)
        time.sleep(0.05)
        when["t"] = time.monotonic()
        ctx.cancel()

    th = threading.Thread(target=cancel_soon)
    th.start()
    try:
        with pytest.raises(Cancelled):
            for _ in range(50):  # in case one run finishes before the cancel
                median_background(frames, memory_budget_bytes=1 << 20, workers=workers, ctx=ctx)
    finally:
        th.join()
    assert time.monotonic() - when["t"] < 0.5


def test_progress_reports():
    seen = []
    frames = rand_frames(10, (20, 20, 3), seed=11)
    median_background(iter(frames), ctx=JobContext(lambda d, t, m: seen.append((d, t, m))), total=10)
    assert seen[-1][0] == seen[-1][1] and seen[-1][2].startswith("Computing")
    assert any(m.startswith("Reading") and d == 10 and t == 10 for d, t, m in seen)


# ------------------------------------------------------------------------------------------------ display


def test_to_display_rounds_and_clips():
    m = np.array([[0.0, 0.5, 1.5, 126.5, 127.5, 254.5, 255.0, 300.0, -3.0]], np.float32)
    got = to_display(m)
    assert got.dtype == np.uint8
    assert got.tolist() == [[0, 0, 2, 126, 128, 254, 255, 255, 0]]  # np.rint: halves to even
    frames = rand_frames(4, (5, 6, 3), seed=12)
    assert np.array_equal(to_display(median_background(frames)), np.clip(np.rint(ref_median(frames)), 0, 255))


# ------------------------------------------------------------------------------------------- hour windows


def _utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_hour_windows_local_time_across_dst():
    tz = "America/New_York"
    times = [
        _utc(2024, 3, 10, 6, 30),   # 01:30 EST
        _utc(2024, 3, 10, 7, 30),   # 03:30 EDT (02:xx does not exist that night)
        _utc(2024, 3, 10, 11, 15),  # 07:15 EDT
        _utc(2024, 1, 15, 12, 15),  # 07:15 EST: same local hour, other UTC hour
        _utc(2024, 11, 3, 5, 30),   # 01:30 EDT
        _utc(2024, 11, 3, 6, 30),   # 01:30 EST (the repeated hour)
        _utc(2024, 11, 3, 7, 30),   # 02:30 EST
    ]
    w = hour_windows(times, tz)
    assert w == {"h01": [0, 4, 5], "h02": [6], "h03": [1], "h07": [2, 3]}
    assert list(w) == sorted(w)
    w3 = hour_windows(times, tz, hours_per_window=3)
    assert w3 == {"h00-02": [0, 4, 5, 6], "h03-05": [1], "h06-08": [2, 3]}
    w5 = hour_windows([_utc(2024, 6, 1, 3, 0)], tz, hours_per_window=5)  # 23:00 EDT
    assert w5 == {"h20-23": [0]}
    assert hour_windows(times, "UTC", 24) == {"h00-23": list(range(7))}


def test_hour_windows_errors_and_labels():
    with pytest.raises(BadInputError):
        hour_windows([0.0], "Mars/Olympus_Mons")
    with pytest.raises(BadInputError):
        hour_windows([0.0], "UTC", hours_per_window=0)
    with pytest.raises(BadInputError):
        hour_windows([float("nan")], "UTC")
    assert hour_windows([], "UTC") == {}
    assert window_label("h07") == "07:00–08:00"
    assert window_label("h06-08") == "06:00–09:00"
    assert window_label("h23") == "23:00–24:00"
    for bad in ("x07", "h25", "h08-06", "hello"):
        with pytest.raises(BadInputError):
            window_label(bad)


def test_window_for_time_picks_the_covering_window():
    from walt3d_studio.background import window_for_time

    t = 1714543200.0  # 2024-05-01 06:00 UTC = 08:00 in Berlin (summer time)
    hourly = [{"window": k, "settings": {"hours_per_window": 1}} for k in ("h07", "h08")]
    assert window_for_time(hourly, t, "Europe/Berlin") == "h08"
    assert window_for_time(hourly, t, "UTC") == "h07"  # 06:00 UTC is not stored: the first one stands in
    assert window_for_time([{"window": "all", "settings": {"hours_per_window": None}}], t, "UTC") == "all"
    assert window_for_time([], t, "UTC") is None
