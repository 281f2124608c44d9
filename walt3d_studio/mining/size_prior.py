"""A metric size prior: a blob too wide or too tall for one object of its track's class is a merge.

Needs a calibrated camera: the foreground detector then gives each blob its width and upright height in
metres at its ground contact point (`SizeClassifier`, det.extra["size"]). The class is the track's (after the
vote), so one odd frame does not decide the class it is judged by. Ranges and where they come from are in
docs/mining.md ("Size prior"); they are upper bounds only (a small blob is a far or partly seen object, not a
merge). The image width of a car is its length seen side-on, its width seen head-on: the bound is on the
longest single vehicle a class may hold, so two cars nose to tail in a lane exceed it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# class -> (max width at the ground in metres, max upright height in metres; None: not checked).
# "person" also holds cyclists (no bike class yet): a bicycle side-on is ~1.7-1.8 m long, so the width bound
# is a cyclist's, not a walker's (1.1 m would catch walker pairs but flags the demo's lone cyclist).
DEFAULT_LIMITS = {"person": (1.9, 2.2), "car": (7.5, None)}


@dataclass
class SizePrior:
    limits: dict = field(default_factory=lambda: dict(DEFAULT_LIMITS))

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self, category: str, size: dict | None) -> str | None:
        """Why the blob is too big for one `category` object (None when it fits or cannot be measured)."""
        lim = self.limits.get(category)
        if lim is None or not size or "width_m" not in size:
            return None
        max_w, max_h = lim
        w, h = size.get("width_m"), size.get("height_m")
        if max_w is not None and w is not None and w == w and w > max_w:
            return f"too wide for one {category}: {w:.2f} m > {max_w:.2f} m"
        if max_h is not None and h is not None and h == h and h > max_h:
            return f"too tall for one {category}: {h:.2f} m > {max_h:.2f} m"
        return None


def apply_size_prior(records: list[dict], prior: SizePrior) -> int:
    """Mark records (with the track's class in "category" and the detector's metric "size") whose blob is too
    big for one object: rule verdict occluded, flag "too_large", reason under "size_prior". Mined ones are
    un-mined (their crops removed). Returns how many were marked."""
    n = 0
    for r in records:
        why = prior.check(r["category"], r.get("size"))
        if why is None:
            continue
        n += 1
        _mark_too_large(r, why)
    return n


# ------------------------------------------------------------------ learned prior (no calibration needed)


@dataclass
class LearnedPriorSettings:
    """A size prior learned from the camera's own single objects, for cameras without a calibration.

    On a ground plane seen in perspective an object's image size is proportional to (row - r0), the row of its
    ground contact (the box bottom) less the horizon's row, so per class and per measure (box height, box width,
    sqrt of mask area) the size of ONE object is a line s(row) = a * row + b with b = -a * r0. It is fitted on
    detections the rule already mined, or found occluded only by another blob (not merged, not two-lobed, not
    truncated), of tracks with at least `min_track` of them (`_fit_singles`): the horizon from how each track's
    sizes grow (`_horizon`), then one scale per track, then the *lowest* cluster of those scales: their
    `start_quantile` first, then the median of the tracks within `inlier` of it, `iterations` times. The learning
    tracks still include blobs that were merged from their first frame (a queue entering the view), often more
    than half of them in a dense scene: hence the lowest cluster, not the median. Fragments of objects (a car cut
    in two by a windscreen the colour of the road) pull it down when they are many.
    Singles vary by their type (a van is longer than a hatchback, a walker mid-stride is wider): the spread of
    the chosen tracks' points sets the bound, exp(`sigmas` * std), kept within [`min_ratio`, `max_ratio`]. A
    detection larger than the bound on any measure is "too large" for one object at its row; so is one in a
    track whose median ratio is over the bound while its own is over `track_ratio` (the frames where the queue
    happens to look short). A blob much lower for its width than one object is cut off (`_cut_off_bound`)."""
    min_track: int = 5
    min_tracks: int = 3          # per class; fewer: nothing is learned for it. Three, so that a jam where only
                                 # two lone cars were ever seen whole still learns one car from them ...
    quantile_tracks: int = 4     # ... but with fewer tracks than this, only when two of them agree in size
                                 # (`_lowest_group`): three tracks of three sizes say nothing of which is one
    min_points: int = 30
    bins: int = 6                # without perspective: row bins of the per-bin fit ...
    bin_inlier: float = 1.3      # ... and its inlier band
    start_quantile: float = 0.25  # the per-bin fit's start (and the per-track fit's when no cluster is found)
    start_tracks: int = 2         # per-track fit: the lowest cluster holds at least this many tracks ...
    start_share: float = 0.15     # ... and this share of them ...
    start_band: float = 1.25      # ... within this ratio of its lowest
    inlier: float = 1.5          # a single object's type varies: a walker's pose alone spans ~1.6x in width
    iterations: int = 3
    sigmas: float = 3.0
    min_ratio: float = 1.5
    max_ratio: float = 1.7
    min_ratio_height: float = 1.6  # height only: a van or a pickup seen head-on is ~1.5 cars tall (road clip)
    track_ratio: float = 1.2
    track_sigmas: float = 3.0
    min_track_bound: float = 1.3
    flat_per_track: bool = True
    min_part: float = 0.5        # a blob under this fraction of one object's height at its row ...
    min_part_size: float = 0.7   # ... and under this fraction of its sqrt(area) is a part (a roof band is wide)
    cut_off_range: tuple = (0.5, 0.85)  # a blob lower for its width than one object's sigmas spreads (within
                                        # this range) has lost its top or bottom (a roof the colour of the road)

    def to_dict(self) -> dict:
        return asdict(self)


MEASURES = ("height", "width", "size")  # box height, box width, sqrt(mask area): pixels


def _measures(r: dict) -> tuple[float, float, float, float]:
    x, y, w, h = r["box"]
    return y + h, h, w, float(r["area"]) ** 0.5


@dataclass
class LearnedPrior:
    """Per class and measure: (a, b, bound) with size(row) = a * row + b and bound the largest ratio to it that
    one object reaches; `tracks[class]` = how many tracks it was learned from."""
    lines: dict = field(default_factory=dict)
    tracks: dict = field(default_factory=dict)
    track_bounds: dict = field(default_factory=dict)  # [class][measure]: the most a single track's median reaches
    cut_off: dict = field(default_factory=dict)  # [class]: the least (height ratio / width ratio) one whole object
                                                 # reaches: a blob lower for its width has lost its top or bottom

    def ratios(self, category: str, r: dict) -> dict[str, float] | None:
        fits = self.lines.get(category)
        if not fits:
            return None
        row, *vals = _measures(r)
        out = {}
        for m, v in zip(MEASURES, vals):
            a, b, _ = fits[m]
            out[m] = v / max(a * row + b, 1.0)
        return out

    def check(self, category: str, r: dict, track_median: dict | None, track_ratio: float) -> str | None:
        q = self.ratios(category, r)
        if q is None:
            return None
        fits = self.lines[category]
        row = _measures(r)[0]
        for m in MEASURES:
            a, b, bound = fits[m]
            own = q[m] > bound
            tb = self.track_bounds.get(category, {}).get(m, bound)
            trk = track_median is not None and track_median.get(m, 0) > tb and q[m] > track_ratio
            if own or trk:
                name = {"height": "tall", "width": "wide", "size": "large"}[m]
                pred = a * row + b
                how = f"{q[m]:.2f}" if own else f"{q[m]:.2f}, its track {track_median[m]:.2f}"
                return (f"too {name} for one {category} at row {row:.0f}: {how} x the {pred:.0f} px "
                        f"learned from {self.tracks[category]} tracks (bound {bound if own else tb:.2f})")
        return None


def _fit_singles(tracks: list[np.ndarray], st: LearnedPriorSettings,
                 flat: bool = False) -> tuple[dict[str, tuple], dict[str, float]] | None:
    """({measure: (a, b, bound)}, {measure: track bound}): one object's size at a row, `a * row + b`, the largest
    ratio to it one object reaches, and the largest ratio one object's *track median* reaches, from the learning
    tracks (each an array of rows [row, height, width, size]).

    Perspective first: on a ground plane every measure of every object is proportional to (row - r0), r0 the
    horizon's row, the same for all objects (`_horizon`). So each track has one scale per measure, k = median of
    value / (row - r0) over its detections (a walker's stride, a blob's jitter average out), and a track of one
    object and a track of a queue differ by their k at every row. One object's k is the lowest cluster of the
    tracks' k: their `start_quantile` first, then the median of the tracks within `inlier` of it, `iterations`
    times. Per track and over all rows, not per point in row bins as before: a stretch of rows holding only
    queues (a lane whose single cars were all seen elsewhere) put that line through the queues (the real-crop
    road scene, seed 1: 2 single tracks of 5). None when the tracks show no perspective (each on one row: paths
    across the view, a camera looking down), unless `flat`: then k is the track's median size itself (a line of
    slope 0).

    The track bound: a single object's track median varies far less than its detections do (a walker's pose
    changes every step, its median pose does not), so a track whose median is `track_sigmas` spreads of the
    cluster's track medians above one object (at least `min_track_bound`) is two objects moving together, such
    as two walkers side by side who were never seen apart."""
    r0 = _horizon(tracks)
    if not np.isfinite(r0):
        if not flat:
            return None
        d = [np.ones(len(t)) for t in tracks]
    else:
        d = [np.maximum(t[:, 0] - r0, 1e-6) for t in tracks]
    k = np.array([[np.median(t[:, 1 + m] / dt) for m in range(3)] for t, dt in zip(tracks, d)])  # (tracks, 3)
    starts = [_lowest_group(k[:, m], st) for m in range(3)]
    if any(c is None for c in starts):
        return {}, {}  # too few tracks, and no two of one size: nothing to learn
    out, track_bounds = {}, {}
    for m, name in enumerate(MEASURES):
        c = starts[m]
        for _ in range(st.iterations):
            near = (k[:, m] <= st.inlier * c) & (k[:, m] >= c / st.inlier)
            c = float(np.median(k[near, m]))
        near = np.flatnonzero((k[:, m] <= st.inlier * c) & (k[:, m] >= c / st.inlier))
        lr = np.concatenate([np.log(np.maximum(tracks[i][:, 1 + m], 1e-6) / (c * d[i])) for i in near])
        lo = st.min_ratio_height if name == "height" else st.min_ratio
        a, b = (0.0, c) if not np.isfinite(r0) else (c, -c * r0)
        bound = float(np.clip(np.exp(st.sigmas * lr.std()), lo, max(lo, st.max_ratio)))
        out[name] = (float(a), float(b), bound)
        spread = float(np.log(k[near, m] / c).std()) if len(near) > 1 else 0.0
        track_bounds[name] = float(np.clip(np.exp(st.track_sigmas * spread), st.min_track_bound, bound))
    return out, track_bounds


def _lowest_group(k: np.ndarray, st: LearnedPriorSettings) -> float | None:
    """Where the lowest cluster of track scales starts: the lowest k with at least `start_tracks` tracks (and
    `start_share` of them) within `start_band` above it. Not a fixed quantile: on a path where two walkers side
    by side outnumber single walkers 7 to 2 (the real-crop lot scene, seed 3), the 25th percentile was a pair.
    No such cluster: the `start_quantile` with at least `quantile_tracks` tracks, else None."""
    ks = np.sort(k)
    need = max(st.start_tracks, int(np.ceil(st.start_share * len(ks))))
    for v in ks:
        if np.count_nonzero((ks >= v) & (ks <= v * st.start_band)) >= need:
            return float(v)
    if len(ks) < st.quantile_tracks:
        return None
    return _weighted_quantile(k, np.ones(len(k)), st.start_quantile)


def _fit_lowest(rows, vals, wts, st: LearnedPriorSettings, min_ratio: float | None = None):
    """(a, b, bound): the line through the lowest cluster of (row, value) and how far one object reaches, without
    perspective (see `_fit_singles`): per row bin the `start_quantile` of the points first, then the median per
    bin of the points within `bin_inlier` of the line, `iterations` times."""
    edges = np.quantile(rows, np.linspace(0, 1, st.bins + 1))
    idx = np.clip(np.searchsorted(edges, rows, side="right") - 1, 0, st.bins - 1)

    def line(keep, q):
        px, py, pw = [], [], []
        for k in range(st.bins):
            sel = keep & (idx == k)
            if sel.sum() < 3:
                continue
            order = np.argsort(vals[sel])
            cw = np.cumsum(wts[sel][order])
            v = vals[sel][order][min(len(order) - 1, int(np.searchsorted(cw, q * cw[-1])))]
            px.append(np.median(rows[sel]))
            py.append(v)
            pw.append(wts[sel].sum())
        if len(px) < 2:
            return 0.0, float(np.median(vals[keep])) if keep.any() else 1.0
        a, b = np.polyfit(px, py, 1, w=np.sqrt(pw))
        return float(a), float(b)

    keep = np.ones(len(rows), bool)
    a, b = line(keep, st.start_quantile)
    for _ in range(st.iterations):
        ratio = vals / np.maximum(a * rows + b, 1.0)
        keep = (ratio < st.bin_inlier) & (ratio > 1 / st.bin_inlier)
        if keep.sum() < 3:
            break
        a, b = line(keep, 0.5)
    ratio = vals / np.maximum(a * rows + b, 1.0)
    keep = (ratio < st.bin_inlier) & (ratio > 1 / st.bin_inlier)
    lr = np.log(ratio[keep]) if keep.any() else np.zeros(1)
    lo = st.min_ratio if min_ratio is None else min_ratio
    bound = float(np.clip(np.exp(st.sigmas * lr.std()), lo, max(lo, st.max_ratio)))
    return a, b, bound


def _weighted_quantile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(v)
    cw = np.cumsum(w[order])
    return float(v[order][min(len(v) - 1, int(np.searchsorted(cw, q * cw[-1])))])


def _horizon(tracks: list[np.ndarray]) -> float:
    """The image row r0 where objects on the ground would shrink to nothing: the r0 (above every object) that
    makes each track's measures most nearly proportional to (row - r0) -- least spread of log(value / (row -
    r0)) within tracks. -inf when too few tracks cross rows (each must span at least a fifth of all tracks' rows:
    walkers crossing the view on one row bob by a few rows, and a horizon fitted to that noise was spurious on the
    real-crop lot scene) or when the spread hardly depends on r0: sizes then do not change with the row."""
    rows = np.concatenate([t[:, 0] for t in tracks])
    lo, span = float(rows.min()), max(float(np.ptp(rows)), 1.0)
    tracks = [t for t in tracks if np.ptp(t[:, 0]) >= 0.2 * span]
    if len(tracks) < 2:
        return -np.inf
    cands = lo - span * np.geomspace(0.02, 50, 120)

    def spread(r0):
        tot = 0.0
        for t in tracks:
            if len(t) < 2:
                continue
            dl = np.log(np.maximum(t[:, 0] - r0, 1e-6)) if np.isfinite(r0) else 0.0
            lv = np.log(np.maximum(t[:, 1:4], 1e-6)) - (dl[:, None] if np.ndim(dl) else 0.0)
            tot += float(((lv - lv.mean(axis=0)) ** 2).sum())
        return tot

    flat = spread(-np.inf)
    costs = np.array([spread(r) for r in cands])
    best = int(np.argmin(costs))
    if costs[best] > 0.5 * flat:  # no clear perspective (half the spread explained, or less): constant sizes
        return -np.inf
    return float(cands[best])


def learn_size_prior(records: list[dict], settings: LearnedPriorSettings | None = None) -> LearnedPrior:
    """Learn the per-class lines from this run's own mined detections of long tracks (see the settings)."""
    from collections import defaultdict

    st = settings or LearnedPriorSettings()
    by_track: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        # every detection the rule mined, growing ones too: a lone car seen only in the far field grows 10-25 % a
        # frame and was never "steady" by a plain running median, so "one car" was learned from queues alone
        # and those occluded by another blob alone (a box or a contact, not merged, two-lobed or truncated): still
        # one object's blob. In a jam the lone cars were each in contact with a car in the next lane, and "one car"
        # was learned from queues
        if r["rule_verdict"] == "unoccluded" or (
                r["rule_verdict"] == "occluded" and set(r["reasons"].get("flags", ())) <= {"occluded", "touching"}):
            by_track[r["track"]].append(r)
    per_class: dict[str, list[np.ndarray]] = defaultdict(list)
    for recs in by_track.values():
        if len(recs) >= st.min_track:
            per_class[recs[0]["category"]].append(np.array([_measures(r) for r in recs], float))
    prior = LearnedPrior()
    for cat, tracks in per_class.items():
        if len(tracks) < st.min_tracks or sum(len(t) for t in tracks) < st.min_points:
            continue
        fit = _fit_singles(tracks, st, flat=st.flat_per_track)
        if fit is not None and not fit[0]:
            continue
        if fit is not None:
            prior.lines[cat], prior.track_bounds[cat] = fit
        else:  # no perspective: the fit per row bin
            arr = np.concatenate([np.column_stack([t, np.full(len(t), 1.0 / len(t))]) for t in tracks])
            prior.lines[cat] = {m: _fit_lowest(arr[:, 0], arr[:, 1 + k], arr[:, 4], st,
                                               st.min_ratio_height if m == "height" else None)
                                for k, m in enumerate(MEASURES)}
        prior.tracks[cat] = len(tracks)
        prior.cut_off[cat] = _cut_off_bound(prior.lines[cat], tracks, st)
    return prior


def _cut_off_bound(lines: dict, tracks: list[np.ndarray], st: LearnedPriorSettings) -> float:
    """The least (height / one object's height) / (width / one object's width) a whole object reaches: the
    learning tracks' points within `inlier` of one object's height, their median less `sigmas` spreads (kept within
    `cut_off_range`). A car is a rigid box, so its aspect at a row varies little (real-crop road scene: every right
    mined car at >= 0.91 of the median, 8 of 10 wrong ones, cars whose dark roof matched the road, at 0.38-0.72);
    a walker's stride widens it, and its bound is lower."""
    pts = np.concatenate(tracks)
    row, h, w = pts[:, 0], pts[:, 1], pts[:, 2]
    (ah, bh, _), (aw, bw, _) = lines["height"], lines["width"]
    qh, qw = h / np.maximum(ah * row + bh, 1.0), w / np.maximum(aw * row + bw, 1.0)
    band = np.log(st.inlier)
    keep = np.abs(np.log(qh)) < band  # whole in height; any width (a walker's stride spans 1.6x)
    lo, hi = st.cut_off_range
    if keep.sum() < 3:
        return lo
    rel = np.log(qh[keep] / qw[keep])
    return float(np.clip(np.exp(np.median(rel) - st.sigmas * rel.std()), lo, hi))


def size_class(prior: LearnedPrior, r: dict, tolerance: float = 1.35) -> str | None:
    """The learned class whose one-object height at the record's row is nearest its own (within `tolerance`):
    how an "other" blob is judged (a far car, or two walkers side by side, come out as "other")."""
    best, cls = np.log(tolerance), None
    n_other = prior.tracks.get("other", 0)
    for cat in prior.lines:
        if cat == "other" or prior.tracks[cat] < n_other:  # a class rarer than "other" here is not trusted
            continue
        q = prior.ratios(cat, r)
        if q is not None and abs(np.log(max(q["height"], 1e-9))) < best:
            best, cls = abs(np.log(max(q["height"], 1e-9))), cat
    return cls


def apply_learned_prior(records: list[dict], prior: LearnedPrior, settings: LearnedPriorSettings | None = None
                        ) -> int:
    """Mark records too large for one object of their (voted) class at their row, like `apply_size_prior`
    (verdict occluded, flag "too_large", reason under "size_prior"). Each real class is judged by its own line.
    An "other" record, or one of a class with no line (too few tracks), is judged as the learned class its
    height fits (`size_class`; only classes with at least as many tracks as "other" here count: a "person"
    line learned from 4 misclassified tracks must not judge 58 tracks of small "other" cars), else by the
    "other" line when there is one (a camera whose small cars all come out "other" judges them among
    themselves). A whole track judged as another class whose
    detections mostly fit one class in every measure takes that class (reason "class_from_size"; the
    detector's class stays under "detector_class"). Records with a metric size (a calibrated camera) are left to
    the metric prior. Returns how many were marked too large."""
    from collections import Counter, defaultdict

    st = settings or LearnedPriorSettings()
    if not prior.lines:
        return 0
    judged_as: dict[int, str] = {}
    per_track: dict[str, list[dict]] = defaultdict(list)
    fits_class: dict[str, Counter] = defaultdict(Counter)
    for i, r in enumerate(records):
        cat = r["category"]
        if cat == "other" or cat not in prior.lines:
            cat = size_class(prior, r) or (cat if cat in prior.lines else None)
        if cat is None:
            continue
        judged_as[i] = cat
        q = prior.ratios(cat, r)
        if "merged" not in r["reasons"].get("flags", ()):
            per_track[r["track"]].append(q)
            if cat != r["category"]:
                bounds = prior.lines[cat]
                fits_class[r["track"]][cat if all(q[m] <= bounds[m][2] for m in MEASURES) else None] += 1
    medians = {k: {m: float(np.median([q[m] for q in qs])) for m in MEASURES} for k, qs in per_track.items()}
    relabel = {}
    for k, c in fits_class.items():
        cat, n = c.most_common(1)[0]
        if cat is not None and n >= 0.6 * sum(c.values()):
            relabel[k] = cat
    n = 0
    for i, r in enumerate(records):
        if r["track"] in relabel and r["category"] != relabel[r["track"]]:
            r["reasons"].setdefault("detector_class", r["category"])
            r["reasons"]["class_from_size"] = relabel[r["track"]]
            r["category"] = relabel[r["track"]]
        if i not in judged_as or (r.get("size") and "width_m" in r["size"]):
            continue
        why = prior.check(judged_as[i], r, medians.get(r["track"]), st.track_ratio)
        if why is not None:
            _mark_too_large(r, why)
            n += 1
        elif r["rule_verdict"] == "unoccluded":
            _check_part(prior, judged_as[i], r, st.min_part, st.min_part_size)
    # an "other" blob no class's height fits, but as wide as the camera's most common object there: a band of
    # one (a roof or windscreen whose body matched the road)
    real = [c for c in prior.lines if c != "other"]
    if real:
        main_cls = max(real, key=lambda c: prior.tracks[c])
        for i, r in enumerate(records):
            if i in judged_as or r["rule_verdict"] != "unoccluded" or r["category"] != "other":
                continue
            q = prior.ratios(main_cls, r)
            if 0.5 <= q["width"] <= 1.5:
                _check_part(prior, main_cls, r, st.min_part, st.min_part_size)
    return n


def _check_part(prior: LearnedPrior, category: str, r: dict, min_part: float, min_size: float) -> None:
    """A mined blob that is part of one object is rejected, never mined as a whole one: far smaller than one
    object at its row, in height and in area (a roof or a windscreen whose car's body matched the road; flag
    "too_small"), or much lower for its width than one whole object (the body of a car whose roof matched the
    road; flag "cut_off", `LearnedPrior.cut_off`)."""
    q = prior.ratios(category, r)
    if q is None:
        return
    row = _measures(r)[0]
    a, b, _ = prior.lines[category]["height"]
    cut = prior.cut_off.get(category, 0.0)
    if q["height"] < min_part and q["size"] < min_size:
        r["reasons"]["size_prior"] = (f"too small for a whole {category} at row {row:.0f}: {q['height']:.2f} x the "
                                      f"{a * row + b:.0f} px high learned from {prior.tracks[category]} tracks")
        flag = "too_small"
    elif q["height"] < q["width"] * cut:
        r["reasons"]["size_prior"] = (f"too low for a whole {category} of its width at row {row:.0f}: "
                                      f"{q['height']:.2f} x one's height, {q['width']:.2f} x its width (a whole one "
                                      f"reaches {cut:.2f}): its top or bottom is missing")
        flag = "cut_off"
    else:
        return
    r["reasons"].setdefault("flags", []).append(flag)
    r["rule_verdict"] = "rejected"
    if r["decided_by"] == "rule" and r["verdict"] == "unoccluded":
        r["verdict"] = "rejected"
        r["crop"] = None  # its bytes stay in the run's pack, unreferenced


def _mark_too_large(r: dict, why: str) -> None:
    reasons = r["reasons"]
    reasons["size_prior"] = why
    if "too_large" not in reasons.setdefault("flags", []):
        reasons["flags"].append("too_large")
    if r["rule_verdict"] in ("unoccluded", "rejected", "truncated"):
        r["rule_verdict"] = "occluded"
    if r["decided_by"] == "rule" and r["verdict"] != "occluded":
        r["verdict"] = "occluded"
        r["crop"] = None  # its bytes stay in the run's pack, unreferenced
