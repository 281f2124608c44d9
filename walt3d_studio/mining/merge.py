"""Scale-out: a mining shard's results, written to a folder of its own and merged into the project's store
(one writer, one transaction). `mine.mine` uses `merge_results` directly; `walt3d mine --shard-out DIR` then
`walt3d mine --merge DIR` go through the files.
"""
from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInputError

SHARD_VERSION = 1


@dataclass
class ShardResults:
    camera_id: int
    detector: str
    settings: dict
    frame_ids: list[int]
    detections: list[dict]
    crop_root: Path | None       # crop paths in `detections` are relative to this folder
    crop_dir: Path | None        # this run's own crop folder (removed on failure)
    seconds: float = 0.0


def merge_shard(project, shard_dir: Path, replace: bool = False):
    """Import a shard folder written by `mine_shard(..., write=True)` into the project (one transaction)."""
    res = read_shard(Path(shard_dir))
    check_not_mined(project, res.frame_ids, replace)
    fresh = None
    if res.crop_dir is not None and res.crop_dir.exists():
        # copy this run's crops into the project first; they are removed again if the merge fails
        dest = project.root / "arrays" / res.crop_dir.relative_to(res.crop_root)
        fresh = None if dest.exists() else dest  # merged before (--replace): never delete what was there
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(res.crop_dir, dest, dirs_exist_ok=True)
        res.crop_root, res.crop_dir = project.root / "arrays", dest
    from ..store.runs import recorded_run

    shard = {"camera": res.camera_id, "frames": len(res.frame_ids), "from": str(shard_dir)}
    try:
        with recorded_run(project, "mine-merge", res.settings, shard) as rec:
            report = merge_results(project, res, replace=replace)
            rec.counts.update(report.counts())
            rec.message = report.summary()
        return report
    except BaseException:
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        raise


def merge_results(project, res: ShardResults, replace: bool = False):
    """Write a shard's results into the store in one transaction; `replace` drops what those frames had."""
    from ..store.detections import _chunks, refresh_tracks
    from .mine import MineReport

    cam = project.camera(res.camera_id)
    known = {r[0] for r in project.conn.execute("SELECT id FROM frames WHERE camera_id = ?", (cam.id,))}
    stray = [f for f in res.frame_ids if f not in known]
    if stray:
        raise BadInputError(f"These results are for frames camera {cam.name!r} does not have (e.g. frame {stray[0]}).",
                            "Merge a shard into the project (and camera) it was mined from.")
    from ..store.carry_over import carry_over, drop_empty_orphans, plan

    old_crops: list[str] = []
    now = time.time()
    with project.transaction() as c:
        replaced = 0
        old_ids: list[int] = []
        old_tracks: set[int] = set()
        orphans_before = c.execute("SELECT COALESCE(MAX(id), 0) FROM orphans").fetchone()[0]
        if replace:
            for chunk in _chunks(res.frame_ids, 500):
                marks = ",".join("?" * len(chunk))
                cur = c.execute(f"SELECT id, track_id, crop_path FROM detections WHERE frame_id IN ({marks})", chunk)
                for r in cur.fetchall():
                    row = dict(zip([d[0] for d in cur.description], r))
                    old_ids.append(row["id"])
                    if row["crop_path"]:
                        old_crops.append(row["crop_path"])
                    if row["track_id"] is not None:
                        old_tracks.add(row["track_id"])
            replaced = len(old_ids)
        t_base = c.execute("SELECT COALESCE(MAX(id), 0) FROM tracks").fetchone()[0]
        d_base = c.execute("SELECT COALESCE(MAX(id), 0) FROM detections").fetchone()[0]
        track_ids: dict[str, int] = {}
        track_rows: dict[str, dict] = {}
        det_id_of: dict[tuple[int, int], int] = {}
        for i, r in enumerate(res.detections):
            det_id_of[(r["frame_id"], r["k"])] = d_base + 1 + i
            t = track_rows.get(r["track"])
            if t is None:
                track_ids[r["track"]] = t_base + 1 + len(track_ids)
                t = track_rows[r["track"]] = {"source_id": r["source_id"], "cats": Counter(),
                                              "first": r["frame_id"], "last": r["frame_id"]}
            t["cats"][r["category"]] += 1
            t["last"] = r["frame_id"]
        c.executemany(
            "INSERT INTO tracks (id, camera_id, source_id, category, first_frame_id, last_frame_id, created_at, "
            "detector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(track_ids[k], cam.id, t["source_id"], t["cats"].most_common(1)[0][0], t["first"], t["last"], now,
              res.detector) for k, t in track_rows.items()])
        det_rows, verdict_rows = [], []
        for i, r in enumerate(res.detections):
            did = d_base + 1 + i
            x, y, w, h = r["box"]
            crop = str(Path("arrays") / r["crop"]) if r.get("crop") else None
            det_rows.append((did, r["frame_id"], track_ids[r["track"]], res.detector, r["category"], r["score"],
                             x, y, w, h, r["area"], json.dumps(r["rle"]) if r["rle"] else None, crop, now))
            reasons = dict(r["reasons"])
            reasons["occluded_by"] = [{"detection": det_id_of[(r["frame_id"], o["index"])], "iou": o["iou"]}
                                      for o in reasons.get("occluded_by", [])]
            verdict_rows.append((did, r["verdict"], r["decided_by"], r["p"], r["model_version"],
                                 json.dumps(reasons), r["rule_verdict"]))
        c.executemany("INSERT INTO detections (id, frame_id, track_id, detector, category, score, x, y, w, h, area, "
                      "mask_rle, crop_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", det_rows)
        c.executemany("INSERT INTO verdicts (detection_id, verdict, decided_by, p_unoccluded, model_version, "
                      "reasons_json, rule_verdict) VALUES (?, ?, ?, ?, ?, ?, ?)", verdict_rows)
        carry = None
        if replace:
            new = [{"id": d_base + 1 + i, "frame_id": r["frame_id"], "track_id": track_ids[r["track"]],
                    "category": r["category"], "box": r["box"], "rle": r["rle"]} for i, r in enumerate(res.detections)]
            carry = plan(c, res.frame_ids, new)
            carry_over(c, carry)  # human rows move to their matches; the delete below orphans the rest
            for chunk in _chunks(old_ids, 500):
                c.execute(f"DELETE FROM detections WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            for tchunk in _chunks(sorted(old_tracks), 500):
                tm = ",".join("?" * len(tchunk))
                c.execute(f"DELETE FROM tracks WHERE id IN ({tm}) AND NOT EXISTS "
                          f"(SELECT 1 FROM detections d WHERE d.track_id = tracks.id)", tchunk)
            refresh_tracks(c, old_tracks)  # the ones that keep detections outside these frames
            drop_empty_orphans(c, orphans_before)
        refresh_tracks(c, track_ids.values())
        min_mined = res.settings.get("rule", {}).get("min_mined_frames", 3)
        usable = 0
        for chunk in _chunks(sorted(track_ids.values()), 500):
            marks = ",".join("?" * len(chunk))
            usable += c.execute(f"SELECT COUNT(*) FROM tracks WHERE id IN ({marks}) AND n_mined >= ?",
                                (*chunk, min_mined)).fetchone()[0]
    new_crops = {str(Path("arrays") / r["crop"]) for r in res.detections if r.get("crop")}
    dirs = set()
    for p in old_crops:
        if p not in new_crops:
            (project.root / p).unlink(missing_ok=True)
            dirs.add((project.root / p).parent)
    for d in dirs:
        try:
            d.rmdir()  # only when empty
        except OSError:
            pass
    mined = sum(r["verdict"] == "unoccluded" for r in res.detections)
    return MineReport(cam.id, len(res.frame_ids), len(res.detections), len(track_ids), mined, usable, res.seconds,
                      res.detector, replaced, carry.to_dict() if carry is not None else None)


def check_not_mined(project, frame_ids, replace: bool) -> None:
    """Refuse to mine frames again without `replace`, saying what a re-run would touch."""
    if replace:
        return
    from ..store.carry_over import at_stake

    s = at_stake(project.conn, frame_ids)
    if s.detections:
        raise BadInputError(
            f"These frames are already mined ({s.detections} detections in {s.tracks} tracks, with {s.describe()}).",
            "Mine them again with --replace: each human edit is carried over to the matching new detection and "
            "those without a match are kept as orphans (`walt3d orphans PROJECT`); 3D fits are dropped. "
            "Add --dry-run to see how many would carry over first, or choose another time range.")


def write_shard(res: ShardResults, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    header = {"version": SHARD_VERSION, "camera_id": res.camera_id, "detector": res.detector,
              "settings": res.settings, "frame_ids": res.frame_ids, "seconds": res.seconds,
              "crop_dir": str(res.crop_dir.relative_to(out_dir)) if res.crop_dir else None}
    tmp = out_dir / "detections.jsonl.tmp"
    with open(tmp, "w") as f:
        for r in res.detections:
            f.write(json.dumps(r) + "\n")
    tmp.replace(out_dir / "detections.jsonl")
    (out_dir / "shard.json.tmp").write_text(json.dumps(header))
    (out_dir / "shard.json.tmp").replace(out_dir / "shard.json")  # written last: its presence marks a complete shard


def read_shard(folder: Path) -> ShardResults:
    head = folder / "shard.json"
    if not head.exists():
        raise BadInputError(f"{folder} is not a finished mining shard (no shard.json).",
                            "Run `walt3d mine PROJECT --shard-out DIR` to completion first.")
    try:
        h = json.loads(head.read_text())
        if h.get("version") != SHARD_VERSION:
            raise BadInputError(f"{folder} was written by another version of WALT3D Studio (shard version "
                                f"{h.get('version')}).", "Mine the shard again with this version.")
        with open(folder / "detections.jsonl") as f:
            dets = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        raise BadInputError(f"Cannot read the shard {folder}: {e}.", "Mine the shard again.") from None
    crop_dir = folder / h["crop_dir"] if h.get("crop_dir") else None
    return ShardResults(h["camera_id"], h["detector"], h["settings"], h["frame_ids"], dets, folder, crop_dir,
                        h.get("seconds", 0.0))
