"""A small project whose vehicle tracks come from the shape model at known poses (exact truth)."""
import json

import numpy as np
from pycocotools import mask as mask_utils

from walt3d_studio.reconstruct import vehicle_synth as syn
from walt3d_studio.store import Project


def build(tmp_path, camera, tracks, keypoints=True, calibrate=True, category="car"):
    """tracks: list of (SynthTrack, masks) from vehicle_synth.make_track. Detection ids are 1000 * track + f."""
    p = Project.create(tmp_path / "v")
    c = p.conn
    w, h = camera.image_size
    F = max(len(t.obs.times) for t, _ in tracks)
    with p.transaction():
        c.execute("INSERT INTO cameras (id, name, tz, width, height, created_at) VALUES (1, 'cam', 'UTC', ?, ?, 0)",
                  (w, h))
        c.execute("INSERT INTO sources (id, camera_id, kind, path, time_origin, n_frames, added_at)"
                  " VALUES (1, 1, 'images', 'p', 'fps', ?, 0)", (F,))
        c.executemany("INSERT INTO frames (id, camera_id, source_id, source_index, capture_time) VALUES (?, 1, 1, ?, ?)",
                      [(f + 1, f, float(tracks[0][0].obs.times[0] + f * (tracks[0][0].obs.times[1]
                                                                            - tracks[0][0].obs.times[0])))
                       for f in range(F)])
        for k, (tr, masks) in enumerate(tracks, start=1):
            n = len(tr.obs.times)
            c.execute("INSERT INTO tracks (id, camera_id, source_id, category, first_frame_id, last_frame_id,"
                      " n_detections, n_mined, created_at) VALUES (?, 1, 1, ?, 1, ?, ?, ?, 0)",
                      (k, category, n, n, n))
            for f in range(n):
                det = 1000 * k + f
                if masks is not None:
                    m = masks[f]
                    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                    rle["counts"] = rle["counts"].decode("ascii")
                    ys, xs = np.nonzero(m)
                    box = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
                    rle_text = json.dumps(rle)
                else:
                    px = tr.obs.points[f]
                    lo, hi = px.min(axis=0), px.max(axis=0)
                    box = (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1] + 10)
                    rle_text = None
                c.execute("INSERT INTO detections (id, frame_id, track_id, detector, category, score, x, y, w, h,"
                          " mask_rle, created_at) VALUES (?, ?, ?, 'synthetic', ?, 1, ?, ?, ?, ?, ?, 0)",
                          (det, f + 1, k, category, *map(float, box), rle_text))
                c.execute("INSERT INTO verdicts (detection_id, verdict, decided_by) VALUES (?, 'unoccluded', 'rule')",
                          (det,))
    if keypoints:
        from walt3d_studio.store.keypoints import import_human_keypoints

        items = []
        for k, (tr, _) in enumerate(tracks, start=1):
            for f in range(len(tr.obs.times)):
                pts = np.zeros((12, 3))
                m = tr.obs.weights[f] > 0
                pts[m, :2] = tr.obs.points[f, m]
                pts[m, 2] = np.where(tr.visible[f, m], 2, 1)
                items.append((1000 * k + f, "vehicle12", pts))
        import_human_keypoints(p, items, who="test")
    if calibrate:
        p.set_calibration(1, camera)
    return p


def tracks_for(camera, seed, n=2, **kw):
    rng = np.random.default_rng(seed)
    return [syn.make_track(camera, rng, **kw) for _ in range(n)]
