"""Colours and marks shared by the canvas, the car diagram and the keypoint list.

Each keypoint has its own colour. The car's right side is drawn in warm hues (red to yellow) and its left side
in cool hues (cyan to blue), so a vehicle labelled the wrong way round shows up as warm points on its left.
"""
from __future__ import annotations

import colorsys

VISIBLE, OCCLUDED, ABSENT = 2, 1, 0
STATE_NAMES = {VISIBLE: "visible", OCCLUDED: "occluded", ABSENT: "absent"}
CURSOR = (255, 214, 0)        # ring of the selected point, the current point in the diagram
BOX = (255, 255, 255, 110)    # the detection's box on the canvas
SKELETON = (235, 235, 235, 220)
PROPOSAL_SKELETON = (255, 255, 255, 150)


def side_of(name: str) -> str | None:
    """'right' / 'left' / None from a keypoint name (Right_Front_wheel, left_eye, ...)."""
    low = name.lower()
    for side in ("right", "left"):
        if low.startswith(side) or f"_{side}" in low or f"{side}_" in low:
            return side
    return None


def keypoint_colours(names) -> list[tuple[int, int, int]]:
    """One RGB colour per keypoint: right side warm, left side cool, the rest green to purple."""
    names = list(names)
    groups = {"right": [], "left": [], None: []}
    for i, n in enumerate(names):
        groups[side_of(n)].append(i)
    hue_ranges = {"right": (-0.04, 0.16), "left": (0.47, 0.68), None: (0.25, 0.85)}
    out: list[tuple[int, int, int]] = [(255, 255, 255)] * len(names)
    for side, idx in groups.items():
        lo, hi = hue_ranges[side]
        for k, i in enumerate(idx):
            h = lo + (hi - lo) * (k / max(len(idx) - 1, 1))
            # alternate lightness so neighbours in hue stay apart
            s, v = (1.0, 1.0) if k % 2 == 0 else (0.55, 1.0)
            r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
            out[i] = (int(round(255 * r)), int(round(255 * g)), int(round(255 * b)))
    return out
