"""The demo: a project built from the bundled footage, carried through every stage the program has.

Import, calibration (shipped, made with the calibration tool), median backgrounds, mining with the built-in
detector. Later stages append their step here."""
from __future__ import annotations

import shutil
from pathlib import Path

from .errors import BadInputError
from .jobs import JobContext, silent
from .resources import resource

# (camera name, footage file, time zone, start time when the file has none, calibration file)
DEMO_CAMERAS = [
    ("parking-lot", "parking-lot-person-bicycle-car.gif", "UTC", "2024-05-01T08:00:00",
     "parking-lot-person-bicycle-car.camera.json"),
    ("top-down", "parking-lot-cars-top-down.mp4", "UTC", None, "parking-lot-cars-top-down.camera.json"),
]


def run_demo(out: Path, ctx: JobContext | None = None) -> tuple[Path, list[str]]:
    """Build OUT/demo.walt3d from the bundled footage; an earlier demo project there is rebuilt.

    Returns the project folder and one summary line per step."""
    from .background_job import compute_backgrounds
    from .camera import Camera
    from .mining.mine import mine
    from .store import Project
    from .timelapse import parse_user_time

    ctx = ctx or silent()
    out = Path(out)
    root = out / "demo.walt3d"
    lines: list[str] = []
    if root.exists():
        if not (root / ".demo").exists():
            raise BadInputError(f"{root} exists and is not a demo project built by this command.",
                                "Pick another output folder.")
        kept = _keep_human_work(root)
        if kept is not None:
            lines.append(f"the earlier demo project held people's work; it was moved to {kept}")
        else:
            shutil.rmtree(root)
    out.mkdir(parents=True, exist_ok=True)
    steps = len(DEMO_CAMERAS) * 3
    with Project.create(root) as project:
        (root / ".demo").write_text("built by `walt3d demo`; safe to delete\n")
        for i, (name, footage, tz, start, calib) in enumerate(DEMO_CAMERAS):
            cam = project.add_camera(name, tz)
            ctx.progress(3 * i, steps, f"importing {footage}")
            src = project.add_source(resource("footage", footage), cam,
                                     start=parse_user_time(start, tz) if start else None)
            lines.append(f"{name}: imported {src.n_frames} frames of {footage}")
            project.set_calibration(cam, Camera.load(resource("demo", calib)))
            ctx.progress(3 * i + 1, steps, f"background of {name}")
            keys = compute_backgrounds(project, cam, hours_per_window=1)
            lines.append(f"{name}: median background of window(s) {', '.join(keys)}")
            ctx.progress(3 * i + 2, steps, f"mining {name}")
            lines.append(f"{name}: mined {mine(project, cam).summary()}")
        ctx.progress(steps, steps, "done")
    return root, lines


def _keep_human_work(root: Path) -> Path | None:
    """A rebuilt demo never loses what people did in the old one (labels, keypoints, reviews): a project that
    holds any is moved aside to demo.walt3d.previous-<time> instead of deleted. Returns where it went."""
    import time

    from .store import Project
    from .store.carry_over import human_work

    try:
        with Project.open(root, readonly=True) as p:
            work = sum(human_work(p.conn).values())
    except Exception:  # unreadable: keep it rather than guess
        work = 1
    if not work:
        return None
    dest = root.with_name(f"{root.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
    root.rename(dest)
    return dest

