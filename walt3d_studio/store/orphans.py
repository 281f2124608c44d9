"""Orphaned human edits: labels and keypoints whose detection or track went away (a re-run found no match for
them, see `carry_over`). A person lists them, re-attaches one to a chosen detection, or discards it; both
are undoable (`undo_orphan_action` / `redo_orphan_action`), and every call is one transaction.

An orphan row is never deleted: `resolved` records the decision ('attached:DET' / 'attached-track:TRACK' or
'discarded'), and undo sets it back to NULL and restores what the detection had before.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from ..errors import BadInputError
from .carry_over import class_group


@dataclass(frozen=True)
class Orphan:
    id: int
    kind: str                 # occlusion / fit_review / composite_reject / ... / keypoints
    level: str                # 'detection' or 'track'
    payload: dict             # value, who, created_at (labels); schema, points, who (keypoints)
    camera_id: int | None
    frame_id: int | None
    detection_id: int | None  # the ids it had (gone now)
    track_id: int | None
    category: str | None
    box: list | None          # [x, y, w, h] of its old detection
    orphaned_at: float
    resolved: str | None

    @property
    def value(self):
        return self.payload.get("value")

    def describe(self) -> str:
        what = (f"keypoints ({self.payload.get('schema')})" if self.kind == "keypoints"
                else f"{self.kind} {self.payload.get('value')}")
        where = f"track {self.track_id}" if self.level == "track" else f"detection {self.detection_id}"
        return f"{what} on {self.category or '?'} {where}"


@dataclass
class OrphanAction:
    """What `reattach_orphan` / `discard_orphan` did, for undo and redo."""

    orphan_id: int
    op: str                   # attach / discard
    target: str | None = None  # 'detection' / 'track'
    target_id: int | None = None
    previous: object = None   # the target's own value before (label value, or points JSON text)
    who: str = "user"


_COLS = ("id, kind, payload_json, camera_id, frame_id, detection_id, track_id, category, box_json, orphaned_at,"
         " resolved")


def _orphan(names, values) -> Orphan:
    r = dict(zip(names, values))
    payload = json.loads(r["payload_json"])
    level = payload.get("level", "detection") if r["kind"] != "keypoints" else "detection"
    return Orphan(r["id"], r["kind"], level, payload, r["camera_id"], r["frame_id"], r["detection_id"], r["track_id"],
                  r["category"], json.loads(r["box_json"]) if r["box_json"] else None, r["orphaned_at"], r["resolved"])


def list_orphans(project, camera_id: int | None = None, *, include_resolved: bool = False,
                 kind: str | None = None) -> list[Orphan]:
    """Open orphans (or all), oldest first."""
    where, args = [], []
    if not include_resolved:
        where.append("resolved IS NULL")
    if camera_id is not None:
        where.append("camera_id = ?")
        args.append(camera_id)
    if kind is not None:
        where.append("kind = ?")
        args.append(kind)
    cur = project.conn.execute(f"SELECT {_COLS} FROM orphans" + (" WHERE " + " AND ".join(where) if where else "")
                               + " ORDER BY id", args)
    names = [d[0] for d in cur.description]
    return [_orphan(names, v) for v in cur.fetchall()]


def orphan(project, orphan_id: int) -> Orphan:
    cur = project.conn.execute(f"SELECT {_COLS} FROM orphans WHERE id = ?", (int(orphan_id),))
    row = cur.fetchone()
    if row is None:
        raise BadInputError(f"No orphaned edit {orphan_id} in {project.name}.", "List them with `walt3d orphans`.")
    return _orphan([d[0] for d in cur.description], row)


def count_orphans(project, camera_id: int | None = None) -> dict[str, int]:
    """Open orphans by kind."""
    q = "SELECT kind, COUNT(*) FROM orphans WHERE resolved IS NULL" + (" AND camera_id = ?" if camera_id else "")
    return dict(project.conn.execute(q + " GROUP BY kind", (camera_id,) if camera_id else ()).fetchall())


NEAR_IOU = 0.3  # an orphan's old box and a detection of its old frame overlapping this much: "its" object


def _box_iou(a, b) -> float:
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def nearest_detection(project, o: Orphan, min_iou: float = NEAR_IOU) -> int | None:
    """The detection now in the orphan's old frame, of its class group, whose box overlaps the orphan's old box
    the most (box IoU >= `min_iou`), or None: the object a re-mine found there without matching it closely
    enough to carry the edit over."""
    if o.frame_id is None or o.box is None:
        return None
    cur = project.conn.execute("SELECT id, category, x, y, w, h FROM detections WHERE frame_id = ? ORDER BY id",
                               (int(o.frame_id),))
    names = [d[0] for d in cur.description]
    best, best_iou = None, float(min_iou)
    for r in (dict(zip(names, v)) for v in cur.fetchall()):
        if o.category and class_group(r["category"]) != class_group(o.category):
            continue
        iou = _box_iou(o.box, (r["x"], r["y"], r["w"], r["h"]))
        if iou >= best_iou:
            best, best_iou = int(r["id"]), iou
    return best


def keypoint_orphans(project, schema: str, camera_id: int | None = None) -> list[tuple[Orphan, int | None]]:
    """Open orphaned keypoint sets of `schema` (oldest first), each with `nearest_detection` (or None)."""
    return [(o, nearest_detection(project, o)) for o in list_orphans(project, camera_id, kind="keypoints")
            if o.payload.get("schema") == schema]


def orphan_claimed_detections(project, schema: str, camera_id: int | None = None) -> set[int]:
    """Detections an open keypoint orphan of `schema` lies on (`nearest_detection`): the keypoint queue lists
    them under the orphans (re-attach or discard) instead of offering them as vehicles without keypoints."""
    return {d for _, d in keypoint_orphans(project, schema, camera_id) if d is not None}


# ------------------------------------------------------------------------------------------- writes


def _target(project, o: Orphan, detection_id: int) -> tuple[str, int, dict]:
    cur = project.conn.execute("SELECT d.id, d.track_id, d.category, f.camera_id FROM detections d JOIN frames f"
                               " ON f.id = d.frame_id WHERE d.id = ?", (int(detection_id),))
    row = cur.fetchone()
    if row is None:
        raise BadInputError(f"No detection {detection_id} in {project.name}.", "Choose a detection of this camera.")
    det = dict(zip([d[0] for d in cur.description], row))
    if o.camera_id is not None and det["camera_id"] != o.camera_id:
        raise BadInputError(f"Detection {detection_id} is on another camera than the orphaned edit.",
                            "Re-attach it to a detection of the camera it came from.")
    if o.category and class_group(det["category"]) != class_group(o.category):
        raise BadInputError(f"The orphaned edit belonged to a {o.category}; detection {detection_id} is a "
                            f"{det['category']}.", "Choose a detection of the same class, or discard the edit.")
    if o.level == "track":
        if det["track_id"] is None:
            raise BadInputError(f"Detection {detection_id} is in no track.", "Choose a detection that has a track.")
        return "track", det["track_id"], det
    return "detection", det["id"], det


def _current(c, o: Orphan, target: str, tid: int):
    if o.kind == "keypoints":
        r = c.execute("SELECT points_json FROM keypoints WHERE detection_id = ? AND origin = 'human' AND schema = ?"
                      " ORDER BY id DESC LIMIT 1", (tid, o.payload.get("schema"))).fetchone()
        return r[0] if r else None
    col = "detection_id" if target == "detection" else "track_id"
    extra = "" if target == "detection" else " AND detection_id IS NULL"
    r = c.execute(f"SELECT value FROM labels WHERE kind = ? AND {col} = ?{extra} AND composite_id IS ? AND "
                  "object_index IS ? ORDER BY id DESC LIMIT 1",
                  (o.kind, tid, o.payload.get("composite_id"), o.payload.get("object_index"))).fetchone()
    return r[0] if r else None


def _write(c, o: Orphan, target: str, tid: int, value, who: str) -> None:
    """Append the human row (newest wins) and keep the tracks' cached columns in step."""
    from .detections import refresh_tracks

    now = time.time()
    if o.kind == "keypoints":
        text = value if isinstance(value, str) or value is None else json.dumps(value)
        c.execute("INSERT INTO keypoints (detection_id, schema, points_json, origin, who, created_at)"
                  " VALUES (?, ?, ?, 'human', ?, ?)", (tid, o.payload.get("schema"), text or "null", who, now))
        return
    det, trk = (tid, None) if target == "detection" else (None, tid)
    c.execute("INSERT INTO labels (kind, detection_id, track_id, value, who, created_at, composite_id, object_index)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (o.kind, det, trk, value, who, now, o.payload.get("composite_id"),
                                                  o.payload.get("object_index")))
    if o.kind == "occlusion":
        if target == "track":
            c.execute("UPDATE tracks SET label = ? WHERE id = ?", (value, tid))
            refresh_tracks(c, [tid])
        else:
            refresh_tracks(c, [r[0] for r in c.execute("SELECT track_id FROM detections WHERE id = ?", (tid,))])


def reattach_orphan(project, orphan_id: int, detection_id: int, who: str | None = None) -> OrphanAction:
    """Give the orphan's label or keypoints to `detection_id` (a track-level label goes to its track)."""
    o = orphan(project, orphan_id)
    if o.resolved is not None:
        raise BadInputError(f"Orphaned edit {orphan_id} was already {o.resolved}.", "Refresh the list.")
    target, tid, _ = _target(project, o, detection_id)
    value = o.payload.get("points") if o.kind == "keypoints" else o.value
    who = who or o.payload.get("who") or "user"
    with project.transaction() as c:
        previous = _current(c, o, target, tid)
        _write(c, o, target, tid, value, who)
        c.execute("UPDATE orphans SET resolved = ? WHERE id = ?",
                  (f"attached:{tid}" if target == "detection" else f"attached-track:{tid}", o.id))
    return OrphanAction(o.id, "attach", target, tid, previous, who)


def discard_orphan(project, orphan_id: int) -> OrphanAction:
    o = orphan(project, orphan_id)
    if o.resolved is not None:
        raise BadInputError(f"Orphaned edit {orphan_id} was already {o.resolved}.", "Refresh the list.")
    with project.transaction() as c:
        c.execute("UPDATE orphans SET resolved = 'discarded' WHERE id = ?", (o.id,))
    return OrphanAction(o.id, "discard")


def undo_orphan_action(project, a: OrphanAction) -> None:
    o = orphan(project, a.orphan_id)
    with project.transaction() as c:
        if a.op == "attach":
            _write(c, o, a.target, a.target_id, a.previous, a.who)
        c.execute("UPDATE orphans SET resolved = NULL WHERE id = ?", (o.id,))


def redo_orphan_action(project, a: OrphanAction) -> None:
    o = orphan(project, a.orphan_id)
    with project.transaction() as c:
        if a.op == "attach":
            value = o.payload.get("points") if o.kind == "keypoints" else o.value
            _write(c, o, a.target, a.target_id, value, a.who)
            c.execute("UPDATE orphans SET resolved = ? WHERE id = ?",
                      (f"attached:{a.target_id}" if a.target == "detection" else f"attached-track:{a.target_id}",
                       o.id))
        else:
            c.execute("UPDATE orphans SET resolved = 'discarded' WHERE id = ?", (o.id,))


def orphan_points(o: Orphan) -> np.ndarray | None:
    """A keypoints orphan's points as (K, 3)."""
    pts = o.payload.get("points")
    return None if pts is None else np.asarray(pts, float).reshape(-1, 3)
