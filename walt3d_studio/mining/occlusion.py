"""The WALT occlusion rule, made precise (DESIGN "Occlusion rule"), and how verdicts combine.

For a detection A in a frame, an occluder candidate is any *other* detection B of that frame with score >=
`occluder_score` (0.3; every candidate whatever its class, and high-confidence boxes count too -- WALT's code
only counted low-confidence ones, a slip). A is **occluded** when some candidate B has its box bottom lower in
the image than A's and IoU(A, B) > delta (0.05); or B's bottom is lower and B's mask comes within `touch_frac`
(0.025) of the image height of A's bottom edge (in contact: a queue's car behind the one in front, boxes
barely overlapping; the foreground detector's own closing size, below which it cannot tell a gap from none);
or when A's mask overlaps the camera's static-occluder mask by more than delta of A's area -- unless at least
`static_self` (0.8) of A lies inside it: then A is the static object itself (the parked car a learned mask came
from), not something hidden behind it. A is **truncated** when its box comes within `border_px` (2) of the image edge.
A is **mined** (verdict "unoccluded") when its score >= `mine_score` (0.9), it is neither occluded nor
truncated, and its mask area is within +-40 % of the area its track's last `area_window` areas lead one to
expect (their median carried forward on the track's steady growth, `AreaHistory`; a jump means two objects
merged into one blob, or one split).

Rule verdicts: "occluded" (also when truncated as well), "truncated", "rejected" (low score or area jump) or
"unoccluded". The reasons dict records every fact the rule looked at, so the review panel can say why.

Merges: with the default foreground detector objects that touch become one blob, which no IoU test sees; the
tracker (tracker.py) reports a detection holding two or more live tracks, and such a detection is occluded
with the reason "merged with tracks a, b" (flag "merged"). Detections of those tracks in the frames right
before and after a merge or a split are "suspect" (flag and reason; the pipeline rejects them if the rule
would have mined them). A mask with two lobes joined by a narrow waist (shape.py) is occluded too, with the
reason "two lobes (solidity 0.xx)" (flag "two_lobes"): touching objects the tracker never saw apart.

Parts (parts.py): a roof or windscreen blob joined into its car before tracking is recorded (flag
"joined_parts"); a blob with a piece over it that may be its roof, not seen moving with it long enough to tell,
is "rejected" (flag "part_above"): mined, it could be a car without its roof.

Precedence: a person's label (U / O / X), else the classifier when one is trained (P(unoccluded) >= 0.5),
else the rule -- except a merged blob, which stays occluded whatever the classifier says (two objects in one
mask is a fact from the tracker, not a judgement). Every stored verdict says which of them decided.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .detection import Detection, box_intersection, box_iou
from .shape import two_lobes

VERDICTS = ("unoccluded", "occluded", "truncated", "rejected", "not_object")
LABEL_VERDICT = {"U": "unoccluded", "O": "occluded", "X": "not_object"}


@dataclass
class RuleSettings:
    occluder_score: float = 0.3
    delta: float = 0.05
    border_px: float = 2
    mine_score: float = 0.9
    area_tolerance: float = 0.4
    person_area_tolerance: float = 0.6  # a track voted "person": a walker's silhouette changes with each step
                                        # (legs and arms apart or together), a car's does not; applied once the
                                        # class vote is in (mine._recheck_area_jumps), never to a lone detection
    area_window: int = 9
    static_self: float = 0.8
    min_mined_frames: int = 3
    lobes: bool = True             # a mask with two lobes joined by a waist is a merge (shape.py)
    lobe_solidity: float = 0.95    # only masks less solid than this are examined (two touching ellipses: 0.92)
    inside: float = 0.5            # a box this much inside a nearer detection's box is occluded by it, whatever
                                   # the IoU (0: off): IoU misses a small far car within a big near blob's box
    touch_frac: float = 0.025      # masks within this fraction of the image height of a nearer detection's mask
                                   # are in contact with it (0: off); the foreground detector's closing size
                                   # (close_frac): gaps below it are ones it cannot tell from no gap

    def to_dict(self) -> dict:
        return asdict(self)

    def area_tolerance_for(self, category: str) -> float:
        """The area tolerance for a track of this (voted) class."""
        return self.person_area_tolerance if category == "person" else self.area_tolerance


def frame_facts(dets: list[Detection], width: int, height: int, settings: RuleSettings,
                static_mask: np.ndarray | None = None) -> list[dict]:
    """Per detection of one frame: who may occlude it, static overlap, truncated edges (no track needed)."""
    n = len(dets)
    out = [{} for _ in range(n)]
    if n == 0:
        return out
    boxes = np.array([d.box for d in dets], float)
    scores = np.array([d.score for d in dets], float)
    inter = box_intersection(boxes, boxes)
    iou = box_iou(boxes, boxes, inter)
    bottom = boxes[:, 1] + boxes[:, 3]
    b = settings.border_px
    touch = int(round(settings.touch_frac * height))
    others = iou.copy()
    np.fill_diagonal(others, -np.inf)
    max_iou = others.max(axis=1)
    # The only pairs the tests below can hold for: boxes overlapping by more than delta, or near enough for
    # `_in_contact` (its box test needs the boxes within touch + 1 px, its mask test the masks' boxes within
    # touch px). Found for all pairs at once: a Python call for each of a dense frame's ~700 pairs cost ~2 ms.
    # the share of each box inside each other box: IoU alone lets a far car inside the box of a blob 20x its size
    # (a queue in the next lane, wrapped around it) through at IoU 0.05
    inside = inter / np.maximum(boxes[:, 2] * boxes[:, 3], 1e-9)[:, None]
    np.fill_diagonal(inside, 0.0)
    big_inside = (inside >= settings.inside) if settings.inside > 0 else np.zeros(iou.shape, bool)
    maybe = (iou > settings.delta) | big_inside
    if touch > 0:
        maybe |= _near(boxes, touch + 1) | _near(np.array([d.int_box for d in dets]).reshape(-1, 4), touch)
    for i, d in enumerate(dets):
        x, y, w, h = boxes[i]
        by, touching = [], []
        for j in np.flatnonzero(maybe[i]).tolist():
            if j != i and scores[j] >= settings.occluder_score and bottom[j] > bottom[i] \
                    and (iou[i, j] > settings.delta or big_inside[i, j]):
                by.append({"index": j, "iou": round(float(iou[i, j]), 4)})
                if iou[i, j] <= settings.delta:
                    by[-1]["inside"] = round(float(inside[i, j]), 4)
            elif j != i and scores[j] >= settings.occluder_score and bottom[j] > bottom[i] \
                    and touch > 0 and _in_contact(d, dets[j], touch, boxes[i], boxes[j]):
                # Two blobs in contact, the nearer one's box barely overlapping (a queue: the car behind's
                # bottom edge meets the top of the car in front, IoU ~0.01, which the box test misses; their
                # masks, eroded where paint matches the road, are 3-6 px apart at 240 rows). The nearer one
                # hides the far one's bottom edge, as in the box rule: the far one is occluded.
                by.append({"index": j, "iou": round(float(iou[i, j]), 4), "contact_px": touch})
            elif j != i and bottom[j] < bottom[i] and iou[i, j] <= settings.delta and touch > 0 \
                    and _in_contact(dets[j], d, touch, boxes[j], boxes[i]):
                # the other side of that contact: this one is the nearer car, and the farther one's bottom
                # edge meets its top (boxes barely overlapping: not an object in front of another, which is
                # what WALT mines). Nothing hides it, but at a gap under the closing size the detector cannot
                # tell contact from none, nor whether the masks hold parts of each other: not mined
                touching.append({"index": j, "contact_px": touch})
        edges = [name for name, gap in (("left", x), ("top", y), ("right", width - (x + w)),
                                        ("bottom", height - (y + h))) if gap <= b]
        facts = {"occluded_by": by, "touching": touching, "truncated": edges, "score": round(float(d.score), 4),
                 "max_iou": round(float(max_iou[i]) if n > 1 else 0.0, 4)}
        if static_mask is not None:
            facts["static_overlap"] = round(_static_overlap(d, static_mask), 4)
        if settings.lobes and d.mask is not None:
            lob = two_lobes(d.mask, max_solidity=settings.lobe_solidity)
            facts["solidity"] = round(lob.solidity, 3)
            if lob.two_lobes:
                facts["two_lobes"] = {"neck_px": round(lob.neck_px, 1), "shares": [float(v) for v in lob.shares]}
        if d.extra.get("joined_parts"):  # pieces of this object joined into it before tracking (parts.py)
            facts["joined_parts"] = {"parts": d.extra["joined_parts"], "frames": d.extra.get("joined_parts_frames")}
        if d.extra.get("part_above"):  # a piece over it that may be its roof, not seen moving with it long enough
            facts["part_above"] = d.extra["part_above"]
        out[i] = facts
    return out


def _near(boxes: np.ndarray, px: float) -> np.ndarray:
    """Pairs (i, j) of boxes [x, y, w, h] that come within `px` of each other (symmetric), all at once: the
    same test as `_masks_meet`'s first."""
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    apart = (x0[:, None] - px >= x1[None]) | (x0[None] >= x1[:, None] + px) \
        | (y0[:, None] - px >= y1[None]) | (y0[None] >= y1[:, None] + px)
    return ~apart


def _in_contact(a: Detection, b: Detection, px: int, a_box=None, b_box=None) -> bool:
    """Whether b (nearer) is in contact with a's bottom edge: their masks within `px` there (`_masks_meet`), or
    their boxes -- b's top within `px` rows of a's bottom, the two overlapping in x by a quarter of the narrower
    (corner to corner in the next lane is no contact: on the road clip that rejected 163 cars). The boxes count because a
    mask eroded where paint matches the road loses a corner (a dark car touching the roof corner of the car in
    front) while its box keeps the rows it spans. Never for box-only detections."""
    if a.mask is None or b.mask is None:
        return False
    if a_box is not None and b_box is not None:
        ax, ay, aw, ah = a_box
        bx, by, bw, bh = b_box
        if min(ax + aw, bx + bw) - max(ax, bx) >= 0.25 * min(aw, bw) and abs(by - (ay + ah)) <= px:
            return True
    return _masks_meet(a, b, px)


def _masks_meet(a: Detection, b: Detection, px: int) -> bool:
    """Whether the mask of b comes within `px` pixels of a's mask at a's bottom edge (the contact rows' median in
    the bottom quarter of a's box) (never for box-only detections: a box
    says nothing of where the object's edge is, and the box IoU test is all there is for them)."""
    if a.mask is None or b.mask is None:
        return False
    ax, ay, aw, ah = a.int_box
    bx, by, bw, bh = b.int_box
    if ax - px >= bx + bw or bx >= ax + aw + px or ay - px >= by + bh or by >= ay + ah + px:
        return False
    x0, y0 = min(ax, bx), min(ay, by)
    x1, y1 = max(ax + aw, bx + bw), max(ay + ah, by + bh)
    ma = np.zeros((y1 - y0, x1 - x0), np.uint8)
    mb = np.zeros_like(ma)
    ma[ay - y0:ay - y0 + ah, ax - x0:ax - x0 + aw] = a.local_mask()
    mb[by - y0:by - y0 + bh, bx - x0:bx - x0 + bw] = b.local_mask()
    import cv2

    grown = cv2.dilate(ma, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1)))
    rows = np.nonzero(grown & mb)[0]
    # only at a's bottom edge (b, nearer, below it: a queue); objects side by side that touch at their flanks
    # are not hidden by each other
    return rows.size > 0 and float(np.median(rows)) + y0 >= ay + 0.75 * ah


def _static_overlap(d: Detection, static_mask: np.ndarray) -> float:
    x, y, w, h = d.int_box
    H, W = static_mask.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    m = d.local_mask()[y0 - y:y1 - y, x0 - x:x1 - x]
    inter = np.count_nonzero(m & static_mask[y0:y1, x0:x1])
    return inter / max(d.area, 1.0)


class AreaHistory:
    """Each track's recent areas (before the current detection) and the area they lead one to expect now.

    The expected area follows the track's *trend*, not only its median: an object coming toward the camera
    grows steadily (a car crossing a 240-row frame in 60 frames grows ~10 % a frame at the far end), and against
    a plain running median of 9 frames, which lags ~5 frames behind, that growth alone read as a 1.5-1.8x "area
    jump" for whole lone cars. The growth rate is the median of the frame-to-frame log-area changes (a merge or
    split is one step: one change out of the window, so it does not move the median), and the expectation the
    median of the past areas carried forward to now at that rate (`expected_area`)."""

    def __init__(self, window: int = 9):
        self.window = window
        self._areas: dict = {}

    def ratio(self, track, area: float, t: float | None = None) -> float:
        """area / the area expected from the track's last `window` areas (1.0 for a track's first detection);
        then records it. `t`: the frame index (gaps stretch the trend); None counts detections."""
        hist = self._areas.setdefault(track, [])
        if t is None:
            t = hist[-1][0] + 1 if hist else 0
        r = area / expected_area(hist, t) if hist else 1.0
        hist.append((float(t), float(area)))
        if len(hist) > self.window:
            del hist[0]
        return r


def expected_area(hist: list[tuple[float, float]], t: float) -> float:
    """The area a track's history [(frame, area), ...] leads one to expect at frame t: the median of the past
    log-areas, each carried forward at the track's growth rate (median frame-to-frame log-area change per
    frame; with fewer than 5 areas, no trend: the plain median, since in 2-3 changes one step would set the rate)."""
    # Called for every detection on at most `area_window` areas: plain Python lists, where numpy's per-call
    # overhead was most of the cost. numpy's log and exp are kept: the same bits as before.
    ts = [h[0] for h in hist]
    la = np.log(np.maximum([h[1] for h in hist], 1e-9)).tolist()
    rate = 0.0
    if len(hist) >= 5:
        steps = []
        for k in range(len(hist) - 1):
            dt = ts[k + 1] - ts[k]
            if dt > 0:
                steps.append((la[k + 1] - la[k]) / dt)
        if steps:
            rate = median(steps)
    return float(np.exp(median([v + rate * (t - tk) for v, tk in zip(la, ts)])))


def median(values: list[float]) -> float:
    """np.median of a short list of floats, in plain Python (the same value)."""
    s = sorted(values)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def rule_verdict(facts: dict, area_ratio: float, settings: RuleSettings,
                 merged_with: list[str] | None = None) -> tuple[str, dict]:
    """The rule's verdict from `frame_facts` of one detection and its area ratio to the track median.
    `merged_with`: the track keys the tracker found inside this one blob (two or more: it is occluded)."""
    static = facts.get("static_overlap", 0.0)
    merged = bool(merged_with) and len(merged_with) >= 2
    lobes = bool(facts.get("two_lobes"))
    occluded = bool(facts["occluded_by"]) or settings.delta < static < settings.static_self or merged or lobes
    truncated = bool(facts["truncated"])
    touching = bool(facts.get("touching"))
    low_score = facts["score"] < settings.mine_score
    tol = settings.area_tolerance
    area_jump = not (1 - tol <= area_ratio <= 1 + tol)
    reasons = dict(facts)
    reasons["area_ratio"] = round(float(area_ratio), 4)
    if merged:
        reasons["merged_with"] = list(merged_with)
        reasons["merge"] = "merged with tracks " + ", ".join(_short(k) for k in merged_with)
    if lobes:
        reasons["shape"] = f"two lobes (solidity {facts.get('solidity', 0.0):.2f})"
    joined = facts.get("joined_parts")
    if joined:
        n = len(joined["parts"])
        reasons["parts"] = (f"joined with {'a piece' if n == 1 else f'{n} pieces'} above it moving with it over "
                            f"{joined['frames']} frames (a roof or windscreen)")
    part_above = bool(facts.get("part_above"))
    if part_above:
        reasons["parts"] = ("a piece above it may be its roof or windscreen, not seen moving with it over enough "
                            "frames to join them")
    flags = [k for k, v in (("occluded", occluded), ("merged", merged), ("two_lobes", lobes),
                            ("joined_parts", bool(joined)), ("truncated", truncated), ("touching", touching),
                            ("low_score", low_score), ("area_jump", area_jump), ("part_above", part_above)) if v]
    reasons["flags"] = flags
    if occluded:
        verdict = "occluded"
    elif truncated:
        verdict = "truncated"
    elif touching or low_score or area_jump or part_above:
        verdict = "rejected"
    else:
        verdict = "unoccluded"
    return verdict, reasons


def _short(key) -> str:
    """A track key "s<source>:<id>" as the id alone (the store rewrites it with its own track ids)."""
    return str(key).split(":")[-1]


def mark_suspect(reasons: dict, why: str) -> None:
    """Record that a detection sits next to a merge or split of its track (so it is not mined)."""
    reasons.setdefault("suspect", [])
    if why not in reasons["suspect"]:
        reasons["suspect"].append(why)
    if "suspect" not in reasons.get("flags", []):
        reasons.setdefault("flags", []).append("suspect")


def decide(rule: str, p_unoccluded: float | None, reasons: dict | None = None) -> tuple[str, str]:
    """(verdict, decided_by) of the machine: the classifier when it gave a probability, else the rule.
    A blob the tracker saw two tracks in is a fact, not a guess: the rule's "occluded" stands."""
    if reasons is not None and "merged" in reasons.get("flags", ()):
        return rule, "rule"
    if p_unoccluded is not None and np.isfinite(p_unoccluded):
        return ("unoccluded" if p_unoccluded >= 0.5 else "occluded"), "classifier"
    return rule, "rule"
