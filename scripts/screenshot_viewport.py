"""Screenshots of the 3D dock for docs/screenshots: the orbit view with a fitted car selected and framed (F),
through the camera (each fit's silhouette edge against its mined mask, with the IoU), and the "needs review" filter
with the first such fit selected (Space).

    walt3d demo --project-only /tmp/vp
    walt3d fit vehicles /tmp/vp/demo.walt3d && walt3d fit people /tmp/vp/demo.walt3d
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_viewport.py /tmp/vp/demo.walt3d [CAMERA] [OUT_DIR]

Writes viewport-3d.png, viewport-3d-camera.png and viewport-3d-review.png (the window: frame view and 3D dock).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def main() -> int:
    project = Path(sys.argv[1])
    camera = sys.argv[2] if len(sys.argv) > 2 else "parking-lot"
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget
    from shot_window import headless_app, main_window
    from shot_window import pump as pump_events

    headless_app()
    from walt3d_studio.gui.viewport import show_viewport
    from walt3d_studio.store.detections import detection_table

    tmp = Path(tempfile.mkdtemp(prefix="walt3d-shot-3d-"))
    win = main_window(tmp, (1500, 820))
    if not win.open_project(project, readonly=True):
        return 1
    cams = {c.name: c.id for c in win.project.cameras()}
    win.select_camera(cams[camera])
    for d in win.findChildren(QDockWidget):  # the frame view and the 3D dock only
        d.hide()
    win.set_overlays_visible(False)

    def pump(seconds=0.5):
        pump_events(seconds)
        win.settle()

    rc = win.review
    rc.act_masks.setChecked(False)
    rc.act_trails.setChecked(False)
    vp = show_viewport(win)
    win.resizeDocks([vp], [int(win.width() * 0.6)], Qt.Horizontal)
    cars = sorted(t for t, s in rc.fits.summaries.items() if s["kind"] == "vehicle")
    if not cars:
        print("no vehicle fits in this project: run `walt3d fit vehicles` first", file=sys.stderr)
        return 1
    # the car seen in most frames, at the middle of its track
    car = max(cars, key=lambda t: len(detection_table(win.project, track_id=t)))
    rc.select_track(car, jump=True)
    dets = detection_table(win.project, track_id=car)
    win.timeline.set_position(rc.position_of(int(dets.frame_id[len(dets) // 2])))
    pump()
    vp.scene.reset_view()
    vp.frame_selected()
    vp.scene.zoom(0.6)  # back off a little: the framed car and its neighbours
    vp.redraw()
    pump()
    win.grab().save(str(out / "viewport-3d.png"))
    vp.btn_camera.setChecked(True)
    pump()
    win.grab().save(str(out / "viewport-3d-camera.png"))
    vp.btn_camera.setChecked(False)
    vp.needs_review.setChecked(True)
    vp.image.setFocus()
    if vp.next_needs_review() is not None:
        pump()
        vp.scene.zoom(0.7)
        vp.redraw()
    pump()
    win.grab().save(str(out / "viewport-3d-review.png"))
    for name in ("viewport-3d.png", "viewport-3d-camera.png", "viewport-3d-review.png"):
        print(out / name)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
