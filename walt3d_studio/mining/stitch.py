"""Track stitching: join a track that ends to one that starts shortly after, where the first one was heading.

SORT drops a track after `max_age` (2) frames without a detection, so an object missed for a few frames (a
passing occluder, a frame where it matched the background) comes back as a new track, and tracks get too short
to fit in 3D. After a run, for every track that ends and every track that starts 1..`max_gap` frames later in
the same source (and within the tracker's `max_gap_s` in capture time), the first track's last box centre is
carried forward on its velocity (over its last `velocity_frames` detections) to the second one's first frame;
the pair is a candidate when that prediction lands within `max_dist` box sizes (sqrt of the box area) of the
second track's first centre and the box areas are within a factor `max_size_ratio`.

Appearance: when the records carry a colour descriptor ("colour", mean Lab of the mask, `appearance.py`), the
first track's last `colour_frames` detections and the second's first ones are compared (per-channel medians);
a pair further apart than `max_colour` is refused (a blue car that appears where a red one was going is not the
red one), and the colour distance, in units of `max_colour`, is added to the motion distance times
`colour_weight` to rank the candidates, so of two that move alike the one that looks alike wins. A pair where
either side has no descriptor (a detector without pixels) is judged on motion alone.

Candidates are joined greedily by that cost, each end and each start once, so chains (a -> b -> c) form. Merges
need no stitching: the tracker keeps identities through them (tracker.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .appearance import colour_distance, track_colour


@dataclass
class StitchSettings:
    max_gap: int = 8               # missing frames between the end of one track and the start of the next
    max_dist: float = 1.0          # predicted-to-observed centre distance, in box sizes
    max_size_ratio: float = 1.6    # box areas
    velocity_frames: int = 5
    appearance: bool = True        # use the records' colour descriptors (when they have them)
    max_colour: float = 15.0       # refuse joins whose colours differ more (colour_distance, Lab units)
    colour_weight: float = 0.5     # cost = motion distance + colour_weight * colour distance / max_colour
    colour_frames: int = 3         # detections at each fragment's end / start whose colours are compared

    def to_dict(self) -> dict:
        return asdict(self)


def _centre(box) -> np.ndarray:
    x, y, w, h = box
    return np.array([x + w / 2, y + h / 2], float)


def stitch_tracks(records: list[dict], settings: StitchSettings | None = None,
                  max_gap_s: float = float("inf")) -> list[tuple[str, str]]:
    """Rewrite records' "track" keys so stitched fragments share the first fragment's key (each record needs
    "track", "n" (frame number in the run), "source_id", "box" and "_time" (capture time)). The reason
    "stitched_from" names the fragment a record came from. Returns the (kept key, joined key) pairs."""
    st = settings or StitchSettings()
    tracks: dict[str, list[dict]] = {}
    for r in records:
        tracks.setdefault(r["track"], []).append(r)
    ends, starts = [], []
    for key, recs in tracks.items():
        recs.sort(key=lambda r: r["n"])
        last = recs[-st.velocity_frames:]
        dn = last[-1]["n"] - last[0]["n"]
        v = (_centre(last[-1]["box"]) - _centre(last[0]["box"])) / dn if dn > 0 else np.zeros(2)
        ends.append((key, recs[-1], v))
        starts.append((key, recs[0]))
    colour_end, colour_start = {}, {}
    if st.appearance:
        for key, recs in tracks.items():
            colour_end[key] = track_colour(recs[-st.colour_frames:])
            colour_start[key] = track_colour(recs[:st.colour_frames])
    by_start: dict[int, list] = {}
    for kb, rb in starts:
        by_start.setdefault(rb["n"], []).append((kb, rb))
    cands = []
    for ka, ra, v in ends:  # only the starts within the gap: linear in the number of tracks
        size_a = float(np.sqrt(max(ra["box"][2] * ra["box"][3], 1.0)))
        near = [s for n in range(ra["n"] + 1, ra["n"] + st.max_gap + 2) for s in by_start.get(n, ())]
        for kb, rb in near:
            gap = rb["n"] - ra["n"] - 1
            if kb == ka or rb["source_id"] != ra["source_id"] or not 0 <= gap <= st.max_gap \
                    or rb.get("_time", 0.0) - ra.get("_time", 0.0) > max_gap_s:
                continue
            if gap == 0 and any(r["n"] == ra["n"] for r in tracks[kb]):
                continue
            area_a, area_b = ra["box"][2] * ra["box"][3], rb["box"][2] * rb["box"][3]
            if max(area_a, area_b) > st.max_size_ratio * max(min(area_a, area_b), 1e-9):
                continue
            pred = _centre(ra["box"]) + v * (rb["n"] - ra["n"])
            dist = float(np.linalg.norm(pred - _centre(rb["box"]))) / size_a
            if dist > st.max_dist:
                continue
            dc = colour_distance(colour_end.get(ka), colour_start.get(kb))
            if dc > st.max_colour:  # nan (no descriptor) compares False: motion alone
                continue
            cost = dist + (st.colour_weight * dc / st.max_colour if dc == dc else 0.0)
            cands.append((cost, ka, kb))
    cands.sort()
    used_end, used_start, joined = set(), set(), []
    root = {}
    for _, ka, kb in cands:
        if ka in used_end or kb in used_start:
            continue
        ra = root.get(ka, ka)
        if ra == kb:  # no loops
            continue
        used_end.add(ka)
        used_start.add(kb)
        joined.append((ka, kb))
        root[kb] = ra
        for k, v in list(root.items()):  # anything already joined to kb now hangs off ra
            if v == kb:
                root[k] = ra
    for r in records:
        k = root.get(r["track"])
        if k is not None:
            r["reasons"]["stitched_from"] = r["track"].split(":")[-1]
            r["track"] = k
    return joined
