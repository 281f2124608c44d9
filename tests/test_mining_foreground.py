"""The built-in foreground detector on synthetic scenes with exact masks, and its size classes."""
from __future__ import annotations

import numpy as np
import pytest

from test_mining_scenes import Obj, make_project
from walt3d_studio.camera import Camera
from walt3d_studio.errors import BadInputError
from walt3d_studio.mining.detection import FrameInfo
from walt3d_studio.mining.foreground import ForegroundDetector, SizeClassifier
from walt3d_studio.mining.mine import mine
from walt3d_studio.mining.registry import RunInfo
from walt3d_studio.store.detections import detection_table, frame_detections, track_table


def _mask_iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def _run(project, cam, frames, **opts):
    det = ForegroundDetector(**opts)
    c = project.camera(cam)
    table = project.frame_table(cam)
    det.start(RunInfo(project, cam, c.width, c.height, None, table))
    out = []
    for i, f in enumerate(frames):
        info = FrameInfo(i, int(table.ids[i]), int(table.source_ids[i]), int(table.source_index[i]),
                         float(table.times[i]))
        out.append(det.detect(f, info))
    return out


SEPARATE = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
            Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person"),
            Obj("rect", (240, 240, 60), (30, 30), (150, 20), (0, 6), "other")]


@pytest.mark.parametrize("downsample", [1, 2])
def test_recall_and_masks_on_separate_objects(tmp_path, downsample):
    p, cam, frames, truth = make_project(tmp_path, SEPARATE, 10)
    try:
        found = _run(p, cam, frames, downsample=downsample)
    finally:
        p.close()
    for t, (dets, rows) in enumerate(zip(found, truth)):
        assert len(dets) == 3, f"frame {t}: {len(dets)} detections"
        for r in rows:
            best = max(_mask_iou(_full(d, frames[0].shape), r["visible"]) for d in dets)
            assert best > (0.95 if downsample == 1 else 0.85), f"frame {t}: mask IoU {best:.3f}"


def _full(d, shape):
    m = np.zeros(shape[:2], bool)
    x, y, w, h = d.int_box
    m[y:y + h, x:x + w] = d.local_mask()
    return m


def test_mining_tracks_each_object_once_and_marks_truncation(tmp_path):
    objs = SEPARATE + [Obj("rect", (60, 200, 60), (30, 40), (0, 196), (0, 0), "other")]  # on the left edge
    p, cam, frames, truth = make_project(tmp_path, objs, 10)
    with p:
        rep = mine(p, cam)
        assert rep.frames == 10 and rep.detections == 40
        dt = detection_table(p, camera_id=cam)
        table = p.frame_table(cam)
        pos = {int(f): i for i, f in enumerate(table.ids)}
        track_of_obj = {}
        for i in range(len(dt)):
            t = pos[int(dt.frame_id[i])]
            full = np.zeros((240, 320), bool)
            x, y, w, h = dt.box[i].astype(int)
            full[y:y + h, x:x + w] = True
            obj = max(range(len(objs)), key=lambda k: (truth[t][k]["visible"] & full).sum())
            track_of_obj.setdefault(obj, set()).add(int(dt.track_id[i]))
            assert (dt.rule_verdict[i] == "truncated") == truth[t][obj]["truncated"], (t, obj)
        assert all(len(s) == 1 for s in track_of_obj.values()) and len(track_of_obj) == 4
        tracks = track_table(p, cam)
        assert sorted(tracks.length) == [10, 10, 10, 10]
        assert tracks.usable.sum() == 3  # the truncated one is never mined
        # every mined detection has an RGBA crop whose alpha is its mask
        from walt3d_studio.mining.crops import read_png_rgba

        for d in frame_detections(p, int(table.ids[5])):
            if d["verdict"] == "unoccluded":
                crop = read_png_rgba(p.root / d["crop_path"])
                assert crop.shape == (int(d["box"][3]), int(d["box"][2]), 4)
                assert (crop[..., 3] > 0).sum() == d["area"]


def test_merged_blob_is_an_area_jump_and_not_mined(tmp_path):
    # A drives into B: from frame 6 on their masks touch and the foreground sees one blob
    objs = [Obj("rect", (220, 40, 40), (50, 30), (20, 100), (12, 0), "car"),
            Obj("ellipse", (40, 40, 200), (50, 44), (130, 96), (0, 0), "car")]
    p, cam, frames, truth = make_project(tmp_path, objs, 12)
    with p:
        mine(p, cam)
        dt = detection_table(p, camera_id=cam)
        merged = dt.area > 1.4 * min(o.size[0] * o.size[1] for o in objs)
        merged &= dt.box[:, 2] > 90
        assert merged.any()
        assert not np.any(dt.verdict[merged] == "unoccluded")
        assert set(dt.rule_verdict[merged]) <= {"rejected", "occluded"}
        # before touching, both objects were mined
        assert (dt.verdict == "unoccluded").sum() >= 6


def test_mining_without_background_is_a_clear_error(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, SEPARATE, 3, store_background=False)
    with p:
        with pytest.raises(BadInputError, match="no background yet") as e:
            mine(p, cam)
        assert "walt3d background" in e.value.hint
        assert p.conn.execute("SELECT COUNT(*) FROM detections").fetchone()[0] == 0
        assert p.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        crops = p.root / "arrays" / "crops"
        assert not crops.exists() or not any(f.is_file() for f in crops.rglob("*"))


def test_size_classes_metric_and_pixel():
    cam = Camera.looking_at_ground((640, 480), 600.0, 30.0, 6.0)
    sc = SizeClassifier(640, 480, cam)

    def blob(ground_xy_m, width_m, height_m, fill=0.8):
        # an upright box standing at world (x, y): its image box from the projected corners
        R, t = cam.world_to_cam()
        X = np.array([[ground_xy_m[0] + dx, ground_xy_m[1], z] for dx in (-width_m / 2, width_m / 2)
                      for z in (0.0, height_m)])
        px = cam.world_to_pixels(X)
        x0, y0 = px.min(axis=0)
        x1, y1 = px.max(axis=0)
        box = (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
        return box, fill * box[2] * box[3]

    # the ground point ~15 m ahead of the camera
    ahead = cam.pixels_to_ground_world(np.array([[320.0, 300.0]]))[0]
    box, area = blob(ahead, 0.5, 1.75)
    assert sc.classify(box, area)[0] == "person"
    box, area = blob(ahead, 4.5, 1.5)
    assert sc.classify(box, area)[0] == "car"
    box, area = blob(ahead, 0.3, 0.3)
    assert sc.classify(box, area)[0] == "other"
    px = SizeClassifier(640, 480, None)
    assert px.classify((100, 100, 12, 30), 300)[0] == "person"
    assert px.classify((100, 100, 120, 70), 7000)[0] == "car"
    assert px.classify((100, 100, 30, 30), 700)[0] == "other"


def test_calibrated_mining_uses_metric_classes(tmp_path):
    cam_model = Camera.looking_at_ground((320, 240), 300.0, 35.0, 8.0)
    objs = [Obj("rect", (220, 40, 40), (60, 30), (40, 150), (4, 0), "car"),
            Obj("rect", (40, 40, 200), (8, 20), (250, 120), (0, 1), "person")]
    p, cam, frames, truth = make_project(tmp_path, objs, 5)
    with p:
        p.set_calibration(cam, cam_model)
        mine(p, cam)
        tracks = track_table(p, cam)
        assert sorted(tracks.category) == ["car", "person"]
        dt = detection_table(p, camera_id=cam)
        assert len(dt) == 10


def test_automatic_exposure_change_is_not_foreground(tmp_path):
    # the camera darkens the whole view by 30 % (a bright car entered elsewhere): still only the objects
    p, cam, frames, truth = make_project(tmp_path, SEPARATE, 2)
    with p:
        dark = [np.clip(f.astype(np.float32) * np.array([0.7, 0.72, 0.68]), 0, 255).astype(np.uint8)
                for f in frames]
        found = _run(p, cam, dark)
        assert [len(d) for d in found] == [3, 3]
        # without it, the whole frame differs (shadows kept: a uniform darkening also passes the shadow test)
        plain = _run(p, cam, dark, exposure=False, shadows="keep")
        assert [len(d) for d in plain] != [3, 3]
