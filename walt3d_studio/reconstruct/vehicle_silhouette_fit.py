"""The silhouette fallback: ground poses for a track that has masks but no keypoints.

With the mean shape: each frame's position makes the rendered silhouette's centroid meet the mask's centroid
(both taken as the ray through the centroid meeting a plane at the car's mid-height, so perspective is
handled by the camera geometry); the heading is the direction of travel (a smooth curve through the
positions over time) for a moving car, and the yaw whose rendered silhouette overlaps the masks best for a
parked one. Positions and headings are refined in turn. Every render uses silhouette.py.
"""
from __future__ import annotations

import numpy as np

from .silhouette import mask_iou, silhouette_mask
from .vehicle_pose import TrackPoses, pose_to_cam, wrap
from .vehicle_shape import load_shape_model, mesh_for_alpha


def _roi(mask: np.ndarray, pad: float = 0.5):
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    pw, ph = int((x1 - x0) * pad) + 4, int((y1 - y0) * pad) + 4
    h, w = mask.shape
    x0, y0, x1, y1 = max(0, x0 - pw), max(0, y0 - ph), min(w, x1 + pw), min(h, y1 + ph)
    return x0, y0, x1 - x0, y1 - y0


class _Frame:
    def __init__(self, mask):
        self.roi = _roi(mask)
        x0, y0, w, h = self.roi
        self.crop = mask[y0:y0 + h, x0:x0 + w]
        ys, xs = np.nonzero(self.crop)
        self.centroid = np.array([xs.mean() + x0, ys.mean() + y0])


class SilhouetteFitter:
    def __init__(self, camera, kind: str = "car", alpha=None):
        self.cam, self.kind = camera, kind
        self.model = load_shape_model(kind)
        self.Rc, self.tc = camera.cam_to_world()
        self.set_alpha(alpha)

    def set_alpha(self, alpha) -> None:
        self.alpha = self.model.check_alpha(alpha)
        self.verts, self.faces = mesh_for_alpha(self.alpha, self.kind)
        self.mid_h = 0.5 * float(self.model.keypoints(self.alpha)[8:, 2].mean())

    def _ground_at_mid(self, px) -> np.ndarray | None:
        """World xy where the ray through a pixel meets the plane at mid-height (None above the horizon)."""
        ray = self.cam.rays(np.asarray(px, float).reshape(1, 2))[0]
        denom = float(ray @ self.cam.n)
        if denom > -1e-9:
            return None
        X = ray * (-(self.cam.d - self.mid_h) / denom)
        return (self.Rc @ X + self.tc)[:2]

    def render(self, xy, yaw, roi):
        R, t = pose_to_cam(self.cam, xy, yaw)
        return silhouette_mask(self.cam, self.verts @ R.T + t, self.faces, roi=roi)

    def iou(self, fr: _Frame, xy, yaw) -> float:
        return mask_iou(self.render(xy, yaw, fr.roi), fr.crop)

    def place(self, fr: _Frame, xy, yaw, iters: int = 3):
        """Move the car on the ground until its silhouette's centroid meets the mask's."""
        xy = np.array(xy, float)
        target = self._ground_at_mid(fr.centroid)
        if target is None:
            return xy
        for _ in range(iters):
            m = self.render(xy, yaw, fr.roi)
            if not m.any():
                return target
            ys, xs = np.nonzero(m)
            now = self._ground_at_mid([xs.mean() + fr.roi[0], ys.mean() + fr.roi[1]])
            if now is None:
                break
            step = target - now
            xy = xy + step
            if np.linalg.norm(step) < 0.01:
                break
        return xy

    def best_yaw(self, fr: _Frame, xy, yaws) -> tuple[float, np.ndarray, float]:
        best = (-1.0, None, None)
        for y in yaws:
            p = self.place(fr, xy, y, iters=2)
            s = self.iou(fr, p, y)
            if s > best[0]:
                best = (s, y, p)
        return best[1], best[2], best[0]


def _heading_from_motion(times, xy) -> tuple[np.ndarray, float]:
    """Heading along a smooth (quadratic in time) curve through the positions, and the distance travelled."""
    t = np.asarray(times, float) - np.mean(times)
    deg = 2 if len(t) >= 5 else 1
    A = np.vander(t, deg + 1)
    dA = np.c_[2 * t, np.ones_like(t), np.zeros_like(t)] if deg == 2 else np.c_[np.ones_like(t), np.zeros_like(t)]
    cx = np.linalg.lstsq(A, xy[:, 0], rcond=None)[0]
    cy = np.linalg.lstsq(A, xy[:, 1], rcond=None)[0]
    fitted = np.c_[A @ cx, A @ cy]
    travel = float(np.linalg.norm(fitted[-1] - fitted[0]))
    return np.arctan2(dA @ cy, dA @ cx), travel


def _fit_shape(fit: SilhouetteFitter, frames: dict, xy, yaw, have, n_sample: int = 3, prior: float = 0.01):
    """α by coordinate search on the mean silhouette IoU of a few frames (the box proportions of the
    masks are what it can see), each component within ±2 stddev, with a weak pull to the mean."""
    sample = [have[i] for i in np.linspace(0, len(have) - 1, min(n_sample, len(have))).astype(int)]

    def score(a):
        fit.set_alpha(a)
        s = np.mean([fit.iou(frames[i], fit.place(frames[i], xy[i], yaw[i], iters=1), yaw[i]) for i in sample])
        return s - prior * float(np.sum((a / fit.model.stddev) ** 2))

    a = np.zeros(fit.model.n_components)
    best = score(a)
    for step in (1.0, 0.5):
        for m in range(len(a)):
            for sign in (-1, 1):
                cand = a.copy()
                cand[m] = np.clip(cand[m] + sign * step * fit.model.stddev[m], -2 * fit.model.stddev[m],
                                  2 * fit.model.stddev[m])
                sc = score(cand)
                if sc > best + 1e-4:
                    a, best = cand, sc
    fit.set_alpha(a)


def fit_silhouettes(camera, times, masks, kind: str = "car", min_travel_m: float = 2.0, rounds: int = 2,
                    ctx=None, fit_shape: bool = True) -> tuple[TrackPoses, np.ndarray] | None:
    """Ground poses from a track's masks (bool (H, W) per frame, None where missing) with the mean shape,
    then (fit_shape) α from the masks' proportions. Returns (poses, per-frame IoU) or None when no frame
    has a mask."""
    idx = [i for i, m in enumerate(masks) if m is not None and np.asarray(m).any()]
    if not idx:
        return None
    fit = SilhouetteFitter(camera, kind)
    times = np.asarray(times, float)
    frames = {i: _Frame(np.asarray(masks[i], bool)) for i in idx}
    xy = np.full((len(masks), 2), np.nan)
    for i in idx:
        g = fit._ground_at_mid(frames[i].centroid)
        if g is not None:
            xy[i] = g
    have = [i for i in idx if np.isfinite(xy[i]).all()]
    if not have:
        return None
    yaw = np.zeros(len(masks))
    moving = False
    if len(have) >= 3:
        h, travel = _heading_from_motion(times[have], xy[have])
        moving = travel >= min_travel_m
    if not moving:
        # parked: the yaw whose silhouette overlaps the largest mask best, searched coarse then fine
        big = max(have, key=lambda i: frames[i].crop.sum())
        y0, _, _ = fit.best_yaw(frames[big], xy[big], np.radians(np.arange(0, 360, 15)))
        y0, _, _ = fit.best_yaw(frames[big], xy[big], y0 + np.radians(np.arange(-12, 13, 3)))
        yaw[:] = y0
    for _ in range(rounds):
        if ctx is not None:
            ctx.check()
        if moving:
            h, _ = _heading_from_motion(times[have], xy[have])
            yaw[have] = h
        for i in have:
            xy[i] = fit.place(frames[i], xy[i], yaw[i])
    if fit_shape:
        _fit_shape(fit, frames, xy, yaw, have)
        if not moving:  # the fitted shape may prefer a slightly different yaw
            yaw[:], _, _ = fit.best_yaw(frames[big], xy[big], yaw[big] + np.radians(np.arange(-9, 10, 3)))
        for i in have:
            xy[i] = fit.place(frames[i], xy[i], yaw[i])
    if moving:  # a last heading from the refined positions, positions placed once more with it
        h, _ = _heading_from_motion(times[have], xy[have])
        yaw[have] = h
        for i in have:
            xy[i] = fit.place(frames[i], xy[i], yaw[i], iters=2)
    ious = np.full(len(masks), np.nan)
    for i in have:
        ious[i] = fit.iou(frames[i], xy[i], yaw[i])
    # frames without a mask: interpolate over time
    ok = np.isfinite(xy[:, 0])
    if not ok.all():
        t_ok = times[ok]
        for j in range(2):
            xy[~ok, j] = np.interp(times[~ok], t_ok, xy[ok, j])
        yaw[~ok] = np.interp(times[~ok], t_ok, np.unwrap(yaw[ok]))
    return TrackPoses(fit.alpha.copy(), xy, wrap(yaw), [None] * len(masks)), ious


__all__ = ["fit_silhouettes", "SilhouetteFitter"]
