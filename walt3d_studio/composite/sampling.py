"""Choosing which objects go into one composite.

WALT3D: usable fitted objects of one camera, split and background window; a track at most `per_track` times (at
different places: its objects are the same vehicle seen at other times, so a repeat looks like a twin); a set is
accepted only if no two ground footprints come within `margin_m` of each other (shapely; people as their body's
footprint). Objects are added one at a time: of a few random candidates that fit, the one that moves the
occlusion histogram of everything composited so far closest to the target distribution (default even over
0-20-40-60-80-100 %) is kept, so the data covers heavy occlusion as well as light.

WALT2D (WALT's released code): a plain random sample of the unoccluded objects, no checks at all.

A `Pool` caches what pairs of objects share across many composites: footprint distance, mask overlap area and
which is nearer where they overlap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .order import nearer, overlap
from .scene import SceneObject

BUCKETS = np.array([0.0, 0.2, 0.4, 0.6, 0.8])


def bucket(occ: float) -> int:
    return int(np.clip(np.searchsorted(BUCKETS, occ, side="right") - 1, 0, len(BUCKETS) - 1))


class Pool:
    """Objects one composite may draw from, with per-pair caches (keys are indices into `objs`)."""

    def __init__(self, objs: list[SceneObject], ctx=None):
        self.objs = objs
        self.ctx = ctx
        self._dist: dict = {}
        self._ov: dict = {}
        self._near: dict = {}
        self._boxes = np.array([o.box for o in objs], float).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self.objs)

    def distance(self, i: int, j: int) -> float:
        """Ground distance (m) between the footprints; -1 when either has none (cannot be checked)."""
        k = (min(i, j), max(i, j))
        if k not in self._dist:
            a, b = self.objs[i].footprint, self.objs[j].footprint
            self._dist[k] = -1.0 if a is None or b is None else float(a.distance(b))
        return self._dist[k]

    def overlap_area(self, i: int, j: int) -> int:
        k = (min(i, j), max(i, j))
        if k not in self._ov:
            ov = overlap(self.objs[k[0]], self.objs[k[1]])
            self._ov[k] = 0 if ov is None else int(np.count_nonzero(ov[2]))
        return self._ov[k]

    def nearer(self, i: int, j: int) -> int:
        """+1 when object i is nearer than j where they overlap (see order.nearer), cached."""
        if i > j:
            return -self.nearer(j, i)
        k = (i, j)
        if k not in self._near:
            self._near[k] = 0 if self.overlap_area(i, j) == 0 else nearer(self.objs[i], self.objs[j], self.ctx)
        return self._near[k]


@dataclass
class SampleSettings:
    objects_per_image: tuple[int, int] = (4, 12)
    margin_m: float = 0.2
    target: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2)
    candidates: int = 10         # random candidates weighed per added object
    per_track: int = 3           # the same vehicle (track) at most this many times, at different places


def estimate_occlusions(pool: Pool, members: list[int]) -> np.ndarray:
    """Each member's occlusion if pasted with the others (pairwise overlaps with nearer ones, capped at 1)."""
    out = np.zeros(len(members))
    for a, i in enumerate(members):
        area = pool.objs[i].area or 1
        hidden = sum(pool.overlap_area(i, j) for j in members if j != i and pool.nearer(j, i) > 0)
        out[a] = min(1.0, hidden / area)
    return out


def sample_walt3d(pool: Pool, rng: np.random.Generator, s: SampleSettings, running: np.ndarray) -> list[int]:
    """Indices into the pool: a non-intersecting set steered towards the target occlusion distribution.
    `running` holds the bucket counts of the composites made so far (updated by the caller)."""
    lo, hi = s.objects_per_image
    want = min(int(rng.integers(lo, hi + 1)), len(pool))
    target = np.asarray(s.target, float) / np.sum(s.target)
    perm = [int(i) for i in rng.permutation(len(pool))]
    chosen: list[int] = []
    tracks: dict = {}
    pos = 0
    while len(chosen) < want and pos < len(perm):
        cands = []
        while len(cands) < s.candidates and pos < len(perm):
            c = perm[pos]
            pos += 1
            o = pool.objs[c]
            if o.footprint is None or (o.track_id is not None and tracks.get(o.track_id, 0) >= s.per_track):
                continue
            if any(pool.distance(c, j) < s.margin_m for j in chosen):
                continue
            cands.append(c)
        if not cands:
            break
        best, best_score = cands[0], np.inf
        for c in cands:
            occ = estimate_occlusions(pool, chosen + [c])
            hist = running.astype(float).copy()
            for v in occ:
                hist[bucket(v)] += 1
            score = float(np.abs(hist / hist.sum() - target).sum())
            if score < best_score - 1e-12:
                best, best_score = c, score
        chosen.append(best)
        tid = pool.objs[best].track_id
        tracks[tid] = tracks.get(tid, 0) + 1
        # the candidates not kept go back in the queue for later picks
        rest = [c for c in cands if c != best]
        perm[pos:pos] = rest
    return chosen


def sample_walt2d(pool: Pool, rng: np.random.Generator, n: int = 30) -> list[int]:
    """WALT's released sampler: n random objects (without replacement), nothing checked."""
    k = min(n, len(pool))
    return [int(i) for i in rng.choice(len(pool), size=k, replace=False)]


def intersecting_pairs(pool_or_objs, members: list[int] | None = None) -> int:
    """Pairs whose ground footprints intersect (touch or overlap), among pairs that have footprints."""
    objs = pool_or_objs.objs if isinstance(pool_or_objs, Pool) else pool_or_objs
    idx = members if members is not None else list(range(len(objs)))
    n = 0
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            fa, fb = objs[idx[a]].footprint, objs[idx[b]].footprint
            if fa is not None and fb is not None and fa.intersects(fb):
                n += 1
    return n
