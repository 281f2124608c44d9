"""Contact sheet of mined detections on the road clip (issue 12): 60 drawn at random (seeded), each with its
surroundings, so a person can count how many are one whole object.

    PYTHONPATH=$PWD .venv/bin/python bench/figure_mined_road.py [--out docs/screenshots/mined-road-contact-sheet.png]
        [--n 60] [--seed 0] [--clip ../shared/data/footage/road-queues-bridge.avi]

The clip is imported into a fresh temporary project, its median background computed (one window) and mined with
the default settings of the code on PYTHONPATH. Every mined detection (effective verdict unoccluded) is a
candidate; `--n` are drawn with numpy's default_rng(seed). Each cell shows the frame around the box (the box
grown by half its size on every side, scaled to the cell), the mask's outline in green and the box in yellow, and
under it the cell number, frame index and track id. The clip stays outside the project (tests and benchmarks
only, see ../shared/data/ATTRIBUTION.md); the figure shows a few pixels of it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # the tree on PYTHONPATH wins (to draw main beside a branch)
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    from real_crop_scenes import CLIPS

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "mined-road-contact-sheet.png")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clip", type=Path, default=CLIPS["road"])
    ap.add_argument("--cell", type=int, default=120)
    ap.add_argument("--flag", help="draw detections with this flag whose only other flag is 'occluded' instead of "
                                   "mined ones (e.g. too_large: what the size prior took out)")
    ap.add_argument("--with-flag", help="draw every detection carrying this flag, whatever its other flags and its "
                                        "verdict (e.g. joined_parts), and count them by verdict")
    a = ap.parse_args()

    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.mining.detection import decode_rle
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store import Project
    from walt3d_studio.store.detections import detection_rles, detection_table

    with tempfile.TemporaryDirectory() as tmp:
        p = Project.create(Path(tmp) / "road.walt3d")
        with p:
            cam = p.add_camera("road", "UTC")
            p.add_source(a.clip, cam, start=1.7e9, fps=10.0)
            compute_backgrounds(p, cam, hours_per_window=None)
            mine(p, cam)
            t = detection_table(p, camera_id=cam)
            idx = np.flatnonzero(t.mined)
            if a.flag or a.with_flag:
                from collections import Counter

                from walt3d_studio.store.detections import verdict_reasons

                rs = verdict_reasons(p, [int(v) for v in t.id])
                flag = a.flag or a.with_flag
                idx = np.array([i for i in range(len(t)) if flag in rs.get(int(t.id[i]), {}).get("flags", [])
                                and (a.with_flag or set(rs[int(t.id[i])]["flags"]) <= {flag, "occluded"})], int)
                if a.with_flag:
                    print(f"{len(idx)} of {len(t)} detections flagged {flag} ({int(t.mined.sum())} mined in all), by "
                          "verdict:", dict(Counter(t.verdict[idx])))
            pick = np.sort(np.random.default_rng(a.seed).choice(idx, size=min(a.n, len(idx)), replace=False))
            rles = detection_rles(p, [int(t.id[i]) for i in pick])
            reader = p.frame_reader(cam)
            pos = {int(f): k for k, f in enumerate(p.frame_table(cam).ids)}
            cells = []
            for i in pick:
                frame = reader.frame(pos[int(t.frame_id[i])])
                H, W = frame.shape[:2]
                x, y, w, h = t.box[i]
                m = decode_rle(rles[int(t.id[i])]).astype(np.uint8)
                g = 0.5 * max(w, h)
                x0, y0 = int(max(0, x - g)), int(max(0, y - g))
                x1, y1 = int(min(W, x + w + g)), int(min(H, y + h + g))
                s = a.cell / max(x1 - x0, y1 - y0)
                view = cv2.resize(frame[y0:y1, x0:x1], None, fx=s, fy=s, interpolation=cv2.INTER_NEAREST)
                mm = cv2.resize(m[y0:y1, x0:x1], (view.shape[1], view.shape[0]), interpolation=cv2.INTER_NEAREST)
                cs, _ = cv2.findContours(mm, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(view, cs, -1, (0, 255, 0), 1)
                cv2.rectangle(view, (int((x - x0) * s), int((y - y0) * s)),
                              (int((x + w - x0) * s) - 1, int((y + h - y0) * s) - 1), (255, 255, 0), 1)
                cell = np.full((a.cell + 16, a.cell, 3), 40, np.uint8)
                cell[:view.shape[0], :view.shape[1]] = view
                verdict = f" {t.verdict[i][:3]}" if a.with_flag else ""
                cells.append((cell, f"{len(cells) + 1} f{pos[int(t.frame_id[i])]} t{int(t.track_id[i])}{verdict}"))
            reader.close()
            n_mined, n_det = len(idx), len(t)
    cols = 10
    rows = (len(cells) + cols - 1) // cols
    sheet = np.full((rows * (a.cell + 18) + 24, cols * (a.cell + 2), 3), 20, np.uint8)
    what = a.flag or a.with_flag or "mined"
    cv2.putText(sheet, f"road clip: {len(cells)} of {n_mined} {what} detections ({n_det} detections), seed {a.seed}",
                (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    for k, (cell, text) in enumerate(cells):
        y0, x0 = 24 + (k // cols) * (a.cell + 18), (k % cols) * (a.cell + 2)
        sheet[y0:y0 + cell.shape[0], x0:x0 + cell.shape[1]] = cell
        cv2.putText(sheet, text, (x0 + 2, y0 + a.cell + 12), cv2.FONT_HERSHEY_PLAIN, 0.9, (255, 255, 255), 1)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"{a.out}: {len(cells)} of {n_mined} mined detections ({n_det} detections)")


if __name__ == "__main__":
    main()
