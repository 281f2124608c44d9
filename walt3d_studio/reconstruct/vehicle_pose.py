"""Vehicle poses from 2D keypoints: EPnP per detection, then one track-level fit on the ground plane.

The paper (§3) fits 6-DoF poses with EPnP and optimises a track with one shared shape. Here a track's
unknowns are one shape α and, per frame, a pose on the ground plane (x, y in the world frame, yaw about its
up axis; the vehicle frame's origin is on the ground, so the wheels stand on it). The residuals:
  - keypoints: reprojection error of each observed keypoint in ideal (undistorted) pixels, divided by
    σ_px and weighted by its confidence; robust (soft-L1) so that a few wrong keypoints do not drag the fit;
  - motion: change of velocity and of yaw rate between steps (a constant-velocity prior whose strength
    follows the time gaps), and no side-slip (a car moves along its heading: the lateral component of each
    step is ~0; this is what makes the heading of a moving car well determined);
  - shape: α_k / stddev_k (the spread of real vehicles).
scipy.optimize.least_squares gets an analytic Jacobian (sparse for long tracks).
Pixels are undistorted once up front (camera.undistort_pixels) so the model is a pinhole; the reprojection
error in undistorted pixels equals the one in captured pixels up to the local scale of the distortion.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import sparse
from scipy.optimize import least_squares

from .vehicle_shape import ShapeModel, load_shape_model


@dataclass
class PoseSettings:
    sigma_px: float = 2.0          # expected keypoint noise, pixels
    loss: str = "soft_l1"
    f_scale: float = 2.0           # robust loss knee, in units of sigma_px
    sigma_accel: float = 1.5       # m/s^1.5: velocity change per sqrt(second)
    sigma_yaw_accel: float = 0.3   # rad/s^1.5
    sigma_slip_m: float = 0.1      # sideways movement per step, metres
    shape_weight: float = 1.0      # weight of α_k / stddev_k
    min_points: int = 4            # EPnP needs 4 points
    min_spread_px: float = 2.0     # a point layout thinner than this (smallest singular value) is degenerate
    max_nfev: int = 60
    kind: str = "car"


@dataclass
class Observations:
    """A track's keypoints: times (F,), points (F, 12, 2) pixels as captured, weights (F, 12) (0 = absent)."""
    times: np.ndarray
    points: np.ndarray
    weights: np.ndarray


@dataclass
class TrackPoses:
    alpha: np.ndarray             # (k,)
    xy: np.ndarray                # (F, 2) world frame, metres
    yaw: np.ndarray               # (F,) radians about world z from world x
    init_reason: list = field(default_factory=list)   # per frame: None when EPnP gave the start, else why not
    cost: float = 0.0
    nfev: int = 0
    success: bool = True


def yaw_matrix(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def pose_to_cam(camera, xy, yaw) -> tuple[np.ndarray, np.ndarray]:
    """(R_obj_to_cam, t_obj_to_cam) of a vehicle standing on the ground at world (x, y) with heading yaw."""
    Rw, tw = camera.world_to_cam()
    return Rw @ yaw_matrix(yaw), Rw @ np.array([xy[0], xy[1], 0.0]) + tw


def cam_to_pose(camera, R, t, world=None) -> tuple[np.ndarray, float, float]:
    """A 6-DoF pose reduced to the ground: (world xy of the origin, yaw of the forward axis, tilt radians).
    `world` = camera.cam_to_world(), when the caller has it already."""
    Rc, tc = world if world is not None else camera.cam_to_world()
    Row = Rc @ R
    origin = Rc @ np.asarray(t, float).reshape(3) + tc
    fwd = Row[:, 0]
    return origin[:2], math.atan2(fwd[1], fwd[0]), math.acos(float(np.clip(Row[2, 2], -1, 1)))


def wrap(a):
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


# ---- per detection ------------------------------------------------------------------------------------


def usable_points(weights_row, pts_row, settings: PoseSettings) -> tuple[np.ndarray, str | None]:
    """Indices of a detection's usable keypoints and why they cannot start a pose (None when they can)."""
    idx = np.flatnonzero(np.asarray(weights_row) > 0)
    if len(idx) < settings.min_points:
        return idx, f"{len(idx)} usable keypoints (EPnP needs {settings.min_points})"
    p = np.asarray(pts_row, float)[idx]
    sv = np.linalg.svd(p - p.mean(axis=0), compute_uv=False)
    if sv[-1] / math.sqrt(len(idx)) < settings.min_spread_px:
        return idx, "degenerate keypoint layout (the points lie on a line)"
    return idx, None


def epnp(camera, model_points, pixels_undist) -> tuple[np.ndarray, np.ndarray] | None:
    """6-DoF pose (R, t) from ≥ 4 correspondences with OpenCV's EPnP; None when it fails or lands behind."""
    ok, rvec, tvec = cv2.solvePnP(np.ascontiguousarray(model_points, np.float64),
                                  np.ascontiguousarray(pixels_undist, np.float64), camera.K, None,
                                  flags=cv2.SOLVEPNP_EPNP)
    if not ok or not np.isfinite(tvec).all() or tvec[2, 0] <= 0:
        return None
    return cv2.Rodrigues(rvec)[0], tvec.reshape(3)


def per_frame_baseline(camera, obs: Observations, settings: PoseSettings | None = None,
                       refine: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The per-frame method the track fit is compared with: EPnP with the mean shape, then 6-DoF
    Levenberg–Marquardt refinement (cv2.solvePnPRefineLM), each frame alone. Returns (xy (F, 2), yaw (F,)),
    NaN where refused."""
    settings = settings or PoseSettings()
    mean = load_shape_model(settings.kind).mean
    F = len(obs.times)
    xy, yaw = np.full((F, 2), np.nan), np.full(F, np.nan)
    und = camera.undistort_pixels(obs.points.reshape(-1, 2)).reshape(F, -1, 2)
    world = camera.cam_to_world()
    for f in range(F):
        idx, why = usable_points(obs.weights[f], und[f], settings)
        if why:
            continue
        pose = epnp(camera, mean[idx], und[f, idx])
        if pose is None:
            continue
        R, t = pose
        if refine:
            rvec, tvec = cv2.Rodrigues(R)[0], t.reshape(3, 1).copy()
            rvec, tvec = cv2.solvePnPRefineLM(mean[idx], und[f, idx], camera.K, None, rvec, tvec)
            R, t = cv2.Rodrigues(rvec)[0], tvec.reshape(3)
        xy[f], yaw[f], _ = cam_to_pose(camera, R, t, world)
    return xy, yaw


# ---- track initialisation -----------------------------------------------------------------------------


def _interpolate(times, values, ok, periodic=False):
    """Fill frames where ok is False by linear interpolation over time (nearest value at the ends)."""
    v = np.array(values, float)
    if periodic:
        v[ok] = np.unwrap(v[ok])
    if ok.sum() == 0:
        return v
    if ok.sum() == 1:
        v[~ok] = v[ok][0]
        return v
    v[~ok] = np.interp(times[~ok], times[ok], v[ok])
    return v


def initial_poses(camera, obs: Observations, model: ShapeModel, settings: PoseSettings, und=None):
    """Per frame EPnP with the mean shape, reduced to the ground; yaw outliers (flips) and refused frames
    are filled from the others. Returns (xy (F, 2), yaw (F,), reasons) or None when no frame gave a pose."""
    F = len(obs.times)
    if und is None:
        und = camera.undistort_pixels(obs.points.reshape(-1, 2)).reshape(F, -1, 2)
    world = camera.cam_to_world()
    xy, yaw = np.full((F, 2), np.nan), np.full(F, np.nan)
    reasons: list = [None] * F
    for f in range(F):
        idx, why = usable_points(obs.weights[f], und[f], settings)
        if why is None:
            pose = epnp(camera, model.mean[idx], und[f, idx])
            if pose is None:
                why = "EPnP found no pose in front of the camera"
            else:
                xy[f], yaw[f], _ = cam_to_pose(camera, *pose, world)
        reasons[f] = why
    ok = ~np.isnan(yaw)
    if not ok.any():
        return None
    # the yaw most frames agree with; frames more than 60° off it are treated as flips and re-filled
    c = np.cos(yaw[ok][:, None] - yaw[ok][None, :]).sum(axis=1)
    ref = yaw[ok][np.argmax(c)]
    bad = ok & (np.abs(wrap(yaw - ref)) > math.radians(60))
    for f in np.flatnonzero(bad):
        reasons[f] = "EPnP pose disagreed with the track (a flip); started from its neighbours"
    ok &= ~bad
    yaw = np.where(ok, ref + wrap(yaw - ref), np.nan)
    # positions: a robust line through the EPnP positions over time (EPnP depth is noisy frame to frame)
    t = obs.times - obs.times[ok].mean()
    if ok.sum() >= 3:
        A = np.c_[np.ones(ok.sum()), t[ok]]
        for j in range(2):
            coef = np.linalg.lstsq(A, xy[ok, j], rcond=None)[0]
            res = np.abs(xy[ok, j] - A @ coef)
            keep = res <= max(3 * np.median(res), 0.2)
            coef = np.linalg.lstsq(A[keep], xy[ok, j][keep], rcond=None)[0]
            xy[:, j] = coef[0] + coef[1] * t
    else:
        xy = np.c_[_interpolate(obs.times, xy[:, 0], ok), _interpolate(obs.times, xy[:, 1], ok)]
    return xy, _interpolate(obs.times, yaw, ok, periodic=True), reasons


# ---- the track fit ------------------------------------------------------------------------------------


class _Problem:
    """Residuals and analytic Jacobian of one track. Parameters: [α (k), (x, y, yaw) per frame]."""

    def __init__(self, camera, obs: Observations, model: ShapeModel, settings: PoseSettings, und=None):
        self.cam, self.model, self.s = camera, model, settings
        F = len(obs.times)
        self.F, self.k = F, model.n_components
        if und is None:
            und = camera.undistort_pixels(obs.points.reshape(-1, 2)).reshape(F, -1, 2)
        self.fi, self.ki = np.nonzero(obs.weights > 0)
        self.uv = und[self.fi, self.ki]
        self.sw = np.sqrt(obs.weights[self.fi, self.ki]) / settings.sigma_px
        self.Rw, self.tw = camera.world_to_cam()
        self.K = camera.K
        t = np.asarray(obs.times, float)
        self.dt = np.maximum(np.diff(t), 1e-3)                 # (F-1,)
        self.dtm = (self.dt[1:] + self.dt[:-1]) / 2 if F > 2 else np.zeros(0)
        self.n_obs = len(self.fi)

    def unpack(self, p):
        a = p[:self.k]
        q = p[self.k:].reshape(self.F, 3)
        return a, q[:, :2], q[:, 2]

    def _points(self, a):
        return self.model.mean + np.tensordot(a, self.model.components, axes=1)   # (12, 3)

    def residuals(self, p):
        return self._eval(p, jac=False)

    def jacobian(self, p):
        return self._eval(p, jac=True)

    def _eval(self, p, jac: bool):
        a, xy, yaw = self.unpack(p)
        k, F, s = self.k, self.F, self.s
        X = self._points(a)[self.ki]                           # (n, 3) object frame
        c, sn = np.cos(yaw[self.fi]), np.sin(yaw[self.fi])
        Xw = np.stack([c * X[:, 0] - sn * X[:, 1] + xy[self.fi, 0], sn * X[:, 0] + c * X[:, 1] + xy[self.fi, 1],
                       X[:, 2]], axis=1)   # np.stack: np.c_ costs more than the arithmetic here
        Xc = Xw @ self.Rw.T + self.tw
        Z = np.maximum(Xc[:, 2], 0.1)
        Kx = Xc @ self.K.T
        u = Kx[:, :2] / Z[:, None]
        r_kp = ((u - self.uv) * self.sw[:, None]).reshape(-1)
        # motion residuals
        r_mot = []
        if F > 2:
            v = np.diff(np.column_stack([xy, yaw]), axis=0) / self.dt[:, None]      # (F-1, 3)
            acc = np.diff(v, axis=0) / np.sqrt(self.dtm)[:, None]                  # (F-2, 3)
            r_mot.append((acc[:, :2] / s.sigma_accel).reshape(-1))
            r_mot.append(acc[:, 2] / s.sigma_yaw_accel)
        if F > 1:
            d = np.diff(xy, axis=0)
            ym = (yaw[1:] + yaw[:-1]) / 2
            r_mot.append((-np.sin(ym) * d[:, 0] + np.cos(ym) * d[:, 1]) / s.sigma_slip_m)
        r_shape = s.shape_weight * a / self.model.stddev
        if not jac:
            return np.concatenate([r_kp] + r_mot + [r_shape])
        return self._jac(a, xy, yaw, X, c, sn, Xc, Z, Kx)

    def _jac(self, a, xy, yaw, X, c, sn, Xc, Z, Kx):
        k, F, s, n = self.k, self.F, self.s, self.n_obs
        rows, cols, vals = [], [], []
        # d u / d Xc (n, 2, 3)
        Ju = np.zeros((n, 2, 3))
        Ju[:, 0, :] = (self.K[0] / Z[:, None]) - np.outer(Kx[:, 0] / Z ** 2, [0, 0, 1])
        Ju[:, 1, :] = (self.K[1] / Z[:, None]) - np.outer(Kx[:, 1] / Z ** 2, [0, 0, 1])
        Ju *= self.sw[:, None, None]
        JuR = Ju @ self.Rw                                     # d / d Xw  (n, 2, 3)
        r0 = np.arange(n) * 2
        base = k + 3 * self.fi
        # x, y
        for j in range(2):
            for comp in range(2):
                rows.append(r0 + j)
                cols.append(base + comp)
                vals.append(JuR[:, j, comp])
        # yaw
        dW = np.stack([-sn * X[:, 0] - c * X[:, 1], c * X[:, 0] - sn * X[:, 1], np.zeros(n)], axis=1)
        dyaw = np.einsum("njc,nc->nj", JuR, dW)
        for j in range(2):
            rows.append(r0 + j)
            cols.append(base + 2)
            vals.append(dyaw[:, j])
        # alpha
        Q = self.model.components[:, self.ki, :]                # (k, n, 3)
        for m in range(k):
            dWm = np.stack([c * Q[m, :, 0] - sn * Q[m, :, 1], sn * Q[m, :, 0] + c * Q[m, :, 1], Q[m, :, 2]], axis=1)
            da = np.einsum("njc,nc->nj", JuR, dWm)
            for j in range(2):
                rows.append(r0 + j)
                cols.append(np.full(n, m))
                vals.append(da[:, j])
        row = 2 * n
        if F > 2:
            i = np.arange(1, F - 1)
            sq = np.sqrt(self.dtm)
            for comp, sig in ((0, s.sigma_accel), (1, s.sigma_accel), (2, s.sigma_yaw_accel)):
                # acc_i = ((q[i+1]-q[i])/dt[i] - (q[i]-q[i-1])/dt[i-1]) / sqrt(dtm)
                rr = row + (np.arange(F - 2) * 2 + comp if comp < 2 else np.arange(F - 2))
                if comp == 2:
                    rr = row + 2 * (F - 2) + np.arange(F - 2)
                w = 1.0 / (sq * sig)
                for nb, coef in ((i + 1, 1 / self.dt[i]), (i, -1 / self.dt[i] - 1 / self.dt[i - 1]),
                                 (i - 1, 1 / self.dt[i - 1])):
                    rows.append(rr)
                    cols.append(k + 3 * nb + comp)
                    vals.append(coef * w)
            row += 3 * (F - 2)
        if F > 1:
            d = np.diff(xy, axis=0)
            ym = (yaw[1:] + yaw[:-1]) / 2
            sy, cy = np.sin(ym), np.cos(ym)
            rr = row + np.arange(F - 1)
            i0, i1 = np.arange(F - 1), np.arange(1, F)
            dpsi = 0.5 * (-cy * d[:, 0] - sy * d[:, 1]) / s.sigma_slip_m
            for idx, sign in ((i1, 1), (i0, -1)):
                rows += [rr, rr]
                cols += [k + 3 * idx, k + 3 * idx + 1]
                vals += [sign * -sy / s.sigma_slip_m, sign * cy / s.sigma_slip_m]
                rows.append(rr)
                cols.append(k + 3 * idx + 2)
                vals.append(dpsi)
            row += F - 1
        rows.append(row + np.arange(k))
        cols.append(np.arange(k))
        vals.append(s.shape_weight / self.model.stddev)
        rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        if F > 60:  # long tracks: sparse (every entry is written once, so no duplicates to sum)
            return sparse.csr_matrix((vals, (rows, cols)), shape=(row + k, k + 3 * F))
        J = np.zeros((row + k, k + 3 * F))
        J[rows, cols] = vals
        return J


def _robust(r2, f2):
    """soft-L1 on squared, scaled residual norms: (rho, IRLS weight) with rho = 2 f² (sqrt(1 + r²/f²) - 1)."""
    q = np.sqrt(1.0 + r2 / f2)
    return 2.0 * f2 * (q - 1.0), 1.0 / q


def _solve_lm(prob: _Problem, p0: np.ndarray, max_iter: int):
    """Levenberg–Marquardt on the normal equations with IRLS weights for the keypoint residuals (the priors
    stay quadratic). The same objective least_squares(loss='soft_l1') minimises on the keypoints, at a
    fraction of its cost for tracks of tens of frames: the system is (k + 3F) square, solved by Cholesky."""
    n_kp = 2 * prob.n_obs
    f2 = prob.s.f_scale ** 2

    def cost_of(r):
        e2 = r[:n_kp:2] ** 2 + r[1:n_kp:2] ** 2
        rho, w = _robust(e2, f2)
        return 0.5 * (rho.sum() + (r[n_kp:] ** 2).sum()), w

    p = p0.copy()
    r = prob.residuals(p)
    cost, w = cost_of(r)
    lam, nfev = 1e-3, 1
    for _ in range(max_iter):
        J = prob.jacobian(p)
        if sparse.issparse(J):
            J = J.toarray()
        sw = np.ones(len(r))
        sw[:n_kp] = np.repeat(np.sqrt(w), 2)
        Jw = J * sw[:, None]
        A = Jw.T @ Jw
        g = Jw.T @ (r * sw)
        diag = np.diag(A).copy() + 1e-9
        improved = False
        for _ in range(10):
            try:
                step = -np.linalg.solve(A + lam * np.diag(diag), g)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            r_new = prob.residuals(p + step)
            nfev += 1
            c_new, w_new = cost_of(r_new)
            if c_new < cost:
                rel = (cost - c_new) / max(cost, 1e-12)
                p, r, cost, w = p + step, r_new, c_new, w_new
                lam = max(lam / 3, 1e-9)
                improved = True
                break
            lam *= 4
        if not improved or rel < 1e-10 or np.abs(step).max() < 1e-9:
            break
    return p, cost, nfev


def fit_track(camera, obs: Observations, settings: PoseSettings | None = None, init=None,
              solver: str = "lm") -> TrackPoses | None:
    """One shape and ground-plane poses for a whole track; None when no frame has ≥ 4 usable keypoints.
    solver: 'lm' (ours, normal equations, fast) or 'scipy' (least_squares, trf, soft_l1: the reference)."""
    s = settings or PoseSettings()
    model = load_shape_model(s.kind)
    F = len(obs.times)
    und = camera.undistort_pixels(obs.points.reshape(-1, 2)).reshape(F, -1, 2)
    if init is None:
        init = initial_poses(camera, obs, model, s, und)
        if init is None:
            return None
    xy0, yaw0, reasons = init
    prob = _Problem(camera, obs, model, s, und)
    best = None
    for flip in (0.0, math.pi):
        p0 = np.r_[np.zeros(prob.k), np.c_[xy0, yaw0 + flip].reshape(-1)]
        if solver == "scipy":
            res = least_squares(prob.residuals, p0, jac=prob.jacobian, loss=s.loss, f_scale=s.f_scale,
                                method="trf", tr_solver="exact" if prob.F <= 60 else "lsmr",
                                x_scale="jac", max_nfev=s.max_nfev)
            x, cost, nfev = res.x, float(res.cost), int(res.nfev)
        else:
            x, cost, nfev = _solve_lm(prob, p0, s.max_nfev)
        if best is None or cost < best[1]:
            best = (x, cost, nfev)
        # the flipped start is only worth trying when the first fit is poor (mean residual > ~2 σ)
        if best[1] < 2.0 * max(prob.n_obs, 1):
            break
    a, xy, yaw = prob.unpack(best[0])
    return TrackPoses(a.copy(), xy.copy(), wrap(yaw), reasons, best[1], best[2], True)


def reprojection_px(camera, alpha, xy, yaw, obs: Observations, kind: str = "car") -> np.ndarray:
    """Per frame the median reprojection error (captured pixels) of its observed keypoints (NaN: none)."""
    kp = load_shape_model(kind).keypoints(alpha)
    out = np.full(len(obs.times), np.nan)
    for f in range(len(obs.times)):
        m = obs.weights[f] > 0
        if not m.any():
            continue
        R, t = pose_to_cam(camera, xy[f], yaw[f])
        px = camera.project(kp[m] @ R.T + t)
        out[f] = float(np.median(np.linalg.norm(px - obs.points[f, m], axis=1)))
    return out
