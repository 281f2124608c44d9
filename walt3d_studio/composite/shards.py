"""Compositing on composite-index shards (`walt3d run composite PROJECT ...`, scaleout.py).

A shard is a range [first, stop) of one camera's composite indices. Composite k draws from
`default_rng([seed, camera, k])` and from the camera's running occlusion histogram (make.py), which the composites
before k filled. So a shard first replays composites 0 .. first-1 without writing anything and without their
depth/normal maps (the histogram is all it keeps of them), then makes its own exactly as `make_composites` does:
same samples, same images, same arrays, byte for byte. It writes `k.png` / `k.npz` and `composites.json` (the
records) to its own folder; the merge places the files under their final ids and stores every camera's composites
with one run row in one transaction (store/shard_merge.py), as one `make_composites` call would.

Replaying costs sampling and pasting, not rendering or encoding; it grows with `first`, so many small shards of
one camera pay for it (docs/scale-out.md has the measured cost).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..atomic import write_text

RECORDS = "composites.json"


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def composite_shard_work(project, shard, s, out_dir: Path) -> dict:
    """Make composites first..stop-1 of one camera into `out_dir` (read-only project)."""
    from ..background import to_display
    from .impossible import Impossible
    from .make import _object, compose, load_pools, write_npz, write_png
    from .render import RenderContext
    from .sampling import Pool

    out_dir = Path(out_dir)
    cid = shard.camera_id
    camera = project.calibration(cid)
    rctx = RenderContext(camera) if camera is not None else None
    pools = load_pools(project, cid, s, None, rctx, None)
    keys = sorted(k for k, v in pools.items() if v)
    doc = {"camera_id": cid, "first": shard.first, "stop": shard.stop, "composites": [], "impossible": {},
           "histogram": [0] * 5, "why": None}
    if not keys:
        doc["why"] = ("no usable fitted objects: fit them first (walt3d fit vehicles / fit people)"
                      if s.method == "walt3d" else "no usable mined objects with a split")
        write_text(out_dir / RECORDS, json.dumps(doc))
        return {"composites": 0}
    pool_of = {k: Pool(pools[k], rctx) for k in keys}
    running = np.zeros(5)
    weights = np.array([len(pools[k]) for k in keys], float)
    bgs: dict = {}
    imp = Impossible()
    before = None
    for k in range(shard.stop):
        rng = np.random.default_rng([s.seed, cid, k])
        key = keys[int(rng.choice(len(keys), p=weights / weights.sum()))]
        if key[0] not in bgs:
            bgs[key[0]] = to_display(project.load_background(cid, key[0]))
        if k < shard.first:   # replay: only the running histogram of what came before matters
            compose(s.method, pool_of[key], bgs[key[0]], rng, s, running, rctx, False)
            continue
        if before is None:
            before = running.copy()
        made = compose(s.method, pool_of[key], bgs[key[0]], rng, s, running, rctx, s.arrays)
        imp.add(made.impossible)
        write_png(out_dir / f"{k}.png", made.image)
        if made.arrays:
            write_npz(out_dir / f"{k}.npz", made.arrays)
        doc["composites"].append({"k": k, "split": key[1], "window": key[0], "arrays": bool(made.arrays),
                                  "objects": [asdict(_object(made, t)) for t in made.truth]})
    doc["impossible"] = {f: getattr(imp, f) for f in ("images", "images_impossible", "pairs", "intersecting",
                                                      "misordered", "unmeasured")}
    doc["histogram"] = (running - (before if before is not None else running)).astype(int).tolist()
    write_text(out_dir / RECORDS, json.dumps(doc, default=_plain))
    return {"composites": len(doc["composites"])}


def _place(src: Path, dest: Path) -> None:
    """The shard's file under its final name (a hard link when the shard folder is on the same file system)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.merge.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def merge_composites(project, stage: str, s, parts: list, key: str, started_at: float | None = None) -> dict:
    """Fold every shard into the store as one `make_composites` run: cameras in project order, each camera's
    composites in index order, ids from the next free one; files placed first, rows and the run row in one
    transaction (files removed again if it fails). Skipped when this key was merged before."""
    from ..store.composites import Composite, CompositeObject
    from ..store.shard_merge import merge_composites as store_merge
    from ..store.shard_merge import merged_keys, next_composite_id
    from .impossible import Impossible
    from .make import Summary, _safe

    summary = Summary(method=s.method, composites=0, objects=0, by_camera={}, settings=asdict(s), merged=0)
    if "all" in merged_keys(project, key):
        summary["already_merged"] = True
        return summary
    t0 = started_at or time.time()   # the run row spans the sharded run, work included
    order = {c.id: i for i, c in enumerate(project.cameras())}
    names = {c.id: c.name for c in project.cameras()}
    docs: dict[int, list] = {}
    for shard, folder in sorted(parts, key=lambda so: (order[so[0].camera_id], so[0].index)):
        docs.setdefault(shard.camera_id, []).append((Path(folder), json.loads((Path(folder) / RECORDS).read_text())))
    first_id = next_composite_id(project)
    comps, sources = [], []
    total_imp, hist = Impossible(), np.zeros(5, np.int64)
    for cid, items in docs.items():
        if any(d["why"] for _, d in items):
            summary["by_camera"][names[cid]] = {"composites": 0, "why": items[0][1]["why"]}
            continue
        imp = Impossible()
        folder = Path("composites") / _safe(names[cid]) / s.method
        for src, d in items:
            imp.add(Impossible(**d["impossible"]))
            hist += np.asarray(d["histogram"], np.int64)
            for rec in d["composites"]:
                cid_new = first_id + len(comps)
                img = folder / f"{cid_new}.png"
                arr = folder / f"{cid_new}.npz" if rec["arrays"] else None
                sources.append((src / f"{rec['k']}.png", img))
                if arr is not None:
                    sources.append((src / f"{rec['k']}.npz", arr))
                comps.append(Composite(cid, rec["split"], s.method, s.seed, rec["window"], str(img),
                                       None if arr is None else str(arr),
                                       objects=[CompositeObject(**o) for o in rec["objects"]]))
        summary["by_camera"][names[cid]] = {"composites": sum(len(d["composites"]) for _, d in items),
                                            "impossible": imp.as_dict()}
        total_imp.add(imp)
    written = []
    try:
        for src, rel in sources:
            _place(src, project.root / rel)
            written.append(project.root / rel)
        objects = sum(c.n_objects for c in comps)
        counts = {"composites": len(comps), "objects": objects, "impossible_pairs": total_imp.impossible}
        shard = {"camera": s.camera_id} if s.camera_id is not None else {}
        store_merge(project, stage, asdict(s), {**shard, "sharded": key, "part": "all", "shards": len(parts)},
                    comps, first_id, counts, t0)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    summary.update(composites=len(comps), objects=objects, impossible=total_imp.as_dict(),
                   occlusion_histogram=hist.tolist(), merged=1)
    return summary
