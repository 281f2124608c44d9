"""One object ready to be pasted: its pixels (RGBA crop), amodal mask over its box, keypoints, and -- when it has a
3D fit -- its mesh in the camera frame, ground-contact depth and ground footprint. The compositor's other modules
(sampling, order, visibility, paste) work on lists of these and never touch the store.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .render import Mesh, RenderContext, rasterize


@dataclass(eq=False)
class SceneObject:
    key: int                          # detection id (unique within a pool)
    kind: str                         # vehicle / person
    box: tuple[int, int, int, int]    # x0, y0, w, h of the local mask / crop (the amodal mask's box)
    mask: np.ndarray                  # bool (h, w): the object's whole mined mask (amodal)
    rgba: np.ndarray | None = None    # uint8 (h, w, 4) RGB of the source frame over the box, alpha = mask
    keypoints: np.ndarray | None = None   # (K, 3) COCO triplets, full-frame pixels
    mesh: Mesh | None = None          # camera frame
    contact_depth: float | None = None    # camera z of the ground point below the object
    footprint: object | None = None   # shapely polygon, world xy (metres)
    track_id: int | None = None
    source_frame_id: int | None = None
    category: str = ""
    pose: dict = field(default_factory=dict)
    _depth: np.ndarray | None = field(default=None, repr=False)
    cache: dict = field(default_factory=dict, repr=False)   # per-object results reused across composites

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def bottom(self) -> int:
        """The last image row of the box (WALT2D-bottom pastes by this)."""
        return self.box[1] + self.box[3] - 1

    def depth_map(self, ctx: RenderContext | None) -> np.ndarray | None:
        """The object's own mesh depth over its box (NaN where the mesh does not cover), cached: pairs in many
        composites compare it at their overlap pixels."""
        if self.mesh is None or ctx is None:
            return None
        if self._depth is None:
            self._depth = rasterize(ctx, [self.mesh], window=self.box, ground=False).depth
            if self._depth.shape != self.mask.shape:  # box partly outside the frame: pad to the mask's shape
                full = np.full(self.mask.shape, np.nan, np.float32)
                x0, y0 = max(0, -self.box[0]), max(0, -self.box[1])
                full[y0:y0 + self._depth.shape[0], x0:x0 + self._depth.shape[1]] = self._depth
                self._depth = full
        return self._depth


def contact_depth(camera, vertices_cam: np.ndarray) -> float:
    """Camera z of the ground point below the mesh's centroid (DESIGN: paste order by ground-contact depth)."""
    c = np.asarray(vertices_cam, float).mean(axis=0)
    g = c - (camera.n @ c + camera.d) * camera.n
    return float(g[2])


def footprint(camera, vertices_cam: np.ndarray):
    """The mesh's ground footprint: convex hull of its vertices dropped onto the ground, world xy (shapely)."""
    from shapely.geometry import MultiPoint

    xy = camera.camera_to_world_points(np.asarray(vertices_cam, float))[:, :2]
    return MultiPoint([tuple(p) for p in xy]).convex_hull


def box_contact_depth(camera, box) -> float | None:
    """Without a fit: the ground depth under the box's bottom-centre pixel (the paper's z_b), or None above the
    horizon."""
    x, y, w, h = box
    z = camera.ground_depth(np.array([[x + (w - 1) / 2.0, y + h - 1.0]]))[0]
    return None if not np.isfinite(z) else float(z)


def object_from_mesh(camera, ctx: RenderContext, key: int, kind: str, mesh: Mesh, rgb=None, **extra) -> SceneObject:
    """An object whose mask is its mesh's silhouette (synthetic scenes: exact truth). `rgb` is a colour or an
    (H, W, 3) image to take the pixels from."""
    r = rasterize(ctx, [mesh], ground=False)
    sil = r.mesh_id >= 0
    rows, cols = np.flatnonzero(sil.any(1)), np.flatnonzero(sil.any(0))
    if rows.size == 0:
        raise ValueError("the mesh is not in view")
    x0, y0, x1, y1 = cols[0], rows[0], cols[-1], rows[-1]
    mask = sil[y0:y1 + 1, x0:x1 + 1]
    rgba = np.zeros(mask.shape + (4,), np.uint8)
    if rgb is not None:
        rgb = np.asarray(rgb, np.uint8)
        rgba[..., :3] = rgb[y0:y1 + 1, x0:x1 + 1] if rgb.ndim == 3 else rgb
    rgba[..., 3] = mask * 255
    obj = SceneObject(key=key, kind=kind, box=(int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)), mask=mask,
                      rgba=rgba, mesh=mesh, contact_depth=contact_depth(camera, mesh.vertices),
                      footprint=footprint(camera, mesh.vertices), **extra)
    obj._depth = r.depth[y0:y1 + 1, x0:x1 + 1]
    return obj
