"""The built-in body estimator: no weights, only the boxes of a track and the calibrated ground plane.

Per track: (1) each box's bottom ray meets the ground (z = -d / (nᵀ K⁻¹ p)); (2) positions smoothed along the
track give the direction of travel — walkers face it, people standing still face the camera; (3) a walking or
standing body is placed so that its own projected box bottom meets the detection's (the feet of a walker are
not under the pelvis); (4) the box top at that depth gives a metric height per detection, and the track takes
the median as its one height; (5) placed again with that height, the ground points are smoothed along the
track. The gait phase of a walker is unknown and moves the box bottom (the nearer foot) by up to half a stride,
so each detection picks, among a few phases, the walking body whose projected box has the detection's width and
height; a person standing still may face anywhere, so their ground point is the mean of placements over six
headings (the body itself faces the camera).
"""
from __future__ import annotations

import math

import numpy as np

from . import bodies
from .body_types import PersonDetection, TrackEstimate
from .body_ground import (box_bottom_pixels, local_body, place_to_boxes, project_boxes, scale_to_tops,
                          shape_for_height, smooth_track, smpl_params, upright_rotations)

STRIDE_RAD = 0.35          # hip swing of the walking pose
WALK_PHASES = np.linspace(-math.pi / 2, math.pi / 2, 7)  # candidate gait phases: either leg ahead, legs together
STILL_YAWS = np.linspace(0, 2 * math.pi, 6, endpoint=False)  # headings averaged for people standing still
STILL_SPEED = 0.3          # m/s: slower than this is standing
DEFAULT_HEIGHT = 1.70
HEIGHT_RANGE = (0.8, 2.4)
HEIGHT_SCAN = (0.94, 0.97, 1.0, 1.03, 1.06)


class BuiltinEstimator:
    name = "builtin"

    def __init__(self, stride_rad: float = STRIDE_RAD, still_speed: float = STILL_SPEED,
                 bandwidth_s: float = 1.0, height_m: float | None = None):
        self.stride = float(stride_rad)
        self.still_speed = float(still_speed)
        self.bandwidth = float(bandwidth_s)
        self.fixed_height = height_m
        self.settings = {"stride_rad": self.stride, "still_speed": self.still_speed, "bandwidth_s": self.bandwidth,
                         "height_m": height_m}
        self._bodies: dict = {}

    def _bodies_for(self, body_model: str) -> list:
        """[standing, walking at each candidate phase] local bodies at the default height. Placement scales them
        to each track's height (exact for the proxy, whose height control is a scale; close for SMPL)."""
        if body_model not in self._bodies:
            ref = shape_for_height(body_model, DEFAULT_HEIGHT)
            self._bodies[body_model] = [local_body(ref, bodies.walking_pose(0.0, 0.0))] + \
                [local_body(ref, bodies.walking_pose(ph, self.stride)) for ph in WALK_PHASES]
        return self._bodies[body_model]

    def _final_bodies(self, body_model: str, height: float) -> list:
        proxy = bodies.parse_body_model(body_model)[0] == "proxy"
        shape = shape_for_height(body_model, round(height, 3))
        if proxy:
            return [b.scaled(round(height, 3) / DEFAULT_HEIGHT, shape) for b in self._bodies_for(body_model)]
        return [local_body(shape, bodies.walking_pose(0.0, 0.0))] + \
            [local_body(shape, bodies.walking_pose(ph, self.stride)) for ph in WALK_PHASES]

    def _place(self, camera, boxes, G0, R, moving, scale, bl, use_height: bool, iters: int = 3):
        """Ground points (n,3) and the body index per detection (0 standing, 1.. walking phases). A walker takes
        the gait phase whose projected box has the detection's width (and height, once the track's height is
        known); a person standing still may face anywhere, so their ground point is the mean of the placements
        over headings all around (the body itself faces the camera). Each placement makes the body's box bottom
        meet the detection's."""
        G = np.empty_like(G0)
        which = np.zeros(len(G0), int)
        cost = np.zeros(len(G0))
        still = ~moving
        if still.any():
            Gy = [place_to_boxes(camera, np.matmul(bodies.rodrigues(camera.n * yaw), R[still]), G0[still],
                                 bl[0].hull, boxes[still], iters=iters, scale=scale[still]) for yaw in STILL_YAWS]
            G[still] = np.mean(Gy, axis=0)
        if moving.any():
            Bm, Rm, G0m, sm = boxes[moving], R[moving], G0[moving], scale[moving]
            costs, Gk = [], []
            for body in bl[1:]:
                g = place_to_boxes(camera, Rm, G0m, body.hull, Bm, iters=iters, scale=sm)
                pb = project_boxes(camera, Rm, g, body.hull, sm)
                c = ((pb[:, 2] - pb[:, 0] + 1 - Bm[:, 2]) / Bm[:, 3]) ** 2
                if use_height:
                    c = c + ((pb[:, 3] - pb[:, 1] + 1 - Bm[:, 3]) / Bm[:, 3]) ** 2
                costs.append(np.nan_to_num(c, nan=np.inf))
                Gk.append(g)
            best = np.argmin(np.array(costs), axis=0)
            G[moving] = np.array(Gk)[best, np.arange(len(best))]
            cost[moving] = np.array(costs)[best, np.arange(len(best))]
            which[moving] = best + 1
        return G, which, cost

    def _scan_heights(self, camera, B, G, R, moving, tr, track_h, bl, n_tracks):
        """For walkers, a person's height and their stride trade off in one box (a taller person further
        away with the legs together, or a shorter one nearer with a wide stride); across a track the box
        changes with the gait, and only the right height lets every frame find a phase that fits. So try
        heights around the current one and keep, per track, the one whose frames fit best."""
        factors = HEIGHT_SCAN
        total = np.zeros((len(factors), n_tracks))
        m = moving
        for i, f in enumerate(factors):
            _, _, c = self._place(camera, B[m], G[m], R[m], np.ones(m.sum(), bool), track_h[tr[m]] * f /
                                  DEFAULT_HEIGHT, bl, use_height=True, iters=2)
            total[i] = np.bincount(tr[m], weights=c, minlength=n_tracks)
        f = np.asarray(factors)
        best = np.clip(np.argmin(total, axis=0), 1, len(f) - 2)
        cols = np.arange(n_tracks)
        c0, c1, c2 = total[best - 1, cols], total[best, cols], total[best + 1, cols]
        curv = c0 - 2 * c1 + c2
        # the valley is flat near the truth: take the vertex of the parabola through the three lowest
        step = np.where(curv > 1e-12, 0.5 * (c0 - c2) / np.where(curv > 1e-12, curv, 1), 0.0)
        factor = f[best] + np.clip(step, -1, 1) * (f[1] - f[0])
        has = np.bincount(tr[m], minlength=n_tracks) > 0
        out = track_h.copy()
        out[has] = np.clip(track_h[has] * factor[has], *HEIGHT_RANGE)
        return out

    def _heights(self, camera, boxes, G, R, which, scale, bl) -> np.ndarray:
        """Heights per detection from the box tops (people standing still: the mean over the headings)."""
        s = np.ones(len(G))
        for k, body in enumerate(bl):
            sel = which == k
            if not sel.any():
                continue
            yaws = STILL_YAWS if k == 0 else [0.0]
            s[sel] = np.mean([scale_to_tops(camera, np.matmul(bodies.rodrigues(camera.n * yaw), R[sel]), G[sel],
                                            body.hull, boxes[sel], base=scale[sel]) for yaw in yaws], axis=0)
        return s * DEFAULT_HEIGHT

    def _headings(self, camera, times, G, groups):
        """Smoothed ground points, rotations, moving flags and speeds, track by track."""
        Gs, vel = np.empty_like(G), np.empty_like(G)
        for g in groups:
            Gs[g], vel[g] = smooth_track(times[g], G[g], self.bandwidth)
        speed = np.linalg.norm(vel, axis=1)
        moving = speed >= self.still_speed
        to_camera = -camera.d * camera.n - Gs
        heading = np.where(moving[:, None], vel, to_camera)
        return Gs, upright_rotations(heading, camera.n), moving, speed

    def estimate_track(self, camera, detections: list[PersonDetection], body_model: str = "proxy") -> TrackEstimate:
        return self.estimate_tracks(camera, [detections], body_model)[0]

    def estimate_tracks(self, camera, tracks: list[list[PersonDetection]], body_model: str = "proxy"
                        ) -> list[TrackEstimate]:
        """Many tracks at once: the geometry runs on all their detections together (one height per track)."""
        dets = [d for t in tracks for d in t]
        n = len(dets)
        track_of = np.repeat(np.arange(len(tracks)), [len(t) for t in tracks])
        boxes = np.array([d.box for d in dets], float).reshape(n, 4)
        times = np.array([d.time for d in dets], float)
        G_raw = camera.backproject_to_ground(box_bottom_pixels(boxes)) if n else np.zeros((0, 3))
        good = np.isfinite(G_raw).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        idx = np.flatnonzero(good)
        B, T, G, tr = boxes[good], times[good], G_raw[good], track_of[good]
        groups = [np.flatnonzero(tr == k) for k in range(len(tracks))]
        fixed = self.fixed_height
        track_h = np.full(len(tracks), float(fixed or DEFAULT_HEIGHT))
        heights = np.full(len(B), np.nan)
        bl = self._bodies_for(body_model)
        which = np.zeros(len(B), int)
        # 1: headings from the raw foot points, heights from the box tops (the track's median); 2: placed with
        # that height and smoothed along the track, heights again above the smoothed points; 3: final placement
        for step in range(3):
            scale = track_h[tr] / DEFAULT_HEIGHT
            _, R, moving, _ = self._headings(camera, T, G, groups)
            G, which, _ = self._place(camera, B, G, R, moving, scale, bl, use_height=step > 0,
                                      iters=3 if step == 0 else 2)
            if fixed is None and step < 2 and len(B):
                at = G if step == 0 else self._headings(camera, T, G, groups)[0]
                heights = self._heights(camera, B, at, R, which, scale, bl)
                for k, g in enumerate(groups):
                    if len(g):
                        track_h[k] = float(np.clip(np.median(heights[g]), *HEIGHT_RANGE))
            if fixed is None and step == 1 and moving.any():
                track_h = self._scan_heights(camera, B, G, R, moving, tr, track_h, bl, len(tracks))
        Gs, R, moving, speed = self._headings(camera, T, G, groups)
        out = []
        for k, t in enumerate(tracks):
            g = groups[k]
            final = self._final_bodies(body_model, track_h[k])
            params: list[dict | None] = [None] * len(t)
            foot = np.full((len(t), 3), np.nan)
            first = int(np.searchsorted(track_of, k))
            local = idx[g] - first          # positions of the good detections inside this track
            for b, body in enumerate(final):
                sel = which[g] == b
                for j, p in zip(local[sel], smpl_params(R[g][sel], Gs[g][sel], body)):
                    params[j] = p
            foot[local] = G[g]
            failed = {d.detection_id: "the box bottom is at or above the horizon, not on the ground"
                      for d, ok in zip(t, good[first:first + len(t)]) if not ok}
            seen = {t[j].detection_id: round(float(h), 3) for j, h in zip(local, heights[g]) if np.isfinite(h)}
            out.append(TrackEstimate(final[0].shape, params, foot, failed,
                                     {"height_per_detection": heights[g].tolist(), "height_seen": seen,
                                      "moving": moving[g].tolist(),
                                      "speed_mps": speed[g].tolist(), "pose": which[g].tolist()}))
        return out

