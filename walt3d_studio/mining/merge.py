"""Scale-out: a mining shard's results, written to a folder of its own and merged into the project's store
(one writer, one transaction). `mine.mine` uses `merge_results` directly; `walt3d mine --shard-out DIR` then
`walt3d mine --merge DIR` go through the files.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInputError

SHARD_VERSION = 1


@dataclass
class MineReport:
    camera_id: int
    frames: int
    detections: int
    tracks: int
    mined: int
    usable_tracks: int
    seconds: float
    detector: str
    replaced: int = 0
    carry: dict | None = None   # a re-run's human work: {"carried": {...}, "orphaned": {...}} (store.carry_over)

    def counts(self) -> dict:
        out = {"frames": self.frames, "detections": self.detections, "tracks": self.tracks, "mined": self.mined,
               "usable_tracks": self.usable_tracks, "replaced": self.replaced}
        if self.carry is not None:
            out["carried"] = sum(self.carry["carried"].values())
            out["orphaned"] = sum(self.carry["orphaned"].values())
        return out

    def summary(self) -> str:
        text = (f"{self.frames} frames: {self.detections} detections in {self.tracks} tracks; {self.mined} mined, "
                f"{self.usable_tracks} usable tracks ({self.detector}, {self.seconds:.1f} s)")
        if self.carry is not None:
            c = self.counts()
            text += f"; human edits carried over: {c['carried']}, kept as orphans: {c['orphaned']}"
            if c["orphaned"]:
                text += " (see `walt3d orphans`)"
        return text


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
    from .crops import sweep_orphan_crops

    sweep_orphan_crops(project, res.camera_id)  # crops of an earlier merge or mine killed half-way
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
    """Write a shard's results into the store in one transaction; `replace` re-mines those frames, carrying
    people's edits over to the new detections (`store.carry_over`)."""
    from ..store.frames import camera_frame_ids
    from ..store.mined import store_mining_results

    cam = project.camera(res.camera_id)
    known = set(camera_frame_ids(project, cam.id))
    stray = [f for f in res.frame_ids if f not in known]
    if stray:
        raise BadInputError(f"These results are for frames camera {cam.name!r} does not have (e.g. frame {stray[0]}).",
                            "Merge a shard into the project (and camera) it was mined from.")
    min_mined = res.settings.get("rule", {}).get("min_mined_frames", 3)
    out = store_mining_results(project, cam.id, res.detector, res.frame_ids, res.detections, replace=replace,
                               min_mined_frames=min_mined)
    _remove_replaced_crops(project, cam.id, out.old_crops,
                           {str(Path("arrays") / r["crop"]) for r in res.detections if r.get("crop")})
    mined = sum(r["verdict"] == "unoccluded" for r in res.detections)
    return MineReport(cam.id, len(res.frame_ids), len(res.detections), out.tracks, mined, out.usable_tracks,
                      res.seconds, res.detector, out.replaced, out.carry.to_dict() if out.carry is not None else None)


def _remove_replaced_crops(project, camera_id: int, old: list[str], new: set[str]) -> None:
    """After a re-run replaced detections: remove their crops that nothing points at any more. A plain file goes
    at once (and its folder when empty); a run's pack only once no detection points into it (a re-run of part
    of a run's frames leaves the rest of its pack in use)."""
    from ..store.detections import crop_folders_in_use
    from .crops import pack_span

    packs, dirs = set(), set()
    for p in old:
        if p in new:
            continue
        span = pack_span(p)
        if span is not None:
            packs.add(Path(span[0]).parent)
        else:
            (project.root / p).unlink(missing_ok=True)
            dirs.add((project.root / p).parent)
    if packs:
        in_use = crop_folders_in_use(project, camera_id)
        for folder in packs:
            if str(folder) not in in_use:
                shutil.rmtree(project.root / folder, ignore_errors=True)
    for d in dirs:
        try:
            d.rmdir()  # only when empty
        except OSError:
            pass


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
    from ..atomic import atomic_path, write_text

    with atomic_path(out_dir / "detections.jsonl") as tmp, open(tmp, "w") as f:
        for r in res.detections:
            f.write(json.dumps(r) + "\n")
    write_text(out_dir / "shard.json", json.dumps(header))  # written last: its presence marks a complete shard


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
