"""The background stage: a median image per time window of a camera, stored in the project."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_text
from .background import hour_windows, median_background
from .errors import BadInputError
from .jobs import JobContext, silent

SHARD_FILE = "shard.json"


def compute_backgrounds(project, camera_id: int, hours_per_window: int | None = 1,
                        ctx: JobContext | None = None, out_dir: str | Path | None = None) -> list[str]:
    """Compute and store the median background of every window (local hour of day; None = all frames).

    Frames are streamed from the frame reader, never stacked, so memory stays bounded however many there are.
    With `out_dir` (the stage protocol's shard: the project may be open read-only) nothing is stored: each
    window goes to OUT_DIR/KEY.npz and `shard.json` is written last; `merge_background_shard` stores them all
    in one transaction. Returns the window keys.
    """
    ctx = ctx or silent()
    table = project.frame_table(camera_id)
    if len(table) == 0:
        raise BadInputError("This camera has no frames yet.", "Add a time-lapse first (walt3d add-source).")
    if hours_per_window is None:
        windows = {"all": list(range(len(table)))}
    else:
        windows = hour_windows(table.times, project.camera(camera_id).tz, hours_per_window)
    reader = project.frame_reader(camera_id, cache_bytes=0)
    total = len(table)
    done = 0
    keys = []
    shard_windows: list[dict] = []
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    try:
        for key, positions in sorted(windows.items()):
            offset = done

            def report(d, t, msg, offset=offset, key=key):
                ctx.progress(offset + d, total, f"window {key}: {msg}" if msg else f"window {key}")

            median = median_background(reader.iter_frames(positions), total=len(positions),
                                       ctx=JobContext(report))
            times = table.times[np.asarray(positions)]
            meta = dict(window_key=key, n_frames=len(positions), first_time=float(times.min()),
                        last_time=float(times.max()), settings={"hours_per_window": hours_per_window})
            if out_dir is None:
                project.save_background(camera_id, key, median, **{k: v for k, v in meta.items() if k != "window_key"})
            else:
                with atomic_path(Path(out_dir) / f"{key}.npz", suffix=".npz") as tmp:
                    np.savez(tmp, median=median.astype(np.float32))
                shard_windows.append(meta)
            done += len(positions)
            keys.append(key)
    finally:
        reader.close()
    if out_dir is not None:  # last: a shard without it is incomplete and never merged
        write_text(Path(out_dir) / SHARD_FILE, json.dumps({"stage": "background", "camera_id": int(camera_id),
                                                           "windows": shard_windows}))
    ctx.progress(total, total, "done")
    return keys


def merge_background_shard(project, shard_dir: str | Path) -> tuple[int, list[str]]:
    """Store the windows of a shard written by `compute_backgrounds(..., out_dir=)` (one transaction).
    Returns (camera id, window keys)."""
    shard_dir = Path(shard_dir)
    try:
        meta = json.loads((shard_dir / SHARD_FILE).read_text())
        cam = int(meta["camera_id"])
        items = []
        for w in meta["windows"]:
            with np.load(shard_dir / f"{w['window_key']}.npz") as z:
                items.append(dict(w, median=z["median"]))
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise BadInputError(f"{shard_dir} is not a complete background shard ({type(e).__name__}: {e}).",
                            "Compute the background again; nothing was stored.") from None
    if not any(c.id == cam for c in project.cameras()):
        raise BadInputError(f"The background shard is of camera {cam}, which this project does not have.",
                            "Merge it into the project it was computed from.")
    project.save_backgrounds(cam, items)
    return cam, [w["window_key"] for w in meta["windows"]]
