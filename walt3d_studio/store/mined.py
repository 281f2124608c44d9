"""Storing a mining run's results: new tracks, detections and verdicts in one transaction, and on a re-run
(`replace`) the old ones of those frames removed after people's edits were carried over to the new ones
(`carry_over`). The mining stage (`mining/merge.py`) calls this with its records; all SQL stays here.

A record (one per detection, as `mining.mine.run_pipeline` makes them): frame_id, k (index in its frame),
track (a key shared by one track's records), source_id, category, score, box [x, y, w, h], area, rle (dict or
None), crop (relative to arrays/, or None), verdict, decided_by, p, model_version, reasons (dict), rule_verdict.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .carry_over import CarryPlan, carry_over, drop_empty_orphans, plan
from .detections import _chunks, refresh_tracks


@dataclass
class Stored:
    tracks: int
    usable_tracks: int
    replaced: int                 # old detections removed (re-run)
    carry: CarryPlan | None       # where people's edits went (re-run)
    old_crops: list[str]          # crop files of the removed detections (the caller deletes unused ones)


def store_mining_results(project, camera_id: int, detector: str, frame_ids: list[int], detections: list[dict], *,
                         replace: bool = False, min_mined_frames: int = 3) -> Stored:
    """Insert the records (ids continue after the largest ones) in one transaction; see the module doc."""
    old_crops: list[str] = []
    now = time.time()
    with project.transaction() as c:
        replaced = 0
        old_ids: list[int] = []
        old_tracks: set[int] = set()
        orphans_before = c.execute("SELECT COALESCE(MAX(id), 0) FROM orphans").fetchone()[0]
        if replace:
            for chunk in _chunks(frame_ids, 500):
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
        for i, r in enumerate(detections):
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
            [(track_ids[k], camera_id, t["source_id"], t["cats"].most_common(1)[0][0], t["first"], t["last"], now,
              detector) for k, t in track_rows.items()])
        det_rows, verdict_rows = [], []
        for i, r in enumerate(detections):
            did = d_base + 1 + i
            x, y, w, h = r["box"]
            crop = str(Path("arrays") / r["crop"]) if r.get("crop") else None
            det_rows.append((did, r["frame_id"], track_ids[r["track"]], detector, r["category"], r["score"],
                             x, y, w, h, r["area"], json.dumps(r["rle"]) if r["rle"] else None, crop, now))
            reasons = dict(r["reasons"])
            reasons["occluded_by"] = [{"detection": det_id_of[(r["frame_id"], o["index"])], "iou": o["iou"],
                                       **({"contact_px": o["contact_px"]} if "contact_px" in o else {})}
                                      for o in reasons.get("occluded_by", [])]
            if reasons.get("touching"):
                reasons["touching"] = [{"detection": det_id_of[(r["frame_id"], o["index"])],
                                        "contact_px": o["contact_px"]} for o in reasons["touching"]]
            if reasons.get("merged_with"):  # the tracker's keys -> this store's track ids, in the words too
                reasons["merged_with"] = [track_ids.get(k, k) for k in reasons["merged_with"]]
                reasons["merge"] = "merged with tracks " + ", ".join(str(k) for k in reasons["merged_with"])
            verdict_rows.append((did, r["verdict"], r["decided_by"], r["p"], r["model_version"],
                                 json.dumps(reasons), r["rule_verdict"]))
        c.executemany("INSERT INTO detections (id, frame_id, track_id, detector, category, score, x, y, w, h, area, "
                      "mask_rle, crop_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", det_rows)
        c.executemany("INSERT INTO verdicts (detection_id, verdict, decided_by, p_unoccluded, model_version, "
                      "reasons_json, rule_verdict) VALUES (?, ?, ?, ?, ?, ?, ?)", verdict_rows)
        carry = None
        if replace:
            new = [{"id": d_base + 1 + i, "frame_id": r["frame_id"], "track_id": track_ids[r["track"]],
                    "category": r["category"], "box": r["box"], "rle": r["rle"]} for i, r in enumerate(detections)]
            carry = plan(c, frame_ids, new)
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
        usable = 0
        for chunk in _chunks(sorted(track_ids.values()), 500):
            marks = ",".join("?" * len(chunk))
            usable += c.execute(f"SELECT COUNT(*) FROM tracks WHERE id IN ({marks}) AND n_mined >= ?",
                                (*chunk, min_mined_frames)).fetchone()[0]
    return Stored(len(track_ids), usable, replaced, carry, old_crops)
