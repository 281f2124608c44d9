"""`fit vehicles`: 3D vehicle fits for a project's usable vehicle tracks, stored with their quality.

Stage shape (DESIGN): `VehicleFitSettings` → fit one camera's tracks (reads the store, writes nothing) →
one transaction that stores every track fit, its poses and the keypoints it proposes, plus a `runs` row. A
cancel (JobContext) before the merge leaves the store as it was.

Per track: keypoints (a person's, else the keypoint model's, with visibility and confidence) → EPnP per
detection → one track fit on the ground plane (vehicle_pose.py); without keypoints, the silhouette fallback
from the mined masks (vehicle_silhouette_fit.py). Quality per detection and track: reprojection error
(px), silhouette IoU against the mined mask, ground residual (how far a free 6-DoF pose of the same points
leaves the wheels off the ground); below the thresholds the fit is 'needs_review'. The fit proposes all 12
keypoints for every detection of the track (visibility from the mesh), stored with origin 'fit'.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from ..errors import BadInputError, CalibrationError
from ..jobs import JobContext, silent
from .silhouette import mask_iou, silhouette_mask, visible_points
from .vehicle_pose import Observations, PoseSettings, fit_track, pose_to_cam, wrap
from .vehicle_shape import load_shape_model, mesh_for_alpha
from .vehicle_silhouette_fit import fit_silhouettes

STAGE = "fit-vehicles"
SCHEMA = "vehicle12"
CAR_CATEGORIES = ("car", "vehicle", "van", "suv", "pickup")
BIG_CATEGORIES = ("bus", "truck")


@dataclass
class VehicleFitSettings:
    pose: PoseSettings = field(default_factory=PoseSettings)
    seed: int = 0                       # nothing is random today; recorded so a future sampler stays seeded
    min_mined_frames: int = 3
    occluded_weight: float = 0.5        # weight of a keypoint labelled occluded (v = 1) against a visible one
    min_confidence: float = 0.2         # model keypoints below this confidence are not used
    max_reproj_px: float = 6.0          # review thresholds (track medians)
    min_iou: float = 0.6
    max_ground_m: float = 0.3
    min_distance_m: float = 1.5         # a vehicle nearer than this to the camera's foot is "below the camera"
    proposals: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrackInput:
    track_id: int
    category: str
    detection_ids: np.ndarray
    times: np.ndarray
    boxes: np.ndarray               # (F, 4) x, y, w, h
    mined: np.ndarray               # (F,) bool
    obs: Observations
    masks: list                     # bool (H, W) or None, mined detections only


# ---- reading ------------------------------------------------------------------------------------------


def _decode(rle, shape):
    if rle is None:
        return None
    from pycocotools import mask as mask_utils

    r = dict(rle)
    if isinstance(r.get("counts"), str):
        r["counts"] = r["counts"].encode("ascii")
    m = mask_utils.decode(r).astype(bool)
    return m if m.shape == shape else None


def read_track(project, track_id: int, category: str, image_size, settings: VehicleFitSettings) -> TrackInput:
    from ..store.detections import detection_rles, detection_table
    from ..store.keypoints import get_keypoints

    dets = detection_table(project, track_id=track_id)
    F = len(dets)
    pts, wts = np.zeros((F, 12, 2)), np.zeros((F, 12))
    for f, det_id in enumerate(dets.id):
        row = get_keypoints(project, int(det_id), schema=SCHEMA)
        if row is None:
            continue
        p = row.points
        conf = np.ones(12) if row.confidences is None else np.asarray(row.confidences, float)
        conf = np.where(conf >= settings.min_confidence, conf, 0.0) if row.origin == "model" else conf
        vis = p[:, 2]
        pts[f] = p[:, :2]
        wts[f] = np.where(vis == 2, 1.0, np.where(vis == 1, settings.occluded_weight, 0.0)) * conf
    mined = np.asarray(dets.mined, bool)
    w, h = image_size
    rles = detection_rles(project, [int(d) for d, m in zip(dets.id, mined) if m])
    masks = [_decode(rles.get(int(d)), (h, w)) if m else None for d, m in zip(dets.id, mined)]
    return TrackInput(track_id, category, np.asarray(dets.id), np.asarray(dets.capture_time, float),
                      np.asarray(dets.box, float), mined, Observations(np.asarray(dets.capture_time, float), pts, wts),
                      masks)


# ---- checks -------------------------------------------------------------------------------------------


def geometry_problem(camera, track: TrackInput, settings: VehicleFitSettings) -> str | None:
    """Why a track cannot stand on this camera's ground (None when it can): its ground contact (the bottom
    centre of its boxes) at or above the horizon, or right below the camera."""
    b = track.boxes
    foot = np.c_[b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3]]
    g = camera.pixels_to_ground_world(foot)
    above = ~np.isfinite(g).all(axis=1)
    if above.mean() > 0.5:
        return (f"the track crosses the horizon: {above.sum()} of {len(foot)} detections touch the ground at or"
                " above the horizon line, so they cannot stand on the ground plane")
    dist = np.hypot(g[~above, 0], g[~above, 1])
    if len(dist) and np.median(dist) < settings.min_distance_m:
        return "the track passes below the camera (under 1.5 m from its foot), where the ground pose is degenerate"
    return None


# ---- quality ------------------------------------------------------------------------------------------


def _ground_residual(camera, kp_obj, R, t, obs_pts, w) -> float | None:
    """Metres the wheels' bottoms leave the ground when the same keypoints get a free 6-DoF pose."""
    m = w > 0
    if m.sum() < 6:
        return None
    und = camera.undistort_pixels(obs_pts[m])
    rvec, tvec = cv2.Rodrigues(R)[0], np.asarray(t, float).reshape(3, 1).copy()
    rvec, tvec = cv2.solvePnPRefineLM(kp_obj[m], und, camera.K, None, rvec, tvec)
    R6 = cv2.Rodrigues(rvec)[0]
    wheels = kp_obj[:4] - np.array([0, 0, 1.0]) * kp_obj[:4, 2:3]      # the tyres' contact points
    Xc = wheels @ R6.T + tvec.reshape(3)
    return float(np.mean(np.abs(Xc @ camera.n + camera.d)))


def proposals_for(camera, kp_obj, verts, faces, R, t) -> np.ndarray:
    """The 12 keypoints (12, 3) of a fitted pose as COCO triplets: v = 2 seen, 1 hidden by the vehicle
    itself, 0 outside the image."""
    Xc = kp_obj @ R.T + t
    px = camera.project(Xc)
    vis = visible_points(verts @ R.T + t, faces, Xc)
    w, h = camera.image_size
    inside = np.isfinite(px).all(axis=1)
    inside[inside] &= (px[inside, 0] >= -0.5) & (px[inside, 0] <= w - 0.5) & (px[inside, 1] >= -0.5) & \
        (px[inside, 1] <= h - 0.5)
    out = np.zeros((12, 3))
    out[inside, :2] = px[inside]
    out[inside, 2] = np.where(vis[inside], 2, 1)
    return out


# ---- one track ----------------------------------------------------------------------------------------


def fit_one_track(camera, track: TrackInput, settings: VehicleFitSettings):
    """(TrackFit, proposals) for one track; a TrackFit with status 'skipped' and a reason when it cannot."""
    from .. import __version__
    from ..store.fits import DetectionFit, TrackFit

    kind = "bus_truck" if track.category in BIG_CATEGORIES else "car"
    pose_settings = PoseSettings(**{**asdict(settings.pose), "kind": kind})
    base = dict(track_id=track.track_id, kind="vehicle", settings=settings.to_dict())

    why = geometry_problem(camera, track, settings)
    if why:
        return TrackFit(method="none", status="skipped", reason=why, **base), []
    n_kp = int(sum((track.obs.weights[f] > 0).sum() >= pose_settings.min_points for f in range(len(track.times))))
    poses, method, ious = None, None, None
    if n_kp:
        poses = fit_track(camera, track.obs, pose_settings)
        method = "keypoints"
    if poses is None:
        if not any(m is not None for m in track.masks):
            return TrackFit(method="none", status="skipped", **base,
                            reason="no detection has 4 usable keypoints and none has a mined mask; label the "
                                   "keypoints of one frame (walt3d keypoints) or mine the track's masks"), []
        res = fit_silhouettes(camera, track.times, track.masks, kind=kind)
        if res is None:
            return TrackFit(method="none", status="skipped", reason="the masks give no ground position", **base), []
        poses, ious = res
        method = "silhouette"
    elif (~(track.obs.weights > 0).any(axis=1)).any():
        _place_unobserved(camera, track, poses, kind)

    model = load_shape_model(kind)
    kp_obj = model.keypoints(poses.alpha)
    verts, faces = mesh_for_alpha(poses.alpha, kind)
    F = len(track.times)
    dets, props = [], []
    reproj, iou_all, ground = np.full(F, np.nan), np.full(F, np.nan), np.full(F, np.nan)
    below = False
    for f in range(F):
        R, t = pose_to_cam(camera, poses.xy[f], poses.yaw[f])
        if ((kp_obj @ R.T + t)[:, 2] < 0.5).any():
            below = True
        m = track.obs.weights[f] > 0
        q = {}
        if m.any():
            px = camera.project(kp_obj[m] @ R.T + t)
            reproj[f] = float(np.median(np.linalg.norm(px - track.obs.points[f, m], axis=1)))
            q["reprojection_px"] = round(float(reproj[f]), 3)
            gr = _ground_residual(camera, kp_obj, R, t, track.obs.points[f], track.obs.weights[f])
            if gr is not None:
                ground[f] = gr
                q["ground_residual_m"] = round(gr, 4)
        if track.masks[f] is not None:
            iou_all[f] = ious[f] if ious is not None and np.isfinite(ious[f]) else \
                mask_iou(silhouette_mask(camera, verts @ R.T + t, faces), track.masks[f])
            q["silhouette_iou"] = round(float(iou_all[f]), 4)
        flags = _flags(q, settings)
        reason = poses.init_reason[f] if method == "keypoints" and f < len(poses.init_reason) else None
        if reason:
            reason = f"pose from the track ({reason})"
        dets.append(DetectionFit(int(track.detection_ids[f]), R, t,
                                 params={"xy_world": [round(float(v), 4) for v in poses.xy[f]],
                                         "yaw_world": round(float(poses.yaw[f]), 6)},
                                 quality=q, status="needs_review" if flags else "ok",
                                 reason="; ".join(flags + ([reason] if reason else [])) or None))
        if settings.proposals:
            props.append((int(track.detection_ids[f]), SCHEMA, proposals_for(camera, kp_obj, verts, faces, R, t),
                          f"fit:{method}:{__version__}"))
    if below:
        return TrackFit(method=method, status="skipped", **base,
                        reason="the fitted vehicle reaches behind or below the camera; the ground pose is not valid"), []
    quality = {"n_frames": F, "n_keypoint_frames": n_kp}
    for key, arr in (("reprojection_px", reproj), ("silhouette_iou", iou_all), ("ground_residual_m", ground)):
        if np.isfinite(arr).any():
            quality[key] = round(float(np.nanmedian(arr)), 4)
    flags = _flags(quality, settings)
    quality["review_reasons"] = flags
    fit = TrackFit(method=method, status="needs_review" if flags else "ok", version=__version__,
                   shape={"alpha": [round(float(a), 6) for a in poses.alpha], "class": kind}, quality=quality,
                   detections=dets, reason="; ".join(flags) or None, **base)
    return fit, props


def _place_unobserved(camera, track: TrackInput, poses, kind: str) -> None:
    """Frames without any keypoint only had the motion prior (a line through their neighbours); where they
    have a mined mask, place the fitted shape on the ground so its silhouette meets the mask, and for a moving
    car take their heading from the direction of travel (on the side of the keypoint frames' heading)."""
    from .vehicle_silhouette_fit import SilhouetteFitter, _Frame, _heading_from_motion

    todo = [f for f in np.flatnonzero(~(track.obs.weights > 0).any(axis=1))
            if track.masks[f] is not None and track.masks[f].any()]
    if not todo:
        return
    fitter = SilhouetteFitter(camera, kind, poses.alpha)
    frames = {f: _Frame(track.masks[f]) for f in todo}
    for _ in range(2):
        for f in todo:
            poses.xy[f] = fitter.place(frames[f], poses.xy[f], poses.yaw[f])
        if len(track.times) >= 3:
            heading, travel = _heading_from_motion(track.times, poses.xy)
            if travel >= 2.0:
                for f in todo:
                    flip = np.pi if abs(wrap(heading[f] - poses.yaw[f])) > np.pi / 2 else 0.0
                    poses.yaw[f] = wrap(heading[f] + flip)
    for f in todo:
        poses.init_reason[f] = "no keypoints; position from the mask with the track's shape, heading from its travel"


def _flags(q: dict, s: VehicleFitSettings) -> list[str]:
    out = []
    if q.get("reprojection_px", 0) > s.max_reproj_px:
        out.append(f"reprojection {q['reprojection_px']:.1f} px > {s.max_reproj_px:g}")
    if q.get("silhouette_iou", 1) < s.min_iou:
        out.append(f"silhouette IoU {q['silhouette_iou']:.2f} < {s.min_iou:g}")
    if q.get("ground_residual_m", 0) > s.max_ground_m:
        out.append(f"ground residual {q['ground_residual_m']:.2f} m > {s.max_ground_m:g}")
    return out


# ---- the stage ----------------------------------------------------------------------------------------


def _calibrated(project, camera_id: int):
    cam = project.calibration(camera_id)
    if cam is None:
        name = project.camera(camera_id).name
        raise CalibrationError(
            f"Camera {name!r} has no calibration, so its ground plane is unknown and vehicles cannot be fitted.",
            f"Calibrate it first: walt3d calibrate PROJECT --camera {name} --lines FILE (two pairs of lines "
            "parallel on the ground, or a rectangle of known size; see docs/calibration.md).")
    return cam


def summary_line(summary: dict) -> str:
    """The one-line account of a `fit_vehicles` summary that the CLI prints and the demo report shows."""
    st = ", ".join(f"{n} {k}" for k, n in sorted(summary["by_status"].items())) or "nothing to fit"
    me = ", ".join(f"{n} by {k}" for k, n in sorted(summary["by_method"].items()) if k != "none")
    return f"Fitted {summary['tracks']} vehicle track(s): {st}" + (f" ({me})" if me else "")


def fit_vehicles(project, camera_id: int | None = None, track_ids=None, ctx: JobContext | None = None,
                 settings: VehicleFitSettings | None = None) -> dict:
    """Fit every usable vehicle track of a camera (or of every camera), or only `track_ids`; store the
    results per camera in one transaction. Returns a summary: counts by status and method, skipped reasons."""
    from ..store.detections import track_table
    from ..store.fits import save_track_fits
    from ..store.runs import recorded_run

    ctx = ctx or silent()
    settings = settings or VehicleFitSettings()
    cams = [camera_id] if camera_id is not None else [c.id for c in project.cameras()]
    wanted = None if track_ids is None else {int(t) for t in track_ids}
    plan = []
    for cid in cams:
        tt = track_table(project, cid, settings.min_mined_frames)
        sel = [i for i in range(len(tt)) if str(tt.category[i]) in CAR_CATEGORIES + BIG_CATEGORIES
               and (tt.usable[i] if wanted is None else int(tt.id[i]) in wanted)]
        if sel:
            plan.append((cid, [(int(tt.id[i]), str(tt.category[i])) for i in sel]))
    if wanted is not None:
        found = {t for _, ts in plan for t, _ in ts}
        missing = sorted(wanted - found)
        if missing:
            raise BadInputError(f"No vehicle track with id(s) {', '.join(map(str, missing[:10]))}"
                                + (" in this camera." if camera_id is not None else "."),
                                "List the tracks with walt3d tracks PROJECT, and pick vehicle tracks.")
    # fail before any work; a camera asked for by name must be calibrated even when it has nothing to fit
    cameras = {cid: _calibrated(project, cid) for cid in {c for c, _ in plan} | ({camera_id} - {None})}
    total = sum(len(ts) for _, ts in plan)
    summary = {"tracks": 0, "by_status": {}, "by_method": {}, "skipped": {}, "runs": []}
    done = 0
    for cid, tracks in plan:
        cam = cameras[cid]
        # the runs row says 'running' during the work and 'cancelled' / 'failed' if it stops; the fits, their
        # poses and proposals go in one transaction at the end, so a stop leaves none of them behind
        with recorded_run(project, STAGE, settings, {"camera": cid}) as rec:
            fits, props = [], []
            for tid, cat in tracks:
                ctx.progress(done, total, f"fitting track {tid}")
                track = read_track(project, tid, cat, cam.image_size, settings)
                fit, p = fit_one_track(cam, track, settings)
                fits.append(fit)
                props += p
                done += 1
            ctx.check()
            for f in fits:
                rec.counts[f.status] = rec.counts.get(f.status, 0) + 1
            save_track_fits(project, fits, run_id=rec.id, proposals=props)
        summary["runs"].append(rec.id)
        for f in fits:
            summary["tracks"] += 1
            summary["by_status"][f.status] = summary["by_status"].get(f.status, 0) + 1
            summary["by_method"][f.method] = summary["by_method"].get(f.method, 0) + 1
            if f.status == "skipped":
                summary["skipped"][f.track_id] = f.reason
    ctx.report(total, total, "done")  # stored already: a late cancel changes nothing
    return summary
