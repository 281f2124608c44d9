"""A project with exact 3D truth for the compositor's store-level tests: a calibrated camera, tracks of boxes
(vehicles) and cylinders (people) standing on the ground, each detection's mask and RGBA crop rendered from its
mesh, 3D fits holding the true poses, and a median background. `mesh_fn` turns those fits back into meshes (the
stand-in for reconstruct.meshes.mesh_in_camera in these tests)."""
import math

import numpy as np

from walt3d_studio.composite import synthetic
from walt3d_studio.composite.render import Mesh, RenderContext, rasterize
from walt3d_studio.mining.crops import write_png_rgba
from walt3d_studio.mining.detection import encode_local_mask
from walt3d_studio.store import Project
from walt3d_studio.store.detections import refresh_tracks
from walt3d_studio.store.fits import DetectionFit, TrackFit, save_track_fits

SIZE = (320, 180)
T0 = 1714550400.0 + 8 * 3600  # 2024-05-01 08:00 UTC


def camera():
    return synthetic.make_camera(SIZE, focal=250.0, pitch_deg=15.0, height_m=6.0)


def _object_mesh(kind, size):
    L, W, H = size
    return synthetic.box_mesh(L, W, H) if kind == "vehicle" else synthetic.cylinder_mesh(W / 2, H, 16)


def mesh_fn(tf, df):
    kind, *size = tf.shape["synthetic"]
    v, f = _object_mesh(kind, size)
    return v @ np.asarray(df.R).T + np.asarray(df.t), f


def _pose(cam, xy, yaw):
    Rw, tw = cam.world_to_cam()
    c, s = math.cos(yaw), math.sin(yaw)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return Rw @ Rz, Rw @ np.array([xy[0], xy[1], 0.0]) + tw


def build(root, n_tracks=12, seed=0, shared_frame=True, fits=True, days=1):
    """Returns the open project and {track_id: [(detection_id, frame_id, world xy), ...]}."""
    rng = np.random.default_rng(seed)
    cam = camera()
    ctx = RenderContext(cam)
    p = Project.create(root)
    c = p.conn
    truth = {}
    with p.transaction():
        c.execute("INSERT INTO cameras (id, name, tz, width, height, created_at) VALUES (1, 'synth', 'UTC', ?, ?, 0)",
                  SIZE)
        c.execute("INSERT INTO sources (id, camera_id, kind, path, time_origin, n_frames, added_at)"
                  " VALUES (1, 1, 'images', 'synthetic', 'fps', 100, 0)")
    p.set_calibration(1, cam)
    specs = synthetic.random_specs(rng, n_tracks, cam, min_gap=-10.0, spread=(9.0, 24.0))  # may intersect
    frame_id, det_id = 0, 0
    track_fits = []
    rows_f, rows_t, rows_d, rows_v = [], [], [], []
    for t, sp in enumerate(specs, start=1):
        kind = sp["kind"]
        size = (4.4, 1.8, 1.5) if kind == "vehicle" else (0.5, 0.5, 1.75)
        colour = np.array([(53 * t) % 200 + 40, (97 * t) % 200 + 40, (29 * t) % 200 + 40], np.uint8)
        rows_t.append((t, "car" if kind == "vehicle" else "person"))
        dets = []
        for k in range(3):
            xy = (sp["xy"][0] + 0.2 * k, sp["xy"][1])
            R, tt = _pose(cam, xy, sp["yaw"])
            v, f = _object_mesh(kind, size)
            mesh = Mesh.outward(v @ R.T + tt, f)
            sil = rasterize(ctx, [mesh], ground=False).mesh_id >= 0
            ys, xs = np.nonzero(sil)
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
            local = sil[y0:y1 + 1, x0:x1 + 1]
            rgba = np.zeros(local.shape + (4,), np.uint8)
            rgba[..., :3] = 100
            rgba[local, :3] = colour
            rgba[..., 3] = local * 255
            if shared_frame and t == 2 and k == 0:
                fid = rows_f[0][0]               # track 2's first object was seen in track 1's first frame
            else:
                frame_id += 1
                fid = frame_id
                rows_f.append((fid, fid - 1, T0 + 86400.0 * (t % days) + 60.0 * fid))
            det_id += 1
            rel = f"arrays/crops/cam1/{det_id}.png"
            write_png_rgba(p.root / rel, rgba)
            rle = encode_local_mask(local, int(x0), int(y0), *SIZE)
            import json

            rows_d.append((det_id, fid, t, rows_t[-1][1], float(x0), float(y0), float(x1 - x0 + 1),
                           float(y1 - y0 + 1), float(local.sum()), json.dumps(rle), rel))
            rows_v.append((det_id,))
            dets.append(DetectionFit(det_id, R=R, t=tt))
            truth.setdefault(t, []).append((det_id, fid, xy))
        track_fits.append(TrackFit(t, "vehicle" if kind == "vehicle" else "person", "synthetic",
                                   shape={"synthetic": [kind, *size]}, detections=dets))
    with p.transaction():
        c.executemany("INSERT INTO frames (id, camera_id, source_id, source_index, capture_time)"
                      " VALUES (?, 1, 1, ?, ?)", rows_f)
        c.executemany("INSERT INTO tracks (id, camera_id, source_id, category, created_at) VALUES (?, 1, 1, ?, 0)",
                      rows_t)
        c.executemany("INSERT INTO detections (id, frame_id, track_id, detector, category, score, x, y, w, h, area,"
                      " mask_rle, crop_path, created_at) VALUES (?, ?, ?, 'synthetic', ?, 1, ?, ?, ?, ?, ?, ?, ?, 0)",
                      rows_d)
        c.executemany("INSERT INTO verdicts (detection_id, verdict, decided_by) VALUES (?, 'unoccluded', 'rule')",
                      rows_v)
        refresh_tracks(c, [r[0] for r in rows_t])
    if fits:
        save_track_fits(p, track_fits)
    ys, xs = np.mgrid[0:SIZE[1], 0:SIZE[0]]
    bg = np.stack([60 + 0.3 * xs, 70 + 0.5 * ys, 80 + 0.2 * (xs + ys)], -1).astype(np.float32)
    p.save_background(1, "h08", bg, n_frames=10, first_time=T0, last_time=T0 + 3600,
                      settings={"hours_per_window": 1})
    return p, truth
