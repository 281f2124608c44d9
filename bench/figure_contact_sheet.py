"""Contact sheet of stored composites (not a benchmark): WALT3D beside WALT2D, amodal and visible masks drawn.

    .venv/bin/python bench/figure_contact_sheet.py PROJECT [--rows 2] [--out docs/screenshots/composites-contact-sheet.png]

Per camera, `--rows` rows; in each row a WALT3D composite on the left and a WALT2D one on the right (the store's
first composites of each method). Visible masks are tinted in the object's colour; amodal masks are outlined in
the same colour, so the hidden part of an object shows as an outline over whatever covers it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from walt3d_studio.mining.detection import decode_rle  # noqa: E402
from walt3d_studio.store import Project  # noqa: E402
from walt3d_studio.store.composites import list_composites  # noqa: E402


def colour(k: int) -> tuple[int, int, int]:
    hsv = np.uint8([[[(k * 47) % 180, 220, 255]]])
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw(project, comp, width: int) -> np.ndarray:
    img = cv2.cvtColor(cv2.imread(str(project.root / comp.image_path)), cv2.COLOR_BGR2RGB)
    out = img.astype(np.float32)
    for o in comp.objects:
        c = np.array(colour(o.idx), np.float32)
        vis = decode_rle(o.visible_rle)
        out[vis] = 0.55 * out[vis] + 0.45 * c
    out = out.astype(np.uint8)
    for o in comp.objects:
        amodal = decode_rle(o.amodal_rle).astype(np.uint8)
        cs, _ = cv2.findContours(amodal, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, cs, -1, colour(o.idx), 1, cv2.LINE_AA)
    scale = width / out.shape[1]
    out = cv2.resize(out, (width, int(round(out.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    occ = np.mean([o.occlusion for o in comp.objects]) if comp.objects else 0.0
    text = f"{comp.method} #{comp.id} ({comp.split}): {comp.n_objects} objects, mean occlusion {occ:.0%}"
    cv2.rectangle(out, (0, 0), (width, 20), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("--rows", type=int, default=2)
    ap.add_argument("--width", type=int, default=560)
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "composites-contact-sheet.png"))
    a = ap.parse_args()
    rows = []
    with Project.open(a.project, readonly=True) as p:
        for cam in p.cameras():
            w3 = list_composites(p, camera_id=cam.id, method="walt3d", with_objects=True)
            w2 = list_composites(p, camera_id=cam.id, method="walt2d", with_objects=True)
            for k in range(min(a.rows, max(len(w3), len(w2)))):
                tiles = []
                for lst in (w3, w2):
                    if k < len(lst):
                        tiles.append(draw(p, lst[k], a.width))
                    else:
                        tiles.append(None)
                h = max(t.shape[0] for t in tiles if t is not None)
                tiles = [t if t is not None else np.full((h, a.width, 3), 40, np.uint8) for t in tiles]
                tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
                rows.append(np.hstack([tiles[0], np.full((h, 6, 3), 255, np.uint8), tiles[1]]))
    if not rows:
        sys.exit("no composites in this project")
    sheet = np.vstack([np.pad(r, ((0, 6), (0, 0), (0, 0)), constant_values=255) for r in rows])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(a.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print("wrote", a.out, sheet.shape)


if __name__ == "__main__":
    main()
