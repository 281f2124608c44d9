"""Draw the people fits of a project's camera on a few of its frames (headless, OpenCV), side by side:
the mined mask (orange tint), the fitted body's outline (green) and its COCO-17 keypoints (blue), the track's height.

    python scripts/people_fit_figure.py PROJECT OUT.png [--camera NAME] [--frames 4] [--zoom 3]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np


def main(argv=None) -> int:
    from walt3d_studio.reconstruct import bodies
    from walt3d_studio.reconstruct.people_fit import _decode
    from walt3d_studio.reconstruct.silhouette import silhouette_mask
    from walt3d_studio.store import Project
    from walt3d_studio.store.detections import detection_rles, detection_table
    from walt3d_studio.store.fits import track_fits

    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("out")
    ap.add_argument("--camera")
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--zoom", type=int, default=3)
    a = ap.parse_args(argv)
    with Project.open(a.project, readonly=True) as p:
        cam_row = p.camera(a.camera) if a.camera else p.default_camera()
        cam = p.calibration(cam_row.id)
        fits = track_fits(p, camera_id=cam_row.id, kind="person", with_detections=True)
        if not fits:
            raise SystemExit("no people fits in this camera: run walt3d fit people first")
        f = max(fits, key=lambda t: len(t.detections))
        t = detection_table(p, camera_id=cam_row.id)
        pick = np.linspace(0, len(f.detections) - 1, min(a.frames, len(f.detections))).round().astype(int)
        reader = p.frame_reader(cam_row.id)
        frames = p.frame_table(cam_row.id)
        rles = detection_rles(p, [f.detections[i].detection_id for i in pick])
        tiles = []
        for i in pick:
            d = f.detections[i]
            row = int(np.flatnonzero(t.id == d.detection_id)[0])
            pos = int(np.flatnonzero(frames.ids == t.frame_id[row])[0])
            img = np.ascontiguousarray(reader.frame(pos)[..., :3]).copy()
            h, w = img.shape[:2]
            m = _decode(rles.get(d.detection_id), (h, w))
            if m is not None:
                img[m] = (0.6 * img[m] + 0.4 * np.array([255, 80, 0])).astype(np.uint8)
            v, faces = bodies.posed_mesh(d.params, f.shape)
            sil = silhouette_mask(cam, v, faces).astype(np.uint8)
            x, y, bw, bh = t.box[row]
            pad = int(1.2 * bh)
            x0, y0 = int(max(0, x - pad)), int(max(0, y - pad // 2))
            x1, y1 = int(min(w, x + bw + pad)), int(min(h, y + bh + pad // 2))
            z = a.zoom
            tile = cv2.resize(img[y0:y1, x0:x1], None, fx=z, fy=z, interpolation=cv2.INTER_NEAREST)
            big = cv2.resize(sil[y0:y1, x0:x1], None, fx=z, fy=z, interpolation=cv2.INTER_NEAREST)
            cs, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(tile, cs, -1, (0, 220, 0), 1)
            kp = cam.project(bodies.coco17_keypoints(d.params, f.shape))
            for q in kp:
                cv2.circle(tile, (int(round((q[0] - x0) * z)), int(round((q[1] - y0) * z))), 2, (0, 0, 255), -1)
            iou = d.quality.get("silhouette_iou")
            cv2.putText(tile, f"det {d.detection_id} IoU {iou:.2f}" if iou is not None else f"det {d.detection_id}",
                        (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
        H = max(tl.shape[0] for tl in tiles)
        tiles = [cv2.copyMakeBorder(tl, 0, H - tl.shape[0], 0, 4, cv2.BORDER_CONSTANT, value=(40, 40, 40))
                 for tl in tiles]
        sheet = np.hstack(tiles)
        cv2.putText(sheet, f"track {f.track_id}: one height {f.shape['height_m']:.2f} m ({f.method}, "
                    f"{f.shape['body_model'].split(':')[0]})", (3, H - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imwrite(a.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
