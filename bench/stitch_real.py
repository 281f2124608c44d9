"""How much longer tracks get with track stitching on real footage (issue 12), motion alone vs motion + colour.

    PYTHONPATH=$PWD .venv/bin/python bench/stitch_real.py [--clips road lot topdown] [--sheet /tmp/stitch-joins.png]
        [--n-sheet 40] [--seed 0]

Each clip (road: ../shared/data/footage/road-queues-bridge.avi; lot and topdown: the demo clips) is imported into
a project under $WALT3D_BENCH_CACHE (default /tmp/walt3d-stitch-bench; its background computed once) and mined in
memory (`mine_shard`, no crops) with stitching off. The colour descriptor of every detection is then computed
from its frame and mask exactly as the pipeline does (`appearance.colour_descriptor`), and `stitch_tracks` runs on
copies of the records three ways: off, motion alone (`appearance=False`), motion + colour (the default). Printed
per clip: tracks, median and mean detections per track, tracks with >= 10 and >= 30 detections, joins; the colour
distance of one object to itself 1-8 frames later (consecutive detections of one tracker track) against the
distance over the joins motion alone makes and the colour term refuses. `--sheet` draws joins into one PNG: for
each, the last detection of the first fragment and the first of the second, side by side (green frame: joined
with colour; red: joined on motion alone and refused by colour), so a person can count the right ones.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
CACHE = Path(os.environ.get("WALT3D_BENCH_CACHE", "/tmp/walt3d-stitch-bench"))


def project_for(clip: str) -> Path:
    from real_crop_scenes import clip_project

    return clip_project(clip, CACHE / f"{clip}.walt3d", ".ready")


def mined_records(clip: str):
    """(records with n, _time, colour; the project path) with stitching off."""
    from walt3d_studio.mining.appearance import colour_descriptor
    from walt3d_studio.mining.detection import Detection, decode_rle
    from walt3d_studio.mining.mine import MineSettings, mine_shard
    from walt3d_studio.store import Project

    path = project_for(clip)
    with Project.open(path) as p:
        cam = p.cameras()[0].id
        res = mine_shard(p, cam, MineSettings(stitch=None, crops=False), out_dir=None)
        table = p.frame_table(cam)
        pos = {int(f): i for i, f in enumerate(table.ids)}
        by_frame: dict[int, list[dict]] = {}
        for r in res.detections:
            r["n"] = pos[int(r["frame_id"])]
            r["_time"] = float(table.times[r["n"]])
            by_frame.setdefault(r["n"], []).append(r)
        reader = p.frame_reader(cam)
        for n, frame in zip(sorted(by_frame), reader.iter_frames(sorted(by_frame))):
            for r in by_frame[n]:
                m = decode_rle(r["rle"]) if r.get("rle") else None
                d = Detection.from_full_mask(m, r["category"]) if m is not None else \
                    Detection(r["category"], 1.0, tuple(r["box"]))
                r["colour"] = colour_descriptor(frame, d) if d is not None else None
        reader.close()
    return res.detections, path, cam


def truth_records(tmp: Path, n_road: int, n_lot: int, seed: int = 0):
    """The dense scenes from real crops (bench/dense_real_truth.py), each mined with stitching off; every record
    gets "obj": the true object with the most visible pixels in its box. Yields (scene, records)."""
    from dense_real_truth import scene_project, scenes

    from walt3d_studio.mining.appearance import colour_descriptor
    from walt3d_studio.mining.detection import Detection, decode_rle
    from walt3d_studio.mining.mine import MineSettings, mine_shard
    from walt3d_studio.store import Project

    # stride 0 (walkers keep one pose): the scenes docs/mining.md's stitching figures were measured on
    for name, bg, frames, truth in scenes(n_road, n_lot, seed, stride=0):
        p, cam = scene_project(tmp, name, bg, frames)
        with p:
            res = mine_shard(p, cam, MineSettings(stitch=None, crops=False), out_dir=None)
            table = p.frame_table(cam)
            pos = {int(f): i for i, f in enumerate(table.ids)}
        for r in res.detections:
            n = r["n"] = pos[int(r["frame_id"])]
            r["_time"] = float(table.times[n])
            d = Detection.from_full_mask(decode_rle(r["rle"]), r["category"])
            r["colour"] = colour_descriptor(frames[n], d)
            x, y, w, h = (int(v) for v in r["box"])
            vis = [(o["visible"][y:y + h, x:x + w].sum(), o["id"]) for o in truth[n]]
            r["obj"] = max(vis)[1] if vis and max(vis)[0] > 0 else None
        yield name, res.detections


def join_right(by_track, ka, kb) -> bool | None:
    """Whether a join is right by the truth: the object most of the first fragment's last 3 detections hold is
    the one most of the second's first 3 hold (None when either has no object)."""
    from collections import Counter

    a_ = sorted(by_track[ka], key=lambda r: r["n"])[-3:]
    b_ = sorted(by_track[kb], key=lambda r: r["n"])[:3]
    oa = Counter(r["obj"] for r in a_).most_common(1)[0][0]
    ob = Counter(r["obj"] for r in b_).most_common(1)[0][0]
    if oa is None or ob is None:
        return None
    return oa == ob


def stats(records) -> dict:
    from collections import Counter

    n = np.array(list(Counter(r["track"] for r in records).values()))
    return {"tracks": len(n), "median": float(np.median(n)), "mean": float(n.mean()),
            "ge10": int((n >= 10).sum()), "ge30": int((n >= 30).sum())}


def run(records, settings):
    from walt3d_studio.mining.stitch import stitch_tracks

    recs = [{"track": r["track"], "n": r["n"], "source_id": r["source_id"], "box": r["box"], "_time": r["_time"],
             "colour": r["colour"], "reasons": copy.deepcopy(r["reasons"])} for r in records]
    joined = stitch_tracks(recs, settings) if settings is not None else []
    return recs, joined


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", nargs="+", default=["road", "lot", "topdown"])
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--sheet-clip", default="road")
    ap.add_argument("--n-sheet", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--truth", action="store_true", help="the dense scenes from real crops instead (exact truth)")
    ap.add_argument("--frames-road", type=int, default=300)
    ap.add_argument("--frames-lot", type=int, default=150)
    a = ap.parse_args()
    if a.truth:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for name, records in truth_records(Path(tmp), a.frames_road, a.frames_lot, a.seed):
                by_track: dict[str, list[dict]] = {}
                for r in records:
                    by_track.setdefault(r["track"], []).append(r)
                print(f"\n{name} (real-crop scene, exact truth): {len(records)} detections, "
                      f"{len({r['obj'] for r in records if r['obj'] is not None})} true objects detected")
                print(f"{'stitching':<15}{'tracks':>8}{'median':>8}{'mean':>8}{'>=10':>7}{'>=30':>7}{'joins':>7}"
                      f"{'right':>7}{'wrong':>7}")
                from walt3d_studio.mining.stitch import StitchSettings

                for label, st in (("off", None), ("motion", StitchSettings(appearance=False)),
                                  ("motion+colour", StitchSettings())):
                    recs, joined = run(records, st)
                    s_ = stats(recs)
                    ok = [join_right(by_track, ka, kb) for ka, kb in joined]
                    print(f"{label:<15}{s_['tracks']:>8}{s_['median']:>8.1f}{s_['mean']:>8.2f}{s_['ge10']:>7}"
                          f"{s_['ge30']:>7}{len(joined):>7}{sum(o is True for o in ok):>7}"
                          f"{sum(o is False for o in ok):>7}")
        return

    from walt3d_studio.mining.appearance import colour_distance, track_colour
    from walt3d_studio.mining.stitch import StitchSettings

    for clip in a.clips:
        records, path, cam = mined_records(clip)
        by_track: dict[str, list[dict]] = {}
        for r in records:
            by_track.setdefault(r["track"], []).append(r)
        same = []
        for recs in by_track.values():
            recs = [r for r in recs if r["colour"] is not None and "merged" not in r["reasons"].get("flags", ())]
            recs.sort(key=lambda r: r["n"])
            for x, y in zip(recs, recs[1:]):
                if 1 <= y["n"] - x["n"] <= 8:
                    same.append(colour_distance(x["colour"], y["colour"]))
        same = np.array(same)
        rows = {}
        joins = {}
        for name, st in (("off", None), ("motion", StitchSettings(appearance=False)), ("motion+colour", StitchSettings())):
            recs, joined = run(records, st)
            rows[name] = stats(recs)
            rows[name]["joins"] = len(joined)
            joins[name] = joined
        refused = sorted(set(joins["motion"]) - set(joins["motion+colour"]))
        added = sorted(set(joins["motion+colour"]) - set(joins["motion"]))

        def dist(pair):
            ka, kb = pair
            a_, b_ = sorted(by_track[ka], key=lambda r: r["n"]), sorted(by_track[kb], key=lambda r: r["n"])
            return colour_distance(track_colour(a_[-3:]), track_colour(b_[:3]))

        d_refused = [dist(j) for j in refused]
        d_kept = [dist(j) for j in joins["motion+colour"]]
        print(f"\n{clip}: {len(records)} detections, {len({r['n'] for r in records})} frames with detections")
        print(f"{'stitching':<15}{'tracks':>8}{'median':>8}{'mean':>8}{'>=10':>7}{'>=30':>7}{'joins':>7}")
        for name, s in rows.items():
            print(f"{name:<15}{s['tracks']:>8}{s['median']:>8.1f}{s['mean']:>8.2f}{s['ge10']:>7}{s['ge30']:>7}"
                  f"{s['joins']:>7}")
        print(f"colour distance, one object 1-8 frames later: median {np.median(same):.1f}, p90 "
              f"{np.percentile(same, 90):.1f}, p95 {np.percentile(same, 95):.1f}, p99 {np.percentile(same, 99):.1f} "
              f"({len(same)} pairs)")
        kd = np.array([d for d in d_kept if d == d])
        if len(kd):
            print(f"colour distance over the joins made with colour: median {np.median(kd):.1f}, max {kd.max():.1f}")
        print(f"joins motion alone makes that colour refuses or changes: {len(refused)} "
              f"(colour distance {', '.join(f'{d:.0f}' for d in sorted(d_refused))}); joins only with colour: "
              f"{len(added)}")
        if a.sheet is not None and clip == a.sheet_clip:
            rng = np.random.default_rng(a.seed)
            kept = joins["motion+colour"]
            pick = [kept[i] for i in sorted(rng.choice(len(kept), size=min(a.n_sheet, len(kept)), replace=False))]
            draw_sheet(path, cam, by_track, [(j, True) for j in pick] + [(j, False) for j in refused], a.sheet,
                       f"{clip}: {len(pick)} of {len(kept)} joins with colour (green), {len(refused)} joins made on "
                       f"motion alone and refused by colour (red)")


def draw_sheet(path, cam, by_track, joins, out: Path, title: str, cell: int = 128) -> None:
    from walt3d_studio.store import Project

    with Project.open(path) as p:
        reader = p.frame_reader(cam)

        def view(r):
            frame = reader.frame(r["n"])
            H, W = frame.shape[:2]
            x, y, w, h = r["box"]
            g = 0.6 * max(w, h)
            x0, y0 = int(max(0, x - g)), int(max(0, y - g))
            x1, y1 = int(min(W, x + w + g)), int(min(H, y + h + g))
            s = cell / max(x1 - x0, y1 - y0)
            v = cv2.resize(frame[y0:y1, x0:x1], None, fx=s, fy=s, interpolation=cv2.INTER_NEAREST)
            cv2.rectangle(v, (int((x - x0) * s), int((y - y0) * s)), (int((x + w - x0) * s) - 1,
                                                                       int((y + h - y0) * s) - 1), (255, 255, 0), 1)
            c = np.full((cell, cell, 3), 30, np.uint8)
            c[:v.shape[0], :v.shape[1]] = v[:cell, :cell]
            return c

        cells = []
        for (ka, kb), ok in joins:
            ra = max(by_track[ka], key=lambda r: r["n"])
            rb = min(by_track[kb], key=lambda r: r["n"])
            pair = np.full((cell + 20, 2 * cell + 6, 3), (0, 120, 0) if ok else (160, 0, 0), np.uint8)
            pair[2:cell + 2, 2:cell + 2] = view(ra)
            pair[2:cell + 2, cell + 4:2 * cell + 4] = view(rb)
            cv2.putText(pair, f"{len(cells) + 1}: f{ra['n']}->f{rb['n']}", (3, cell + 15), cv2.FONT_HERSHEY_PLAIN, 0.9,
                        (255, 255, 255), 1)
            cells.append(pair)
        reader.close()
    cols = 5
    ch, cw = cells[0].shape[:2] if cells else (cell + 20, 2 * cell + 6)
    rows = (len(cells) + cols - 1) // cols
    sheet = np.full((rows * (ch + 4) + 24, cols * (cw + 4), 3), 15, np.uint8)
    cv2.putText(sheet, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    for k, c in enumerate(cells):
        y0, x0 = 24 + (k // cols) * (ch + 4), (k % cols) * (cw + 4)
        sheet[y0:y0 + ch, x0:x0 + cw] = c
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"{out}: {len(cells)} joins drawn")


if __name__ == "__main__":
    main()
