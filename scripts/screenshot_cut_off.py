"""docs/screenshots/review-cut-off.png: the review panel on the road clip with a detection the learned size prior
rejected as cut off (a car whose roof matched the road) selected, its reason shown beside its verdict.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python scripts/screenshot_cut_off.py [OUT]

Needs ../shared/data/footage/road-queues-bridge.avi (not shipped); mines it in a temporary project first (~15 s).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "scripts"))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots" / "review-cut-off.png"
    from real_crop_scenes import CLIPS
    from shot_window import headless_app, main_window, pump

    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store import Project
    from walt3d_studio.store.detections import detection_table, verdict_reasons

    app = headless_app()  # noqa: F841 (kept alive for the window)
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "road.walt3d"
        p = Project.create(proj)
        with p:
            cam = p.add_camera("road", "UTC")
            p.add_source(CLIPS["road"], cam, start=1.7e9, fps=10.0)
            compute_backgrounds(p, cam, hours_per_window=None)
            mine(p, cam)
            t = detection_table(p, camera_id=cam)
            rs = verdict_reasons(p, [int(i) for i in t.id])
            cut = [i for i in range(len(t)) if "cut_off" in rs[int(t.id[i])].get("flags", [])]
            if not cut:
                print("error: no detection on the road clip is flagged cut_off", file=sys.stderr)
                return 1
            pick = max(cut, key=lambda i: t.box[i, 3])  # the largest: easiest to see
            det, fid, tid = int(t.id[pick]), int(t.frame_id[pick]), int(t.track_id[pick])
        w = main_window(Path(tmp), (1500, 900))
        if not w.open_project(proj):
            print(f"error: could not open {proj}", file=sys.stderr)
            return 1
        w.settle()
        rc = w.review
        rc.select_track(tid)
        rc.go_to(rc.position_of(fid))
        w.settle()
        rc.select_detection(det)
        w.settle()
        pump(0.5)
        text = rc.panel.selection_label.text()
        if "top or bottom is missing" not in text:
            print(f"error: the panel does not show the cut-off reason: {text}", file=sys.stderr)
            return 1
        if not w.grab().save(str(out)):
            print(f"error: could not write {out}", file=sys.stderr)
            return 1
        w.close()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
