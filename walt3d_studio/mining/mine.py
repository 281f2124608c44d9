"""The mining stage: detect -> track -> occlusion verdict -> store, for one camera and one time range.

`mine(project, camera_id, ...)` does it all as one job (progress and cancel through `ctx`; a cancelled or
failed run leaves the project as it was). For scale-out (DESIGN "Scale-out") the same work splits in two:
`mine_shard(...)` runs on any machine holding the project read-only and writes its results to a folder of its
own (shard.json, detections.jsonl, crops/), and `merge_shard(project, folder)` imports that folder into the
project's SQLite store in one transaction (one writer).

Pipeline, per frame in capture order: frames are decoded on a reader thread and detected on a thread pool
(OpenCV releases the GIL); parts of one object are joined (parts.py, in order); the rest of the frame-local
work (the rule's per-frame facts, RLE of each mask, colour: `_frame_work`) runs on the pool too, ahead of the
main thread, which tracks (one SORT tracker per source, reset at long gaps) and judges by the rule (and the
trained classifier, if any); mined objects' RGBA crops are cut and written as PNG on the pool.
Crops go under arrays/crops/cam<C>/<run>/, so a failed run removes exactly its own files; they are made
durable with one sync at the end of the run rather than an fsync each (nothing points at them before then).
Shard files and the merge into SQLite are in `merge.py`.
"""
from __future__ import annotations

import os
import queue
import shutil
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ..errors import BadInputError, Cancelled
from ..jobs import JobContext, silent
from .appearance import colour_descriptor
from .crops import CropPack, encode_png_rgba
from .detection import FrameInfo, rgba_crop
from .occlusion import AreaHistory, RuleSettings, decide, expected_area, frame_facts, mark_suspect, rule_verdict
from .parts import PartSettings, join_parts
from .merge import MineReport, ShardResults, check_not_mined, merge_results, merge_shard, write_shard  # noqa: F401
from .registry import RunInfo, create_detector
from .size_prior import LearnedPriorSettings, SizePrior, apply_learned_prior, apply_size_prior, learn_size_prior
from .stitch import StitchSettings, stitch_tracks
from .tracker import SortTracker, TrackerSettings

@dataclass
class MineSettings:
    detector: str = "foreground"
    weights: str | None = None
    import_path: str | None = None          # detections file for the "import" detector
    detector_options: dict = field(default_factory=dict)
    rule: RuleSettings = field(default_factory=RuleSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    crops: bool = True                      # write RGBA crops of mined objects
    use_classifier: bool = True             # use the active trained classifier, if there is one
    workers: int | None = None              # detection threads (None: CPUs, at most 4)
    size_prior: bool = True                 # with a calibration: too wide/tall for one object = merged
    learned_prior: LearnedPriorSettings | None = field(default_factory=LearnedPriorSettings)
                                            # without one: sizes learned from the camera's own single objects
    stitch: StitchSettings | None = field(default_factory=StitchSettings)  # join fragments across short gaps
    parts: PartSettings | None = field(default_factory=PartSettings)  # join a roof blob to its car (parts.py)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rule"], d["tracker"] = self.rule.to_dict(), self.tracker.to_dict()
        d["learned_prior"] = self.learned_prior.to_dict() if self.learned_prior is not None else None
        d["stitch"] = self.stitch.to_dict() if self.stitch is not None else None
        d["parts"] = self.parts.to_dict() if self.parts is not None else None
        return d


# ----------------------------------------------------------------------------------------- the job


def mine(project, camera_id: int, settings: MineSettings | None = None, *, start: float | None = None,
         end: float | None = None, replace: bool = False, ctx: JobContext | None = None) -> MineReport:
    """Mine a camera's frames captured in [start, end) (all when None) into the project."""
    ctx = ctx or silent()
    settings = settings or MineSettings()
    frame_ids = _frame_ids(project, camera_id, start, end)
    check_not_mined(project, frame_ids, replace)
    from .crops import sweep_orphan_crops

    sweep_orphan_crops(project, camera_id)  # crops of an earlier run killed before its merge
    jobs: list[int] = []
    res = None
    try:
        res = mine_shard(project, camera_id, settings, start=start, end=end, out_dir=project.root / "arrays",
                         ctx=ctx, on_started=lambda: jobs.append(_job_start(project, settings, camera_id, start, end)))
        report = merge_results(project, res, replace=replace)
        _job_end(project, jobs[0], "done", report.summary(), report.counts())
        return report
    except BaseException as e:
        if res is not None and res.crop_dir is not None:
            shutil.rmtree(res.crop_dir, ignore_errors=True)
        if jobs:
            _job_end(project, jobs[0], "cancelled" if isinstance(e, Cancelled) else "failed", str(e)[:500])
        raise


def preview_replace(project, camera_id: int, settings: MineSettings | None = None, *, start: float | None = None,
                    end: float | None = None, ctx: JobContext | None = None):
    """The dry run of `mine(..., replace=True)`: mine in memory (no crops, nothing stored) and say what the
    re-run touches and exactly how many human edits would carry over and how many become orphans.
    Returns (AtStake, CarryPlan, ShardResults)."""
    import dataclasses

    from ..store.carry_over import at_stake, plan

    settings = dataclasses.replace(settings or MineSettings(), crops=False)
    res = mine_shard(project, camera_id, settings, start=start, end=end, out_dir=None, ctx=ctx)
    tracks: dict[str, int] = {}
    new = [{"id": -1 - i, "frame_id": r["frame_id"], "track_id": tracks.setdefault(r["track"], -1 - len(tracks)),
            "category": r["category"], "box": r["box"], "rle": r["rle"]} for i, r in enumerate(res.detections)]
    return at_stake(project.conn, res.frame_ids), plan(project.conn, res.frame_ids, new), res


def mine_shard(project, camera_id: int, settings: MineSettings | None = None, *, start: float | None = None,
               end: float | None = None, out_dir: Path | None = None, ctx: JobContext | None = None,
               write: bool = False, on_started: Callable[[], None] | None = None) -> ShardResults:
    """Run the pipeline over a camera x time range. Crops go under `out_dir`/crops/...; with `write=True`
    the results are also written to `out_dir` (shard.json + detections.jsonl) for `merge_shard`."""
    ctx = ctx or silent()
    settings = settings or MineSettings()
    cam = project.camera(camera_id)
    table = project.frame_table(camera_id)
    positions = _positions(table, start, end)
    if len(positions) == 0:
        raise BadInputError(f"Camera {cam.name!r} has no frames in the chosen time range.",
                            "Add a time-lapse (walt3d add-source) or widen the range.")
    opts = dict(settings.detector_options)
    if settings.import_path is not None:
        opts["path"] = settings.import_path
    detector = create_detector(settings.detector, settings.weights, **opts)
    from ..store.frames import frame_file_names

    file_names = frame_file_names(project, camera_id)
    run = RunInfo(project, camera_id, cam.width, cam.height, project.calibration(camera_id), table, file_names)
    detector.start(run)  # validates inputs (background present, import file consistent) before any write
    from ..store.detections import static_occluder

    static = static_occluder(project, camera_id)
    model = None
    if settings.use_classifier:
        from ..store.detections import active_classifier

        if active_classifier(project) is not None:
            from .classifier import load_active_model

            model = load_active_model(project)
    if on_started:
        on_started()
    out_dir = Path(out_dir) if out_dir is not None else None
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    crop_rel = Path("crops") / f"cam{camera_id}" / run_id
    crop_dir = (out_dir / crop_rel) if (out_dir is not None and settings.crops) else None
    reader = project.frame_reader(camera_id, cache_bytes=64 << 20 if not detector.needs_pixels else 0)
    t0 = time.perf_counter()
    try:
        infos = [FrameInfo(int(p), int(table.ids[p]), int(table.source_ids[p]), int(table.source_index[p]),
                           float(table.times[p]), file_names.get(int(table.ids[p]))) for p in positions]
        if detector.needs_pixels:
            frames = _decode_ahead(reader, infos)
        else:
            frames = ((i, None) for i in infos)
        dets = run_pipeline(frames, detector, cam.width, cam.height, settings, crop_dir=crop_dir,
                            crop_rel=crop_rel, static_mask=static, model=model, total=len(infos), ctx=ctx,
                            load_frame=lambda info: reader.frame(info.position))
    except BaseException:
        if crop_dir is not None:
            shutil.rmtree(crop_dir, ignore_errors=True)
        raise
    finally:
        reader.close()
        detector.close()
    res = ShardResults(camera_id, settings.detector, settings.to_dict(), [i.frame_id for i in infos], dets,
                       out_dir, crop_dir, time.perf_counter() - t0)
    if write:
        write_shard(res, out_dir)
    return res


# -------------------------------------------------------------------------------------- the pipeline


def run_pipeline(frames: Iterable[tuple[FrameInfo, np.ndarray | None]], detector, width: int, height: int,
                 settings: MineSettings, *, crop_dir: Path | None = None, crop_rel: Path = Path("crops"),
                 static_mask: np.ndarray | None = None, model=None, total: int = 0, ctx: JobContext | None = None,
                 load_frame: Callable[[FrameInfo], np.ndarray] | None = None) -> list[dict]:
    """Detect, track and judge every frame; returns one record per detection (in capture order)."""
    ctx = ctx or silent()
    rule = settings.rule
    workers = settings.workers or min(4, _cpus())
    trackers: dict[int, SortTracker] = {}
    last_time: dict[int, float] = {}
    areas = AreaHistory(rule.area_window)
    records: list[dict] = []
    events: list[tuple[int, str, list[str]]] = []  # (frame number, merge/unmerge/split, track keys)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mine")
    pack = CropPack(crop_dir, crop_rel) if crop_dir is not None else None
    crop_jobs: deque = deque()  # (records, future of their PNG bytes)
    last_report = 0.0
    try:
        ahead = getattr(detector, "thread_safe", False) and workers > 1

        def detect(info, frame):
            return detector.detect(frame, info)

        def work(info, frame, dets):
            return _frame_work(dets, frame, width, height, rule, static_mask)

        stream = _ahead(frames, detect, pool, 2 * workers) if ahead else \
            ((info, frame, detect(info, frame)) for info, frame in frames)
        if settings.parts is not None:  # before tracking, so a car split in two is tracked as one (parts.py)
            stream = join_parts(stream, settings.parts, getattr(getattr(detector, "classifier", None), "classify", None),
                                (width, height))
        stream = _ahead(stream, work, pool, 2 * workers) if workers > 1 else \
            ((*item, work(*item)) for item in stream)
        for n, (info, frame, dets, (facts, rles, colours)) in enumerate(stream):
            ctx.check()
            tr = trackers.get(info.source_id)
            if tr is None:
                tr = trackers[info.source_id] = SortTracker(settings.tracker)
            elif info.capture_time - last_time[info.source_id] > settings.tracker.max_gap_s:
                tr.reset()
            last_time[info.source_id] = info.capture_time
            ids = tr.update(np.array([d.box for d in dets], float).reshape(-1, 4))
            for kind, tids in tr.events:
                events.append((n, kind, [f"s{info.source_id}:{int(t)}" for t in tids]))
            recs = []
            for k, (d, tid, f) in enumerate(zip(dets, ids, facts)):
                key = f"s{info.source_id}:{int(tid)}"
                merged = [f"s{info.source_id}:{int(t)}" for t in tr.merged.get(k, [])]
                # a merged blob's area says nothing of its track's own size: keep it out of the history
                area = d.area
                ratio = areas.ratio(key, area, n) if not merged else 1.0
                rv, reasons = rule_verdict(f, ratio, rule, merged)
                recs.append({"frame_id": info.frame_id, "k": k, "track": key, "source_id": info.source_id,
                             "category": d.category, "score": float(d.score), "box": [float(v) for v in d.box],
                             "area": area, "rule_verdict": rv, "reasons": reasons, "p": None,
                             "model_version": None, "crop": None, "det": d, "n": n,
                             "size": d.extra.get("size"), "_time": info.capture_time,
                             "colour": colours[k]})
            if model is not None and recs:
                if frame is None and load_frame is not None:
                    frame = load_frame(info)
                p = model.predict(frame, dets, [r["reasons"] for r in recs], width, height)
                for r, pi in zip(recs, p):
                    r["p"] = float(pi)
                    r["model_version"] = model.version
                    r["reasons"]["classifier"] = {"p": round(float(pi), 4), "version": model.version}
            to_crop, dets_to_crop = [], []
            for r in recs:
                r["verdict"], r["decided_by"] = decide(r["rule_verdict"], r["p"], r["reasons"])
                d = r.pop("det")
                r["rle"] = rles[r["k"]]
                if r["rule_verdict"] == "rejected":  # an area jump may be undone once merges are known
                    r["_det"], r["_info"] = d, info
                if pack is not None and r["verdict"] == "unoccluded":
                    if frame is None and load_frame is not None:
                        frame = load_frame(info)
                    to_crop.append(r)
                    dets_to_crop.append(d)
            if to_crop:  # encoded on the pool, one task a frame; appended to the pack here, in frame order
                crop_jobs.append((to_crop, pool.submit(_encode_crops, frame, dets_to_crop)))
            records.extend(recs)
            while crop_jobs and (crop_jobs[0][1].done() or len(crop_jobs) > 4 * workers):
                recs_done, pngs = crop_jobs.popleft()
                _pack_crops(pack, recs_done, pngs.result())
            now = time.monotonic()
            if now - last_report > 0.1 or n + 1 == total:
                last_report = now
                ctx.progress(n + 1, total, f"{len(records)} detections")
        while crop_jobs:
            recs_done, pngs = crop_jobs.popleft()
            _pack_crops(pack, recs_done, pngs.result())
        _mark_suspects(records, events)
        if settings.stitch is not None:
            stitch_tracks(records, settings.stitch, settings.tracker.max_gap_s)
        tied = vote_track_classes(records)
        # area jumps within the voted class's tolerance (a walker's step) are lifted before the priors learn,
        # so that one object's size is learned from all its poses
        lifted = _recheck_area_jumps(records, rule)
        if settings.size_prior:
            apply_size_prior(records, SizePrior())
        if settings.learned_prior is not None:
            learned = learn_size_prior(records, settings.learned_prior)
            break_ties_by_learned_prior(records, tied, learned)
            apply_learned_prior(records, learned, settings.learned_prior)
            lifted += _recheck_area_jumps(records, rule)
        for r in lifted:
            if r["verdict"] == "unoccluded" and pack is not None and load_frame is not None:
                _pack_crops(pack, [r], _encode_crops(load_frame(r["_info"]), [r["_det"]]))
        if pack is not None:
            pack.close()
        for r in records:
            del r["n"], r["size"]
            r.pop("colour", None)
            r.pop("_det", None), r.pop("_info", None), r.pop("_time", None)
    finally:
        close = getattr(frames, "close", None)
        if close:
            close()
        pool.shutdown(wait=True, cancel_futures=True)
        if pack is not None:
            pack.close(durable=False)  # a failed run: its caller removes the folder
    return records


def _recheck_area_jumps(records: list[dict], rule: RuleSettings) -> list[dict]:
    """The area check again, now that merges are known: each track's running median of areas, over its
    detections that hold one *whole* object (not merged, too large or two-lobed, nor truncated: a car coming in
    at the top edge grows in area until it is all in view, and its first 1-2 whole frames were jumps against
    that). A track that came into view as a
    queue (one blob, never seen apart, so not "merged" while it was read) has a history of two cars' area, and
    the single car left when the queue parts was rejected as an area jump. Records whose only reason to be
    rejected was that jump and whose new ratio is within tolerance are mined (decided by the rule); returns them
    (their crops are still to write), with the tolerance of the track's voted class (`area_tolerance_for`: a
    walker's step changes its area more than a car's). Area jumps are only taken back here, never added."""
    hist: dict[str, list[tuple[float, float]]] = {}
    lifted = []
    for i, r in enumerate(records):
        tol = rule.area_tolerance_for(r["category"])
        flags = r["reasons"].get("flags", [])
        h = hist.setdefault(r["track"], [])
        t = r.get("n", i)
        ratio = r["area"] / expected_area(h, t) if h else 1.0  # the track's trend, as in AreaHistory
        if not {"merged", "too_large", "two_lobes", "truncated"} & set(flags):
            h.append((float(t), float(r["area"])))
            if len(h) > rule.area_window:
                del h[0]
        if "area_jump" not in flags or not (1 - tol <= ratio <= 1 + tol):
            continue
        r["reasons"]["area_ratio_before_merges"] = r["reasons"].get("area_ratio")
        r["reasons"]["area_ratio"] = round(float(ratio), 4)
        flags.remove("area_jump")
        if r["rule_verdict"] == "rejected" \
                and not {"low_score", "suspect", "occluded", "truncated", "touching", "part_above"} & set(flags):
            r["rule_verdict"] = "unoccluded"
            if r["decided_by"] == "rule" and r["verdict"] == "rejected" and "_det" in r:
                r["verdict"] = "unoccluded"
                lifted.append(r)
    return lifted


def _mark_suspects(records: list[dict], events, window: int = 1) -> None:
    """Detections of the tracks in a merge or split, in the frames within `window` of it, are suspect: just
    before a merge the objects already touch, just after a split the masks may still hold parts of each other.
    Mined ones become "rejected" (and lose their crops). Runs once all frames are judged (it looks back)."""
    if not events:
        return
    near: dict[tuple[int, str], str] = {}
    for n, kind, keys in events:
        names = ", ".join(k.split(":")[-1] for k in keys)
        why = {"merge": f"next to a merge of tracks {names}", "unmerge": f"just out of a merge (track {names})",
               "split": f"next to a split into tracks {names}"}[kind]
        for m in range(n - window, n + window + 1):
            for k in keys:
                near.setdefault((m, k), why)
    for r in records:
        why = near.get((r["n"], r["track"]))
        if why is None or "merged" in r["reasons"].get("flags", ()):
            continue
        mark_suspect(r["reasons"], why)
        if r["rule_verdict"] == "unoccluded":
            r["rule_verdict"] = "rejected"
        if r["verdict"] == "unoccluded":
            r["verdict"], r["decided_by"] = "rejected", "rule"
            r["crop"] = None  # its bytes stay in the run's pack, unreferenced


# metric silhouette area (m^2) of one object, per class (foreground.SizeClassifier's ranges): the calibrated tie-break
METRIC_AREA = {"person": (0.1, 1.6), "car": (2.0, 30.0)}
PERSON_ASPECT = 1.3   # box height / width: upright (foreground.SizeClassifier's person aspect); uncalibrated tie-break


def vote_track_classes(records: list[dict], min_real_share: float = 0.25) -> dict[str, list[str]]:
    """One class per track, so the overlay (each detection's class) and the tracks table (the track's) agree.

    A vote over the track's detections (merged blobs do not vote, unless the track has nothing else). "other"
    means the detector could not tell, not a class of its own: a real class wins when real-class votes are at
    least `min_real_share` of all, so a car that is "other" while far and small and "car" once near is a car.
    Between real classes the majority wins; a tie goes to the size prior (`_size_tie_break`): the track's median
    metric area with a calibration, its median box aspect without one, then the larger summed area. Every
    detection then carries the track's class; the detector's own per-frame class stays in the reasons
    ("detector_class"), and a tie's decision in "class_vote". Returns the tied tracks (key -> the tied classes),
    which `break_ties_by_learned_prior` can decide again once the camera's learned size prior is known."""
    from collections import Counter, defaultdict

    by_track: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_track[r["track"]].append(r)
    tied: dict[str, list[str]] = {}
    for key, recs in by_track.items():
        voters = [r for r in recs if "merged" not in r["reasons"].get("flags", ())] or recs
        v = Counter(r["category"] for r in voters)
        real = {c: n for c, n in v.items() if c != "other"}
        why = None
        if not real or sum(real.values()) < min_real_share * len(voters):
            cls = "other"
        else:
            top = max(real.values())
            best = sorted(c for c, n in real.items() if n == top)
            cls = best[0]
            if len(best) > 1:
                cls, how = _size_tie_break(voters, best)
                why = f"tie {' / '.join(f'{c} {top}' for c in best)}: {cls} by {how}"
                tied[key] = best
        _set_class(recs, cls, why)
    return tied


def _set_class(recs: list[dict], cls: str, why: str | None = None) -> None:
    for r in recs:
        if cls != r["category"]:
            r["reasons"].setdefault("detector_class", r["category"])
            r["category"] = cls
        if why is not None:
            r["reasons"]["class_vote"] = why


def _size_tie_break(recs: list[dict], classes: list[str]) -> tuple[str, str]:
    """The size prior as a tie-breaker between real classes with equal votes: (class, how it was decided)."""
    areas = [r["size"]["area_m2"] for r in recs if r.get("size") and r["size"].get("area_m2") is not None]
    ranged = [c for c in classes if c in METRIC_AREA]
    if areas and len(ranged) > 1:  # calibrated: nearest range of one object's silhouette area, in log; the
        a = float(np.exp(np.mean(np.log(np.maximum(areas, 1e-6)))))  # geometric mean: a tie is two clusters

        def off(c):
            lo, hi = METRIC_AREA[c]
            return max(np.log(lo / a), np.log(a / hi), 0.0)
        return min(ranged, key=off), f"size (mean {a:.2f} m\u00b2)"
    if set(classes) == {"car", "person"}:  # uncalibrated: a person's box is upright, a car's is not
        asp = float(np.median([r["box"][3] / max(r["box"][2], 1e-9) for r in recs]))
        return ("person" if asp >= PERSON_ASPECT else "car"), f"shape (median aspect {asp:.2f})"
    summed = {c: sum(r["area"] for r in recs if r["category"] == c) for c in classes}
    return max(classes, key=lambda c: summed[c]), "area"


def break_ties_by_learned_prior(records: list[dict], tied: dict[str, list[str]], prior) -> None:
    """Tracks whose vote tied (and no calibration decided it) take the tied class whose learned one-object height
    at their rows fits most of their detections (`size_prior.size_class`), when that is clear (a majority)."""
    if not tied or not getattr(prior, "lines", None):
        return
    from collections import Counter

    from .size_prior import size_class

    by_track: dict[str, list[dict]] = {}
    for r in records:
        if r["track"] in tied:
            by_track.setdefault(r["track"], []).append(r)
    for key, recs in by_track.items():
        if any(r.get("size") and r["size"].get("area_m2") is not None for r in recs):
            continue  # decided by metric size already
        fits = Counter(size_class(prior, r) for r in recs if "merged" not in r["reasons"].get("flags", ()))
        ok = {c: n for c, n in fits.items() if c in tied[key]}
        if not ok:
            continue
        cls, n = max(ok.items(), key=lambda kv: kv[1])
        if n > 0.5 * sum(fits.values()) and cls != recs[0]["category"]:
            _set_class(recs, cls, f"tie {' / '.join(tied[key])}: {cls} by the learned size prior")


def _frame_work(dets: list, frame: np.ndarray | None, width: int, height: int, rule: RuleSettings,
                static_mask) -> tuple[list[dict], list[dict | None], list]:
    """What a frame's detections need no track for: the rule's per-frame facts, each mask's RLE and colour.
    Runs on the pool, a few frames ahead of the main thread (which tracks and judges in order)."""
    return (frame_facts(dets, width, height, rule, static_mask), [d.rle(width, height) for d in dets],
            [colour_descriptor(frame, d) for d in dets])


def _encode_crops(frame: np.ndarray, dets: list) -> list[bytes]:
    """The PNG bytes of these detections' RGBA crops (cut and encoded on the pool: OpenCV lets the GIL go)."""
    return [encode_png_rgba(rgba_crop(frame, d)) for d in dets]


def _pack_crops(pack: CropPack, recs: list[dict], pngs: list[bytes]) -> None:
    """Append the crops to the run's pack; each record's "crop" names its span."""
    for r, png in zip(recs, pngs):
        r["crop"] = pack.add(png)


def _ahead(items: Iterable[tuple], fn, pool, depth: int) -> Iterator[tuple]:
    """(*item, fn(*item)) for each item, in order, with up to `depth` items' fn running on the pool."""
    pending: deque = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(fn, *item)))
            if len(pending) >= depth:
                item0, fut = pending.popleft()
                yield (*item0, fut.result())
        while pending:
            item0, fut = pending.popleft()
            yield (*item0, fut.result())
    finally:
        for _, fut in pending:
            fut.cancel()


class _decode_ahead:
    """Frames decoded on a background thread, a few ahead of the consumer (PyAV releases the GIL)."""

    def __init__(self, reader, infos: list[FrameInfo], depth: int = 8):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._infos = infos
        self._thread = threading.Thread(target=self._run, args=(reader,), daemon=True, name="mine-decode")
        self._thread.start()

    def _run(self, reader):
        try:
            for info, frame in zip(self._infos, reader.iter_frames([i.position for i in self._infos])):
                while not self._stop.is_set():
                    try:
                        self._q.put((info, frame), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._put(None)
        except BaseException as e:  # handed to the consumer
            self._put(e)

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            item = self._q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------------------------------- helpers


def _cpus() -> int:
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _positions(table, start, end) -> np.ndarray:
    keep = np.ones(len(table), bool)
    if start is not None:
        keep &= table.times >= start
    if end is not None:
        keep &= table.times < end
    return np.flatnonzero(keep)


def _frame_ids(project, camera_id, start, end) -> list[int]:
    table = project.frame_table(camera_id)
    return [int(table.ids[p]) for p in _positions(table, start, end)]


def _job_start(project, settings, camera_id, start, end) -> int | None:
    from ..store.runs import start_run

    return start_run(project, "mine", settings, {"camera": camera_id, "start": start, "end": end})


def _job_end(project, job: int | None, status: str, message: str, counts: dict | None = None) -> None:
    from ..store.runs import finish_run

    try:
        finish_run(project, job, counts, status, message)
    except Exception:  # never hide the run's own outcome behind a bookkeeping error
        pass
