"""Train/val/test splits of the usable tracks, assigned before anything is composited (DESIGN "Splits before
compositing"): a composite draws its objects and background from one split only, and no track and no source frame
may appear in two splits.

Tracks that share a source frame (mined objects seen together) are bound into one unit first, so a frame can
never end up in two splits; units are then grouped by the chosen key -- the unit itself (`track`), the local
day of its first frame (`day`: whole days in one split), or its camera (`camera`) -- and whole groups are dealt to
test, then val, then train in a seeded random order until each split holds its fraction of the tracks. Groups
holding a 3D-fitted track and groups without are dealt separately, so that each split gets its share of what
composites can use.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from ..errors import BadInputError
from ..store.composites import list_composites, set_splits, splits
from ..store.detections import mined_objects, track_table

BY = ("track", "day", "camera")


@dataclass
class SplitSettings:
    by: str = "track"
    val: float = 0.1
    test: float = 0.1
    seed: int = 0
    camera_id: int | None = None      # None: every camera
    min_mined_frames: int = 3

    def check(self) -> None:
        if self.by not in BY:
            raise BadInputError(f"Unknown split key {self.by!r}.", f"Use one of {', '.join(BY)}.")
        if not (0 <= self.val < 1 and 0 <= self.test < 1 and self.val + self.test < 1):
            raise BadInputError(f"Split fractions val={self.val}, test={self.test} are not possible.",
                                "Give fractions in [0, 1) whose sum is below 1 (train gets the rest).")


def _units(det_tracks: np.ndarray, det_frames: np.ndarray, tracks: list[int]) -> dict[int, int]:
    """Union-find: {track: representative track} binding tracks whose mined objects share a frame."""
    parent = {t: t for t in tracks}

    def find(t):
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    first_in_frame: dict[int, int] = {}
    for t, f in zip(det_tracks.tolist(), det_frames.tolist()):
        if t not in parent:
            continue
        if f in first_in_frame:
            a, b = find(first_in_frame[f]), find(t)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_in_frame[f] = t
    return {t: find(t) for t in tracks}


def assign(groups: dict, sizes: dict, val: float, test: float, seed: int) -> dict:
    """{group key: split}: groups in a seeded random order fill test, then val, then train, each up to its
    fraction of the total size (a non-zero fraction gets at least one group when there are three or more; train
    keeps at least one)."""
    keys = sorted(groups, key=str)
    rng = np.random.default_rng(seed)
    order = [keys[i] for i in rng.permutation(len(keys))]
    total = sum(sizes[k] for k in keys)
    out, pos = {}, 0
    for name, frac in (("test", test), ("val", val)):
        target = frac * total
        got = 0
        while pos < len(order) - 1 and frac > 0 and (got < target - 1e-9 or (got == 0 and len(keys) >= 3)):
            if got and got + sizes[order[pos]] > target * 1.5:
                break
            out[order[pos]] = name
            got += sizes[order[pos]]
            pos += 1
    for k in order[pos:]:
        out[k] = "train"
    return out


def split_tracks(project, by: str = "track", val: float = 0.1, test: float = 0.1, seed: int = 0,
                 camera_id: int | None = None, min_mined_frames: int = 3) -> dict:
    """Assign every usable track to train/val/test and store it (one transaction). Returns counts per split and
    the settings. Refused while composites use a track whose split would change (store rule)."""
    from ..store.runs import recorded_run as recorded

    s = SplitSettings(by, val, test, seed, camera_id, min_mined_frames)
    s.check()
    tt = track_table(project, camera_id, min_mined_frames)
    usable = [int(t) for t in tt.id[tt.usable]]
    if not usable:
        raise BadInputError("No usable tracks to split.",
                            "Mine the footage first (walt3d mine PROJECT); a track needs at least "
                            f"{min_mined_frames} unoccluded detections.")
    cam_of = {int(t): int(c) for t, c in zip(tt.id, tt.camera_id)}
    dets = mined_objects(project, camera_id, usable_only=True, min_mined_frames=min_mined_frames)
    unit = _units(dets.track_id, dets.frame_id, usable)
    first_time: dict[int, float] = {}
    for t, ct in zip(dets.track_id.tolist(), dets.capture_time.tolist()):
        first_time[t] = min(first_time.get(t, ct), ct)
    tz = {c.id: c.tz for c in project.cameras()}

    def key(t: int):
        rep = unit[t]
        if by == "track":
            return rep
        if by == "camera":
            return cam_of[rep]
        members = [m for m in usable if unit[m] == rep]   # day of the unit's earliest mined frame
        t0 = min(first_time.get(m, np.inf) for m in members)
        if not np.isfinite(t0):
            return "unknown"
        return datetime.fromtimestamp(t0, ZoneInfo(tz[cam_of[rep]])).date().isoformat()

    unit_key = {rep: key(rep) for rep in set(unit.values())}
    groups: dict = {}
    for t in usable:
        groups.setdefault(unit_key[unit[t]], []).append(t)
    sizes = {k: len(v) for k, v in groups.items()}
    # Composites draw only on fitted tracks: groups with a fit and groups without are dealt apart, so each split
    # gets its share of what can be composited (the demo's test split once drew its two unfitted "other" tracks
    # and had no composites at all). Without fits, one stratum: the deal is as before.
    fitted = _fitted_tracks(project)
    strata = [{k: v for k, v in groups.items() if any(t in fitted for t in v) == has} for has in (True, False)]
    dealt = {}
    for stratum in strata:
        if stratum:
            dealt.update(assign(stratum, {k: sizes[k] for k in stratum}, val, test, seed))
    assignment = {t: dealt[k] for k, ts in groups.items() for t in ts}
    with recorded(project, "splits", asdict(s), {"camera": camera_id} if camera_id else {}) as rec:
        set_splits(project, assignment, run_id=rec.id)
        counts = {name: sum(1 for v in assignment.values() if v == name) for name in ("train", "val", "test")}
        rec.counts.update(counts, groups=len(groups))
    return SplitSummary(counts=counts, groups=len(groups), settings=asdict(s))


def _fitted_tracks(project) -> set[int]:
    """Tracks with a 3D fit that composites may use (ok, or flagged for review)."""
    from ..store.fits import track_fits

    return {f.track_id for f in track_fits(project) if f.status in ("ok", "needs_review")}


class SplitSummary(dict):
    def summary(self) -> str:
        c = self["counts"]
        return (f"{sum(c.values())} usable tracks by {self['settings']['by']} in {self['groups']} groups: train "
                f"{c['train']}, val {c['val']}, test {c['test']}")


def check_splits(project, camera_id: int | None = None) -> list[str]:
    """Problems with the stored splits (empty when fine): a source frame whose mined objects sit in two splits, a
    composite drawing on a track of another split or on a track without a split."""
    sp = splits(project, camera_id)
    dets = mined_objects(project, camera_id, usable_only=False)
    problems = []
    seen: dict[int, str] = {}
    for t, f in zip(dets.track_id.tolist(), dets.frame_id.tolist()):
        s = sp.get(t)
        if s is None:
            continue
        if seen.setdefault(f, s) != s:
            problems.append(f"frame {f} has objects in {seen[f]} and {s}")
    for comp in list_composites(project, camera_id=camera_id, with_objects=True):
        for o in comp.objects:
            if o.track_id is not None and sp.get(o.track_id) != comp.split:
                problems.append(f"composite {comp.id} ({comp.split}) uses track {o.track_id} "
                                f"({sp.get(o.track_id, 'no split')})")
    return problems
