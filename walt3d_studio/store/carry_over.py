"""Human work survives a re-run: before a re-run's old detections go, every human row on them moves to the
matching new detection; what finds no match becomes an orphan (the schema's BEFORE DELETE triggers).

Human rows: every `labels` row on a detection (occlusion U/O/X, composite rejections, any later kind), the
human rows of `keypoints`, and track-level labels (occlusion, fit reviews). Machine rows (verdicts, model
keypoints, fits) are recomputed by the stages and may cascade.

Matching (one camera and frame at a time, within one class group): a new detection matches an old one when
both have masks and their mask IoU is >= 0.5, or, when either is box-only, their box IoU is >= 0.7. The best
matches win, one-to-one (the assignment maximising the summed IoU, scipy's linear_sum_assignment). The whole
history of a detection's human rows moves (append-only tables: the newest row still wins). A track-level
label follows the new track that holds most of its track's carried detections; while the old track keeps
detections outside the replaced frames it stays there too, and that new track gets a copy.

Everything here runs inside the caller's transaction (`carry_over(conn, ...)`), so a failed re-run moves
nothing. `at_stake` is the dry count for a refusal or a confirmation; `plan(...)` with the new detections in
hand says exactly how many will carry over and how many become orphans, without writing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

MASK_IOU = 0.5
BOX_IOU = 0.7

# Detector category names -> the class group within which a re-run's detections may match.
_GROUPS = {"car": "vehicle", "truck": "vehicle", "bus": "vehicle", "van": "vehicle", "vehicle": "vehicle",
           "motorcycle": "vehicle", "motorbike": "vehicle",
           "person": "person", "pedestrian": "person", "people": "person", "rider": "person",
           "bicycle": "bicycle", "cyclist": "bicycle"}


def class_group(category: str | None) -> str:
    c = (category or "").strip().lower()
    return _GROUPS.get(c, c)


def _chunks(seq, n=500):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _marks(chunk) -> str:
    return ",".join("?" * len(chunk))


# ------------------------------------------------------------------------------------------- counts


@dataclass
class AtStake:
    """What a re-run of some frames touches (human work first; fits are machine output and are re-made)."""

    detections: int = 0
    tracks: int = 0
    labels: int = 0              # detections with a current human occlusion label
    track_labels: int = 0        # tracks with a current human label (occlusion, fit review) that would go
    human_keypoints: int = 0     # detections with current human keypoints
    other_labels: int = 0        # other human labels on detections (composite rejections, ...)
    fits: int = 0                # per-detection 3D fits (dropped; re-run the fit)

    @property
    def human(self) -> int:
        return self.labels + self.track_labels + self.human_keypoints + self.other_labels

    def describe(self) -> str:
        parts = [f"{self.labels} occlusion label(s)", f"{self.human_keypoints} human keypoint set(s)"]
        if self.track_labels:
            parts.append(f"{self.track_labels} track label(s)")
        if self.other_labels:
            parts.append(f"{self.other_labels} other human label(s)")
        return ", ".join(parts) + f", {self.fits} 3D fit(s)"

    def to_dict(self) -> dict:
        return dict(self.__dict__, human=self.human)


def _current_label_rows(conn, det_ids) -> list[tuple[int, str]]:
    """(detection_id, kind) of detections' current (newest, non-null) human labels."""
    out = []
    for chunk in _chunks(det_ids):
        out += conn.execute(
            f"SELECT l.detection_id, l.kind FROM labels l WHERE l.detection_id IN ({_marks(chunk)}) AND l.id IN "
            f"(SELECT MAX(id) FROM labels WHERE detection_id IN ({_marks(chunk)}) GROUP BY detection_id, kind) "
            "AND l.value IS NOT NULL", chunk + chunk).fetchall()
    return out


def _current_keypoint_dets(conn, det_ids) -> set[int]:
    out = set()
    for chunk in _chunks(det_ids):
        out |= {r[0] for r in conn.execute(
            f"SELECT k.detection_id FROM keypoints k WHERE k.id IN (SELECT MAX(id) FROM keypoints WHERE origin = "
            f"'human' AND detection_id IN ({_marks(chunk)}) GROUP BY detection_id, schema) "
            "AND k.points_json != 'null'", chunk)}
    return out


def _track_label_rows(conn, track_ids) -> list[tuple[int, str]]:
    out = []
    for chunk in _chunks(track_ids):
        out += conn.execute(
            f"SELECT l.track_id, l.kind FROM labels l WHERE l.detection_id IS NULL AND l.track_id IN "
            f"({_marks(chunk)}) AND l.id IN (SELECT MAX(id) FROM labels WHERE detection_id IS NULL AND track_id IN "
            f"({_marks(chunk)}) GROUP BY track_id, kind, composite_id, object_index) AND l.value IS NOT NULL",
            chunk + chunk).fetchall()
    return out


def _old_rows(conn, frame_ids) -> list[dict]:
    out = []
    for chunk in _chunks(frame_ids):
        cur = conn.execute(f"SELECT d.id, d.frame_id, d.track_id, d.category, d.x, d.y, d.w, d.h, d.mask_rle"
                           f" FROM detections d WHERE d.frame_id IN ({_marks(chunk)})", chunk)
        names = [c[0] for c in cur.description]
        for values in cur.fetchall():
            r = dict(zip(names, values))
            out.append({"id": r["id"], "frame_id": r["frame_id"], "track_id": r["track_id"],
                        "category": r["category"], "box": [r["x"], r["y"], r["w"], r["h"]], "rle": r["mask_rle"]})
    return out


def _tracks_leaving(conn, old: list[dict], frame_ids) -> set[int]:
    """Old tracks that lose all their detections in this re-run (the others keep their own labels)."""
    tracks = sorted({r["track_id"] for r in old if r["track_id"] is not None})
    frames = set(frame_ids)
    staying = set()
    for chunk in _chunks(tracks):
        for tid, fid in conn.execute(f"SELECT track_id, frame_id FROM detections WHERE track_id IN ({_marks(chunk)})",
                                     chunk):
            if fid not in frames:
                staying.add(tid)
    return set(tracks) - staying


def human_work(conn) -> dict[str, int]:
    """How much of the project is people's work (labels of every kind, human keypoints, kept orphans)."""
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {"labels": one("SELECT COUNT(*) FROM labels"),
            "keypoints": one("SELECT COUNT(*) FROM keypoints WHERE origin = 'human'"),
            "orphans": one("SELECT COUNT(*) FROM orphans")}


def at_stake(conn, frame_ids) -> AtStake:
    """Dry count of what re-running these frames touches (no new detections needed; nothing written)."""
    old = _old_rows(conn, frame_ids)
    ids = [r["id"] for r in old]
    s = AtStake(detections=len(ids), tracks=len({r["track_id"] for r in old if r["track_id"] is not None}))
    for _, kind in _current_label_rows(conn, ids):
        if kind == "occlusion":
            s.labels += 1
        else:
            s.other_labels += 1
    s.human_keypoints = len(_current_keypoint_dets(conn, ids))
    s.track_labels = len(_track_label_rows(conn, sorted(_tracks_leaving(conn, old, frame_ids))))
    for chunk in _chunks(ids):
        s.fits += conn.execute(f"SELECT COUNT(*) FROM fits WHERE detection_id IN ({_marks(chunk)})",
                               chunk).fetchone()[0]
    return s


# ----------------------------------------------------------------------------------------- matching


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N, 4) with every box in b (M, 4); boxes x, y, w, h."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _rle(r):
    if r is None:
        return None
    return json.loads(r) if isinstance(r, str) else r


def match_iou(old: list[dict], new: list[dict]) -> np.ndarray:
    """The matching score of every (old, new) pair of one frame: mask IoU where both have masks (0 below
    MASK_IOU), else box IoU (0 below BOX_IOU); 0 across class groups."""
    import pycocotools.mask as mask_util

    score = np.zeros((len(old), len(new)))
    if not old or not new:
        return score
    boxes = box_iou([o["box"] for o in old], [n["box"] for n in new])
    for i, o in enumerate(old):
        go, ro = class_group(o["category"]), _rle(o.get("rle"))
        for j, n in enumerate(new):
            if class_group(n["category"]) != go:
                continue
            rn = _rle(n.get("rle"))
            if ro is not None and rn is not None:
                if boxes[i, j] <= 0 and not _boxes_touch(o["box"], n["box"]):
                    continue
                iou = float(mask_util.iou([ro], [rn], [0])[0, 0])
                score[i, j] = iou if iou >= MASK_IOU else 0.0
            else:
                score[i, j] = boxes[i, j] if boxes[i, j] >= BOX_IOU else 0.0
    return score


def _boxes_touch(a, b) -> bool:
    return not (a[0] + a[2] < b[0] or b[0] + b[2] < a[0] or a[1] + a[3] < b[1] or b[1] + b[3] < a[1])


def match_detections(old: list[dict], new: list[dict]) -> dict[int, int]:
    """One-to-one best matches {old id: new id} over frames; dicts with id, frame_id, category, box, rle."""
    from scipy.optimize import linear_sum_assignment

    by_frame: dict[int, tuple[list, list]] = {}
    for o in old:
        by_frame.setdefault(o["frame_id"], ([], []))[0].append(o)
    for n in new:
        if n["frame_id"] in by_frame:
            by_frame[n["frame_id"]][1].append(n)
    out = {}
    for olds, news in by_frame.values():
        if not news:
            continue
        score = match_iou(olds, news)
        rows, cols = linear_sum_assignment(score, maximize=True)
        for i, j in zip(rows, cols):
            if score[i, j] > 0:
                out[olds[i]["id"]] = news[j]["id"]
    return out


# --------------------------------------------------------------------------------------- the carry


@dataclass
class CarryPlan:
    detections: dict[int, int] = field(default_factory=dict)   # old detection -> new detection (human work only)
    tracks: dict[int, int] = field(default_factory=dict)       # leaving old track -> new track (labelled only)
    carried: dict = field(default_factory=dict)                # {"labels": n, "human_keypoints": n, ...}
    orphaned: dict = field(default_factory=dict)
    leaving_tracks: set = field(default_factory=set)           # old tracks that lose all their detections
    # old tracks that keep detections outside the re-run frames keep their labels; the new track holding most
    # of their re-run detections gets a copy (a partial re-run must not un-label half a labelled track)
    copies: dict[int, int] = field(default_factory=dict)

    @property
    def n_carried(self) -> int:
        return sum(self.carried.values())

    @property
    def n_orphaned(self) -> int:
        return sum(self.orphaned.values())

    def describe(self) -> str:
        def fmt(d):
            return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in d.items() if v) or "nothing"

        return f"carried over: {fmt(self.carried)}; kept as orphans: {fmt(self.orphaned)}"

    def to_dict(self) -> dict:
        return {"carried": self.carried, "orphaned": self.orphaned}


def plan(conn, frame_ids, new: list[dict]) -> CarryPlan:
    """Where every human row on these frames' old detections would go, given the new detections (dicts
    with id, frame_id, track_id, category, box, rle). Reads only: this is the exact dry run."""
    fresh = {n["id"] for n in new}  # inside the merge the new rows are already in the table
    old = [r for r in _old_rows(conn, frame_ids) if r["id"] not in fresh]
    ids = [r["id"] for r in old]
    label_rows = _current_label_rows(conn, ids)
    kp_dets = _current_keypoint_dets(conn, ids)
    leaving = _tracks_leaving(conn, old, frame_ids)
    all_rows = _track_label_rows(conn, sorted({r["track_id"] for r in old if r["track_id"] is not None}))
    labelled_tracks = {t for t, _ in all_rows}
    track_rows = [(t, k) for t, k in all_rows if t in leaving]
    human_dets = {d for d, _ in label_rows} | kp_dets
    # detections of labelled tracks take part too: they decide where the track's label goes
    candidates = [r for r in old if r["id"] in human_dets or r["track_id"] in labelled_tracks]
    matches = match_detections(candidates, new)
    new_track = {n["id"]: n.get("track_id") for n in new}
    votes: dict[int, dict[int, int]] = {}
    for r in candidates:
        if r["track_id"] in labelled_tracks and r["id"] in matches:
            t = new_track.get(matches[r["id"]])
            if t is not None:
                v = votes.setdefault(r["track_id"], {})
                v[t] = v.get(t, 0) + 1
    dest = {old_t: max(v.items(), key=lambda kv: (kv[1], -kv[0]))[0] for old_t, v in votes.items()}
    tracks = {t: n for t, n in dest.items() if t in leaving}
    p = CarryPlan({d: n for d, n in matches.items() if d in human_dets}, tracks,
                  {"labels": 0, "human_keypoints": 0, "other_labels": 0, "track_labels": 0},
                  {"labels": 0, "human_keypoints": 0, "other_labels": 0, "track_labels": 0}, leaving,
                  {t: n for t, n in dest.items() if t not in leaving})
    for det, kind in label_rows:
        key = "labels" if kind == "occlusion" else "other_labels"
        (p.carried if det in matches else p.orphaned)[key] += 1
    for det in kp_dets:
        (p.carried if det in matches else p.orphaned)["human_keypoints"] += 1
    for t, _ in track_rows:
        (p.carried if t in tracks else p.orphaned)["track_labels"] += 1
    return p


def carry_over(conn, p: CarryPlan) -> None:
    """Move the human rows as planned (inside the caller's transaction, after the new rows are inserted and
    before the old detections are deleted; the delete's triggers then orphan what was not moved)."""
    # a label naming its track too follows the new detection's track (else the old track's cascade takes it)
    conn.executemany("UPDATE labels SET detection_id = ?, track_id = CASE WHEN track_id IS NULL THEN NULL ELSE"
                     " (SELECT track_id FROM detections WHERE id = ?) END WHERE detection_id = ?",
                     [(n, n, o) for o, n in p.detections.items()])
    conn.executemany("UPDATE keypoints SET detection_id = ? WHERE detection_id = ? AND origin = 'human'",
                     [(n, o) for o, n in p.detections.items()])
    conn.executemany("UPDATE labels SET track_id = ? WHERE track_id = ? AND detection_id IS NULL",
                     [(n, o) for o, n in p.tracks.items()])
    conn.executemany(
        "INSERT INTO labels (kind, detection_id, track_id, value, who, created_at, composite_id, object_index) "
        "SELECT kind, NULL, ?, value, who, created_at, composite_id, object_index FROM labels WHERE id IN "
        "(SELECT MAX(id) FROM labels WHERE detection_id IS NULL AND track_id = ? "
        "GROUP BY kind, composite_id, object_index) AND value IS NOT NULL ORDER BY id",
        [(n, o) for o, n in sorted(p.copies.items())])
    _orphan_track_labels(conn, sorted(p.leaving_tracks - set(p.tracks)))
    # the tracks' cached label is the newest track-level occlusion label
    conn.executemany("UPDATE tracks SET label = (SELECT value FROM labels WHERE kind = 'occlusion' AND track_id = ?"
                     " AND detection_id IS NULL ORDER BY id DESC LIMIT 1) WHERE id = ?",
                     [(t, t) for t in set(p.tracks.values()) | set(p.copies.values())])


def _orphan_track_labels(conn, track_ids) -> None:
    """Every current track-level label (per kind, composite and object) of tracks that go without a successor
    becomes an orphan with all it needs to be re-attached; its rows then go, so that the tracks' delete
    trigger (which keeps one label per kind) does not copy them a second time."""
    for chunk in _chunks(track_ids):
        m = _marks(chunk)
        conn.execute(
            "INSERT INTO orphans (kind, payload_json, camera_id, track_id, category, orphaned_at) "
            "SELECT l.kind, json_object('value', l.value, 'who', l.who, 'created_at', l.created_at, 'label_id', l.id,"
            " 'level', 'track', 'composite_id', l.composite_id, 'object_index', l.object_index), t.camera_id, t.id,"
            " t.category, (julianday('now') - 2440587.5) * 86400.0 "
            f"FROM labels l JOIN tracks t ON t.id = l.track_id WHERE l.detection_id IS NULL AND l.track_id IN ({m})"
            f" AND l.value IS NOT NULL AND l.id IN (SELECT MAX(id) FROM labels WHERE detection_id IS NULL AND "
            f"track_id IN ({m}) GROUP BY track_id, kind, composite_id, object_index)", chunk + chunk)
        conn.execute(f"DELETE FROM labels WHERE detection_id IS NULL AND track_id IN ({m})", chunk)


def drop_empty_orphans(conn, since_id: int) -> None:
    """Orphans made since `since_id` that hold nothing (keypoints a person had cleared) are not kept."""
    conn.execute("DELETE FROM orphans WHERE id > ? AND kind = 'keypoints' AND "
                 "json_type(payload_json, '$.points') = 'null'", (since_id,))
