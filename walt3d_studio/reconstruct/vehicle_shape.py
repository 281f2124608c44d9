"""The vehicle shape model: 12 keypoints per real vehicle from published dimensions, PCA over them, and a
watertight low-poly body mesh for any shape vector α (the paper's X = Q̄ + Σ αₖ Qₖ).

Frame (DESIGN "Vehicle 3D frame"): origin at the centre of the ground footprint at ground level, x forward,
y left, z up, metres. Keypoints in CarFusion order (DESIGN "Keypoints"): wheels = hub centres, lamps = lamp
centres on the front/back face, tops = roof corners. Components are unit vectors over the 36 coordinates, so α
is in metres of keypoint displacement; `stddev` is each component's spread over the vehicles of the CSV.
Where the numbers come from: docs/reconstruction.md.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import BadInputError
from ..resources import resource

KEYPOINT_NAMES = (
    "Right_Front_wheel", "Left_Front_wheel", "Right_Back_wheel", "Left_Back_wheel",
    "Right_Front_HeadLight", "Left_Front_HeadLight", "Right_Back_HeadLight", "Left_Back_HeadLight",
    "Right_Front_Top", "Left_Front_Top", "Right_Back_Top", "Left_Back_Top")
N_KEYPOINTS = 12
KINDS = ("car", "bus_truck")
VARIANCE_KEPT = 0.95
# the keypoint index that mirrors each keypoint across the x-z plane (right <-> left)
MIRROR = np.array([1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10])
WHEELS = np.arange(4)


@dataclass(frozen=True)
class VehicleRow:
    kind: str
    body: str
    make: str
    model: str
    year: int
    dims: dict  # metres (the *_mm columns divided by 1000) and the placement fractions


@dataclass(frozen=True, eq=False)
class ShapeModel:
    kind: str
    mean: np.ndarray            # (12, 3) metres, vehicle frame
    components: np.ndarray      # (k, 12, 3), each unit-norm over its 36 numbers
    variance_ratio: np.ndarray  # (k,) fraction of the total variance each explains
    stddev: np.ndarray          # (k,) spread of α_k over the source vehicles, metres
    n_vehicles: int

    @property
    def n_components(self) -> int:
        return len(self.components)

    def keypoints(self, alpha=None) -> np.ndarray:
        a = self.check_alpha(alpha)
        return self.mean + np.tensordot(a, self.components, axes=1)

    def check_alpha(self, alpha) -> np.ndarray:
        a = np.zeros(self.n_components) if alpha is None else np.asarray(alpha, dtype=float).reshape(-1)
        if len(a) > self.n_components or not np.isfinite(a).all():
            raise BadInputError(f"A shape vector needs at most {self.n_components} finite numbers, got {a.tolist()}.",
                                "Pass α with one number per component (walt3d shapes show lists them).")
        return np.r_[a, np.zeros(self.n_components - len(a))]


def read_vehicle_rows() -> list[VehicleRow]:
    rows = []
    with open(resource("vehicles", "vehicle_models.csv"), newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            dims = {}
            for k, v in r.items():
                if k.endswith("_mm"):
                    dims[k[:-3]] = float(v) / 1000.0
                elif k not in ("class", "body", "make", "model", "year"):
                    dims[k] = float(v)
            rows.append(VehicleRow(r["class"], r["body"], r["make"], r["model"], int(r["year"]), dims))
    return rows


def keypoints_from_dims(d: dict) -> np.ndarray:
    """The 12 keypoints (12, 3) of one vehicle from its published dimensions and placement fractions."""
    L, W, H = d["length"], d["width"], d["height"]
    x_front_axle = L / 2 - d["overhang_front"]
    x_rear_axle = x_front_axle - d["wheelbase"]
    r = d["wheel_radius"]
    tf, tr = d["track_front"] / 2, d["track_rear"] / 2
    xh = L / 2 - d["head_setback"] * L
    yh, zh = d["head_y"] * W / 2, d["head_z"] * H
    xt = -L / 2 + d["tail_setback"] * L
    yt, zt = d["tail_y"] * W / 2, d["tail_z"] * H
    xrf, xrr = L / 2 - d["roof_front"] * L, L / 2 - d["roof_rear"] * L
    yr = d["roof_y"] * W / 2
    return np.array([
        [x_front_axle, -tf, r], [x_front_axle, tf, r], [x_rear_axle, -tr, r], [x_rear_axle, tr, r],
        [xh, -yh, zh], [xh, yh, zh], [xt, -yt, zt], [xt, yt, zt],
        [xrf, -yr, H], [xrf, yr, H], [xrr, -yr, H], [xrr, yr, H]])


def _pca(X: np.ndarray, kind: str) -> ShapeModel:
    flat = X.reshape(len(X), -1)
    mean = flat.mean(axis=0)
    _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
    var = s ** 2
    ratio = var / var.sum()
    k = int(np.searchsorted(np.cumsum(ratio), VARIANCE_KEPT - 1e-12) + 1)
    comps = vt[:k]
    # a sign convention so the model is the same on every machine: the largest entry of each component > 0
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]
    return ShapeModel(kind, mean.reshape(N_KEYPOINTS, 3), comps.reshape(k, N_KEYPOINTS, 3), ratio[:k],
                      s[:k] / np.sqrt(max(len(X) - 1, 1)), len(X))


@lru_cache(maxsize=None)
def load_shape_model(kind: str = "car") -> ShapeModel:
    """The PCA shape model of one class ('car' or 'bus_truck'), built from the CSV (cheap; cached)."""
    if kind not in KINDS:
        raise BadInputError(f"Unknown vehicle class {kind!r}.", f"Use one of {', '.join(KINDS)}.")
    X = np.array([keypoints_from_dims(r.dims) for r in read_vehicle_rows() if r.kind == kind])
    return _pca(X, kind)


def keypoints_for_alpha(alpha, kind: str = "car") -> np.ndarray:
    """The 12 keypoints (12, 3) of the shape α in the vehicle frame."""
    return load_shape_model(kind).keypoints(alpha)


def dimensions(kp: np.ndarray) -> dict:
    """Readable dimensions of a keypoint set: the lamp-to-lamp length, roof height, track, wheelbase..."""
    return {
        "length": float(kp[4:6, 0].mean() - kp[6:8, 0].mean()),
        "width": float(2 * _half_width(kp)),   # the body mesh's width (tyres inside the body side)
        "height": float(kp[8:12, 2].mean()),
        "wheelbase": float(kp[0:2, 0].mean() - kp[2:4, 0].mean()),
        "track": float((kp[1, 1] - kp[0, 1] + kp[3, 1] - kp[2, 1]) / 2),
        "wheel_radius": float(kp[0:4, 2].mean()),
    }


# ---- mesh ---------------------------------------------------------------------------------------------

WHEEL_SEGMENTS = 12
TYRE_WIDTH = 0.2


def _half_width(kp: np.ndarray) -> float:
    """Half the body's width: the wider of the wheel track and the lamps, plus the tyre-to-body-side gap
    (published widths exceed the track by 0.2-0.3 m)."""
    return float(max((kp[1, 1] - kp[0, 1]) / 2, (kp[5, 1] - kp[4, 1]) / 2) + 0.11)


def _body_profile(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A closed side profile (P, 2) in x-z, counter-clockwise from the front bottom, and each vertex's
    half-width (P,). It passes through the lamps (front/back faces) and the roof corners."""
    r = kp[WHEELS, 2].mean()
    xf, xr = kp[4:6, 0].mean(), kp[6:8, 0].mean()
    zh, zt = kp[4:6, 2].mean(), kp[6:8, 2].mean()
    xrf, xrr, zroof = kp[8:10, 0].mean(), kp[10:12, 0].mean(), kp[8:12, 2].mean()
    yroof_f, yroof_r = kp[9, 1] - kp[8, 1], kp[11, 1] - kp[10, 1]
    half = _half_width(kp)
    zc = 0.45 * r                                                              # ground clearance
    zhood = min(zh + 0.3 * (zroof - zh), zroof - 0.05)
    zdeck = min(zt + 0.3 * (zroof - zt), zroof - 0.05)
    x_ws = float(np.clip(xrf + 1.5 * (zroof - zhood), xrf + 0.02, xf - 0.1))   # windscreen base
    x_rw = float(np.clip(xrr - 1.2 * (zroof - zdeck), xr + 0.1, xrr - 0.02))   # rear window base
    prof = np.array([[xf, zc], [xf, zhood], [x_ws, zhood], [xrf, zroof], [xrr, zroof], [x_rw, zdeck],
                     [xr, zdeck], [xr, zc]])
    width = np.array([half, half - 0.03, half - 0.05, yroof_f / 2, yroof_r / 2, half - 0.05, half - 0.03, half])
    return prof, width


def _prism(prof: np.ndarray, width: np.ndarray, centre_xz, centre_w) -> tuple[np.ndarray, np.ndarray]:
    """A closed surface from a star-shaped x-z profile extruded to ±width per vertex (fan-capped sides)."""
    P = len(prof)
    left = np.c_[prof[:, 0], width, prof[:, 1]]
    right = np.c_[prof[:, 0], -width, prof[:, 1]]
    cl = [centre_xz[0], centre_w, centre_xz[1]]
    cr = [centre_xz[0], -centre_w, centre_xz[1]]
    v = np.r_[left, right, [cl, cr]]
    i = np.arange(P)
    j = (i + 1) % P
    faces = np.r_[
        np.c_[i, P + j, P + i], np.c_[i, j, P + j],   # the band round the profile, normals outwards
        np.c_[np.full(P, 2 * P), j, i],                # left cap (+y), seen from +y counter-clockwise
        np.c_[np.full(P, 2 * P + 1), P + i, P + j]]    # right cap (-y)
    return v, faces


def _wheel(centre, outward: float, r: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed tyre (a prism of WHEEL_SEGMENTS sides) whose outer face is at the hub keypoint."""
    a = np.linspace(0, 2 * np.pi, WHEEL_SEGMENTS, endpoint=False)
    ring = np.c_[centre[0] + r * np.cos(a), np.zeros_like(a), centre[2] + r * np.sin(a)]
    outer, inner = ring.copy(), ring.copy()
    outer[:, 1] = centre[1]
    inner[:, 1] = centre[1] - outward * TYRE_WIDTH
    S = WHEEL_SEGMENTS
    v = np.r_[outer, inner, [[centre[0], centre[1], centre[2]], [centre[0], centre[1] - outward * TYRE_WIDTH, centre[2]]]]
    i = np.arange(S)
    j = (i + 1) % S
    faces = np.r_[np.c_[i, j, S + j], np.c_[i, S + j, S + i],
                  np.c_[np.full(S, 2 * S), j, i], np.c_[np.full(S, 2 * S + 1), S + i, S + j]]
    if outward < 0:  # mirrored: flip the winding so normals still point outwards
        faces = faces[:, ::-1]
    return v, faces


def mesh_from_keypoints(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A watertight low-poly vehicle (body + 4 tyres) through the given keypoints: (vertices, faces)."""
    kp = np.asarray(kp, dtype=float)
    prof, width = _body_profile(kp)
    centre = [prof[:, 0].mean(), prof[[0, 1], 1].mean()]  # mid-length at lamp height: inside the kernel
    parts = [_prism(prof, width, centre, width.min() * 0.9)]
    r = float(kp[WHEELS, 2].mean())
    for k in WHEELS:
        outward = 1.0 if kp[k, 1] > 0 else -1.0
        parts.append(_wheel(kp[k], outward, r))
    verts, faces, off = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + off)
        off += len(v)
    return np.vstack(verts).astype(np.float64), np.vstack(faces).astype(np.int64)


@lru_cache(maxsize=256)
def _mesh_cached(key: tuple, kind: str) -> tuple[np.ndarray, np.ndarray]:
    v, f = mesh_from_keypoints(keypoints_for_alpha(np.array(key), kind))
    v.flags.writeable = False
    f.flags.writeable = False
    return v, f


def mesh_for_alpha(alpha, kind: str = "car") -> tuple[np.ndarray, np.ndarray]:
    """(vertices (N, 3) float64 in the vehicle frame, faces (M, 3) int), watertight, cached per α (read-only
    arrays: copy before changing them)."""
    a = load_shape_model(kind).check_alpha(alpha)
    return _mesh_cached(tuple(np.round(a, 6).tolist()), kind)


def summary(kind: str = "car") -> dict:
    """What `walt3d shapes show` prints: the mean's dimensions and the components."""
    m = load_shape_model(kind)
    return {"kind": kind, "n_vehicles": m.n_vehicles, "mean": {k: round(v, 4) for k, v in dimensions(m.mean).items()},
            "n_components": m.n_components, "variance_kept": VARIANCE_KEPT,
            "components": [{"index": i, "variance_ratio": round(float(r), 5), "stddev_m": round(float(s), 5)}
                           for i, (r, s) in enumerate(zip(m.variance_ratio, m.stddev))],
            "keypoints": list(KEYPOINT_NAMES)}
