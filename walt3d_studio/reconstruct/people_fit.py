"""`walt3d fit people`: SMPL-layout bodies for the mined person tracks of a camera, on its ground plane.

Stage shape (DESIGN): settings (with seed) → per camera, read the mined detections of usable person tracks,
estimate bodies (a body estimator from the registry: the built-in one by default), judge each fit, then one
transaction stores the track fits, their per-detection poses, the COCO-17 keypoints projected from the posed
bodies (origin 'fit') and the run row.

Quality per detection: silhouette IoU of the posed body against the mined mask, and the foot-contact residual
(how far the fitted body's ground point is from where the detection's box puts the feet, in metres and as a
fraction of the distance). Per track: height plausibility (people 1.4–2.0 m; shorter ones are flagged as
possibly children, never rejected). Below the thresholds a fit is 'needs_review'.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import CalibrationError
from ..jobs import JobContext, silent
from . import bodies
from .body_estimators import PersonDetection, create_estimator

STAGE = "fit-people"
SCHEMA = "person17"
PERSON_CATEGORIES = ("person", "pedestrian")


@dataclass
class PeopleFitSettings:
    estimator: str = "builtin"
    estimator_options: dict = field(default_factory=dict)
    seed: int = 0                       # nothing is random today; recorded so a future sampler stays seeded
    min_mined_frames: int = 3
    min_iou: float = 0.5                # review thresholds
    max_foot_m: float = 0.5
    max_foot_frac: float = 0.05         # of the distance to the camera
    height_ok: tuple = (1.4, 2.0)       # metres; below: maybe a child (flagged), outside [1.0, 2.2]: implausible
    height_possible: tuple = (1.0, 2.2)
    review_fraction: float = 0.3        # a track needs review when more of its detections do
    silhouette: str = "exact"           # exact: silhouette.py's triangle rasteriser; parts: 24 part hulls (fast)
    proposals: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


# ---- posing many detections of one body cheaply ---------------------------------------------------------------


class _PoseCache:
    """Bodies posed without global orientation or translation, per (shape, body_pose): a detection's posed
    mesh is then a rigid motion, exactly as SMPL composes them (X = R0 (X0 - J0) + J0 + transl)."""

    def __init__(self):
        self._c: dict = {}
        self._final: dict = {}

    def get(self, shape: dict, body_pose) -> tuple:
        key = (repr(sorted((k, repr(v)) for k, v in shape.items())),
               np.round(np.asarray(body_pose, float), 9).tobytes())
        if key not in self._final:
            self._final[key] = self._scaled(shape, body_pose)
            if len(self._final) > 256:
                self._final.pop(next(iter(self._final)))
        return self._final[key]

    def _scaled(self, shape: dict, body_pose) -> tuple:
        # the proxy at another height (same build) is the same posed body scaled about its root joint: LBS
        # commutes with a uniform scale about J0, so pose once per body_pose and scale
        if bodies.parse_body_model(shape.get("body_model"))[0] == "proxy" and shape.get("height_m") \
                and bodies._betas(shape.get("betas"))[1] == 0:
            ref = {"body_model": "proxy", "height_m": bodies.PROXY_BASE_HEIGHT,
                   "proxy_template": shape.get("proxy_template", "neutral")}
            v, j, faces = self._exact(ref, body_pose)
            s = float(shape["height_m"]) / bodies.PROXY_BASE_HEIGHT
            J0 = j[0]
            return J0 + (v - J0) * s, J0 + (j - J0) * s, faces
        return self._exact(shape, body_pose)

    def _exact(self, shape: dict, body_pose) -> tuple:
        bp = np.round(np.asarray(body_pose, float), 9)
        key = (repr(sorted((k, repr(v)) for k, v in shape.items())), bp.tobytes())
        if key not in self._c:
            p = {"global_orient": np.zeros(3), "body_pose": bp, "transl": np.zeros(3)}
            v, j, faces, _ = bodies._pose(p, shape)
            self._c[key] = (v[0], j[0], faces)
            if len(self._c) > 256:
                self._c.pop(next(iter(self._c)))
        return self._c[key]

    def posed(self, params: dict, shape: dict, vertices=True):
        """(vertices (N,3) or only the COCO face vertices (5,3) when vertices=False, joints, faces, R0)."""
        v0, j0, faces = self.get(shape, params["body_pose"])
        R = bodies.rodrigues(np.asarray(params["global_orient"], float))
        J0, t = j0[0], np.asarray(params["transl"], float)
        v = v0 if vertices else v0[list(bodies._COCO_FACE_VERTICES)]
        return (v - J0) @ R.T + J0 + t, (j0 - J0) @ R.T + J0 + t, faces, R


_PARTS = None


def _part_hull_mask(camera, vertices, roi) -> np.ndarray:
    """Fast silhouette: the union of the 24 body parts' convex hulls (about 5% larger than the exact one)."""
    import cv2

    global _PARTS
    if _PARTS is None:
        import json

        from ..resources import resource

        _PARTS = [np.asarray(v) for v in
                  json.loads(resource("body", "smpl_vert_segmentation.json").read_text(encoding="utf-8")).values()]
    x0, y0, w, h = roi
    mask = np.zeros((h, w), np.uint8)
    px = camera.project(vertices) - [x0, y0]
    for idx in _PARTS:
        p = px[idx]
        p = p[np.isfinite(p).all(axis=1)]
        if len(p) >= 3:
            cv2.fillConvexPoly(mask, cv2.convexHull(np.round(p * 16).astype(np.int32)), 1, shift=4)
    return mask.astype(bool)


def body_silhouette(camera, vertices, faces, roi, how: str = "exact") -> np.ndarray:
    """bool (h, w) mask of the posed body inside roi = (x0, y0, w, h)."""
    if how == "parts":
        return _part_hull_mask(camera, vertices, roi)
    from .silhouette import silhouette_mask

    return silhouette_mask(camera, vertices, faces, roi=roi)


def _decode(rle, shape):
    if rle is None:
        return None
    from pycocotools import mask as mask_utils

    r = dict(rle)
    if isinstance(r.get("counts"), str):
        r["counts"] = r["counts"].encode("ascii")
    m = mask_utils.decode(r).astype(bool)
    return m if m.shape == shape else None


# ---- judging a track's fits ----------------------------------------------------------------------------------


def judge_track(camera, dets: list[PersonDetection], est, settings: PeopleFitSettings, cache: _PoseCache,
                masks: dict | None = None):
    """(DetectionFits, keypoint proposals, track quality, track status, reason) for one track's estimate."""
    from ..store.fits import DetectionFit

    masks = masks or {}
    w_img, h_img = camera.image_size
    det_fits, props = [], []
    ious, feet = [], []
    for i, d in enumerate(dets):
        p = est.params[i]
        if p is None:
            det_fits.append(DetectionFit(d.detection_id, status="failed",
                                         reason=est.failed.get(d.detection_id, "no body")))
            continue
        mask = masks.get(d.detection_id)
        v, j, faces, R = cache.posed(p, est.shape, vertices=mask is not None)
        q: dict = {}
        reasons = []
        ground = bodies.ground_point(j[None], camera.n, camera.d)[0]
        dist = float(np.linalg.norm(ground))
        q["distance_m"] = round(dist, 3)
        seen = est.notes.get("height_seen", {}).get(d.detection_id)
        if seen is not None:
            q["height_seen_m"] = seen   # the height this detection alone suggests (the track keeps one)
        if np.isfinite(est.foot_raw[i]).all():
            r = float(np.linalg.norm(ground - est.foot_raw[i]))
            q["foot_residual_m"] = round(r, 4)
            feet.append(r)
            if r > max(settings.max_foot_m, settings.max_foot_frac * dist):
                reasons.append(f"feet {r:.2f} m from where the box puts them")
        if mask is not None:
            x, y, bw, bh = d.box
            pad = 0.25 * bh
            x0, y0 = int(max(0, np.floor(x - pad))), int(max(0, np.floor(y - pad)))
            x1, y1 = int(min(w_img, np.ceil(x + bw + pad))), int(min(h_img, np.ceil(y + bh + pad)))
            sil = body_silhouette(camera, v, faces, (x0, y0, x1 - x0, y1 - y0), settings.silhouette)
            m = mask[y0:y1, x0:x1]
            union = np.count_nonzero(sil | m)
            iou = float(np.count_nonzero(sil & m) / union) if union else 0.0
            q["silhouette_iou"] = round(iou, 4)
            ious.append(iou)
            if iou < settings.min_iou:
                reasons.append(f"silhouette IoU {iou:.2f} < {settings.min_iou:g}")
        kp = bodies.coco17_from(v, j) if mask is not None else np.concatenate(
            [v, j[list(bodies._COCO_BODY_JOINTS)]])
        px = camera.project(kp)
        inside = np.isfinite(px).all(axis=1) & (px[:, 0] >= -0.5) & (px[:, 0] < w_img - 0.5) \
            & (px[:, 1] >= -0.5) & (px[:, 1] < h_img - 0.5)
        pts = np.c_[np.where(inside[:, None], px, 0.0), np.where(inside, 2, 0)]
        props.append((d.detection_id, SCHEMA, pts))
        det_fits.append(DetectionFit(d.detection_id, R=R, t=np.asarray(p["transl"], float), params=p, quality=q,
                                     status="needs_review" if reasons else "ok",
                                     reason="; ".join(reasons) or None))
    height = float(est.shape.get("height_m", np.nan))
    tq = {"height_m": round(height, 3), "detections": len(dets),
          "fitted": sum(f.status != "failed" for f in det_fits)}
    if ious:
        tq["silhouette_iou"] = round(float(np.median(ious)), 4)
    if feet:
        tq["foot_residual_m"] = round(float(np.median(feet)), 4)
    seen = [v for v in est.notes.get("height_seen", {}).values()]
    if len(seen) > 1:
        tq["height_seen_iqr_m"] = round(float(np.subtract(*np.percentile(seen, [75, 25]))), 3)
    reasons = []
    lo, hi = settings.height_ok
    plo, phi = settings.height_possible
    if not plo <= height <= phi:
        tq["height_flag"] = "implausible"
        reasons.append(f"height {height:.2f} m is not a person's")
    elif height < lo:
        tq["height_flag"] = "child?"
        reasons.append(f"height {height:.2f} m: a child? (flagged, not rejected)")
    elif height > hi:
        tq["height_flag"] = "tall"
        reasons.append(f"height {height:.2f} m is unusually tall")
    fitted = [f for f in det_fits if f.status != "failed"]
    if not fitted:
        return det_fits, props, tq, "failed", "no detection could be placed on the ground"
    review = sum(f.status == "needs_review" for f in fitted)
    if review > settings.review_fraction * len(fitted):
        reasons.append(f"{review} of {len(fitted)} detections need review")
    return det_fits, props, tq, ("needs_review" if reasons else "ok"), "; ".join(reasons) or None


# ---- the stage --------------------------------------------------------------------------------------------


def _calibrated(project, camera_id: int):
    cam = project.calibration(camera_id)
    if cam is None:
        name = project.camera(camera_id).name
        raise CalibrationError(
            f"Camera {name!r} has no calibration, and people are placed on its ground plane.",
            f"Calibrate it first: walt3d calibrate PROJECT --camera {name} --lines FILE (two pairs of lines "
            "parallel on the ground, or a rectangle of known size; see docs/calibration.md).")
    return cam


def read_person_tracks(project, camera_id: int, settings: PeopleFitSettings):
    """{track_id: [PersonDetection, ...]} of the mined detections of usable person tracks, and their masks."""
    from ..store.detections import detection_rles, mined_objects

    t = mined_objects(project, camera_id, usable_only=True, min_mined_frames=settings.min_mined_frames,
                      categories=PERSON_CATEGORIES)
    rles = detection_rles(project, t.id.tolist()) if len(t) else {}
    tracks: dict[int, list[PersonDetection]] = {}
    for i in range(len(t)):
        crop = t.crop_path[i]
        tracks.setdefault(int(t.track_id[i]), []).append(PersonDetection(
            int(t.id[i]), float(t.capture_time[i]), t.box[i].astype(float), rles.get(int(t.id[i])),
            str(project.root / crop) if crop else None, int(t.frame_id[i])))
    return tracks


def fit_people(project, camera_id: int | None = None, ctx: JobContext | None = None,
               settings: PeopleFitSettings | None = None) -> dict:
    """Fit bodies to every usable person track of a camera (or of every camera); store each camera's results
    in one transaction. Returns a summary (counts by status, heights per track, estimator, body model)."""
    from ..store.body_models import body_model_name, model_dir
    from ..store.fits import save_track_fits

    ctx = ctx or silent()
    settings = settings or PeopleFitSettings()
    bodies.add_model_dir(model_dir(project))
    body_model = body_model_name(project)
    estimator = create_estimator(settings.estimator, **settings.estimator_options)
    cams = [camera_id] if camera_id is not None else [c.id for c in project.cameras()]
    plan = [(cid, read_person_tracks(project, cid, settings)) for cid in cams]
    plan = [(cid, tr) for cid, tr in plan if tr]
    cameras = {cid: _calibrated(project, cid) for cid, _ in plan}   # fail before any work
    if camera_id is not None:
        _calibrated(project, camera_id)
    total = sum(len(tr) for _, tr in plan)
    summary = FitSummary({"estimator": settings.estimator, "body_model": body_model, "tracks": 0, "detections": 0,
               "by_status": {}, "detections_by_status": {}, "heights": {}, "runs": []})
    done = 0
    cache = _PoseCache()
    for cid, tracks in plan:
        fits, props = fit_camera_tracks(project, cameras[cid], tracks, estimator, body_model, settings, cache, ctx,
                                        done, total)
        done += len(tracks)
        ctx.check()  # a cancel up to here leaves the store untouched
        counts: dict = {}
        for f in fits:
            counts[f.status] = counts.get(f.status, 0) + 1
        from ..store.runs import recorded_run

        # the runs row and the fits: the run is recorded 'done' only once the fits are stored (one transaction)
        with recorded_run(project, STAGE, settings.to_dict(), {"camera": cid}) as rec:
            rec.counts.update(counts)
            save_track_fits(project, fits, run_id=rec.id, proposals=props)
        summary["runs"].append(rec.id)
        for f in fits:
            summary["tracks"] += 1
            summary["by_status"][f.status] = summary["by_status"].get(f.status, 0) + 1
            summary["heights"][f.track_id] = f.quality.get("height_m")
            for d in f.detections:
                summary["detections"] += 1
                summary["detections_by_status"][d.status] = summary["detections_by_status"].get(d.status, 0) + 1
    ctx.report(total, total, "done")  # stored already: a late cancel changes nothing
    return summary


def fit_camera_tracks(project, cam, tracks: dict, estimator, body_model: str, settings: PeopleFitSettings,
                      cache: _PoseCache | None = None, ctx: JobContext | None = None, done: int = 0,
                      total: int = 0) -> tuple[list, list]:
    """(TrackFits, keypoint proposals) of one camera's person tracks ({track_id: [PersonDetection]}), nothing
    stored: what `fit_people` saves per camera and what a track shard of `walt3d run fit-people` writes."""
    from ..store.body_models import model_dir
    from ..store.fits import TrackFit

    ctx = ctx or silent()
    cache = cache or _PoseCache()
    ids = sorted(tracks)
    ctx.progress(done, total, f"estimating {len(ids)} track(s)")
    if hasattr(estimator, "estimate_tracks"):
        ests = estimator.estimate_tracks(cam, [tracks[t] for t in ids], body_model)
    else:
        ests = [estimator.estimate_track(cam, tracks[t], body_model) for t in ids]
    fits, props = [], []
    for tid, est in zip(ids, ests):
        ctx.progress(done, total, f"judging track {tid}")
        dets = tracks[tid]
        masks = {d.detection_id: _decode(d.mask_rle, (cam.image_size[1], cam.image_size[0])) for d in dets}
        det_fits, p, tq, status, reason = judge_track(cam, dets, est, settings, cache, masks)
        shape = dict(est.shape)
        if body_model != "proxy":  # where the converted model is, for renderers that have no project
            shape["npz_path"] = str(model_dir(project) / f"{body_model.rsplit(':', 1)[1]}.npz")
        fits.append(TrackFit(tid, "person", getattr(estimator, "name", settings.estimator), status=status,
                             shape=shape, quality=tq, reason=reason, detections=det_fits,
                             settings={**settings.to_dict(), "estimator_settings":
                                       getattr(estimator, "settings", {})}))
        if settings.proposals:
            props += [(d, s, pts, f"fit:{fits[-1].method}") for d, s, pts in p]
        done += 1
    return fits, props


class FitSummary(dict):
    """The stage's summary: a plain dict (JSON) that also reads as one line (`summary()`)."""

    def summary(self) -> str:
        return summary_line(self)


def summary_line(summary: dict) -> str:
    st = ", ".join(f"{n} {k}" for k, n in sorted(summary["by_status"].items())) or "no usable person tracks"
    hs = ", ".join(f"track {t}: {h:.2f} m" for t, h in list(summary["heights"].items())[:5] if h is not None)
    return (f"Fitted {summary['tracks']} person track(s) ({summary['detections']} detections) with the "
            f"{summary['estimator']} estimator and the {summary['body_model'].split(':')[0]} body: {st}"
            + (f"; heights {hs}" if hs else ""))
