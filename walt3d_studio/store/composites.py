"""Store access for splits and composites: the contract between the compositor (writes) and the review dock and
the exporter (read).

Splits assign whole tracks to train/val/test before anything is composited (DESIGN: splits before compositing).
A composite is one image pasted onto one background window, with its objects in paste order (idx 0 = farthest,
pasted first). Files live under the project folder; paths in the store are relative to it:
  image  `composites/<camera>/<method>/<id>.png` (RGB, uint8)
  arrays `composites/<camera>/<method>/<id>.npz` with `depth` float32 (H,W) metres along z (NaN above the horizon),
         `normal` float16 (H,W,3) camera frame, `instance` uint16 (H,W) (0 = background, else idx + 1).
Per object: amodal and visible masks as COCO RLE (pycocotools dict with `counts` as str), boxes [x, y, w, h],
occlusion = 1 - visible/amodal area, depth_rank (0 = nearest), keypoints as a flat COCO triplet list after
visibility (12 vehicle or 17 person points, by `kind`) or None, and `pose` = DESIGN's 3D fields
(vehicles `R`, `t`, `shape_coeffs`; people `global_orient`, `body_pose`, `betas`, `transl`, `body_model`) plus
`fit_quality`, `source_frame_id`, `category`.

A person's rejection of a composite or of one object in it is a human label (kind 'composite_reject'), which
never cascades away; a rejected object's track is left out of later composites and exports.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ..errors import BadInputError

SPLITS = ("train", "val", "test")
METHODS = ("walt3d", "walt2d", "walt2d-bottom")
REJECT_KIND = "composite_reject"


@dataclass
class CompositeObject:
    idx: int                      # paste order, 0 = farthest
    kind: str                     # vehicle / person
    amodal_rle: dict
    visible_rle: dict
    amodal_box: list
    visible_box: list
    occlusion: float
    depth_rank: int               # 0 = nearest
    detection_id: int | None = None
    track_id: int | None = None
    keypoints: list | None = None
    pose: dict = field(default_factory=dict)


@dataclass
class Composite:
    camera_id: int
    split: str
    method: str
    seed: int
    window_key: str
    image_path: str               # relative to the project folder
    arrays_path: str | None = None
    objects: list[CompositeObject] = field(default_factory=list)
    run_id: int | None = None
    id: int | None = None
    created_at: float | None = None

    @property
    def n_objects(self) -> int:
        return len(self.objects)


def _rows(conn, sql: str, args=()) -> list[dict]:
    cur = conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


# ---- splits -------------------------------------------------------------------------------------------------

def set_splits(project, assignment: dict[int, str], run_id: int | None = None) -> int:
    """Assign tracks to splits in one transaction (replacing the camera-wide assignment of those tracks).

    Refused while a composite draws on any track whose split would change: its image would then mix splits."""
    for tid, s in assignment.items():
        if s not in SPLITS:
            raise BadInputError(f"Unknown split {s!r} for track {tid}.", f"Use one of {', '.join(SPLITS)}.")
    current = splits(project)
    changed = [t for t, s in assignment.items() if current.get(int(t)) not in (None, s)]
    if changed:
        used = project.conn.execute(
            f"SELECT COUNT(DISTINCT composite_id) FROM composite_objects WHERE track_id IN "
            f"({','.join('?' * len(changed))})", [int(t) for t in changed]).fetchone()[0]
        if used:
            raise BadInputError(f"{used} composite(s) use tracks whose split would change.",
                                "Delete those composites first (`walt3d composite PROJECT --clear`), then re-split.")
    with project.transaction() as c:
        c.executemany("INSERT OR REPLACE INTO splits (track_id, split, run_id) VALUES (?, ?, ?)",
                      [(int(t), s, run_id) for t, s in assignment.items()])
    return len(assignment)


def splits(project, camera_id: int | None = None) -> dict[int, str]:
    """{track_id: split} of a camera (or all cameras)."""
    if camera_id is None:
        rows = project.conn.execute("SELECT track_id, split FROM splits").fetchall()
    else:
        rows = project.conn.execute("SELECT s.track_id, s.split FROM splits s JOIN tracks t ON t.id = s.track_id"
                                    " WHERE t.camera_id = ?", (camera_id,)).fetchall()
    return {int(r[0]): r[1] for r in rows}


def split_counts(project, camera_id: int | None = None) -> dict[str, int]:
    out = {s: 0 for s in SPLITS}
    for s in splits(project, camera_id).values():
        out[s] += 1
    return out


# ---- composites ---------------------------------------------------------------------------------------------

def _check(comp: Composite) -> None:
    if comp.split not in SPLITS:
        raise BadInputError(f"Unknown split {comp.split!r}.", f"Use one of {', '.join(SPLITS)}.")
    if comp.method not in METHODS:
        raise BadInputError(f"Unknown composite method {comp.method!r}.", f"Use one of {', '.join(METHODS)}.")


def save_composites(project, composites: list[Composite], run_id: int | None = None) -> list[int]:
    """Insert composites with their objects in one transaction (the files must already be in place)."""
    for comp in composites:
        _check(comp)
    now = time.time()
    ids = []
    with project.transaction() as c:
        for comp in composites:
            comp.run_id = run_id if run_id is not None else comp.run_id
            comp.created_at, comp.id = now, None
            ids.append(_insert_composite(c, comp))
    return ids


def _insert_composite(c, comp: Composite) -> int:
    """Insert one composite and its objects inside the caller's transaction; `comp.id` when set is the id it
    takes (a sharded merge places the files under their ids first). Returns (and sets) the id."""
    comp.id = c.execute(
        "INSERT INTO composites (id, run_id, camera_id, split, method, seed, window_key, image_path, arrays_path,"
        " n_objects, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (comp.id, comp.run_id, comp.camera_id, comp.split, comp.method, int(comp.seed), comp.window_key,
         comp.image_path, comp.arrays_path, comp.n_objects, comp.created_at)).lastrowid
    c.executemany(
        "INSERT INTO composite_objects (composite_id, idx, detection_id, track_id, kind, amodal_rle,"
        " visible_rle, amodal_box_json, visible_box_json, occlusion, depth_rank, keypoints_json, pose_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(comp.id, o.idx, o.detection_id, o.track_id, o.kind, json.dumps(o.amodal_rle),
          json.dumps(o.visible_rle), json.dumps([float(v) for v in o.amodal_box]),
          json.dumps([float(v) for v in o.visible_box]), float(o.occlusion), int(o.depth_rank),
          None if o.keypoints is None else json.dumps([float(v) for v in o.keypoints]),
          json.dumps(o.pose)) for o in comp.objects])
    return comp.id


def rename_composite_files(project, composite_id: int, paths: dict[str, str], move=None) -> None:
    """Point a composite at new file paths (`paths`: image_path / arrays_path -> new relative path), in one
    transaction; `move(column, new)` is called inside it first (the caller renames the file)."""
    bad = set(paths) - {"image_path", "arrays_path"}
    if bad:
        raise ValueError(f"not a composite file column: {sorted(bad)}")
    with project.transaction() as c:
        for col, new in paths.items():
            if move is not None:
                move(col, new)
            c.execute(f"UPDATE composites SET {col} = ? WHERE id = ?", (new, int(composite_id)))


def _composite(r: dict) -> Composite:
    return Composite(camera_id=r["camera_id"], split=r["split"], method=r["method"], seed=r["seed"],
                     window_key=r["window_key"], image_path=r["image_path"], arrays_path=r["arrays_path"],
                     run_id=r["run_id"], id=r["id"], created_at=r["created_at"])


def _object(r: dict) -> CompositeObject:
    return CompositeObject(idx=r["idx"], kind=r["kind"], amodal_rle=json.loads(r["amodal_rle"]),
                           visible_rle=json.loads(r["visible_rle"]), amodal_box=json.loads(r["amodal_box_json"]),
                           visible_box=json.loads(r["visible_box_json"]), occlusion=r["occlusion"],
                           depth_rank=r["depth_rank"], detection_id=r["detection_id"], track_id=r["track_id"],
                           keypoints=None if r["keypoints_json"] is None else json.loads(r["keypoints_json"]),
                           pose=json.loads(r["pose_json"] or "{}"))


def list_composites(project, camera_id: int | None = None, split: str | None = None, method: str | None = None,
                    with_objects: bool = False) -> list[Composite]:
    """Composites ordered by id, optionally filtered; with their objects (paste order) when asked."""
    where, args = [], []
    for col, val in (("camera_id", camera_id), ("split", split), ("method", method)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    out = [_composite(r) for r in _rows(project.conn, "SELECT * FROM composites"
                                        + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id", args)]
    if with_objects and out:
        by_id = {c.id: c for c in out}
        for r in _rows(project.conn, "SELECT * FROM composite_objects ORDER BY composite_id, idx"):
            if r["composite_id"] in by_id:
                by_id[r["composite_id"]].objects.append(_object(r))
    return out


def get_composite(project, composite_id: int) -> Composite | None:
    rows = _rows(project.conn, "SELECT * FROM composites WHERE id = ?", (composite_id,))
    if not rows:
        return None
    comp = _composite(rows[0])
    comp.objects = [_object(r) for r in _rows(project.conn, "SELECT * FROM composite_objects WHERE composite_id = ?"
                                              " ORDER BY idx", (composite_id,))]
    return comp


def delete_composites(project, ids: list[int]) -> list[str]:
    """Delete composite rows (objects cascade); returns their file paths (relative) for the caller to remove.
    Rejections stay as labels, so a person's verdicts survive a re-composite."""
    if not ids:
        return []
    q = ",".join("?" * len(ids))
    paths = []
    for r in _rows(project.conn, f"SELECT image_path, arrays_path FROM composites WHERE id IN ({q})", ids):
        paths += [p for p in (r["image_path"], r["arrays_path"]) if p]
    with project.transaction() as c:
        c.execute(f"DELETE FROM composites WHERE id IN ({q})", ids)
    return paths


# ---- rejections (human work) --------------------------------------------------------------------------------

def set_rejected(project, composite_id: int, object_index: int | None, rejected: bool, who: str) -> bool:
    """Reject (or un-reject) a whole composite (object_index None) or one object; returns the previous state."""
    old = is_rejected(project, composite_id, object_index)
    track_id = None
    if object_index is not None:
        row = project.conn.execute("SELECT track_id FROM composite_objects WHERE composite_id = ? AND idx = ?",
                                   (composite_id, object_index)).fetchone()
        track_id = row[0] if row else None
    with project.transaction() as c:
        c.execute("INSERT INTO labels (kind, track_id, value, who, created_at, composite_id, object_index)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (REJECT_KIND, track_id, "reject" if rejected else None, who, time.time(), composite_id,
                   object_index))
    return old


def is_rejected(project, composite_id: int, object_index: int | None = None) -> bool:
    if object_index is None:
        row = project.conn.execute("SELECT value FROM labels WHERE kind = ? AND composite_id = ? AND object_index IS"
                                   " NULL ORDER BY id DESC LIMIT 1", (REJECT_KIND, composite_id)).fetchone()
    else:
        row = project.conn.execute("SELECT value FROM labels WHERE kind = ? AND composite_id = ? AND object_index = ?"
                                   " ORDER BY id DESC LIMIT 1", (REJECT_KIND, composite_id, object_index)).fetchone()
    return bool(row and row[0] == "reject")


def rejections(project) -> dict:
    """{'composites': set of rejected composite ids, 'objects': set of (composite_id, idx), 'tracks': set of track
    ids with a rejected object} — the newest verdict per composite/object wins."""
    rows = _rows(project.conn, "SELECT composite_id, object_index, track_id, value FROM labels WHERE kind = ?"
                               " ORDER BY id", (REJECT_KIND,))
    latest: dict = {}
    for r in rows:
        latest[(r["composite_id"], r["object_index"])] = r
    comps = {k[0] for k, r in latest.items() if k[1] is None and r["value"] == "reject"}
    objs = {k for k, r in latest.items() if k[1] is not None and r["value"] == "reject"}
    tracks = {r["track_id"] for k, r in latest.items() if k[1] is not None and r["value"] == "reject"
              and r["track_id"] is not None}
    return {"composites": comps, "objects": objs, "tracks": tracks}
