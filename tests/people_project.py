"""A small project whose person tracks are the proxy body at known positions (exact truth), with masks."""
import json

import numpy as np
from pycocotools import mask as mask_utils

from people_synth import person_track, render_masks
from walt3d_studio.store import Project


def build(tmp_path, camera, specs, calibrate=True, seed=0, n=12, name="p"):
    """specs: list of dicts for person_track (walking, height, ...). Detection ids are 1000 * track + frame."""
    rng = np.random.default_rng(seed)
    tracks = []
    for spec in specs:
        dets, truth = person_track(camera, rng, n=n, **spec)
        truth["masks"] = render_masks(camera, dets, truth["params"], truth["shape"])
        tracks.append((dets, truth))
    p = Project.create(tmp_path / name)
    c = p.conn
    w, h = camera.image_size
    with p.transaction():
        c.execute("INSERT INTO cameras (id, name, tz, width, height, created_at) VALUES (1, 'cam', 'UTC', ?, ?, 0)",
                  (w, h))
        c.execute("INSERT INTO sources (id, camera_id, kind, path, time_origin, n_frames, added_at)"
                  " VALUES (1, 1, 'images', 'p', 'fps', ?, 0)", (n,))
        c.executemany("INSERT INTO frames (id, camera_id, source_id, source_index, capture_time)"
                      " VALUES (?, 1, 1, ?, ?)", [(f + 1, f, tracks[0][0][f].time) for f in range(n)])
        for k, (dets, truth) in enumerate(tracks, start=1):
            c.execute("INSERT INTO tracks (id, camera_id, source_id, category, first_frame_id, last_frame_id,"
                      " n_detections, n_mined, created_at) VALUES (?, 1, 1, 'person', 1, ?, ?, ?, 0)",
                      (k, n, n, n))
            for f, (d, m) in enumerate(zip(dets, truth["masks"])):
                rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                rle["counts"] = rle["counts"].decode("ascii")
                d.detection_id = 1000 * k + f
                c.execute("INSERT INTO detections (id, frame_id, track_id, detector, category, score, x, y, w, h,"
                          " mask_rle, created_at) VALUES (?, ?, ?, 'synthetic', 'person', 1, ?, ?, ?, ?, ?, 0)",
                          (d.detection_id, f + 1, k, *map(float, d.box), json.dumps(rle)))
                c.execute("INSERT INTO verdicts (detection_id, verdict, decided_by) VALUES (?, 'unoccluded', 'rule')",
                          (d.detection_id,))
    if calibrate:
        p.set_calibration(1, camera)
    return p, tracks
