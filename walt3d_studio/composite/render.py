"""A small z-buffer rasteriser in numpy for the pseudo-groundtruth maps: depth (metres along camera z), normals
(camera frame) and which mesh is nearest at each pixel, over the camera's ground plane.

Why our own: it runs headless everywhere (no GL context), renders in the camera's real (distorted) pixel grid, and
is exact where it matters: a pixel's depth is the intersection of its own ray with the face's plane (so perspective
is right, and the ground is exactly z = -d / (nᵀ K⁻¹ p), DESIGN's formula). Pixels are sampled at integer
coordinates (pixel centres, DESIGN). Faces are culled when they face away from the camera (closed meshes with
outward winding: the nearest surface of a closed mesh always faces the camera), which halves the work.

Cost is proportional to the pixels covered by the faces' bounding boxes, not to the frame: all faces of all meshes
are rasterised at once with vectorised edge functions; the nearest candidate per pixel wins via one sort.
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Mesh:
    """Vertices in the camera frame (N, 3) and triangle faces (M, 3)."""

    vertices: np.ndarray
    faces: np.ndarray

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
        pts.append(tri[ok])
        normals.append(nf[keep][ok])
        offsets.append(off[keep][ok])
        owner.append(np.full(int(ok.sum()), i, np.int32))
    if not pts:
        return np.zeros((0, 3, 2)), np.zeros((0, 3)), np.zeros(0), np.zeros(0, np.int32)
    return np.concatenate(pts), np.concatenate(normals), np.concatenate(offsets), np.concatenate(owner)


def rasterize(ctx: RenderContext, meshes: list[Mesh], window=None, ground: bool = True,
              cull: bool = True) -> Raster:
    """Render meshes (camera frame) over `window` (x0, y0, w, h; default the whole frame).

    With `ground`, the ground plane is drawn too: it hides mesh parts below it, and fills depth and normal
    where no mesh is (NaN above the horizon)."""
    W, H = ctx.size
    x0, y0, ww, wh = window if window is not None else (0, 0, W, H)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(W, x0 + int(ww)), min(H, y0 + int(wh))
    ww, wh = max(0, x1 - x0), max(0, y1 - y0)
    if ground:
        zbuf = ctx.ground_depth[y0:y1, x0:x1].astype(np.float64)
        zbuf = np.where(np.isnan(zbuf), np.inf, zbuf).ravel()
    else:
        zbuf = np.full(ww * wh, np.inf)
    fbuf = np.full(ww * wh, -1, np.int64)
    tri, nf, off, owner = _faces_2d(ctx, meshes, cull)
    if len(tri) and ww and wh:
        bx0 = np.maximum(np.ceil(tri[:, :, 0].min(1)), x0).astype(np.int64)
        bx1 = np.minimum(np.floor(tri[:, :, 0].max(1)), x1 - 1).astype(np.int64)
        by0 = np.maximum(np.ceil(tri[:, :, 1].min(1)), y0).astype(np.int64)
        by1 = np.minimum(np.floor(tri[:, :, 1].max(1)), y1 - 1).astype(np.int64)
        bw, bh = bx1 - bx0 + 1, by1 - by0 + 1
        live = np.flatnonzero((bw > 0) & (bh > 0))
        counts = (bw * bh)[live]
        # batches of faces, each at most ~_CHUNK candidate pixels (a single face may exceed it)
        ends = np.cumsum(counts)
        start = 0
        while start < len(live):
            base = ends[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, base + _CHUNK, side="right")))
            _batch(ctx, live[start:stop], counts[start:stop], tri, nf, off, bx0, by0, bw, (x0, y0, ww), zbuf, fbuf)
            start = stop
    depth = np.where(np.isinf(zbuf), np.nan, zbuf).astype(np.float32).reshape(wh, ww)
    fimg = fbuf.reshape(wh, ww)
    mesh_id = np.full((wh, ww), -1, np.int32)
    hit = fimg >= 0
    mesh_id[hit] = owner[fimg[hit]]
    normal = np.full((wh, ww, 3), np.nan, np.float32)
    if ground:
        normal[:] = ctx.ground_normal[y0:y1, x0:x1]
    if hit.any():
        n = nf[fimg[hit]]
        normal[hit] = n / np.linalg.norm(n, axis=1, keepdims=True)
    return Raster((x0, y0, ww, wh), depth, mesh_id, normal)


def _batch(ctx, faces, counts, tri, nf, off, bx0, by0, bw, win, zbuf, fbuf) -> None:
    x0, y0, ww = win
    total = int(counts.sum())
    fid = np.repeat(faces, counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(total, dtype=np.int64) - first
    width = bw[fid]
    x = bx0[fid] + k % width
    y = by0[fid] + k // width
    t = tri[fid]
    px, py = x.astype(np.float64), y.astype(np.float64)
    # edge functions: inside when all three have the sign of the triangle's area (edges count as inside)
    e0 = (t[:, 1, 0] - t[:, 0, 0]) * (py - t[:, 0, 1]) - (t[:, 1, 1] - t[:, 0, 1]) * (px - t[:, 0, 0])
    e1 = (t[:, 2, 0] - t[:, 1, 0]) * (py - t[:, 1, 1]) - (t[:, 2, 1] - t[:, 1, 1]) * (px - t[:, 1, 0])
    e2 = (t[:, 0, 0] - t[:, 2, 0]) * (py - t[:, 2, 1]) - (t[:, 0, 1] - t[:, 2, 1]) * (px - t[:, 2, 0])
    inside = ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))
    fid, x, y = fid[inside], x[inside], y[inside]
    ray = ctx.rays[y, x]                                         # (n, 3), z = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        z = off[fid] / np.einsum("ij,ij->i", nf[fid], ray)       # depth along z of the ray meeting the plane
    pix = (y - y0) * ww + (x - x0)
    keep = np.isfinite(z) & (z > 0) & (z < zbuf[pix])
    z, pix, fid = z[keep], pix[keep], fid[keep]
    order = np.argsort(z, kind="stable")                         # nearest first, then the first per pixel
    pix, z, fid = pix[order], z[order], fid[order]
    _, first = np.unique(pix, return_index=True)                 # stable: index of each pixel's nearest
    zbuf[pix[first]] = z[first]
    fbuf[pix[first]] = fid[first]


def render_maps(ctx: RenderContext, meshes: list[Mesh]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-frame (depth float32, normal float16 (H, W, 3), mesh index int32 (-1 = ground)) for a composite."""
    r = rasterize(ctx, meshes)
    return r.depth, r.normal.astype(np.float16), r.mesh_id
