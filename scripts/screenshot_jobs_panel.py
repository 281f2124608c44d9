"""Screenshot of the Jobs panel for docs/screenshots/jobs-panel.png: a mining child running on one camera
(locked) while the other is on screen, one job killed (its log tail shown) and one done.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_jobs_panel.py [OUT.png]
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots" / "jobs-panel.png"
    from shot_window import headless_app, main_window, pump, wait

    headless_app()
    from gui.test_process_jobs import build_two_cameras

    tmp = Path(tempfile.mkdtemp(prefix="walt3d-shot-jobs-"))
    root = build_two_cameras(tmp)
    win = main_window(tmp, (1280, 760))
    win.open_project(root)
    cams = {c.name: c.id for c in win.project.cameras()}
    rc = win.review

    wait(win.process_jobs.start(["info", str(root)], "Project info"))
    win.select_camera(cams["b"])
    killed = rc.mining.mine_detections(replace=False)
    while killed.done < 20:
        pump(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    wait(killed)
    running = rc.mining.mine_detections(replace=False)
    while running.done < 30:
        pump(0.05)
    win.select_camera(cams["a"])
    win.settle()
    rc.select_track(int(rc.panel.model.table.id[0]))
    win.jobs_panel.show()
    win.jobs_panel.raise_()
    win.jobs_panel.tree.setCurrentItem(win.jobs_panel.tree.topLevelItem(1))  # the killed one: its log
    pump(1.2)
    win.grab().save(str(out))
    running.cancel()
    wait(running)
    win.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
