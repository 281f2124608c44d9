"""Screenshots of 3D fitting run from the app, for docs/screenshots/fit-job.png and fit-job-done.png.

The mined demo GIF with its car track copied 40 times (so the vehicle fit runs long enough to be seen running):
Reconstruct > Fit people in 3D runs to the end, then Reconstruct > Fit vehicles in 3D is shot while it runs
(Jobs panel: the people job done, the vehicle job with its progress; the camera locked), and once more when it
has finished (the tracks table's fit columns filled, the fits drawn over the frame).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_fit_job.py [OUT_FOLDER]
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    from shot_window import headless_app, main_window, pump, wait

    headless_app()
    from gui.test_fit_jobs import _copy_track, _track_of
    from gui.test_review_workflow import _build
    from walt3d_studio.store import Project

    tmp = Path(tempfile.mkdtemp(prefix="walt3d-shot-fitjob-"))
    root = _build(tmp / "demo")
    with Project.open(root) as p:
        car = _track_of(p, "car")
        _copy_track(p, car, 40)
    win = main_window(tmp, (1280, 900))
    win.open_project(root)
    win.settle()
    rc = win.review

    people = rc.fit_jobs.fit("people")
    wait(people)
    running = rc.fit_jobs.fit("vehicles")
    while running.done < 8 and running.active:
        pump(0.02)
    person = _track_of(win.project, "person")
    fitted = [r[0] for r in win.project.conn.execute(
        "SELECT d.frame_id FROM fits f JOIN detections d ON d.id = f.detection_id WHERE d.track_id = ? "
        "ORDER BY d.frame_id", (person,))]
    rc.select_track(person, jump=False)
    rc.go_to(rc.position_of(int(fitted[len(fitted) // 2])))  # a frame where the body is drawn
    win.settle()
    from PySide6.QtCore import Qt

    win.addDockWidget(Qt.BottomDockWidgetArea, win.jobs_panel)  # below the frame (a place a person may drag it to)
    win.jobs_panel.show()
    win.resizeDocks([win.jobs_panel], [190], Qt.Vertical)
    win.jobs_panel.tree.setCurrentItem(win.jobs_panel.tree.topLevelItem(0))  # the running one: its log
    pump(0.3)
    win.grab().save(str(out / "fit-job.png"))
    wait(running)
    rc.select_track(car)
    rc.go_to(rc.position_of(int(win.project.conn.execute(
        "SELECT frame_id FROM detections WHERE track_id = ? ORDER BY frame_id LIMIT 1 OFFSET 12",
        (car,)).fetchone()[0])))
    win.settle()
    rc.panel.show()
    rc.panel.raise_()
    pump(0.5)
    win.grab().save(str(out / "fit-job-done.png"))
    print(f"people: {people.state} ({people.message}); vehicles: {running.state} ({running.message})")
    win.close()
    print(f"wrote {out / 'fit-job.png'} and {out / 'fit-job-done.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
