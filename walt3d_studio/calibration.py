"""Making a Camera from measurements in one image: vanishing points of two perpendicular ground directions,
or a rectangle of known size on the ground (for steep, top-down views). File formats: docs/calibration.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from .camera import Camera
from .errors import BadInputError, CalibrationError

MIN_LINE_ANGLE_DEG = 0.5  # lines of one direction closer to parallel than this put the vanishing point at infinity
FOCAL_RANGE = (0.2, 5.0)  # plausible focal lengths, in image widths
MAX_FOCAL_WOBBLE = 0.1  # rectangle mode: half-pixel clicking errors may move f by at most this fraction
_HINT_LINES = ("Pick lines that are long and far apart in the image, two per direction, "
               "with the two directions perpendicular on the ground.")


# ---- vanishing points ---------------------------------------------------------------------------------


def calibrate_vanishing_points(lines_a, lines_b, image_size, ref_segment, ref_length_m,
                               horizon_lines=None) -> Camera:
    """A camera from two pairs (or more) of image segments ((x1, y1), (x2, y2)) parallel on the ground:
    lines_a in one direction, lines_b in the perpendicular direction, and one or more reference segments
    between two ground points a known distance apart (ref_segment: one segment with ref_length_m a number,
    or a list of segments with a list of lengths). Principal point at the image centre, square pixels.

    Where only one line of direction B is visible (angled parking bays), give `horizon_lines`: two or more
    lines parallel on the ground in a third direction. The horizon then runs through the vanishing points
    of A and of these lines, and B's vanishing point is where its single line meets the horizon."""
    w, h = _image_size(image_size)
    lines_a = _segments(lines_a, "lines_a")
    lines_b = _segments(lines_b, "lines_b", minimum=1 if horizon_lines is not None else 2)
    refs, lengths = _references(ref_segment, ref_length_m)
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    v1 = _vanishing_point(lines_a, "direction A")
    if horizon_lines is None:
        v2, v3 = _vanishing_point(lines_b, "direction B"), None
    else:
        horizon_lines = _segments(horizon_lines, "horizon_lines")
        if len(lines_b) != 1:
            raise BadInputError("Give horizon_lines only with a single line of direction B.",
                                "With two or more B lines, leave horizon_lines out.")
        v3 = _vanishing_point(horizon_lines, "horizon_lines")
        v = np.cross(np.cross(np.r_[v1, 1.0], np.r_[v3, 1.0]), _homogeneous_line(lines_b[0]))
        if abs(v[2]) < 1e-12 * np.linalg.norm(v[:2]):
            raise CalibrationError("The line of direction B is parallel to the horizon.", _HINT_LINES)
        v2 = v[:2] / v[2]
    f2 = -float((v1 - c) @ (v2 - c))
    if f2 <= 0:
        raise CalibrationError(
            f"The vanishing points of directions A {_fmt(v1)} and B {_fmt(v2)} give no real focal length "
            "(f² ≤ 0): the two directions cannot be perpendicular on the ground with these lines.",
            "Check that lines_a and lines_b run in perpendicular directions on the ground and that each line "
            "follows its marking closely.")
    f = math.sqrt(f2)
    _check_focal(f, w, "the vanishing points")
    K = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1]])
    Kinv = np.linalg.inv(K)
    r1, r2 = (Kinv @ np.r_[v, 1.0] for v in (v1, v2))
    n = np.cross(r1, r2)
    n /= np.linalg.norm(n)
    # the lines lie on the ground, which the camera sees from above: n · ray < 0 at their pixels
    pts = np.r_[lines_a.reshape(-1, 2), lines_b.reshape(-1, 2),
                np.zeros((0, 2)) if v3 is None else horizon_lines.reshape(-1, 2)]
    side = np.c_[pts, np.ones(len(pts))] @ Kinv.T @ n
    if np.sum(side > 0) > np.sum(side < 0):
        n, side = -n, -side
    if (side >= 0).any():
        raise CalibrationError(
            "Some line end points fall above the horizon that the vanishing points imply, "
            f"which runs through {_fmt(v1)} and {_fmt(v2)}.",
            "Only ground markings can be used; check that no line is drawn on a wall, a car or the sky.")
    d, report = _scale(K, n, refs, lengths)
    unit = Camera((w, h), K, None, n, 1.0)
    provenance = {
        "method": "vanishing_points",
        "inputs": {"lines_a": lines_a.tolist(), "lines_b": lines_b.tolist(),
                   "horizon_lines": None if v3 is None else horizon_lines.tolist(),
                   "reference": [{"p1": r[0].tolist(), "p2": r[1].tolist(), "length_m": L}
                                 for r, L in zip(refs, lengths)]},
        "focal_px": f,
        "focal_over_width": f / w,
        "principal_point": c.tolist(),
        "vanishing_points": {"A": v1.tolist(), "B": v2.tolist(),
                             "horizon_lines": None if v3 is None else v3.tolist()},
        "horizon": unit.horizon_line().tolist(),
        "line_residuals_px": {"A": _line_residuals(lines_a, v1), "B": _line_residuals(lines_b, v2),
                              "horizon_lines": None if v3 is None else _line_residuals(horizon_lines, v3)},
        "references": report,
    }
    return Camera((w, h), K, None, n, d, provenance)


def _vanishing_point(lines: np.ndarray, name: str) -> np.ndarray:
    dirs = lines[:, 1] - lines[:, 0]
    ang = np.degrees(np.arctan2(dirs[:, 1], dirs[:, 0]))
    diff = np.abs((ang[:, None] - ang[None, :] + 90) % 180 - 90)  # pairwise angles, in [0, 90]
    if diff.max() < MIN_LINE_ANGLE_DEG:
        raise CalibrationError(
            f"The lines of {name} are parallel in the image (they differ by {diff.max():.2f}°, "
            f"less than {MIN_LINE_ANGLE_DEG}°), so their vanishing point is at infinity and gives no focal length.",
            "Pick lines of a direction that recedes from the camera (they converge in the image), "
            "or use the rectangle mode for views looking steeply down.")
    L = np.array([_homogeneous_line(s) for s in lines])
    v = np.linalg.svd(L)[2][-1]  # least-squares common point of all lines
    if abs(v[2]) < 1e-12 * np.linalg.norm(v[:2]):
        raise CalibrationError(f"The lines of {name} meet at infinity.", _HINT_LINES)
    return v[:2] / v[2]


def _homogeneous_line(seg) -> np.ndarray:
    line = np.cross(np.r_[seg[0], 1.0], np.r_[seg[1], 1.0])
    return line / np.linalg.norm(line[:2])


def _line_residuals(lines: np.ndarray, v: np.ndarray) -> list[float]:
    """Distance in pixels of each segment's far end from the line joining its near end to the vanishing
    point: 0 for two lines, a measure of how well three or more agree."""
    out = []
    for p, q in lines:
        near, far = (p, q) if np.linalg.norm(p - v) < np.linalg.norm(q - v) else (q, p)
        out.append(abs(_homogeneous_line((near, v)) @ np.r_[far, 1.0]))
    return [float(x) for x in out]


def _scale(K, n, refs, lengths) -> tuple[float, list[dict]]:
    """The camera height d from reference lengths: measure each at d = 1, then pick the d that minimises the
    relative errors; report each reference re-measured with it."""
    measured = []
    for (p1, p2), L in zip(refs, lengths):
        rays = np.c_[np.array([p1, p2]), np.ones(2)] @ np.linalg.inv(K).T
        denom = rays @ n
        if (denom >= 0).any():
            raise CalibrationError(f"A reference point of {_fmt(p1)}-{_fmt(p2)} is at or above the horizon.",
                                   "Reference points must be on the ground, below the horizon.")
        X = rays * (-1.0 / denom)[:, None]  # ground points for a camera 1 m above the ground
        measured.append(float(np.linalg.norm(X[1] - X[0])))
    ratio = np.array(measured) / np.array(lengths)
    d = float(ratio.sum() / (ratio ** 2).sum())
    report = [{"p1": list(map(float, p1)), "p2": list(map(float, p2)), "length_m": float(L),
               "measured_m": m * d, "error_m": m * d - L, "error_pct": 100 * (m * d - L) / L}
              for (p1, p2), L, m in zip(refs, lengths, measured)]
    return d, report


# ---- rectangle ----------------------------------------------------------------------------------------


def calibrate_rectangle(corners_px, width_m, length_m, image_size, focal_px: float | None = None,
                        height_m: float = 0.0) -> Camera:
    """A camera from the 4 image corners of a rectangle on the ground, in order around it: corner 0 → 1 is
    a side of `width_m`, 1 → 2 a side of `length_m`. f comes from the homography (principal point at the
    centre, square pixels) unless `focal_px` is given; it must be given when the rectangle is seen almost
    face-on, because then the image does not determine f. `height_m` > 0 says the rectangle lies that high
    above the ground, parallel to it (a car's outline where no ground marking will do)."""
    w, h = _image_size(image_size)
    corners = _array(corners_px, (4, 2), "corners", "four [x, y] image points")
    W, L = _positive(width_m, "width_m"), _positive(length_m, "length_m")
    if isinstance(height_m, bool) or not isinstance(height_m, (int, float)) or not 0 <= height_m < 100:
        raise BadInputError(f"'height_m' must be a number of metres >= 0, not {height_m!r}.",
                            "Give the rectangle's height above the ground, or 0 for a ground marking.")
    _check_convex(corners)
    plane = np.array([[0, 0], [W, 0], [W, L], [0, L]], float)
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    if focal_px is None:
        f, spread = _focal_from_rectangle(plane, corners, c, w)
        if f is None or spread > MAX_FOCAL_WOBBLE:
            why = ("gives no real focal length" if f is None else
                   f"gives a focal length that moves by {100 * spread:.0f}% when a corner moves by half a pixel")
            raise CalibrationError(
                f"The rectangle is seen too nearly face-on: its perspective {why}.",
                "Give the focal length (focal_px; f = width / (2·tan(horizontal field of view / 2))), "
                "or pick a larger rectangle that recedes more from the camera.")
        _check_focal(f, w, "the rectangle")
        method_f = "homography"
    else:
        f = _positive(focal_px, "focal_px")
        _check_focal(f, w, "focal_px")
        method_f = "given"
    K = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1]])
    obj = np.c_[plane, np.zeros(4)]
    # SQPnP finds the global optimum (IPPE picks a slightly wrong twin when the view is exactly face-on);
    # LM then minimises the pixel error
    ok, rvec, tvec = cv2.solvePnP(obj, corners.reshape(-1, 1, 2), K, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise CalibrationError("The rectangle's pose could not be computed from its corners.", _HINT_LINES)
    rvec, tvec = cv2.solvePnPRefineLM(obj, corners.reshape(-1, 1, 2), K, None, rvec, tvec)
    R = cv2.Rodrigues(rvec)[0]
    n, t = R[:, 2], tvec.ravel()
    if n @ t > 0:  # the plane's z axis must point to the camera side: n · t + d = 0 with d > 0
        n = -n
    d_plane = float(-n @ t)
    reproj = cv2.projectPoints(obj, rvec, tvec, K, None)[0].reshape(-1, 2)
    on_plane = Camera((w, h), K, None, n, d_plane)
    edges = [(corners[i], corners[(i + 1) % 4], (W, L)[i % 2]) for i in range(4)]
    report = []
    for p1, p2, length in edges:
        X = on_plane.backproject_to_ground(np.array([p1, p2]))
        m = float(np.linalg.norm(X[1] - X[0]))
        report.append({"p1": p1.tolist(), "p2": p2.tolist(), "length_m": length, "measured_m": m,
                       "error_m": m - length, "error_pct": 100 * (m - length) / length})
    cam = Camera((w, h), K, None, n, d_plane + float(height_m))
    cam.provenance = {
        "method": "rectangle",
        "inputs": {"corners": corners.tolist(), "width_m": W, "length_m": L, "height_m": float(height_m),
                   "focal_px": focal_px},
        "focal_px": f,
        "focal_source": method_f,
        "focal_over_width": f / w,
        "principal_point": c.tolist(),
        "horizon": None if cam.horizon_line() is None else cam.horizon_line().tolist(),
        "corner_residuals_px": np.linalg.norm(reproj - corners, axis=1).tolist(),
        "references": report,
    }
    return cam


def _focal_from_rectangle(plane, corners, c, w) -> tuple[float | None, float]:
    """f from the plane-to-image homography (Zhang's two constraints with K = diag(f, f, 1) after moving
    the principal point to the origin), and how much it moves when any corner moves by half a pixel."""
    def focal(img):
        H = cv2.findHomography(plane, (img - c) / w)[0]  # exact through 4 points, in float64
        if H is None:
            return None
        H = H / np.linalg.norm(H)
        h1, h2 = H[:, 0], H[:, 1]
        # (h1x h2x + h1y h2y) u + h1z h2z = 0 and (|h1xy|² − |h2xy|²) u + h1z² − h2z² = 0, u = 1/f²
        a = np.array([h1[:2] @ h2[:2], h1[:2] @ h1[:2] - h2[:2] @ h2[:2]])
        b = np.array([h1[2] * h2[2], h1[2] ** 2 - h2[2] ** 2])
        if a @ a < 1e-12 * (b @ b + 1e-30):  # face-on: both constraints vanish
            return None
        u = -float(a @ b) / float(a @ a)
        return None if not u > 0 else w / math.sqrt(u)

    f = focal(corners)
    if f is None:
        return None, math.inf
    wobble = []
    for i in range(4):
        for k in range(2):
            for step in (-0.5, 0.5):
                moved = corners.copy()
                moved[i, k] += step
                g = focal(moved)
                wobble.append(math.inf if g is None else abs(g - f) / f)
    return f, max(wobble)


def _check_convex(corners: np.ndarray) -> None:
    e = np.roll(corners, -1, axis=0) - corners
    cross = e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0]
    if not ((cross > 0).all() or (cross < 0).all()):
        raise CalibrationError("The four corners do not form a convex quadrilateral in the order given.",
                               "List the rectangle's corners in order around it (clockwise or anticlockwise).")


# ---- lines files --------------------------------------------------------------------------------------

_KEYS = {"vanishing_points": {"mode", "image_size", "lines_a", "lines_b", "horizon_lines", "reference", "note",
                              "image"},
         "rectangle": {"mode", "image_size", "corners", "width_m", "length_m", "height_m", "focal_px", "note",
                       "image"}}


def load_lines_file(path) -> dict:
    """Read and check a lines file (docs/calibration.md); returns its contents with arrays as numpy."""
    path = Path(path)
    from .validate import load_json

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"No lines file at {path}.", "Give the path of a lines JSON file.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"Cannot read {path}: {e}.", "Check the file.") from None
    data = load_json(text, str(path), "Fix the file; docs/calibration.md shows the format.")
    try:
        return _parse_lines(data)
    except BadInputError as e:
        raise BadInputError(f"{path}: {e.message}", e.hint) from None


def _parse_lines(data) -> dict:
    if not isinstance(data, dict):
        raise BadInputError("A lines file must be a JSON object.", "See docs/calibration.md for the format.")
    mode = data.get("mode")
    if mode not in _KEYS:
        raise BadInputError(f"'mode' is {mode!r}; it must be \"vanishing_points\" or \"rectangle\".",
                            "Set \"mode\" to one of the two.")
    unknown = sorted(set(data) - _KEYS[mode])
    if unknown:
        raise BadInputError(f"Unknown field(s) for mode {mode}: {', '.join(unknown)}.",
                            f"Allowed: {', '.join(sorted(_KEYS[mode]))}.")
    optional = {"note", "image", "focal_px", "horizon_lines", "height_m"}
    missing = sorted(k for k in _KEYS[mode] - optional if k not in data)
    if missing:
        raise BadInputError(f"Missing field(s) for mode {mode}: {', '.join(missing)}.",
                            "See docs/calibration.md for the format.")
    out = {"mode": mode, "image_size": _image_size(data["image_size"], BadInputError),
           "note": data.get("note", ""), "image": data.get("image", "")}
    if mode == "vanishing_points":
        out["lines_a"] = _segments(data["lines_a"], "lines_a")
        out["horizon_lines"] = None if data.get("horizon_lines") is None else \
            _segments(data["horizon_lines"], "horizon_lines")
        out["lines_b"] = _segments(data["lines_b"], "lines_b", 2 if out["horizon_lines"] is None else 1)
        refs = data["reference"]
        if isinstance(refs, dict):
            refs = [refs]
        if not isinstance(refs, list) or not refs or not all(
                isinstance(r, dict) and {"p1", "p2", "length_m"} <= set(r) for r in refs):
            raise BadInputError("'reference' must be a list of {\"p1\": [x, y], \"p2\": [x, y], \"length_m\": L}.",
                                "Give at least one ground distance you know, e.g. a parking bay's width.")
        out["reference"] = [(np.array([_array(r["p1"], (2,), "reference p1", "[x, y]"),
                                       _array(r["p2"], (2,), "reference p2", "[x, y]")]),
                             _positive(r["length_m"], "reference length_m")) for r in refs]
    else:
        out["corners"] = _array(data["corners"], (4, 2), "corners", "four [x, y] image points")
        out["width_m"] = _positive(data["width_m"], "width_m")
        out["length_m"] = _positive(data["length_m"], "length_m")
        out["focal_px"] = None if data.get("focal_px") is None else _positive(data["focal_px"], "focal_px")
        out["height_m"] = data.get("height_m", 0.0)
    return out


def calibrate_from_lines_file(path) -> Camera:
    """Calibrate from a lines file; the camera's provenance records the file and its note."""
    spec = load_lines_file(path)
    if spec["mode"] == "vanishing_points":
        refs = spec["reference"]
        cam = calibrate_vanishing_points(spec["lines_a"], spec["lines_b"], spec["image_size"],
                                         [r[0] for r in refs], [r[1] for r in refs], spec["horizon_lines"])
    else:
        cam = calibrate_rectangle(spec["corners"], spec["width_m"], spec["length_m"], spec["image_size"],
                                  spec["focal_px"], spec["height_m"])
    cam.provenance["lines_file"] = Path(path).name
    for key in ("note", "image"):
        if spec[key]:
            cam.provenance[key] = spec[key]
    return cam


# ---- report -------------------------------------------------------------------------------------------


def summary(camera: Camera) -> str:
    """A few lines for a person: focal length, pose, horizon and how well the known lengths are re-measured."""
    w, h = camera.image_size
    f = camera.focal
    n = camera.n
    prov = camera.provenance
    lines = [f"Calibration ({prov.get('method', 'unknown method')}), image {w}x{h}",
             f"  focal length {f:.1f} px = {f / w:.2f} x image width "
             f"(horizontal field of view {math.degrees(2 * math.atan(w / (2 * f))):.1f} deg)",
             f"  camera {camera.d:.2f} m above the ground, looking {math.degrees(math.asin(-n[2])):.1f} deg "
             f"below the horizon, roll {math.degrees(math.atan2(n[0], -n[1])):.1f} deg"]
    seg = camera.horizon_segment()
    line = camera.horizon_line()
    if line is None:
        lines.append("  horizon: none (the camera looks straight down)")
    elif seg is not None:
        lines.append(f"  horizon crosses the image from {_fmt(seg[0])} to {_fmt(seg[1])}")
    else:
        a, b, c = line
        lines.append(f"  horizon outside the image: {a:.4f} x + {b:.4f} y + {c:.1f} = 0")
    for r in prov.get("references", []):
        lines.append(f"  reference {_fmt(r['p1'])}-{_fmt(r['p2'])}: known {r['length_m']:g} m, "
                     f"measured {r['measured_m']:.2f} m ({r['error_pct']:+.1f}%)")
    return "\n".join(lines)


# ---- input checks -------------------------------------------------------------------------------------


def _check_focal(f: float, w: int, source: str) -> None:
    lo, hi = FOCAL_RANGE
    if not lo * w <= f <= hi * w:
        raise CalibrationError(
            f"The focal length from {source} is {f:.0f} px = {f / w:.2f} image widths, outside the plausible "
            f"{lo}–{hi} widths.", _HINT_LINES)


def _image_size(value, error=BadInputError) -> tuple[int, int]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value)):
        raise error(f"'image_size' must be [width, height] in whole pixels, not {value!r}.",
                    "Give the size of the image the points were measured on.")
    return int(value[0]), int(value[1])


def _array(value, shape, name: str, what: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        a = None
    if a is None or a.shape != shape or not np.isfinite(a).all():
        raise BadInputError(f"'{name}' must be {what}.", "See docs/calibration.md for the format.")
    return a


def _segments(value, name: str, minimum: int = 2) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        a = None
    if a is None or a.ndim != 3 or a.shape[1:] != (2, 2) or len(a) < minimum or not np.isfinite(a).all():
        raise BadInputError(f"'{name}' must be a list of at least {minimum} segment(s) [[x1, y1], [x2, y2]].",
                            "Give two (or more) image segments per direction.")
    short = np.linalg.norm(a[:, 1] - a[:, 0], axis=1) < 5
    if short.any():
        raise BadInputError(f"Segment {int(np.argmax(short))} of '{name}' is shorter than 5 pixels.",
                            "Draw each line along as much of its marking as you can see.")
    return a


def _references(segments, lengths) -> tuple[np.ndarray, list[float]]:
    segs = np.asarray(segments, dtype=float)
    if segs.shape == (2, 2):
        segs = segs[None]
    lengths = [lengths] if np.ndim(lengths) == 0 else list(lengths)
    if segs.ndim != 3 or segs.shape[1:] != (2, 2) or len(segs) != len(lengths) or not len(segs):
        raise BadInputError("Give each reference as a segment ((x1, y1), (x2, y2)) with one length in metres.",
                            "Pass one segment and a number, or a list of segments and a list of lengths.")
    return segs, [_positive(L, "reference length") for L in lengths]


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise BadInputError(f"'{name}' must be a number > 0, not {value!r}.", "Lengths are in metres.")
    return float(value)


def _fmt(p) -> str:
    return f"({p[0]:.1f}, {p[1]:.1f})"
