"""Paste order (DESIGN "Paste order and visibility"): far to near by ground-contact depth; where two masks overlap,
the one whose fitted 3D model is nearer at the overlapping pixels goes on top -- a topological order over the
overlapping pairs, ties by ground-contact depth. The WALT2D baselines' orders live here too, for comparison.
"""
from __future__ import annotations

import heapq

import numpy as np

from .scene import SceneObject


def overlap(a: SceneObject, b: SceneObject):
    """(slice of a's mask, slice of b's mask, bool overlap) over the intersection of their boxes, or None when
    their masks do not overlap."""
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    x0, y0 = max(ax, bx), max(ay, by)
    x1, y1 = min(ax + aw, bx + bw), min(ay + ah, by + bh)
    if x1 <= x0 or y1 <= y0:
        return None
    sa = (slice(y0 - ay, y1 - ay), slice(x0 - ax, x1 - ax))
    sb = (slice(y0 - by, y1 - by), slice(x0 - bx, x1 - bx))
    both = a.mask[sa] & b.mask[sb]
    if not both.any():
        return None
    return sa, sb, both


def _depth_key(o: SceneObject) -> float:
    return o.contact_depth if o.contact_depth is not None else float("inf")


def nearer(a: SceneObject, b: SceneObject, ctx=None, ov=None) -> int:
    """+1 when a is nearer than b where their masks overlap, -1 when b is, 0 when they do not overlap.

    Decided by the fitted meshes' depths at the overlapping pixels (median of the difference where both meshes
    cover); when the meshes do not both cover any overlap pixel, by ground-contact depth."""
    ov = overlap(a, b) if ov is None else ov
    if ov is None:
        return 0
    sa, sb, both = ov
    da, db = a.depth_map(ctx), b.depth_map(ctx)
    if da is not None and db is not None:
        za, zb = da[sa][both], db[sb][both]
        ok = np.isfinite(za) & np.isfinite(zb)
        if ok.any():
            diff = float(np.median(za[ok] - zb[ok]))
            if diff != 0:
                return 1 if diff < 0 else -1
    ka, kb = _depth_key(a), _depth_key(b)
    if ka == kb:
        return 1 if a.key < b.key else -1
    return 1 if ka < kb else -1


def walt3d_order(objs: list[SceneObject], ctx=None, relation=None) -> tuple[list[int], int]:
    """Indices far to near, and how many cycles had to be broken (0 for non-intersecting convex objects).

    `relation(i, j)` may supply a cached `nearer` (the sampler's pool keeps one)."""
    n = len(objs)
    rel = relation or (lambda i, j: nearer(objs[i], objs[j], ctx))
    above: list[list[int]] = [[] for _ in range(n)]   # i -> objects that must be pasted after i
    indeg = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            r = rel(i, j)
            if r == 0:
                continue
            far, near = (j, i) if r > 0 else (i, j)
            above[far].append(near)
            indeg[near] += 1
    # Kahn's algorithm; among ready objects the farthest ground contact goes first
    heap = [(-_depth_key(objs[i]), objs[i].key, i) for i in range(n) if indeg[i] == 0]
    heapq.heapify(heap)
    out, done, broken = [], [False] * n, 0
    while len(out) < n:
        if not heap:  # a cycle: release the farthest remaining object
            i = max((k for k in range(n) if not done[k]), key=lambda k: (_depth_key(objs[k]), -objs[k].key))
            indeg[i] = 0
            broken += 1
            heap.append((-_depth_key(objs[i]), objs[i].key, i))
        _, _, i = heapq.heappop(heap)
        if done[i]:
            continue
        done[i] = True
        out.append(i)
        for j in above[i]:
            indeg[j] -= 1
            if indeg[j] == 0 and not done[j]:
                heapq.heappush(heap, (-_depth_key(objs[j]), objs[j].key, j))
    return out, broken


def walt2d_order(objs: list[SceneObject], rng: np.random.Generator) -> list[int]:
    """WALT's released compositor: a random order, overlaps simply overwritten."""
    return [int(i) for i in rng.permutation(len(objs))]


def bottom_order(objs: list[SceneObject]) -> list[int]:
    """The common 2D heuristic: a box whose bottom row is lower in the image is nearer (pasted later)."""
    return sorted(range(len(objs)), key=lambda i: (objs[i].bottom, objs[i].key))


def paste_order(method: str, objs: list[SceneObject], rng: np.random.Generator | None = None, ctx=None,
                relation=None) -> list[int]:
    if method == "walt3d":
        return walt3d_order(objs, ctx, relation)[0]
    if method == "walt2d":
        return walt2d_order(objs, rng if rng is not None else np.random.default_rng(0))
    if method == "walt2d-bottom":
        return bottom_order(objs)
    raise ValueError(f"unknown method {method!r}")
