"""Synthetic scenes with exact 3D truth, for tests and benchmarks: a known camera over a ground plane, vehicles as
boxes and people as upright cylinders with known poses, their masks rendered from the meshes, their pixels a flat
colour per object (so a pasted pixel says which object it came from).
"""
from __future__ import annotations

import math

import numpy as np

from .render import Mesh, RenderContext
from .scene import object_from_mesh


def make_camera(size=(1280, 720), focal: float = 1000.0, pitch_deg: float = 20.0, height_m: float = 6.0):
    from ..camera import Camera

    return Camera.looking_at_ground(size, focal, pitch_deg, height_m)


def box_mesh(length: float, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """A box standing on z = 0, centred on the origin in x, y: 8 vertices, 12 outward triangles."""
    x, y = length / 2, width / 2
    v = np.array([[sx * x, sy * y, z] for z in (0.0, height) for sy in (-1, 1) for sx in (-1, 1)], float)
    # vertex index = 4 * top + 2 * (y > 0) + (x > 0)
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    f = [(a, b, c) for a, b, c, d in quads] + [(a, c, d) for a, b, c, d in quads]
    return v, Mesh.outward(v, np.array(f)).faces


def cylinder_mesh(radius: float, height: float, sections: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """An upright closed cylinder standing on z = 0 (a person's stand-in), outward triangles."""
    ang = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    ring = np.c_[radius * np.cos(ang), radius * np.sin(ang)]
    v = np.vstack([np.c_[ring, np.zeros(sections)], np.c_[ring, np.full(sections, height)],
                   [[0, 0, 0], [0, 0, height]]])
    bc, tc = 2 * sections, 2 * sections + 1
    f = []
    for i in range(sections):
        j = (i + 1) % sections
        f += [(i, j, sections + j), (i, sections + j, sections + i), (bc, j, i), (tc, sections + i, sections + j)]
    return v, Mesh.outward(v, np.array(f)).faces


def _prism(camera, center_xy, yaw, length, width, height, kind: str, sections: int = 16):
    """A box (vehicle) or a 16-sided cylinder (person) standing on the ground, camera frame."""
    v, f = box_mesh(length, width, height) if kind == "vehicle" else cylinder_mesh(width / 2, height, sections)
    c, s = math.cos(yaw), math.sin(yaw)
    v = v @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + [center_xy[0], center_xy[1], 0]
    return Mesh.outward(camera.world_to_camera_points(v), f)


def box_keypoints(camera, mesh: Mesh) -> np.ndarray:
    """12 keypoints (v = 2) at the box's 8 corners and 4 mid-points of its top edges, projected."""
    v = mesh.vertices
    corners = v[:8] if len(v) == 8 else v[np.linspace(0, len(v) - 1, 8).astype(int)]
    top = corners[np.argsort(-(corners @ camera.n))[:4]]
    mids = (top + np.roll(top, 1, axis=0)) / 2
    px = camera.project(np.vstack([corners, mids]))
    return np.c_[px, np.full(len(px), 2.0)]


def scene(camera, specs, ctx: RenderContext | None = None, with_keypoints: bool = True):
    """SceneObjects from specs: dicts with kind ('vehicle'/'person'), xy (world metres), yaw, and optional
    size (length, width, height) and colour."""
    ctx = ctx or RenderContext(camera)
    objs = []
    for k, s in enumerate(specs):
        kind = s.get("kind", "vehicle")
        size = s.get("size", (4.4, 1.8, 1.5) if kind == "vehicle" else (0.5, 0.5, 1.75))
        mesh = _prism(camera, s["xy"], s.get("yaw", 0.0), *size, kind)
        colour = s.get("colour", ((37 * (k + 1)) % 256, (91 * (k + 1)) % 256, (151 * (k + 1)) % 256))
        o = object_from_mesh(camera, ctx, key=k + 1, kind=kind, mesh=mesh, rgb=colour, track_id=k + 1,
                             category="car" if kind == "vehicle" else "person")
        if with_keypoints:
            o.keypoints = box_keypoints(camera, mesh)
        objs.append(o)
    return objs


def random_specs(rng: np.random.Generator, n: int, camera, min_gap: float = 0.3, spread=(6.0, 28.0),
                 people: float = 0.3, max_tries: int = 2000) -> list[dict]:
    """n objects in view, in a ground band ahead of the camera, whose footprints are at least `min_gap` apart."""
    from shapely.geometry import Polygon

    R, _ = camera.world_to_cam()
    fwd = R.T @ np.array([0, 0, 1.0])      # optical axis in the world
    ang = math.atan2(fwd[1], fwd[0])
    out, polys = [], []
    for _ in range(max_tries):
        if len(out) == n:
            break
        dist = rng.uniform(*spread)
        lat = rng.uniform(-0.35, 0.35) * dist
        xy = (dist * math.cos(ang) - lat * math.sin(ang), dist * math.sin(ang) + lat * math.cos(ang))
        kind = "person" if rng.random() < people else "vehicle"
        yaw = float(rng.uniform(-math.pi, math.pi))
        L, W = (4.4, 1.8) if kind == "vehicle" else (0.5, 0.5)
        c, s = math.cos(yaw), math.sin(yaw)
        corners = [(xy[0] + c * a - s * b, xy[1] + s * a + c * b) for a, b in
                   ((L / 2, W / 2), (-L / 2, W / 2), (-L / 2, -W / 2), (L / 2, -W / 2))]
        p = Polygon(corners)
        if any(p.distance(q) < min_gap for q in polys):
            continue
        polys.append(p)
        out.append({"kind": kind, "xy": xy, "yaw": yaw})
    return out
