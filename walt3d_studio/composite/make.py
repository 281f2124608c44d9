"""`make_composites`: the compositing stage over the store. Settings (with seed) -> per camera, the pools of
usable objects by (background window, split) -> composites written as files -> one transaction into the store.

Deterministic: composite k draws from `default_rng([seed, camera, k])` and the running occlusion histogram, images
are PNG and arrays an NPZ written with fixed zip timestamps, so the same project, settings and seed give
byte-identical files. Cancel (or any error) removes every file this run wrote; the store sees all composites of a
run or none.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInputError
from ..jobs import JobContext, silent
from .impossible import Impossible, measure
from .order import paste_order
from .paste import label_map, paste
from .render import Mesh, RenderContext, pasted_maps, render_maps
from .sampling import Pool, SampleSettings, bucket, sample_walt2d, sample_walt3d
from .scene import SceneObject, box_contact_depth, contact_depth, footprint
from .visibility import instance_map, pseudo_gt

METHODS = ("walt3d", "walt2d", "walt2d-bottom")
SCHEMA_OF = {"car": "vehicle12", "person": "person17"}
KIND_OF = {"car": "vehicle", "person": "person"}


@dataclass
class CompositeSettings:
    method: str = "walt3d"
    n: int = 100
    seed: int = 0
    camera_id: int | None = None
    objects_per_image: tuple[int, int] | None = None   # default (4, 12) for walt3d, (30, 30) for WALT2D
    margin_m: float = 0.2
    per_track: int = 3                                  # WALT3D: the same track at most this often in an image
    target: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2)
    feather_px: float = 0.0
    gain: bool = False
    arrays: bool = True                                 # depth / normal / instance maps
    min_mined_frames: int = 3
    include_unreviewed: bool = False                    # also fits flagged "needs review" that no person accepted

    def check(self) -> None:
        if self.method not in METHODS:
            raise BadInputError(f"Unknown composite method {self.method!r}.", f"Use one of {', '.join(METHODS)}.")
        if self.n < 0:
            raise BadInputError(f"--n must be 0 or more, not {self.n}.", "Give how many composites to make.")
        if not 0 <= self.feather_px <= 3:
            raise BadInputError(f"Feather of {self.feather_px} px is out of range.", "Use 0 to 3 px (1-2 is usual).")

    def per_image(self) -> tuple[int, int]:
        if self.objects_per_image is not None:
            lo, hi = self.objects_per_image
            return int(lo), int(hi)
        return (4, 12) if self.method == "walt3d" else (30, 30)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name) or "camera"


def write_npz(path: Path, arrays: dict) -> None:
    """NPZ with fixed entry timestamps (np.savez stamps the current time, which breaks byte-identity)."""
    from ..atomic import atomic_path

    with atomic_path(path, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=4) as z:
            for name, a in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, buf.getvalue(), compresslevel=4)


def write_png(path: Path, rgb: np.ndarray) -> None:
    from ..atomic import write_bytes

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise OSError(f"could not encode {path.name}")
    write_bytes(path, buf.tobytes())


# ---- the pools ------------------------------------------------------------------------------------------------

def _usable_fit(tf, df, review, include_unreviewed: bool = False) -> bool:
    if review == "reject" or df.R is None and tf.kind == "vehicle":
        return False
    ok = {"ok"} | ({"needs_review"} if review == "accept" or include_unreviewed else set())
    return tf.status in ok and df.status in ok


def _pose(tf, df) -> dict:
    q = {"track": tf.quality, "detection": df.quality}
    if tf.kind == "vehicle":
        return {"R": np.asarray(df.R).tolist(), "t": np.asarray(df.t).tolist(),
                "shape_coeffs": list(tf.shape.get("alpha", [])), "shape_class": tf.shape.get("class", "car"),
                "fit_quality": q}
    p = df.params
    return {"global_orient": p.get("global_orient"), "body_pose": p.get("body_pose"),
            "betas": p.get("betas", tf.shape.get("betas")), "transl": p.get("transl"),
            "body_model": tf.shape.get("body_model", p.get("body_model")),
            # the track's whole body shape (proxy height, template): what the review's wireframe layer needs to
            # rebuild the very mesh that was rendered (a local model path is left out of what is exported)
            "body_shape": {k: v for k, v in (tf.shape or {}).items() if k != "npz_path"}, "fit_quality": q}


def load_pools(project, camera_id: int, s: CompositeSettings, mesh_fn=None, ctx: RenderContext | None = None,
               job: JobContext | None = None) -> dict[tuple[str, str], list[SceneObject]]:
    """{(window, split): objects} of one camera: mined detections of usable tracks with a split, not rejected
    in review; WALT3D keeps only those with a usable 3D fit, the baselines take every one (3D where it exists)."""
    from ..background import window_for_time
    from ..mining.crops import ensure_crops, read_png_rgba
    from ..store.composites import rejections, splits
    from ..store.detections import mined_objects
    from ..store.fits import fit_review, track_fits
    from ..store.keypoints import get_keypoints

    camera = project.calibration(camera_id)
    sp = splits(project, camera_id)
    if not sp:
        raise BadInputError("This camera's tracks have no train/val/test split yet.",
                            "Split them first: walt3d splits PROJECT --by track (DESIGN: splits before compositing).")
    if mesh_fn is None:
        from ..reconstruct.meshes import mesh_in_camera as mesh_fn
    dets = mined_objects(project, camera_id, usable_only=True, min_mined_frames=s.min_mined_frames)
    bad_tracks = rejections(project)["tracks"]
    fits = {}
    for tf in track_fits(project, camera_id, with_detections=True):
        review = fit_review(project, tf.track_id)
        for df in tf.detections:
            if _usable_fit(tf, df, review, s.include_unreviewed):
                fits[df.detection_id] = (tf, df)
    if camera is None and s.method == "walt3d":
        raise BadInputError("This camera has no calibration.", "Calibrate it first (walt3d calibrate PROJECT).")

    def wanted(k: int) -> bool:
        did, tid = int(dets.id[k]), int(dets.track_id[k])
        return tid in sp and tid not in bad_tracks and (s.method != "walt3d" or did in fits)

    missing = [int(dets.id[k]) for k in range(len(dets)) if wanted(k) and not dets.crop_path[k]]
    if missing:  # objects marked unoccluded after mining have no crop yet
        ensure_crops(project, missing, job)
        dets = mined_objects(project, camera_id, usable_only=True, min_mined_frames=s.min_mined_frames)
    stored = project.backgrounds(camera_id)
    if not stored:
        raise BadInputError("This camera has no median background.", "Compute it first: walt3d background PROJECT.")
    tz = project.camera(camera_id).tz
    pools: dict = {}
    for k in range(len(dets)):
        if not wanted(k) or not dets.crop_path[k]:
            continue
        did, tid = int(dets.id[k]), int(dets.track_id[k])
        window = window_for_time(stored, float(dets.capture_time[k]), tz)
        if window is None:
            continue
        rgba = read_png_rgba(project.root / dets.crop_path[k])
        mask = rgba[..., 3] > 127
        x, y = int(np.floor(dets.box[k, 0])), int(np.floor(dets.box[k, 1]))
        cat = str(dets.category[k])
        kp = None
        try:
            row = get_keypoints(project, did, SCHEMA_OF.get(cat), origins=("human", "model", "fit"))
            kp = None if row is None else np.asarray(row.points, float)
        except Exception:  # no schema for this class in this project: no keypoints
            kp = None
        o = SceneObject(key=did, kind=KIND_OF.get(cat, cat), box=(x, y, mask.shape[1], mask.shape[0]), mask=mask,
                        rgba=rgba, keypoints=kp, track_id=tid, source_frame_id=int(dets.frame_id[k]), category=cat)
        if did in fits:
            tf, df = fits[did]
            v, f = mesh_fn(tf, df)
            o.mesh = Mesh.outward(v, f)
            o.contact_depth = contact_depth(camera, o.mesh.vertices)
            o.footprint = footprint(camera, o.mesh.vertices)
            o.pose = _pose(tf, df)
        elif camera is not None:
            o.contact_depth = box_contact_depth(camera, o.box)
        o.pose.update(source_frame_id=o.source_frame_id, category=cat)
        pools.setdefault((window, sp[tid]), []).append(o)
    return pools


# ---- one composite --------------------------------------------------------------------------------------------

@dataclass
class Made:
    image: np.ndarray
    objs: list[SceneObject]
    order: list[int]
    truth: list
    label: np.ndarray
    impossible: Impossible
    arrays: dict = field(default_factory=dict)


def compose(method: str, pool: Pool, background: np.ndarray, rng: np.random.Generator, s: CompositeSettings,
            running: np.ndarray, rctx: RenderContext | None = None, with_arrays: bool = True) -> Made:
    """Sample, order, paste and label one composite (no files)."""
    lo, hi = s.per_image()
    if method == "walt3d":
        ss = SampleSettings((lo, hi), s.margin_m, tuple(s.target), per_track=s.per_track)
        members = sample_walt3d(pool, rng, ss, running)
    else:
        members = sample_walt2d(pool, rng, int(rng.integers(lo, hi + 1)))
    objs = [pool.objs[i] for i in members]

    def relation(a, b):
        return pool.nearer(members[a], members[b])

    order = paste_order(method, objs, rng, rctx, relation)
    size = (background.shape[1], background.shape[0])
    label = label_map(size, objs, order)
    image = paste(background, objs, order, feather=s.feather_px, gain=s.gain)
    truth = pseudo_gt(objs, order, label)
    for t in truth:
        running[bucket(t.occlusion)] += 1
    made = Made(image, objs, order, truth, label, measure(objs, order, rctx, relation))
    if with_arrays and rctx is not None:
        if method == "walt3d":  # the 3D scene: the z-buffer of the fitted meshes agrees with the paste order
            depth, normal, _ = render_maps(rctx, [objs[i].mesh for i in order if objs[i].mesh is not None])
        else:  # WALT2D: the maps of the picture as pasted (each pixel the surface of the object on top there)
            depth, normal = pasted_maps(rctx, objs, order, label)
        made.arrays = {"depth": depth, "normal": normal, "instance": instance_map(label)}
    return made


# ---- the stage --------------------------------------------------------------------------------------------------

class Summary(dict):
    """What `make_composites` returns: a dict (JSON-able) with a one-line `summary()` for reports."""

    def summary(self) -> str:
        imp = self.get("impossible", {})
        text = f"{self['composites']} {self['method']} composites, {self['objects']} objects"
        if imp.get("pairs"):
            text += (f"; physically impossible pairs {imp['intersecting'] + imp['misordered']}/{imp['pairs']}"
                     f" ({100 * imp['pair_rate']:.1f} %)")
        hist = self.get("occlusion_histogram")
        if hist:
            text += f"; occlusion 0-20-40-60-80-100 %: {hist}"
        return text


def make_composites(project, method: str = "walt3d", n: int = 100, seed: int = 0, camera_id: int | None = None,
                    ctx: JobContext | None = None, *, clear: bool = False, settings: CompositeSettings | None = None,
                    mesh_fn=None) -> dict:
    """Make `n` composites per camera (all cameras, or one) and store them in one transaction. Returns a summary:
    counts, the impossible-configuration rates, the occlusion histogram and the settings."""
    from ..background import to_display
    from ..store.runs import recorded_run as recorded
    from ..store.composites import Composite, delete_composites, list_composites, save_composites
    from ..store.shard_merge import next_composite_id

    s = settings or CompositeSettings(method=method, n=n, seed=seed, camera_id=camera_id)
    s.check()
    ctx = ctx or silent()
    cams = [project.camera(s.camera_id)] if s.camera_id is not None else project.cameras()
    summary = Summary(method=s.method, composites=0, objects=0, by_camera={}, settings=asdict(s))
    total_imp = Impossible()
    hist = np.zeros(5, np.int64)
    with recorded(project, f"composite-{s.method}", asdict(s),
                  {"camera": s.camera_id} if s.camera_id is not None else {}) as rec:
        if clear:
            old = [c.id for c in list_composites(project, camera_id=s.camera_id, method=s.method)]
            for rel in delete_composites(project, old):
                (project.root / rel).unlink(missing_ok=True)
        written: list[Path] = []
        comps: list[Composite] = []
        try:
            next_id = next_composite_id(project)
            done = 0
            for cam in cams:
                camera = project.calibration(cam.id)
                rctx = RenderContext(camera) if camera is not None else None
                pools = load_pools(project, cam.id, s, mesh_fn, rctx, ctx)
                keys = sorted(k for k, v in pools.items() if v)
                if not keys:
                    why = ("no usable fitted objects: fit them first (walt3d fit vehicles / fit people)"
                           if s.method == "walt3d" else "no usable mined objects with a split")
                    summary["by_camera"][cam.name] = {"composites": 0, "why": why}
                    continue
                pool_of = {k: Pool(pools[k], rctx) for k in keys}
                running = np.zeros(5)  # per camera, so a camera's composites do not depend on the other shards
                weights = np.array([len(pools[k]) for k in keys], float)
                bgs: dict = {}
                imp = Impossible()
                folder = Path("composites") / _safe(cam.name) / s.method
                for k in range(s.n):
                    rng = np.random.default_rng([s.seed, cam.id, k])
                    key = keys[int(rng.choice(len(keys), p=weights / weights.sum()))]
                    if key[0] not in bgs:
                        bgs[key[0]] = to_display(project.load_background(cam.id, key[0]))
                    made = compose(s.method, pool_of[key], bgs[key[0]], rng, s, running, rctx, s.arrays)
                    imp.add(made.impossible)
                    cid = next_id + len(comps)
                    img_rel = folder / f"{cid}.png"
                    write_png(project.root / img_rel, made.image)
                    written.append(project.root / img_rel)
                    arr_rel = None
                    if made.arrays:
                        arr_rel = folder / f"{cid}.npz"
                        write_npz(project.root / arr_rel, made.arrays)
                        written.append(project.root / arr_rel)
                    comps.append(Composite(cam.id, key[1], s.method, s.seed, key[0], str(img_rel),
                                           None if arr_rel is None else str(arr_rel),
                                           objects=[_object(made, t) for t in made.truth]))
                    done += 1
                    ctx.progress(done, s.n * len(cams), f"composite {done}/{s.n * len(cams)} ({cam.name})")
                summary["by_camera"][cam.name] = {"composites": s.n, "impossible": imp.as_dict()}
                hist += running.astype(np.int64)
                total_imp.add(imp)
            ids = save_composites(project, comps, run_id=rec.id)
        except BaseException:
            for p in written:
                p.unlink(missing_ok=True)
            raise
        for comp, cid in zip(comps, ids):  # ids are predicted (single writer); rename if another writer interfered
            stem = Path(comp.image_path).stem
            if stem != str(cid):
                _rename_files(project, comp, cid)
        summary["composites"] = len(comps)
        summary["objects"] = sum(c.n_objects for c in comps)
        summary["impossible"] = total_imp.as_dict()
        summary["occlusion_histogram"] = hist.tolist()
        rec.counts.update(composites=len(comps), objects=summary["objects"], impossible_pairs=total_imp.impossible)
    return summary


def _object(made: Made, t) -> "CompositeObject":
    from ..store.composites import CompositeObject

    o = made.objs[t.index]
    kp = None if t.keypoints is None else [float(v) for v in np.asarray(t.keypoints).reshape(-1)]
    return CompositeObject(idx=t.idx, kind=o.kind, amodal_rle=t.amodal_rle, visible_rle=t.visible_rle,
                           amodal_box=t.amodal_box, visible_box=t.visible_box, occlusion=float(t.occlusion),
                           depth_rank=t.depth_rank, detection_id=o.key, track_id=o.track_id, keypoints=kp,
                           pose=dict(o.pose))


def _rename_files(project, comp, cid: int) -> None:
    from ..store.composites import rename_composite_files

    paths = {col: str(Path(getattr(comp, col)).with_name(f"{cid}{Path(getattr(comp, col)).suffix}"))
             for col in ("image_path", "arrays_path") if getattr(comp, col)}

    def move(col: str, new: str) -> None:
        (project.root / getattr(comp, col)).replace(project.root / new)
        setattr(comp, col, new)

    rename_composite_files(project, cid, paths, move)


def delete_all(project, camera_id: int | None = None, method: str | None = None) -> int:
    """Delete composites (rows and files); a person's rejections stay (they are labels)."""
    from ..store.composites import delete_composites, list_composites

    ids = [c.id for c in list_composites(project, camera_id=camera_id, method=method)]
    for rel in delete_composites(project, ids):
        (project.root / rel).unlink(missing_ok=True)
    return len(ids)
