"""Vehicle and people fitting on track shards (`walt3d run fit-vehicles|fit-people PROJECT ...`, scaleout.py).

A shard is some of one camera's tracks. Its work reads the project read-only and writes `fits.json` (the TrackFits,
their per-detection poses and the keypoints they propose, exactly what the unsharded stage would store for those
tracks); the merge folds every shard of a camera, in track order, into the store in one transaction with the run's
row (store/shard_merge.py), so the store ends up as after `fit_vehicles` / `fit_people`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..store.fits import DetectionFit, TrackFit

FITS_FILE = "fits.json"


# ---- planning: which tracks each camera fits, in the order the unsharded stage fits them -----------------------

def vehicle_tracks(project, camera_id: int, settings) -> list[int]:
    from ..store.detections import track_table
    from .vehicle_fit import BIG_CATEGORIES, CAR_CATEGORIES

    tt = track_table(project, camera_id, settings.min_mined_frames)
    return [int(tt.id[i]) for i in range(len(tt))
            if str(tt.category[i]) in CAR_CATEGORIES + BIG_CATEGORIES and tt.usable[i]]


def person_tracks(project, camera_id: int, settings) -> list[int]:
    from .people_fit import read_person_tracks

    return sorted(read_person_tracks(project, camera_id, settings))


def check_calibrated(project, camera_id: int, stage: str) -> None:
    """The unsharded stages refuse an uncalibrated camera before any work; so does the plan."""
    from . import people_fit, vehicle_fit

    (vehicle_fit if stage == "fit-vehicles" else people_fit)._calibrated(project, camera_id)


# ---- shard work (any worker; the project is read-only) ----------------------------------------------------------

def vehicle_shard_work(project, shard, settings, out_dir: Path) -> dict:
    from .vehicle_fit import _calibrated, fit_one_track, read_track
    from ..store.detections import track_table

    cam = _calibrated(project, shard.camera_id)
    tt = track_table(project, shard.camera_id, settings.min_mined_frames)
    category = {int(t): str(c) for t, c in zip(tt.id, tt.category)}
    fits, props = [], []
    for tid in shard.tracks:
        fit, p = fit_one_track(cam, read_track(project, tid, category[tid], cam.image_size, settings), settings)
        fits.append(fit)
        props += p
    return _write(out_dir, fits, props)


def people_shard_work(project, shard, settings, out_dir: Path) -> dict:
    from ..store.body_models import body_model_name, model_dir
    from . import bodies
    from .body_estimators import create_estimator
    from .people_fit import _calibrated, fit_camera_tracks, read_person_tracks

    bodies.add_model_dir(model_dir(project))
    cam = _calibrated(project, shard.camera_id)
    tracks = read_person_tracks(project, shard.camera_id, settings)
    mine = {t: tracks[t] for t in shard.tracks}
    estimator = create_estimator(settings.estimator, **settings.estimator_options)
    fits, props = fit_camera_tracks(project, cam, mine, estimator, body_model_name(project), settings)
    return _write(out_dir, fits, props)


def _write(out_dir: Path, fits: list[TrackFit], props: list) -> dict:
    counts: dict = {}
    for f in fits:
        counts[f.status] = counts.get(f.status, 0) + 1
    doc = {"fits": [_fit_json(f) for f in fits],
           "proposals": [[int(d), s, np.asarray(p, float).tolist(), v] for d, s, p, v in props],
           "counts": counts}
    write_text(Path(out_dir) / FITS_FILE, json.dumps(doc))
    return counts


def _fit_json(f: TrackFit) -> dict:
    arr = lambda a: None if a is None else np.asarray(a, float).tolist()  # noqa: E731
    return {"track_id": f.track_id, "kind": f.kind, "method": f.method, "status": f.status, "shape": f.shape,
            "quality": f.quality, "settings": f.settings, "reason": f.reason, "version": f.version,
            "detections": [{"detection_id": d.detection_id, "R": arr(d.R), "t": arr(d.t), "params": d.params,
                            "quality": d.quality, "status": d.status, "reason": d.reason} for d in f.detections]}


def read_fits(out_dir: Path) -> tuple[list[TrackFit], list, dict]:
    """A shard's (TrackFits, proposals, counts) back from its folder."""
    doc = json.loads((Path(out_dir) / FITS_FILE).read_text(encoding="utf-8"))
    arr = lambda a: None if a is None else np.asarray(a, float)  # noqa: E731
    fits = []
    for f in doc["fits"]:
        dets = [DetectionFit(d["detection_id"], arr(d["R"]), arr(d["t"]), d["params"], d["quality"], d["status"],
                             d["reason"]) for d in f.pop("detections")]
        fits.append(TrackFit(**f, detections=dets))
    props = [(d, s, np.asarray(p, float), v) for d, s, p, v in doc["proposals"]]
    return fits, props, doc["counts"]


# ---- merge (the driver, the only writer) -------------------------------------------------------------------------

def merge_fits(project, stage: str, settings, parts: list, key: str, started_at: float | None = None) -> dict:
    """Fold finished shards into the store: per camera, its shards in track order, one transaction with a run row
    (as the unsharded stage records: stage, settings, {"camera": id}, counts by status). A camera merged before
    under the same key is skipped. Returns {"merged": cameras merged, "tracks": n, "by_status": {...}}."""
    from ..store.shard_merge import merge_track_fits as store_merge
    from ..store.shard_merge import merged_keys

    done = merged_keys(project, key)
    by_cam: dict[int, list] = {}
    for shard, out in sorted(parts, key=lambda so: (so[0].camera_id, so[0].index)):
        by_cam.setdefault(shard.camera_id, []).append((shard, out))
    out = {"merged": 0, "tracks": 0, "by_status": {}}
    for cid, items in by_cam.items():
        part = f"camera {cid}"
        if part in done:
            continue
        t0 = started_at or time.time()   # the run row spans the sharded run, work included
        fits, props, counts = [], [], {}
        for _, folder in items:
            f, p, c = read_fits(folder)
            fits += f
            props += p
            for k, n in c.items():
                counts[k] = counts.get(k, 0) + n
        store_merge(project, stage, settings,
                    {"camera": cid, "sharded": key, "part": part, "shards": len(items)}, fits, props, counts, t0)
        out["merged"] += 1
        out["tracks"] += len(fits)
        for k, n in counts.items():
            out["by_status"][k] = out["by_status"].get(k, 0) + n
    return out
