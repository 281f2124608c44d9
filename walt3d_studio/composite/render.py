"""A small z-buffer rasteriser in numpy for the pseudo-groundtruth maps: depth (metres along camera z), normals
(camera frame) and which mesh is nearest at each pixel, over the camera's ground plane.

Why our own: it runs headless everywhere (no GL context), renders in the camera's real (distorted) pixel grid, and
is exact where it matters: a pixel's depth is the intersection of its own ray with the face's plane (so perspective
is right, and the ground is exactly z = -d / (nᵀ K⁻¹ p), DESIGN's formula). Pixels are sampled at integer
coordinates (pixel centres, DESIGN). Faces are culled when they face away from the camera (closed meshes with
outward winding: the nearest surface of a closed mesh always faces the camera), which halves the work.

Cost is proportional to the pixels the faces cover, not to the frame: all faces of all meshes are rasterised at
once as scanline spans (the exact run of pixel centres inside each face on each row, edges included), and the
nearest candidate per pixel wins through `np.minimum.at`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_CHUNK = 3_000_000  # candidate pixels per batch (bounds peak memory on huge faces)


class RenderContext:
    """Per-camera arrays reused by every render: each pixel's ray (z = 1, distortion removed) and the ground's
    depth and normal there. Build once per camera."""

    def __init__(self, camera):
        self.camera = camera
        w, h = camera.image_size
        self.size = (w, h)
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        rays = camera.rays(np.c_[xs.ravel(), ys.ravel()])
        self.rays = rays.reshape(h, w, 3)
        denom = rays @ camera.n
        with np.errstate(divide="ignore", invalid="ignore"):
            gz = np.where(denom < -1e-12, -camera.d / denom, np.nan)
        self.ground_depth = gz.reshape(h, w).astype(np.float32)        # NaN at and above the horizon
        normal = np.empty((h, w, 3), np.float16)
        normal[:] = camera.n.astype(np.float16)
        normal[np.isnan(self.ground_depth)] = np.nan
        self.ground_normal = normal
        self.ground_inf = np.where(np.isnan(gz), np.inf, gz).reshape(h, w)   # float64 z-buffer start
        self.ray_x = np.ascontiguousarray(rays[:, 0])                         # flat, for gathers
        self.ray_y = np.ascontiguousarray(rays[:, 1])


@dataclass(eq=False)
class Mesh:
    """Vertices in the camera frame (N, 3) and triangle faces (M, 3). Treat as immutable: its projected faces
    are cached per render context (an object is rendered in many composites)."""

    vertices: np.ndarray
    faces: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def outward(cls, vertices, faces) -> "Mesh":
        """Fix the winding so normals point out of a closed mesh (signed volume > 0), for back-face culling."""
        v = np.asarray(vertices, np.float64)
        f = np.asarray(faces, np.int64)
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        vol = np.einsum("ij,ij->i", a, np.cross(b, c)).sum()
        return cls(v, f[:, ::-1].copy() if vol < 0 else f)


@dataclass
class Raster:
    """What a render returns over its window (x0, y0, w, h): depth (NaN where nothing), the index of the nearest
    mesh (-1 for ground / nothing) and the camera-frame unit normal there."""

    window: tuple[int, int, int, int]
    depth: np.ndarray        # float32 (h, w)
    mesh_id: np.ndarray      # int32 (h, w)
    normal: np.ndarray       # float32 (h, w, 3), NaN where nothing


def _faces_2d(ctx: RenderContext, meshes: list[Mesh], cull: bool):
    """Projected corners, plane (normal, offset) and owning mesh of every face that can be seen."""
    pts, normals, offsets, owner = [], [], [], []
    for i, m in enumerate(meshes):
        key = cull
        if m._cache.get("ctx") is not ctx:     # projected for another camera (or never): start afresh
            m._cache = {"ctx": ctx}
        if key in m._cache:
            tri, nfk, offk = m._cache[key]
            pts.append(tri)
            normals.append(nfk)
            offsets.append(offk)
            owner.append(np.full(len(tri), i, np.int32))
            continue
        v, f = m.vertices, m.faces
        if len(f) == 0:
            continue
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        nf = np.cross(b - a, c - a)
        off = np.einsum("ij,ij->i", nf, a)            # plane: nf·X = off
        keep = np.linalg.norm(nf, axis=1) > 1e-15
        if cull:
            keep &= off < 0                            # facing the camera (which sits at the origin)
        px = ctx.camera.project(v)
        tri = px[f[keep]]                              # (k, 3, 2)
        ok = np.isfinite(tri).all(axis=(1, 2))
        m._cache[key] = (tri[ok], nf[keep][ok], off[keep][ok])
        pts.append(tri[ok])
        normals.append(nf[keep][ok])
        offsets.append(off[keep][ok])
        owner.append(np.full(int(ok.sum()), i, np.int32))
    if not pts:
        return np.zeros((0, 3, 2)), np.zeros((0, 3)), np.zeros(0), np.zeros(0, np.int32)
    return np.concatenate(pts), np.concatenate(normals), np.concatenate(offsets), np.concatenate(owner)


def rasterize(ctx: RenderContext, meshes: list[Mesh], window=None, ground: bool = True,
              cull: bool = True, normals: bool | str = True) -> Raster:
    """Render meshes (camera frame) over `window` (x0, y0, w, h; default the whole frame).

    With `ground`, the ground plane is drawn too: it hides mesh parts below it, and fills depth and normal
    where no mesh is (NaN above the horizon). `normals="float16"` returns them as float16 (the stored type)."""
    W, H = ctx.size
    x0, y0, ww, wh = window if window is not None else (0, 0, W, H)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(W, x0 + int(ww)), min(H, y0 + int(wh))
    ww, wh = max(0, x1 - x0), max(0, y1 - y0)
    if ground:
        zbuf = ctx.ground_inf[y0:y1, x0:x1].copy().ravel()   # a copy: the z-test writes into it
    else:
        zbuf = np.full(ww * wh, np.inf)
    fbuf = np.full(ww * wh, -1, np.int64)
    tri, nf, off, owner = _faces_2d(ctx, meshes, cull)
    if len(tri) and ww and wh:
        _spans(ctx, tri, nf, off, (x0, y0, x1, y1), zbuf, fbuf)
    fimg = fbuf.reshape(wh, ww)
    hit = fimg >= 0
    depth = zbuf.reshape(wh, ww).astype(np.float32)
    depth[np.isinf(depth)] = np.nan
    mesh_id = np.full((wh, ww), -1, np.int32)
    mesh_id[hit] = owner[fimg[hit]]
    dtype = np.float16 if normals == "float16" else np.float32
    if ground:
        normal = ctx.ground_normal[y0:y1, x0:x1].astype(dtype)
    else:
        normal = np.full((wh, ww, 3), np.nan, dtype)
    if normals and hit.any():
        unit = (nf / np.linalg.norm(nf, axis=1, keepdims=True)).astype(dtype)
        normal[hit] = unit[fimg[hit]]
    return Raster((x0, y0, ww, wh), depth, mesh_id, normal)


def _spans(ctx, tri, nf, off, win, zbuf, fbuf) -> None:
    """Scanline spans: for every (face, pixel row) the exact run of pixel centres inside the triangle, so the
    per-pixel work is only for covered pixels; then depth from each pixel's ray and a min z-test."""
    x0, y0, x1, y1 = win
    ww = x1 - x0
    ty = tri[:, :, 1]
    r0 = np.maximum(np.ceil(ty.min(1)), y0).astype(np.int64)
    r1 = np.minimum(np.floor(ty.max(1)), y1 - 1).astype(np.int64)
    nrow = np.maximum(r1 - r0 + 1, 0)
    live = np.flatnonzero(nrow)
    if not len(live):
        return
    nrow = nrow[live]
    f = np.repeat(live, nrow)
    within = np.arange(int(nrow.sum())) - np.repeat(np.cumsum(nrow) - nrow, nrow)
    y = (r0[live].repeat(nrow) + within).astype(np.float64)
    t = tri[f]
    lo = np.full(len(f), np.inf)
    hi = np.full(len(f), -np.inf)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        xa, ya, xb, yb = t[:, a, 0], t[:, a, 1], t[:, b, 0], t[:, b, 1]
        dy = yb - ya
        on = ((ya <= y) & (y <= yb)) | ((yb <= y) & (y <= ya))
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(dy != 0, xa + (y - ya) * (xb - xa) / np.where(dy != 0, dy, 1.0), np.minimum(xa, xb))
        xm = np.where(dy != 0, x, np.maximum(xa, xb))      # a horizontal edge spans both of its ends
        lo = np.where(on, np.minimum(lo, x), lo)
        hi = np.where(on, np.maximum(hi, xm), hi)
    c0 = np.maximum(np.ceil(lo - 1e-9), x0).astype(np.int64)
    c1 = np.minimum(np.floor(hi + 1e-9), x1 - 1).astype(np.int64)
    n = np.maximum(c1 - c0 + 1, 0)
    keep = n > 0
    f, y, c0, n = f[keep], y[keep].astype(np.int64), c0[keep], n[keep]
    start = 0
    ends = np.cumsum(n)
    while start < len(n):  # batches of spans bound peak memory on huge faces
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + _CHUNK, side="right")))
        nn = n[start:stop]
        ff = np.repeat(f[start:stop], nn)
        xx = np.repeat(c0[start:stop], nn) + (np.arange(int(nn.sum())) - np.repeat(np.cumsum(nn) - nn, nn))
        yy = np.repeat(y[start:stop], nn)
        flat = yy * ctx.size[0] + xx
        nv = nf[ff]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = off[ff] / (nv[:, 0] * ctx.ray_x[flat] + nv[:, 1] * ctx.ray_y[flat] + nv[:, 2])
        pix = (yy - y0) * ww + (xx - x0)
        ok = np.isfinite(z) & (z > 0)
        z, pix, ff = z[ok], pix[ok], ff[ok]
        np.minimum.at(zbuf, pix, z)
        win_ = z <= zbuf[pix]
        fbuf[pix[win_]] = ff[win_]
        start = stop


def render_maps(ctx: RenderContext, meshes: list[Mesh]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-frame (depth float32, normal float16 (H, W, 3), mesh index int32 (-1 = ground)) for a composite."""
    r = rasterize(ctx, meshes, normals="float16")
    return r.depth, r.normal, r.mesh_id


BILLBOARD_NORMAL = (0.0, 0.0, -1.0)  # a fronto-parallel plane, facing the camera


def pasted_maps(ctx: RenderContext, objs: list, order: list[int], label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full-frame (depth float32, normal float16 (H, W, 3)) of a composite *as pasted* (WALT2D's baselines).

    Each pixel shows the surface of the object the label map puts there -- the one pasted on top, whatever the 3D
    scene says -- so depth, normals and the instance map describe the same picture (DESIGN: depth is the ground
    plane's only where no object is). An object's surface is its own fitted mesh where the mesh covers its pasted
    pixels; elsewhere (no fit, or mask pixels outside the mesh) it is WALT's 2D assumption made explicit: a
    fronto-parallel billboard at the depth of its ground contact point (NaN when that lies above the horizon).
    Where the paste order contradicts 3D depth, the depth map shows the contradiction: a farther surface drawn
    over a nearer one."""
    depth = ctx.ground_depth.copy()
    normal = ctx.ground_normal.copy()
    H, W = label.shape
    for pos, i in enumerate(order):
        o = objs[i]
        x, y, bw, bh = o.box
        x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + bw), min(H, y + bh)
        if x1 <= x0 or y1 <= y0:
            continue
        seen = label[y0:y1, x0:x1] == pos
        if not seen.any():
            continue
        if o.mesh is not None:
            key = ("pasted_raster", id(ctx))
            r = o.cache.get(key)
            if r is None:  # an object is pasted in many composites: render its surface once per camera
                r = o.cache[key] = rasterize(ctx, [o.mesh], window=(x0, y0, x1 - x0, y1 - y0), ground=False,
                                             normals="float16")
            d, n = r.depth.copy(), r.normal.copy()
        else:
            d = np.full(seen.shape, np.nan, np.float32)
            n = np.full(seen.shape + (3,), np.nan, np.float16)
        hole = np.isnan(d) & seen
        if hole.any() and o.contact_depth is not None and np.isfinite(o.contact_depth):
            d[hole] = o.contact_depth
            n[hole] = BILLBOARD_NORMAL
        depth[y0:y1, x0:x1][seen] = d[seen]
        normal[y0:y1, x0:x1][seen] = n[seen]
    return depth, normal
