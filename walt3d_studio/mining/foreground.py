"""The built-in detector, needing no weights: foreground against the median background of the frame's window.

Per frame (all in OpenCV, which releases the GIL, so frames run in parallel on a thread pool):
1. shrink frame and background by `downsample` (auto: about 360 rows) -- the difference test does not need
   full resolution, and it is where the time goes -- and undo automatic exposure (scale each channel by the
   median background / frame ratio);
2. foreground = max over R, G, B of the difference to the background > `threshold`, where the difference is
   taken to the range of background values within `jitter_px` (so a one-pixel camera shake does not light
   up every painted line);
3. drop cast shadows (`shadows`, default "suppress"; "keep" turns it off): a foreground pixel darker than the
   background by a bounded ratio (`shadow_ratio`) with nearly the same chromaticity, evenly over its
   neighbourhood, is the ground in shade, not an object -- kept, a sunlit car's shadow doubles its mask and
   skews its box for every later stage. Only large shadow-like regions go, and never so as to split an object
   (`_drop_shadows`). Tested on foreground pixels only, so it costs little; before cleaning, so a shadow
   cannot bridge two objects;
4. clean it: open (drop speckle and one-pixel lines from compression), close (join an object's parts);
5. connected components are the instances; each component's hole-filled mask is scaled back to full
   resolution (bilinear, threshold 1/2) and its box taken from the mask;
6. class by size and shape: with a calibration, metric silhouette area, width and height at the object's
   ground contact point (`Camera.backproject_to_ground`, `Camera.object_height`); without, pixel size and
   aspect. Scores are 1.0 (the detector has no confidence), so the occlusion rule treats every blob as a
   possible occluder.
"""
from __future__ import annotations

import math
import threading

import cv2
import numpy as np

from ..errors import BadInputError, CalibrationError
from .detection import Detection, FrameInfo
from .detection import RunInfo


class ForegroundDetector:
    name = "foreground"
    needs_pixels = True
    needs_background = True
    thread_safe = True

    def __init__(self, threshold: float = 25, min_area: float = 2.5e-4, max_area: float = 0.5,
                 min_side_px: int = 5, downsample: int | None = None, close_frac: float = 0.025,
                 fill_holes: bool = True, shadows: str = "suppress",
                 shadow_ratio: tuple[float, float] = (0.25, 0.95), shadow_chroma: float = 0.03,
                 shadow_smooth: float = 0.06, shadow_min_area: float = 2e-3, fragment_frac: float = 0.025,
                 jitter_px: int = 1, exposure: bool = True, background: np.ndarray | None = None):
        """threshold: 0-255 difference in the most changed colour channel.
        min_area / max_area: component area bounds as fractions of the image area.
        min_side_px: drop components thinner than this (full-resolution pixels).
        downsample: integer shrink factor for the difference test (None: auto, about 360 rows).
        close_frac: size of the closing element as a fraction of the image height.
        fragment_frac: a component this much smaller than a neighbour (or less) joins it.
        jitter_px: tolerated camera shake, in pixels of the reduced image: a pixel is foreground only when it
            differs by more than `threshold` from every background pixel within this distance (0: plain
            difference). Stops painted lines and kerbs from lighting up when the view moves by a pixel.
        shadows: "suppress" (drop shadow-like foreground pixels) or "keep".
        shadow_ratio: (low, high) bounds of frame / background brightness for a shadow pixel.
        shadow_chroma: largest change of normalised chromaticity (r, g, b over their sum) in a shadow.
        shadow_smooth: largest relative spread of frame / background brightness over 5 x 5 pixels in a shadow
            (a shadow scales the ground evenly; a grey object's shaded side does not).
        shadow_min_area: smaller shadow-like regions (fraction of the image area) stay: they are dark parts of
            objects as often as shadows."""
        if shadows not in ("suppress", "keep"):
            raise BadInputError(f"Unknown shadows option {shadows!r}.", 'Use shadows=suppress or shadows=keep.')
        self.threshold = float(threshold)
        self.min_area = float(min_area)
        self.max_area = float(max_area)
        self.min_side_px = int(min_side_px)
        self.downsample = downsample
        self.close_frac = float(close_frac)
        self.fill_holes = bool(fill_holes)
        self.shadows = shadows
        self.shadow_ratio = (float(shadow_ratio[0]), float(shadow_ratio[1]))
        self.shadow_chroma = float(shadow_chroma)
        self.shadow_smooth = float(shadow_smooth)
        self.shadow_min_area = float(shadow_min_area)
        self.fragment_frac = float(fragment_frac)
        self.jitter_px = int(jitter_px)
        self.fixed_background = background
        self.exposure = bool(exposure)
        self._bg: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # window -> (bg, min, max)
        self._lock = threading.Lock()
        self.settings = {"threshold": self.threshold, "min_area": self.min_area, "max_area": self.max_area,
                         "min_side_px": self.min_side_px, "downsample": downsample, "close_frac": self.close_frac,
                         "fill_holes": self.fill_holes, "shadows": self.shadows,
                         "shadow_ratio": list(self.shadow_ratio), "shadow_chroma": self.shadow_chroma,
                         "shadow_smooth": self.shadow_smooth, "shadow_min_area": self.shadow_min_area,
                         "fragment_frac": self.fragment_frac, "jitter_px": self.jitter_px,
                         "exposure": self.exposure}

    # -- set-up ------------------------------------------------------------------------------------
    def start(self, run: RunInfo) -> None:
        self.run = run
        self.W, self.H = run.width, run.height
        self.s = int(self.downsample) if self.downsample else max(1, round(min(self.W, self.H) / 360))
        self.sw, self.sh = self.W // self.s, self.H // self.s
        k = max(3, int(round(self.close_frac * self.H / self.s)) | 1)
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        self._open = np.ones((3, 3), np.uint8)
        self._rim = np.ones((5, 5), np.uint8)
        self.min_px = max(4.0, self.min_area * self.sw * self.sh)
        self.max_px = self.max_area * self.sw * self.sh
        self.shadow_min_px = self.shadow_min_area * self.sw * self.sh
        self.backgrounds = BackgroundWindows(run.project, run.camera_id) if self.fixed_background is None \
            else _FixedBackground(self.fixed_background)
        self.settings["downsample"] = self.s
        self.camera = run.calibration
        self.classifier = SizeClassifier(self.W, self.H, run.calibration)

    def _background(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = self.backgrounds.key_for_time(t)
        bg = self._bg.get(key)
        if bg is None:
            with self._lock:
                bg = self._bg.get(key)
                if bg is None:
                    small = self._shrink(self.backgrounds.load(key))
                    if self.jitter_px > 0:
                        k = np.ones((2 * self.jitter_px + 1,) * 2, np.uint8)
                        bg = (small, cv2.erode(small, k), cv2.dilate(small, k))
                    else:
                        bg = (small, small, small)
                    self._bg[key] = bg
        return bg

    def _shrink(self, img: np.ndarray) -> np.ndarray:
        if self.s == 1:
            return np.ascontiguousarray(img)
        return cv2.resize(img[: self.sh * self.s, : self.sw * self.s], (self.sw, self.sh),
                          interpolation=cv2.INTER_AREA)

    # -- per frame ---------------------------------------------------------------------------------
    def foreground_mask(self, frame: np.ndarray, t: float) -> np.ndarray:
        """The cleaned foreground (uint8 0/1) at the reduced resolution."""
        bg, lo, hi = self._background(t)
        small = self._shrink(frame)
        if self.exposure:
            small = _match_exposure(small, bg)
        if self.jitter_px > 0:  # distance to the [min, max] of the background's neighbourhood (saturating)
            diff = cv2.max(cv2.subtract(lo, small), cv2.subtract(small, hi))
        else:
            diff = cv2.absdiff(small, bg)
        c = cv2.split(diff)
        dmax = cv2.max(cv2.max(c[0], c[1]), c[2])
        _, fg = cv2.threshold(dmax, self.threshold, 1, cv2.THRESH_BINARY)
        if self.shadows == "suppress":
            fg = self._drop_shadows(fg, small, bg)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close)
        return fg

    def _drop_shadows(self, fg: np.ndarray, small: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """The foreground less its cast shadows. Pixel by pixel, dark grey clothing on grey asphalt passes the
        shadow test as well as a shadow does, so only shadow-like regions of at least `shadow_min_area` (a
        car's shadow, not a jacket) go; and dropping them may trim an object, never split it: what is left of
        each foreground blob (pieces of at least `min_area`) spans its convex hull, which brings back the
        object's own dark parts between its pieces (a dark band across a car, a jacket between head and legs)
        but not a shadow cast beside it."""
        like, even = _shadow_like(fg, small, bg, self.shadow_ratio, self.shadow_chroma, self.shadow_smooth)
        # Only the box around the even pixels, padded by twice the closing's kernel, can hold a shadow region
        # or its rim: there, closing, labelling and the rim give what they give on the whole frame (the closing
        # never reaches past one kernel from an even pixel, nor the erosion past the pad), at a fraction of a
        # full-frame pass each (most frames have a few small shadows).
        x, y, w, h = cv2.boundingRect(even)
        if w == 0:
            return fg
        pad = 2 * max(self._close.shape) + max(self._rim.shape)
        x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(fg.shape[1], x + w + pad), min(fg.shape[0], y + h + pad)
        # regions: even pixels joined across small gaps (a painted line under a shadow is no foreground)
        joined = cv2.morphologyEx(even[y0:y1, x0:x1], cv2.MORPH_CLOSE, self._close)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8, ltype=cv2.CV_32S)
        big = stats[:, cv2.CC_STAT_AREA] >= self.shadow_min_px
        big[0] = False
        if not big.any():
            return fg
        # the evenness window misses a shadow's rim: shadow-like pixels next to a big region go with it
        drop = np.zeros(fg.shape, bool)
        drop[y0:y1, x0:x1] = cv2.dilate(big[labels].astype(np.uint8), self._rim) & like[y0:y1, x0:x1]
        solid = fg.copy()
        solid[drop] = 0
        solid = cv2.morphologyEx(solid, cv2.MORPH_OPEN, self._open)
        _, blobs, bstats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8, ltype=cv2.CV_32S)
        out = solid.copy()
        for b in np.unique(blobs[drop]):  # the blobs that lost a shadow
            x, y, w, h = (int(v) for v in bstats[b, :4])
            left = solid[y:y + h, x:x + w] & (blobs[y:y + h, x:x + w] == b)
            _, plabels, pstats, _ = cv2.connectedComponentsWithStats(left, connectivity=8, ltype=cv2.CV_32S)
            keep = np.flatnonzero(pstats[1:, cv2.CC_STAT_AREA] >= self.min_px) + 1
            if keep.size < 2:
                continue  # nothing to bridge
            pts = cv2.findNonZero(np.isin(plabels, keep).astype(np.uint8))
            hull = np.zeros_like(left)
            cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
            out[y:y + h, x:x + w] |= hull & fg[y:y + h, x:x + w]
        return out

    def detect(self, frame: np.ndarray, info: FrameInfo) -> list[Detection]:
        if frame.shape[0] != self.H or frame.shape[1] != self.W:
            raise BadInputError(f"Frame {info.position} is {frame.shape[1]}x{frame.shape[0]}, not the camera's "
                                f"{self.W}x{self.H}.", "Re-import the source.")
        fg = self.foreground_mask(frame, info.capture_time)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8, ltype=cv2.CV_32S)
        s = self.s
        min_side = self.min_side_px / s
        # the components worth a look, picked in one numpy pass (a dense frame has dozens, plus speckle)
        area = stats[1:n, cv2.CC_STAT_AREA]
        keep = np.flatnonzero((area >= 4) & (area <= self.max_px)) + 1  # pieces below min_px may still join
        comps = {k: [x, y, x + w, y + h, a] for k, (x, y, w, h, a) in zip(keep.tolist(), stats[keep].tolist())}
        groups = self._attach_fragments(comps)
        out = []
        for k, members in groups.items():
            x0, y0, x1, y1, a = comps[k]
            for m in members[1:]:
                mx0, my0, mx1, my1, ma = comps[m]
                x0, y0, x1, y1, a = min(x0, mx0), min(y0, my0), max(x1, mx1), max(y1, my1), a + ma
            w, h = x1 - x0, y1 - y0
            if a < self.min_px or min(w, h) < min_side:
                continue
            lab = labels[y0:y1, x0:x1]
            local = self._blob_mask(lab == k if len(members) == 1 else np.isin(lab, members))
            if s > 1:
                W = min(w * s, self.W - x0 * s)
                H = min(h * s, self.H - y0 * s)
                big = cv2.resize(local, (w * s, h * s), interpolation=cv2.INTER_LINEAR)[:H, :W]
                mask = big > 127
            else:
                mask = local > 127
            det = Detection.from_local_mask(mask, x0 * s, y0 * s, "other", 1.0)
            if det is None:
                continue
            det.category, det.extra["size"] = self.classifier.classify(det.box, det.area)
            out.append(det)
        return out

    def _blob_mask(self, sel: np.ndarray) -> np.ndarray:
        """A component's mask (bool, at the reduced resolution) as uint8 0/255, its holes filled with
        `fill_holes`: the outside is flooded from a one-pixel border and everything it does not reach is the
        blob. Few, GIL-free OpenCV calls: this runs once per blob on the pool threads, where Python-side numpy
        calls (np.pad was the largest) hold the GIL the main thread needs."""
        h, w = sel.shape
        buf = np.zeros((h + 2, w + 2), np.uint8)
        inner = buf[1:-1, 1:-1]
        inner[...] = sel  # the blob: 1
        if self.fill_holes:
            cv2.floodFill(buf, None, (0, 0), 2)  # the outside (4-connected to the border): 2; holes stay 0
            cv2.threshold(buf, 1, 255, cv2.THRESH_BINARY_INV, dst=buf)  # blob and holes: 255; outside: 0
        else:
            cv2.threshold(buf, 0, 255, cv2.THRESH_BINARY, dst=buf)
        return inner

    def _attach_fragments(self, comps: dict) -> dict[int, list[int]]:
        """Pieces of one object that differencing split apart (a wing mirror, a bicycle's rack between thin
        tubes the cleaning removed) join a bigger neighbouring component: any piece at most `fragment_frac`
        of its area within the closing size of its box (twice that fraction when the piece lies inside its
        box), and small pieces (under 3x the minimum area) at most 35 % of its area within twice that size.
        Slivers thinner than `min_side_px` never join.

        Pieces are taken smallest first, each joining the first bigger component (largest first) that passes.
        The tests depend only on the two components' own boxes and areas, so they are made for all pairs at
        once (numpy, same arithmetic as the scalar form); only the joins are a Python loop."""
        groups = {k: [k] for k in comps}
        if len(comps) < 2:
            return groups
        g = self._close.shape[0]
        min_side = self.min_side_px / self.s
        keys = list(comps)
        x0, y0, x1, y1, a = np.array([comps[k] for k in keys], np.int64).T
        # pairs (piece i, big j): gap between the boxes, share of the piece's box inside the big one's, area ratio
        gap = np.maximum.reduce([x0[None] - x1[:, None], x0[:, None] - x1[None], y0[None] - y1[:, None],
                                 y0[:, None] - y1[None], np.zeros((len(keys),) * 2, np.int64)])
        ov = np.maximum(0, np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])) \
            * np.maximum(0, np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]))
        inside = ov / ((x1 - x0) * (y1 - y0)).astype(float)[:, None]
        f = a[:, None] / a[None].astype(float)
        small = (a < 3 * self.min_px)[:, None]
        join = ((f <= self.fragment_frac) & (gap <= g)) | ((f <= 2 * self.fragment_frac) & (inside >= 0.8)) \
            | (small & (f <= 0.35) & (gap <= 2 * g))
        join &= a[None] > a[:, None]  # only into bigger components (never itself)
        join &= (a >= self.min_px)[None]
        join[np.minimum(x1 - x0, y1 - y0) < min_side] = False  # slivers (compression edges along painted lines)
        # the bigger components in the order they are tried: largest first (ties: label order)
        bigs = np.argsort(-a, kind="stable")
        hit = join[:, bigs]
        first = bigs[np.argmax(hit, axis=1)]
        order = np.argsort(a, kind="stable")  # pieces smallest first (ties: label order)
        for i in order[hit.any(axis=1)[order]].tolist():  # a big one is joined only after all smaller pieces
            groups[keys[first[i]]] += groups.pop(keys[i])
        return groups

    def close(self) -> None:
        self._bg.clear()


_IDENTITY = np.arange(256, dtype=np.float32)


def _match_exposure(frame: np.ndarray, bg: np.ndarray, step: int = 8) -> np.ndarray:
    """The frame with each channel scaled to the background's exposure (unchanged when within 2 %)."""
    f = frame[::step, ::step].reshape(-1, 3).astype(np.float32)
    b = bg[::step, ::step].reshape(-1, 3).astype(np.float32)
    ok = (f > 8) & (f < 247) & (b > 8) & (b < 247)  # ratios of clipped values mean nothing
    gains = np.ones(3, np.float32)
    for c in range(3):
        sel = ok[:, c]
        if sel.sum() > 100:
            gains[c] = float(np.median(b[sel, c] / f[sel, c]))
    if np.all(np.abs(gains - 1) < 0.02):
        return frame
    lut = np.clip(np.rint(_IDENTITY[:, None] * gains[None]), 0, 255).astype(np.uint8).reshape(256, 1, 3)
    return cv2.LUT(frame, lut)


def _shadow_like(fg: np.ndarray, frame: np.ndarray, bg: np.ndarray, ratio: tuple[float, float],
                 chroma: float, smooth: float) -> tuple[np.ndarray, np.ndarray]:
    """Two uint8 0/1 masks of foreground pixels: those that look like the background in shade -- brightness
    (sum of R, G, B) at `ratio[0]`-`ratio[1]` of the background's and each normalised chromaticity within
    `chroma` of the background's (Cucchiara et al.'s test, as in OpenCV MOG2) -- and, of those, the ones where
    the frame / background brightness ratio is also locally even (relative standard deviation over 5 x 5
    pixels at most `smooth`), since a grey car's own shaded side passes the first test too: a shadow scales
    the ground it falls on, an object replaces it."""
    out = np.zeros_like(fg)
    idx = np.flatnonzero(fg)
    if idx.size == 0:
        return out, out
    # channel by channel, in 1-D arrays: numpy's reductions over a length-3 axis cost more than the arithmetic
    fr, bgr = frame.reshape(-1, 3), bg.reshape(-1, 3)
    f = [fr[:, c][idx].astype(np.float32) for c in range(3)]
    b = [bgr[:, c][idx].astype(np.float32) for c in range(3)]
    sf = f[0] + f[1] + f[2] + 3.0  # +1 per channel: keeps black pixels finite
    sb = b[0] + b[1] + b[2] + 3.0
    r = sf / sb
    ok = (r >= ratio[0]) & (r <= ratio[1])
    for c in range(3):
        ok &= np.abs(f[c] / sf - b[c] / sb) <= chroma
    idx = idx[ok]
    out.reshape(-1)[idx] = 1
    even = np.zeros_like(fg)
    if idx.size == 0:
        return out, even
    q = (cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) + 1.0) \
        / (cv2.cvtColor(bg, cv2.COLOR_RGB2GRAY).astype(np.float32) + 1.0)
    mean = cv2.blur(q, (5, 5))
    var = cv2.blur(q * q, (5, 5)) - mean * mean
    even.reshape(-1)[idx[(var <= (smooth * mean) ** 2).reshape(-1)[idx]]] = 1
    return out, even


class SizeClassifier:
    """car / person / other from a blob's size and shape.

    Calibrated: metres at the blob's ground contact point (the middle of its box's bottom row): silhouette
    area (pixel area x (depth / focal)^2), width, and upright height from `Camera.object_height`.
    person: area 0.1-1.6 m^2, width <= 1.3 m, height 0.8-2.6 m (height not required in views looking
    steeply down, where it is not measurable); car: area 2-30 m^2 and width >= 1.2 m; else other.
    Uncalibrated: pixel area as a fraction f of the image and aspect a = h / w: person 1e-4 <= f <= 6e-3 and
    a >= 1.3; car f >= 5e-3 and 0.3 <= a <= 3.5; else other.
    """

    def __init__(self, width: int, height: int, camera=None):
        self.W, self.H = width, height
        self.camera = camera
        self.steep = False
        if camera is not None:
            # angle between the optical axis and the ground normal: < 25 degrees = looking almost straight down
            self.steep = float(-camera.n[2]) > math.cos(math.radians(25))

    def classify(self, box, area: float) -> tuple[str, dict]:
        x, y, w, h = box
        if self.camera is not None:
            got = self._metric(x, y, w, h, area)
            if got is not None:
                return got
        f = area / float(self.W * self.H)
        a = h / max(w, 1e-9)
        size = {"area_frac": round(f, 6), "aspect": round(a, 3)}
        if 1e-4 <= f <= 6e-3 and a >= 1.3:
            return "person", size
        if f >= 5e-3 and 0.3 <= a <= 3.5:
            return "car", size
        return "other", size

    def _metric(self, x, y, w, h, area):
        cam = self.camera
        foot = np.array([[x + (w - 1) / 2.0, y + h - 1]])
        z = float(cam.backproject_to_ground(foot)[0, 2])
        if not math.isfinite(z) or z <= 0:
            return None  # at or above the horizon: fall back to pixel size
        m_per_px = z / cam.focal
        area_m = area * m_per_px ** 2
        width_m = w * m_per_px
        try:
            height_m = float(cam.object_height(foot[0], (x + (w - 1) / 2.0, y)))
        except CalibrationError:
            height_m = float("nan")
        size = {"area_m2": round(area_m, 3), "width_m": round(width_m, 3), "height_m": round(height_m, 3)}
        tall_ok = self.steep or (math.isfinite(height_m) and 0.8 <= height_m <= 2.6)
        if 0.1 <= area_m <= 1.6 and width_m <= 1.3 and tall_ok:
            return "person", size
        if 2.0 <= area_m <= 30.0 and width_m >= 1.2:
            return "car", size
        return "other", size


class BackgroundWindows:
    """Which stored background a capture time uses, and loading it (uint8, rounded as for display)."""

    def __init__(self, project, camera_id: int):
        self.project = project
        self.camera_id = camera_id
        stored = project.backgrounds(camera_id)
        if not stored:
            cam = project.camera(camera_id)
            raise BadInputError(
                f"Camera {cam.name!r} has no background yet; the built-in detector compares every frame with it.",
                "Run `walt3d background PROJECT` first (or Background > Compute in the app).")
        self.keys = [b["window"] for b in stored]
        self.hours = stored[0]["settings"].get("hours_per_window", 1)
        self.tz = project.camera(camera_id).tz
        self._memo: dict[int, str] = {}

    def key_for_time(self, t: float) -> str:
        if len(self.keys) == 1:
            return self.keys[0]
        quarter = int(t // 900)  # every time zone's offset is a whole number of quarter hours
        key = self._memo.get(quarter)
        if key is None:
            key = self._memo[quarter] = self._lookup(t)
        return key

    def _lookup(self, t: float) -> str:
        from ..background import hour_windows

        if self.hours and "all" not in self.keys:
            key = next(iter(hour_windows([t], self.tz, self.hours)))
            if key in self.keys:
                return key
            # the nearest stored window by hour of day (wrapping at midnight)
            h = _first_hour(key)
            return min(self.keys, key=lambda k: min(abs(_first_hour(k) - h), 24 - abs(_first_hour(k) - h)))
        return "all" if "all" in self.keys else self.keys[0]

    def load(self, key: str) -> np.ndarray:
        from ..background import to_display

        bg = to_display(self.project.load_background(self.camera_id, key))
        if bg.ndim == 2:
            bg = np.repeat(bg[..., None], 3, axis=2)
        return np.ascontiguousarray(bg)


class _FixedBackground:
    def __init__(self, image: np.ndarray):
        from ..background import to_display

        img = to_display(image) if image.dtype != np.uint8 else image
        self.image = np.ascontiguousarray(np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img)

    def key_for_time(self, t: float) -> str:
        return "fixed"

    def load(self, key: str) -> np.ndarray:
        return self.image


def _first_hour(key: str) -> int:
    try:
        return int(key[1:3])
    except ValueError:
        return 0
