"""Pictures of the vehicle fits of a project: the fitted wireframe (green) and 3D box (yellow) over the frame,
the mined mask's outline (red). Writes docs/screenshots/vehicle-fit-<camera>-<track>.png.

    python scripts/vehicle_fit_screenshots.py PROJECT [--out docs/screenshots] [--max 4]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def main() -> None:
    from walt3d_studio.reconstruct.overlay import box_segments, wireframe_segments
    from walt3d_studio.reconstruct.vehicle_fit import _decode
    from walt3d_studio.reconstruct.vehicle_shape import mesh_for_alpha
    from walt3d_studio.store import Project
    from walt3d_studio.store.detections import detection_rles
    from walt3d_studio.store.fits import track_fits

    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--max", type=int, default=4)
    args = ap.parse_args()
    with Project.open(args.project, readonly=True) as p:
        written = 0
        for cam_row in p.cameras():
            cam = p.calibration(cam_row.id)
            if cam is None:
                continue
            reader = p.frame_reader(cam_row.id)
            pos_of = {int(f): i for i, f in enumerate(reader.table.ids)}
            for fit in track_fits(p, camera_id=cam_row.id, kind="vehicle", with_detections=True):
                if fit.status == "skipped" or not fit.detections or written >= args.max:
                    continue
                with_iou = [d for d in fit.detections if "silhouette_iou" in d.quality]
                d = max(with_iou, key=lambda d: d.quality["silhouette_iou"]) if with_iou else fit.detections[len(fit.detections) // 2]
                frame_id = p.conn.execute("SELECT frame_id FROM detections WHERE id = ?", (d.detection_id,)).fetchone()[0]
                img = cv2.cvtColor(reader.frame(pos_of[frame_id]), cv2.COLOR_RGB2BGR)
                v, f = mesh_for_alpha(fit.shape.get("alpha", []), fit.shape.get("class", "car"))
                for (a, b) in wireframe_segments(cam, v @ d.R.T + d.t, f):
                    cv2.line(img, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), (60, 220, 60), 1,
                             cv2.LINE_AA)
                for (a, b) in box_segments(cam, v, d.R, d.t):
                    cv2.line(img, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), (0, 220, 255), 1,
                             cv2.LINE_AA)
                m = _decode(detection_rles(p, [d.detection_id]).get(d.detection_id), img.shape[:2])
                if m is not None:
                    cs, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                    cv2.drawContours(img, cs, -1, (40, 40, 230), 1)
                label = f"track {fit.track_id}: {fit.method}, {fit.status}, IoU {fit.quality.get('silhouette_iou', float('nan')):.2f}"
                cv2.putText(img, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
                out = os.path.join(args.out, f"vehicle-fit-{cam_row.name}-{fit.track_id}.png")
                cv2.imwrite(out, img)
                print(out)
                written += 1
            reader.close()


if __name__ == "__main__":
    main()
