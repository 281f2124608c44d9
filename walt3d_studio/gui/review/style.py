"""Colours of the occlusion review: one per verdict, shared by the overlays, the filmstrip and the legend."""
from __future__ import annotations

# effective verdict (human label > classifier > rule) -> RGB
VERDICT_COLOURS = {
    "unoccluded": (40, 220, 70),     # green: mined
    "occluded": (255, 140, 0),       # orange
    "truncated": (255, 230, 0),      # yellow: touches the image border
    "not_object": (150, 150, 150),   # grey: X, not an object / wrong class
    "rejected": (90, 160, 255),      # blue: the rule rejected it (low score, area jump)
}
OTHER_COLOUR = (220, 220, 220)
VERDICT_NAMES = {"unoccluded": "Unoccluded", "occluded": "Occluded", "truncated": "Truncated",
                 "not_object": "Not an object", "rejected": "Rejected"}  # why: the flags and words beside it
LABEL_VERDICT = {"U": "unoccluded", "O": "occluded", "X": "not_object"}
LABEL_COLOURS = {k: VERDICT_COLOURS[v] for k, v in LABEL_VERDICT.items()}
MASK_ALPHA = 110  # of 255


def verdict_colour(verdict: str | None) -> tuple[int, int, int]:
    return VERDICT_COLOURS.get(verdict or "", OTHER_COLOUR)
