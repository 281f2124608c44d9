"""Screenshot of the fits overlay for docs/screenshots/fits-overlay.png: the demo project after `fit vehicles`
and `fit people`, a fitted car selected (its wireframe and 3D box over it), the fit columns in the table.

    walt3d demo --project-only /tmp/vp && walt3d fit vehicles /tmp/vp/demo.walt3d && walt3d fit people …
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_fits_overlay.py /tmp/vp/demo.walt3d [CAMERA] [OUT.png]
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
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "docs" / "screenshots" / "fits-overlay.png"
    from PySide6.QtWidgets import QDockWidget
    from shot_window import headless_app, main_window, pump

    app = headless_app()
    from walt3d_studio.store.detections import detection_table

    tmp = Path(tempfile.mkdtemp(prefix="walt3d-shot-fits-"))
    win = main_window(tmp, (1400, 760))
    win.open_project(project, readonly=True)
    cams = {c.name: c.id for c in win.project.cameras()}
    win.select_camera(cams[camera])
    for d in win.findChildren(QDockWidget):  # only the review panel beside the frame
        if d is not win.review.panel:
            d.hide()
    win.set_overlays_visible(False)
    rc = win.review
    rc.act_masks.setChecked(False)
    rc.act_trails.setChecked(False)
    car = next(t for t, s in rc.fits.summaries.items() if s["kind"] == "vehicle")
    rc.select_track(car, jump=True)
    dets = detection_table(win.project, track_id=car)
    win.timeline.set_position(rc.position_of(int(dets.frame_id[len(dets) // 2])))
    pump(1.0)
    win.settle()
    win.frame_view.fit()
    app.processEvents()
    win.grab().save(str(out))
    print(out)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
