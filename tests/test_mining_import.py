"""Importing detections computed elsewhere (COCO results JSON, MOT txt), and its clear errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from test_mining_scenes import Obj, coco_results, make_project, write_json
from walt3d_studio.errors import BadInputError
from walt3d_studio.mining.crops import crop_file, read_png_rgba
from walt3d_studio.mining.detection import decode_rle
from walt3d_studio.mining.mine import MineSettings, mine
from walt3d_studio.store.detections import detection_table, frame_detections, label_detections

OBJS = [Obj("rect", (230, 40, 40), (60, 34), (30, 60), (6, 0), "car"),
        Obj("ellipse", (40, 40, 220), (14, 40), (220, 140), (-3, 0), "person")]


def _import(p, cam, path, **kw):
    return mine(p, cam, MineSettings(detector="import", import_path=str(path)), **kw)


def test_coco_results_with_rle_masks_round_trip_exactly(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 5)
    with p:
        results = coco_results(truth, 320, 240, OBJS)
        rep = _import(p, cam, write_json(tmp_path / "r.json", results))
        assert rep.detections == len(results) == 10 and rep.tracks == 2
        dt = detection_table(p, camera_id=cam)
        assert sorted(set(dt.category)) == ["car", "person"]
        assert np.allclose(dt.score, 0.99)
        fid = int(p.frame_table(cam).ids[2])
        for d in frame_detections(p, fid):
            m = decode_rle(d["rle"])
            obj = 0 if d["category"] == "car" else 1
            assert np.array_equal(m, truth[2][obj]["visible"])
            x, y, w, h = d["box"]  # the mask's box
            rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            assert (x, y, w, h) == (cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)
        # crops of the mined ones are made from the frames (decoded only for that)
        mined = dt.verdict == "unoccluded"
        assert mined.sum() == 10
        crop = read_png_rgba(p.root / dt.crop_path[mined][0])
        assert crop.shape[2] == 4


def test_coco_dataset_with_polygons_matched_by_file_name(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 3)
    with p:
        names = sorted(f.name for f in (tmp_path / "scene_frames").iterdir())
        images = [{"id": 100 + i, "file_name": f"some/dir/{n}", "width": 320, "height": 240}
                  for i, n in enumerate(names)]
        anns = []
        for i in range(3):
            x = 30 + 6 * i
            anns.append({"id": i, "image_id": 100 + i, "category_id": 7, "bbox": [x, 60, 60, 34], "score": 0.95,
                         "segmentation": [[x, 60, x + 59, 60, x + 59, 93, x, 93]]})
        doc = {"images": images, "annotations": anns, "categories": [{"id": 7, "name": "Vehicle"}]}
        rep = _import(p, cam, write_json(tmp_path / "d.json", doc))
        assert rep.detections == 3
        dt = detection_table(p, camera_id=cam)
        assert list(dt.category) == ["car"] * 3
        assert list(dt.source_index) == [0, 1, 2]
        assert np.all(dt.area > 0.9 * 60 * 34)


def test_mot_boxes(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 4)
    with p:
        lines = ["# frame,id,x,y,w,h,conf,x,y,z"]
        for t in range(4):
            lines.append(f"{t + 1},7,{220 - 3 * t},140,14,40,-1,-1,-1,-1")
            lines.append(f"{t + 1},8,{30 + 6 * t},60,60,34,0.5,-1,-1,-1")
        (tmp_path / "det.txt").write_text("\n".join(lines) + "\n")
        rep = _import(p, cam, tmp_path / "det.txt")
        assert rep.detections == 8 and rep.tracks == 2
        dt = detection_table(p, camera_id=cam)
        assert set(dt.category) == {"person"}
        assert sorted(set(np.round(dt.score, 2))) == [0.5, 1.0]
        assert set(dt.rule_verdict[dt.score < 0.9]) == {"rejected"}  # below mine_score
        mined = dt.verdict == "unoccluded"
        crop = read_png_rgba(p.root / dt.crop_path[mined][0])
        assert crop.shape == (40, 14, 4) and np.all(crop[..., 3] == 255)  # box only: fully opaque


@pytest.mark.parametrize("case", ["missing_frame", "missing_name", "mask_size", "bad_box", "not_json", "mot_frame"])
def test_bad_detection_files_are_refused_and_nothing_is_lost(tmp_path, case):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 3)
    with p:
        mine(p, cam)  # a first, good run with a human label on it
        before = detection_table(p, camera_id=cam)
        label_detections(p, before.id[:1], "O", who="ann")
        good = coco_results(truth, 320, 240, OBJS)
        if case == "missing_frame":
            bad = good + [dict(good[0], image_id=17)]
            path, match = write_json(tmp_path / "x.json", bad), "refer to frames this camera does not have: index 17"
        elif case == "missing_name":
            doc = {"images": [{"id": 1, "file_name": "elsewhere.png"}], "annotations": [dict(good[0], image_id=1)]}
            path, match = write_json(tmp_path / "x.json", doc), "elsewhere.png"
        elif case == "mask_size":
            wrong = dict(good[1])
            wrong["segmentation"] = {"size": [241, 320], "counts": good[1]["segmentation"]["counts"]}
            path, match = write_json(tmp_path / "x.json", good + [wrong]), "not 320x240"
        elif case == "bad_box":
            path, match = write_json(tmp_path / "x.json", [{"image_id": 0, "bbox": [1, 2, -3, 4]}]), "malformed"
        elif case == "not_json":
            (tmp_path / "x.json").write_text("{not json")
            path, match = tmp_path / "x.json", "not valid JSON"
        else:
            (tmp_path / "x.txt").write_text("1,1,10,10,5,5,1\n9,1,10,10,5,5,1\n")
            path, match = tmp_path / "x.txt", "frame 9"
        with pytest.raises(BadInputError, match=match):
            _import(p, cam, path, replace=True)
        after = detection_table(p, camera_id=cam)
        assert np.array_equal(after.id, before.id)
        assert after.label[0] == "O"
        assert p.conn.execute("SELECT COUNT(*) FROM runs WHERE status != 'done'").fetchone()[0] == 0
        crops = {crop_file(c) for c in after.crop_path if c}
        on_disk = {str(f.relative_to(p.root)) for f in (p.root / "arrays" / "crops").rglob("*") if f.is_file()}
        assert on_disk == crops


def test_missing_file(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 2)
    with p, pytest.raises(BadInputError, match="No detections file"):
        _import(p, cam, tmp_path / "nope.json")
