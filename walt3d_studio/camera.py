"""The camera model: intrinsics, lens distortion and the ground plane, with the geometry every stage uses.

Conventions (docs/calibration.md, DESIGN.md "Calibration"): OpenCV camera frame (x right, y down, z forward,
metres), pixel centres at integer coordinates, ground plane n·X + d = 0 with n the unit normal pointing up
(towards the camera) and d > 0 the camera's height. The world frame is derived from n and never stored.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box

from .errors import CalibrationError

CAMERA_VERSION = 1
_N_TOL = 1e-3  # |n| may be off by this much in a file (rounding); it is renormalised on load
_HINT_RECALIBRATE = "Fix the field by hand or calibrate the camera again (walt3d calibrate PROJECT --lines FILE)."


@dataclass(eq=False)  # arrays inside: compare fields explicitly
class Camera:
    """A calibrated stationary camera. Construction validates every field (raises CalibrationError)."""

    image_size: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray | None
    n: np.ndarray
    d: float
    provenance: dict = field(default_factory=dict)
    version: int = CAMERA_VERSION

    def __post_init__(self):
        self.image_size = _check_image_size(self.image_size)
        self.K = _check_K(self.K)
        self.dist = _check_dist(self.dist)
        self.n = _check_n(self.n)
        self.d = _check_d(self.d)
        if not isinstance(self.provenance, dict):
            raise CalibrationError("Field 'provenance' must be a JSON object.", _HINT_RECALIBRATE)
        from .validate import MAX_DEPTH, depth

        if depth(self.provenance) > MAX_DEPTH:
            raise CalibrationError(f"Field 'provenance' is nested more than {MAX_DEPTH} levels deep.",
                                   _HINT_RECALIBRATE)
        _check_plausible(self.image_size, self.K, self.dist, self.d)
        if isinstance(self.version, bool) or self.version != CAMERA_VERSION:
            raise CalibrationError(
                f"Field 'version' is {self.version!r}; this program reads camera.json version {CAMERA_VERSION}.",
                "Update WALT3D Studio, or calibrate the camera again with this version.")

    # ---- constructors -------------------------------------------------------------------------------

    @classmethod
    def looking_at_ground(cls, image_size, focal_px: float, pitch_deg: float, height_m: float,
                          roll_deg: float = 0.0, dist=None, provenance: dict | None = None) -> "Camera":
        """A camera with the principal point at the image centre, its optical axis `pitch_deg` below the
        horizon (90 = straight down), rolled by `roll_deg` about the optical axis (positive: the horizon
        descends to the right in the image), `height_m` above the ground."""
        w, h = image_size
        K = np.array([[focal_px, 0, (w - 1) / 2], [0, focal_px, (h - 1) / 2], [0, 0, 1]], float)
        t, r = math.radians(pitch_deg), math.radians(roll_deg)
        n = np.array([math.sin(r) * math.cos(t), -math.cos(r) * math.cos(t), -math.sin(t)])
        prov = provenance if provenance is not None else {"method": "synthetic"}
        return cls((w, h), K, dist, n, height_m, prov)

    # ---- serialisation ------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "image_size": list(self.image_size),
            "K": self.K.tolist(),
            "dist": None if self.dist is None else self.dist.tolist(),
            "n": self.n.tolist(),
            "d": self.d,
            "provenance": _jsonable(self.provenance),
        }

    @classmethod
    def from_dict(cls, data) -> "Camera":
        if not isinstance(data, dict):
            raise CalibrationError("A camera calibration must be a JSON object.", _HINT_RECALIBRATE)
        missing = [k for k in ("version", "image_size", "K", "dist", "n", "d") if k not in data]
        if missing:
            raise CalibrationError(f"Calibration lacks the field(s) {', '.join(missing)}.", _HINT_RECALIBRATE)
        return cls(data["image_size"], data["K"], data["dist"], data["n"], data["d"],
                   data.get("provenance", {}), data["version"])

    @classmethod
    def load(cls, path) -> "Camera":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CalibrationError(f"No camera calibration at {path}.",
                                   "Calibrate the camera first: walt3d calibrate PROJECT --lines FILE.") from None
        except (OSError, UnicodeDecodeError) as e:
            raise CalibrationError(f"Cannot read {path}: {e}.", "Check the file's permissions and contents.") from None
        from .validate import load_json

        data = load_json(text, str(path), _HINT_RECALIBRATE, error=CalibrationError)
        try:
            return cls.from_dict(data)
        except CalibrationError as e:
            raise CalibrationError(f"{path}: {e.message}", e.hint) from None

    def save(self, path) -> None:
        """Write atomically: a crash leaves either the old file or the new one, never half of one."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a calibration is not a secret
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ---- intrinsics ---------------------------------------------------------------------------------

    @property
    def focal(self) -> float:
        """Mean focal length in pixels."""
        return float((self.K[0, 0] + self.K[1, 1]) / 2)

    @property
    def principal_point(self) -> np.ndarray:
        return self.K[:2, 2].copy()

    def project(self, X_cam) -> np.ndarray:
        """Camera-frame points (N, 3) to pixels (N, 2), distortion applied; points not in front are NaN."""
        X = _points(X_cam, 3)
        out = np.full((len(X), 2), np.nan)
        front = X[:, 2] > 1e-9
        if not front.any():
            return out
        if self.dist is None:
            p = X[front] @ self.K.T
            out[front] = p[:, :2] / p[:, 2:3]
        else:
            px, _ = cv2.projectPoints(X[front].reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self.K, self.dist)
            out[front] = px.reshape(-1, 2)
        return out

    def undistort_pixels(self, px) -> np.ndarray:
        """Pixels as captured to where an ideal pinhole camera with the same K would see them."""
        p = _points(px, 2)
        if self.dist is None or len(p) == 0:
            return p.copy()
        u = cv2.undistortPoints(p.reshape(-1, 1, 2), self.K, self.dist, P=self.K).reshape(-1, 2)
        # undistortPoints stops after 5 iterations (~0.02 px off near strongly distorted corners): polish
        for _ in range(5):
            seen, _ = cv2.projectPoints(self._rays_undistorted(u).reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                        self.K, self.dist)
            u = u + (p - seen.reshape(-1, 2))
        return u

    def rays(self, px) -> np.ndarray:
        """Rays K⁻¹ p̃ (N, 3) with z = 1 through the given (distorted) pixels."""
        return self._rays_undistorted(self.undistort_pixels(px))

    def _rays_undistorted(self, p) -> np.ndarray:
        return np.c_[p, np.ones(len(p))] @ np.linalg.inv(self.K).T

    # ---- ground plane -------------------------------------------------------------------------------

    def backproject_to_ground(self, px) -> np.ndarray:
        """Pixels (N, 2) to camera-frame points on the ground (N, 3); pixels at or above the horizon are NaN."""
        return self._ground_points(self._rays_undistorted(self.undistort_pixels(px)))

    def _ground_points(self, rays) -> np.ndarray:
        denom = rays @ self.n
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(denom < -1e-12, -self.d / denom, np.nan)
        return rays * z[:, None]

    def ground_depth(self, px) -> np.ndarray:
        """Depth along camera z of the ground seen at each pixel: z = -d / (nᵀ K⁻¹ p); NaN above the horizon."""
        return self.backproject_to_ground(px)[:, 2]

    def horizon_line(self) -> np.ndarray | None:
        """The horizon (a, b, c) with a x + b y + c = 0 in undistorted pixels, scaled so a² + b² = 1 and
        a x + b y + c > 0 on the ground side; None when the ground is parallel to the image plane."""
        line = np.linalg.inv(self.K).T @ self.n  # n · K⁻¹ p̃ = 0
        norm = math.hypot(line[0], line[1])
        if norm < 1e-9 * abs(line[2]):
            return None
        return -line / norm  # n · K⁻¹ p̃ < 0 on the ground, so flip the sign to make it positive there

    def horizon_segment(self) -> np.ndarray | None:
        """The horizon clipped to the image, ((x1, y1), (x2, y2)), or None when it is not in the image."""
        line = self.horizon_line()
        if line is None:
            return None
        a, b, c = line
        w, h = self.image_size
        pts = []
        if abs(b) > 1e-12:
            pts += [(x, -(a * x + c) / b) for x in (0.0, w - 1.0)]
        if abs(a) > 1e-12:
            pts += [(-(b * y + c) / a, y) for y in (0.0, h - 1.0)]
        eps = 1e-6
        pts = [p for p in pts if -eps <= p[0] <= w - 1 + eps and -eps <= p[1] <= h - 1 + eps]
        if len(pts) < 2:
            return None
        pts = np.array(pts)
        along = pts @ np.array([b, -a])
        seg = pts[[np.argmin(along), np.argmax(along)]]
        return None if np.allclose(seg[0], seg[1]) else seg

    # ---- world frame --------------------------------------------------------------------------------

    def world_to_cam(self) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) with X_cam = R X_world + t. World: origin at the camera's foot on the ground, z = n,
        x = the image x axis projected onto the ground, y = z × x."""
        z = self.n
        for axis in (np.array([1.0, 0, 0]), np.array([0, 0, 1.0])):  # image x, or the optical axis if x ∥ n
            x = axis - (axis @ z) * z
            if np.linalg.norm(x) > 1e-6:
                break
        x = x / np.linalg.norm(x)
        R = np.column_stack([x, np.cross(z, x), z])
        return R, -self.d * self.n

    def cam_to_world(self) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) with X_world = R X_cam + t."""
        R, t = self.world_to_cam()
        return R.T, -R.T @ t

    def world_to_camera_points(self, X_world) -> np.ndarray:
        R, t = self.world_to_cam()
        return _points(X_world, 3) @ R.T + t

    def camera_to_world_points(self, X_cam) -> np.ndarray:
        R, t = self.cam_to_world()
        return _points(X_cam, 3) @ R.T + t

    def world_to_pixels(self, X_world) -> np.ndarray:
        return self.project(self.world_to_camera_points(X_world))

    def pixels_to_ground_world(self, px) -> np.ndarray:
        """Pixels to world xy on the ground (N, 2); NaN above the horizon."""
        return self.camera_to_world_points(self.backproject_to_ground(px))[:, :2]

    # ---- objects on the ground ----------------------------------------------------------------------

    def ground_footprint(self, center_world_xy, yaw: float, length: float, width: float) -> Polygon:
        """Rectangle on the ground in world xy: `length` along the heading (yaw radians about world z from
        world x), `width` across it. Corners counter-clockwise from front-right (as seen from above)."""
        return Polygon(_footprint_corners(center_world_xy, yaw, length, width))

    def box_footprint_pixels(self, center_world_xy, yaw: float, length: float, width: float,
                             height: float) -> np.ndarray:
        """The 8 corners (8, 2) in pixels of an upright box standing on the ground: the 4 ground corners in
        ground_footprint's order, then the 4 top corners above them. Corners behind the camera are NaN."""
        xy = _footprint_corners(center_world_xy, yaw, length, width)
        X = np.r_[np.c_[xy, np.zeros(4)], np.c_[xy, np.full(4, height)]]
        return self.world_to_pixels(X)

    def object_height(self, foot_px, head_px) -> float:
        """Metric height of an upright object from its foot (on the ground) and head pixels: the h for which
        foot + h·n projects closest to the head pixel."""
        foot = self.backproject_to_ground(np.asarray(foot_px, float).reshape(1, 2))[0]
        if np.isnan(foot).any():
            raise CalibrationError("The foot point is at or above the horizon, so it is not on the ground.",
                                   "Click the point where the object touches the ground.")
        head = self.undistort_pixels(np.asarray(head_px, float).reshape(1, 2))[0]
        a, b = self.K @ foot, self.K @ self.n
        # algebraic solution of (a + h b) ∥ (u, v, 1), then Gauss-Newton on the pixel error
        A = np.array([a[0] - head[0] * a[2], a[1] - head[1] * a[2]])
        B = np.array([b[0] - head[0] * b[2], b[1] - head[1] * b[2]])
        h = -float(A @ B) / float(B @ B)
        for _ in range(5):
            q = a + h * b
            r = q[:2] / q[2] - head
            J = (b[:2] * q[2] - q[:2] * b[2]) / q[2] ** 2
            h -= float(J @ r) / float(J @ J)
        return h

    def ground_grid_segments(self, spacing: float = 1.0, extent: float = 50.0) -> np.ndarray:
        """Pixel segments (M, 2, 2) of a ground grid with lines every `spacing` metres along world x and y,
        up to `extent` metres from the camera's foot, clipped to the image and the visible ground. Lines are
        cut into pieces at most `spacing` long so that lens distortion bends them as it should."""
        region = self._visible_ground(extent)
        if region is None or region.is_empty:
            return np.zeros((0, 2, 2))
        x0, y0, x1, y1 = region.bounds
        lines = [LineString([(x, y0 - 1), (x, y1 + 1)]) for x in _multiples(x0, x1, spacing)]
        lines += [LineString([(x0 - 1, y), (x1 + 1, y)]) for y in _multiples(y0, y1, spacing)]
        ends = []
        for line in lines:
            cut = line.intersection(region)
            for piece in getattr(cut, "geoms", [cut]):
                if piece.geom_type != "LineString" or piece.length < 1e-9:
                    continue
                (ax, ay), (bx, by) = piece.coords[0], piece.coords[-1]
                k = max(1, math.ceil(piece.length / spacing - 1e-9))
                t = np.linspace(0, 1, k + 1)
                pts = np.c_[ax + (bx - ax) * t, ay + (by - ay) * t]
                ends += [(pts[i], pts[i + 1]) for i in range(k)]
        if not ends:
            return np.zeros((0, 2, 2))
        ends = np.asarray(ends)  # (M, 2, 2) world xy
        X = np.c_[ends.reshape(-1, 2), np.zeros(2 * len(ends))]
        px = self.world_to_pixels(X).reshape(-1, 2, 2)
        return px[~np.isnan(px).any(axis=(1, 2))]

    def _visible_ground(self, extent: float) -> Polygon | None:
        """World-xy polygon of the ground seen in the image, within `extent` of the foot (a square)."""
        w, h = self.image_size
        s = np.linspace(0, 1, 33)[:-1]
        border = np.r_[np.c_[s * (w - 1), np.zeros_like(s)], np.c_[np.full_like(s, w - 1), s * (h - 1)],
                       np.c_[(1 - s) * (w - 1), np.full_like(s, h - 1)], np.c_[np.zeros_like(s), (1 - s) * (h - 1)]]
        image = Polygon(self.undistort_pixels(border))
        line = self.horizon_line()
        if line is not None:
            # keep pixels whose ground depth is below a bound that covers the whole extent square, so the
            # back-projected polygon stays finite
            z_max = 2.0 * (math.sqrt(2.0) * extent + self.d)
            gap = self.d / (z_max * float(np.linalg.norm((np.linalg.inv(self.K).T @ self.n)[:2])))
            a, b, c = line
            big = 10.0 * (w + h) + 1e4
            p0 = np.array([-a, -b]) * (c - gap)  # a point on the shifted horizon
            tangent, normal = np.array([b, -a]), np.array([a, b])
            half = Polygon([p0 - big * tangent, p0 + big * tangent,
                            p0 + big * tangent + big * normal, p0 - big * tangent + big * normal])
            image = image.intersection(half)
        if image.is_empty or image.geom_type != "Polygon":
            return None
        ground = self.camera_to_world_points(self._ground_points(self._rays_undistorted(
            np.asarray(image.exterior.coords))))[:, :2]
        if np.isnan(ground).any():
            return None
        region = shapely.make_valid(Polygon(ground)).intersection(box(-extent, -extent, extent, extent))
        return region if region.geom_type == "Polygon" else None


# ---- helpers ----------------------------------------------------------------------------------------


def _footprint_corners(center_xy, yaw, length, width) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[length, -width], [length, width], [-length, width], [-length, -width]]) / 2
    return local @ np.array([[c, s], [-s, c]]) + np.asarray(center_xy, float).reshape(2)


def _multiples(lo: float, hi: float, step: float) -> np.ndarray:
    return np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step


def _points(a, dim: int) -> np.ndarray:
    a = np.asarray(a, float)
    if a.ndim == 1 and a.size == dim:
        a = a.reshape(1, dim)
    if a.ndim != 2 or a.shape[1] != dim:
        raise ValueError(f"expected points of shape (N, {dim}), got {a.shape}")
    return a


def _numbers(value, shape, name: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        a = None
    if a is None or a.shape != shape:
        raise CalibrationError(f"Field '{name}' must be {' x '.join(map(str, shape))} numbers.", _HINT_RECALIBRATE)
    if not np.isfinite(a).all():
        raise CalibrationError(f"Field '{name}' contains a non-finite number.", _HINT_RECALIBRATE)
    return a


MAX_IMAGE_SIDE = 100_000   # pixels; no camera we read is larger
MAX_HEIGHT_M = 10_000.0    # metres above the ground (a satellite is not a stationary traffic camera)
MAX_DIST_COEFF = 1e3       # OpenCV distortion coefficients beyond this are a corrupt file, not a lens


def _check_plausible(image_size, K, dist, d) -> None:
    """Values every field allows alone but no real camera has (fx = 1e300, d = 1e308): refused, not stored."""
    w, h = image_size
    side = max(w, h)
    for name, f in (("fx", K[0, 0]), ("fy", K[1, 1])):
        if not 0.01 * side <= f <= 100 * side:
            raise CalibrationError(f"Field 'K' has {name} = {f:.6g} px, outside 0.01-100x the image's larger side "
                                   f"({side} px); no real lens has that.", _HINT_RECALIBRATE)
    if not (-w <= K[0, 2] <= 2 * w and -h <= K[1, 2] <= 2 * h) or abs(K[0, 1]) > 100 * side:
        raise CalibrationError(f"Field 'K' puts the principal point at ({K[0, 2]:.6g}, {K[1, 2]:.6g}), far outside "
                               f"the {w}x{h} image.", _HINT_RECALIBRATE)
    if dist is not None and np.abs(dist).max() > MAX_DIST_COEFF:
        raise CalibrationError(f"Field 'dist' has a coefficient of {np.abs(dist).max():.6g}; real lenses stay "
                               f"far below {MAX_DIST_COEFF:g}.", _HINT_RECALIBRATE)
    if d > MAX_HEIGHT_M:
        raise CalibrationError(f"Field 'd' puts the camera {d:.6g} m above the ground (at most {MAX_HEIGHT_M:g} m).",
                               _HINT_RECALIBRATE)


def _check_image_size(value) -> tuple[int, int]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 < v <= MAX_IMAGE_SIDE
                  for v in value))
    if not ok:
        raise CalibrationError(f"Field 'image_size' must be [width, height] in whole pixels, 1-{MAX_IMAGE_SIDE}, "
                               f"not {str(value)[:60]}.",
                               _HINT_RECALIBRATE)
    return int(value[0]), int(value[1])


def _check_K(value) -> np.ndarray:
    K = _numbers(value, (3, 3), "K")
    if abs(K[1, 0]) + abs(K[2, 0]) + abs(K[2, 1]) > 1e-9 or abs(K[2, 2] - 1) > 1e-9:
        raise CalibrationError("Field 'K' must be upper-triangular with K[2][2] = 1 "
                               "([[fx, s, cx], [0, fy, cy], [0, 0, 1]]).", _HINT_RECALIBRATE)
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CalibrationError(f"Field 'K' has a focal length that is not positive (fx={K[0, 0]}, fy={K[1, 1]}).",
                               _HINT_RECALIBRATE)
    return K


def _check_dist(value) -> np.ndarray | None:
    if value is None:
        return None
    return _numbers(value, (5,), "dist")  # OpenCV's (k1, k2, p1, p2, k3)


def _check_n(value) -> np.ndarray:
    n = _numbers(value, (3,), "n")
    norm = float(np.linalg.norm(n))
    if abs(norm - 1) > _N_TOL:
        raise CalibrationError(f"Field 'n' (the ground normal) must be a unit vector; its length is {norm:.6g}.",
                               _HINT_RECALIBRATE)
    return n / norm


def _check_d(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise CalibrationError(f"Field 'd' (the camera's height above the ground, metres) must be a number > 0, "
                               f"not {value!r}.", _HINT_RECALIBRATE)
    return float(value)


def _jsonable(value):
    """numpy values inside provenance → plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value
