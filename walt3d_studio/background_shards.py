"""Median backgrounds on window shards (`walt3d run background PROJECT ...`, scaleout.py).

A shard is one camera x one time window (local hour of day, or all frames). Its work streams the window's frames
into the median exactly as `compute_backgrounds` does and writes `median.npy` (float32) and `window.json`; the merge
stores each window with `save_background` (an upsert: a window merged again is replaced by the same median) and
records one run per camera, as `walt3d background` does.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .atomic import write_text


def windows(project, camera_id: int, hours_per_window: int | None) -> dict[str, list[int]]:
    """{window key: frame positions} as `compute_backgrounds` groups them."""
    from .background import hour_windows
    from .errors import BadInputError

    table = project.frame_table(camera_id)
    if len(table) == 0:
        raise BadInputError(f"Camera {project.camera(camera_id).name!r} has no frames yet.",
                            "Add a time-lapse first (walt3d add-source).")
    if hours_per_window is None:
        return {"all": list(range(len(table)))}
    return hour_windows(table.times, project.camera(camera_id).tz, hours_per_window)


def background_shard_work(project, shard, settings: dict, out_dir: Path) -> dict:
    from .background import median_background

    positions = windows(project, shard.camera_id, settings["hours_per_window"])[shard.window]
    table = project.frame_table(shard.camera_id)
    reader = project.frame_reader(shard.camera_id, cache_bytes=0)
    try:
        median = median_background(reader.iter_frames(positions), total=len(positions))
    finally:
        reader.close()
    times = table.times[np.asarray(positions)]
    np.save(Path(out_dir) / "median.npy", np.asarray(median, np.float32))
    write_text(Path(out_dir) / "window.json", json.dumps({
        "camera_id": shard.camera_id, "window": shard.window, "n_frames": len(positions),
        "first_time": float(times.min()), "last_time": float(times.max())}))
    return {"frames": len(positions)}


def merge_backgrounds(project, settings: dict, parts: list, key: str, started_at: float | None = None) -> dict:
    from .store.shard_merge import merged_keys, record_merged_run

    done = merged_keys(project, key)
    by_cam: dict[int, list] = {}
    for shard, folder in sorted(parts, key=lambda so: (so[0].camera_id, so[0].window)):
        by_cam.setdefault(shard.camera_id, []).append(Path(folder))
    out = {"merged": 0, "windows": 0}
    for cid, folders in by_cam.items():
        part = f"camera {cid}"
        if part in done:
            continue
        t0 = started_at or time.time()   # the run row spans the sharded run, work included
        for folder in folders:
            w = json.loads((folder / "window.json").read_text(encoding="utf-8"))
            project.save_background(cid, w["window"], np.load(folder / "median.npy"), n_frames=w["n_frames"],
                                    first_time=w["first_time"], last_time=w["last_time"],
                                    settings={"hours_per_window": settings["hours_per_window"]})
        record_merged_run(project, "background", {"hours_per_window": settings["hours_per_window"]},
                          {"camera": cid, "sharded": key, "part": part, "shards": len(folders)},
                          {"windows": len(folders)}, t0)
        out["merged"] += 1
        out["windows"] += len(folders)
    return out
