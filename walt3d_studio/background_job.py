"""The background stage: a median image per time window of a camera, stored in the project."""
from __future__ import annotations

import numpy as np

from .background import hour_windows, median_background
from .errors import BadInputError
from .jobs import JobContext, silent


def compute_backgrounds(project, camera_id: int, hours_per_window: int | None = 1,
                        ctx: JobContext | None = None) -> list[str]:
    """Compute and store the median background of every window (local hour of day; None = all frames).

    Frames are streamed from the frame reader, never stacked, so memory stays bounded however many there are.
    Returns the stored window keys.
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
    try:
        for key, positions in sorted(windows.items()):
            offset = done

            def report(d, t, msg, offset=offset, key=key):
                ctx.progress(offset + d, total, f"window {key}: {msg}" if msg else f"window {key}")

            median = median_background(reader.iter_frames(positions), total=len(positions),
                                       ctx=JobContext(report))
            times = table.times[np.asarray(positions)]
            project.save_background(camera_id, key, median, n_frames=len(positions),
                                    first_time=float(times.min()), last_time=float(times.max()),
                                    settings={"hours_per_window": hours_per_window})
            done += len(positions)
            keys.append(key)
    finally:
        reader.close()
    ctx.progress(total, total, "done")
    return keys
