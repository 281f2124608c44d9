"""The pseudo-groundtruth arrays of one split in one HDF5 file (DESIGN: gzip level 4, chunked per image).

Layout (images of one size are stacked, one chunk per image, so writing is one chunk per array per image
instead of a group and three datasets per image)::

    images/<H>x<W>/image_id          (n,) int64          the COCO image id of each row
    images/<H>x<W>/depth             (n, H, W) float32   metres along camera z, NaN above the horizon
    images/<H>x<W>/normal            (n, H, W, 3) float16 unit normals, camera frame
    images/<H>x<W>/instance          (n, H, W) uint16    0 background, k -> instance_ann_ids[row, k], 65535 ignore
    images/<H>x<W>/instance_ann_ids  (n, K) int64        annotation id of instance value k (column 0 = 0)
    annotations/id, image_id         (m,) int64          keyed by annotation id
    annotations/<field>              (m, ...) float32    R (m,3,3), t, shape_coeffs, global_orient, body_pose,
                                                          betas, transl, joints; NaN where an object lacks it

`image_arrays(f, image_id)` and `annotation_arrays(f, ann_id)` read one record back.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

IGNORE_INSTANCE = 65535
POSE_ARRAYS = ("R", "t", "shape_coeffs", "global_orient", "body_pose", "betas", "transl", "joints")
GZIP = 4


class ArraysWriter:
    """Collects one split's arrays; `n_max` images at most (rows are trimmed to the count written at close)."""

    def __init__(self, path: Path, n_max: int, k_max: int):
        import h5py

        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = h5py.File(path, "w")
        self.f.attrs["format"] = "walt3d-arrays"
        self.f.attrs["version"] = 2
        self.f.attrs["instance_ignore"] = IGNORE_INSTANCE
        self.n_max, self.k_max = max(1, n_max), k_max + 1
        self.groups: dict[tuple, dict] = {}
        self.anns: list[tuple[int, int, dict]] = []

    def _group(self, shape: tuple[int, int]) -> dict:
        g = self.groups.get(shape)
        if g is None:
            H, W = shape
            grp = self.f.create_group(f"images/{H}x{W}")
            kw = dict(compression="gzip", compression_opts=GZIP)
            g = {"row": 0, "grp": grp,
                 "depth": grp.create_dataset("depth", (self.n_max, H, W), np.float32, chunks=(1, H, W),
                                             maxshape=(None, H, W), **kw),
                 "normal": grp.create_dataset("normal", (self.n_max, H, W, 3), np.float16, chunks=(1, H, W, 3),
                                              maxshape=(None, H, W, 3), **kw),
                 "instance": grp.create_dataset("instance", (self.n_max, H, W), np.uint16, chunks=(1, H, W),
                                                maxshape=(None, H, W), **kw),
                 "ids": [], "inst_ids": []}
            self.groups[shape] = g
        return g

    def add_image(self, image_id: int, arrays: dict, ann_ids: list[int]) -> None:
        depth = np.asarray(arrays["depth"], np.float32)
        g = self._group(depth.shape)
        r = g["row"]
        g["depth"][r] = depth
        g["normal"][r] = np.asarray(arrays["normal"], np.float16)
        g["instance"][r] = np.asarray(arrays["instance"], np.uint16)
        g["ids"].append(image_id)
        row = np.zeros(self.k_max, np.int64)
        row[1:len(ann_ids) + 1] = ann_ids
        g["inst_ids"].append(row)
        g["row"] = r + 1

    def add_annotation(self, ann_id: int, image_id: int, pose: dict) -> None:
        self.anns.append((ann_id, image_id, {k: pose[k] for k in POSE_ARRAYS if pose.get(k) is not None}))

    def close(self) -> None:
        try:
            for g in self.groups.values():
                n = g["row"]
                for k in ("depth", "normal", "instance"):
                    g[k].resize(n, axis=0)
                g["grp"].create_dataset("image_id", data=np.asarray(g["ids"], np.int64))
                g["grp"].create_dataset("instance_ann_ids", data=np.asarray(g["inst_ids"], np.int64).reshape(n, -1))
            a = self.f.create_group("annotations")
            a.create_dataset("id", data=np.asarray([x[0] for x in self.anns], np.int64))
            a.create_dataset("image_id", data=np.asarray([x[1] for x in self.anns], np.int64))
            for k in POSE_ARRAYS:
                vals = [np.asarray(x[2][k], np.float32) if k in x[2] else None for x in self.anns]
                present = [v for v in vals if v is not None]
                if not present:
                    continue
                # ragged lengths (shape coefficients of different models) pad with NaN to the longest
                shape = max((v.shape for v in present), key=lambda s: int(np.prod(s)))
                out = np.full((len(vals),) + shape, np.nan, np.float32)
                for i, v in enumerate(vals):
                    if v is not None:
                        if v.shape == shape:
                            out[i] = v
                        else:
                            out[i].reshape(-1)[:v.size] = v.reshape(-1)
                a.create_dataset(k, data=out, compression="gzip", compression_opts=GZIP)
        finally:
            self.f.close()


def image_index(f) -> dict[int, tuple[str, int]]:
    """{image_id: (group name, row)} over every size group of an open file."""
    out = {}
    for name, g in f["images"].items():
        for row, iid in enumerate(g["image_id"][()]):
            out[int(iid)] = (name, row)
    return out


def image_arrays(f, image_id: int) -> dict:
    """{'depth', 'normal', 'instance', 'instance_ann_ids'} of one image."""
    name, row = image_index(f)[int(image_id)]
    g = f["images"][name]
    return {k: g[k][row] for k in ("depth", "normal", "instance", "instance_ann_ids")}


def annotation_arrays(f, ann_id: int) -> dict:
    """The 3D arrays of one annotation (fields it lacks are left out)."""
    a = f["annotations"]
    (row,) = np.nonzero(a["id"][()] == int(ann_id))[0][:1]
    out = {}
    for k in POSE_ARRAYS:
        if k in a:
            v = a[k][row]
            if not np.isnan(v).all():
                out[k] = v
    return out
