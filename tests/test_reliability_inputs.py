"""Hostile and broken input files, as the red-team pass fed them: every one is refused with where the problem is
(file:line or annotation), exit 2, nothing stored; never a traceback or a silently wrong value."""
import json

import numpy as np
import pytest

from test_keypoints_synth import synthetic_scene
from test_mining_scenes import Obj, make_project
from walt3d_studio.camera import Camera
from walt3d_studio.cli import main
from walt3d_studio.errors import BadInputError, CalibrationError
from walt3d_studio.mining.mine import MineSettings, mine
from walt3d_studio.store import keypoints as ks
from walt3d_studio.store.detections import detection_table

OBJS = [Obj("rect", (230, 40, 40), (60, 34), (30, 60), (6, 0), "car")]


@pytest.fixture
def scene(tmp_path):
    p, cam, _, _ = make_project(tmp_path, OBJS, 3)
    yield p, cam
    p.close()


def _import(p, cam, path):
    return mine(p, cam, MineSettings(detector="import", import_path=str(path)))


def _coco(tmp_path, **fields):
    a = {"image_id": 0, "category_id": 3, "bbox": [30, 60, 60, 34], "score": 0.9, **fields}
    path = tmp_path / "r.json"
    path.write_text(json.dumps([a]))
    return path


@pytest.mark.parametrize("fields, problem", [
    ({"score": float("nan")}, "score must be finite"),
    ({"score": "abc"}, "score must be a number"),
    ({"score": [1]}, "score must be a number"),
    ({"score": 1.5}, "score must be within 0..1"),
    ({"image_id": 1.5}, "image_id must be an integer"),
    ({"image_id": True}, "image_id must be an integer"),
    ({"bbox": [30, 60, float("inf"), 34]}, "bbox must be finite"),
    ({"category_id": [3]}, "category_id must be an integer"),
    ({"segmentation": {"size": [240, 320], "counts": [5, -3]}}, "RLE counts"),
])
def test_coco_detections_with_a_bad_field_import_nothing(scene, tmp_path, fields, problem):
    p, cam = scene
    with pytest.raises(BadInputError, match="malformed") as e:
        _import(p, cam, _coco(tmp_path, **fields))
    assert "#0" in str(e.value) and problem in str(e.value) and "Nothing was imported" in str(e.value)
    assert len(detection_table(p, camera_id=cam).id) == 0


@pytest.mark.parametrize("line, problem", [
    ("nan,1,30,60,60,34,0.9", "frame must be finite"),
    ("inf,1,30,60,60,34,0.9", "frame must be finite"),
    ("1.5,1,30,60,60,34,0.9", "frame must be an integer"),
    ("1,1,30,60,60,34,nan", "conf must be finite"),
    ("1," + "9" * 400 + ",30,60,60,34,0.9", "id"),
    ("1,1,30,60,60", "fewer than 6 values"),
])
def test_mot_rows_with_a_bad_value_are_named_by_line(scene, tmp_path, line, problem):
    p, cam = scene
    path = tmp_path / "m.txt"
    path.write_text("1,1,30,60,60,34,0.9\n" + line + "\n")
    with pytest.raises(BadInputError, match="line 2") as e:
        _import(p, cam, path)
    assert problem in str(e.value)
    assert len(detection_table(p, camera_id=cam).id) == 0


def test_carfusion_inf_and_huge_ids_are_reported_not_crashing():
    from walt3d_studio.dataset.carfusion import CarFusionReport, parse_carfusion

    rep = CarFusionReport()
    out = parse_carfusion("100,200,1,inf,1\n100,200,1," + "9" * 400 + ",1\n1,2,nan,1,1\n100,200,1,1,1\n", "a.txt", rep)
    assert list(out) == [1] and [n for _, n, _, _ in rep.issues] == [1, 2, 3]
    assert all("line left out" in m for m in rep.messages())


@pytest.mark.parametrize("change, problem", [
    (lambda d: d.update(K=[[1e300, 0, 240], [0, 1e300, 135], [0, 0, 1]]), "fx = 1e\\+300"),
    (lambda d: d.update(d=1e308), "above the ground"),
    (lambda d: d.update(image_size=[10 ** 400, 270]), "too large"),
    (lambda d: d.update(dist=[1e9, 0, 0, 0, 0]), "Field 'dist'"),
    (lambda d: d.update(K=[[420, 0, 1e7], [0, 420, 135], [0, 0, 1]]), "principal point"),
    (lambda d: d.update(provenance={"method": json.loads("[" * 200 + "]" * 200)}), "nested"),
])
def test_calibration_json_with_absurd_values_is_refused(tmp_path, change, problem):
    good = Camera.looking_at_ground((480, 270), 420.0, 30.0, 6.0).to_dict()
    change(good)
    path = tmp_path / "camera.json"
    path.write_text(json.dumps(good))
    with pytest.raises((CalibrationError, BadInputError), match=problem):
        Camera.load(path)


def test_calibration_json_nested_past_the_parser_is_refused(tmp_path, capsys):
    path = tmp_path / "camera.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(CalibrationError, match="nested too deeply"):
        Camera.load(path)
    site = tmp_path / "site.walt3d"
    assert main(["--quiet", "init", str(site), "--camera", "c"]) == 0
    assert main(["--quiet", "calibrate", str(site), "--load", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_vehicle_keypoints_on_a_person_detection_are_reported_not_stored(tmp_path):
    from walt3d_studio.dataset.keypoints_coco import export_keypoints, import_keypoints

    p, cam, dets, truth = synthetic_scene(tmp_path, 3)
    with p:
        for d in dets:
            ks.set_human_keypoints(p, d, truth[d])
        export_keypoints(p, tmp_path / "out" / "kp.json")
        doc = json.loads((tmp_path / "out" / "kp.json").read_text())
        for a in doc["annotations"]:
            a["keypoints"][0] += 5.0  # an edit the import would store
        (tmp_path / "out" / "kp.json").write_text(json.dumps(doc))
        p.conn.execute("UPDATE detections SET category = 'person' WHERE id = ?", (dets[0],))
        p.conn.execute("UPDATE detections SET category = 'other' WHERE id = ?", (dets[1],))
        p.conn.commit()
        before = {d: ks.human_keypoints(p, d).points.copy() for d in dets}
        summary = import_keypoints(p, tmp_path / "out" / "kp.json")
        assert summary.updated == 1
        assert sum("which is a 'person'; not stored" in m for m in summary.issues) == 1
        assert sum("which is a 'other'; not stored" in m for m in summary.issues) == 1
        assert np.array_equal(ks.human_keypoints(p, dets[0]).points, before[dets[0]])
        assert np.array_equal(ks.human_keypoints(p, dets[1]).points, before[dets[1]])
        assert not np.array_equal(ks.human_keypoints(p, dets[2]).points, before[dets[2]])


@pytest.mark.parametrize("field, value, problem", [
    ("keypoints", "abc", "keypoint value must be a number"),
    ("bbox", [0, 0, float("nan"), 1], "bbox must be finite"),
    ("id", 1.5, "id must be an integer"),
    ("walt3d", {"detection_id": True}, "walt3d.detection_id must be an integer"),
])
def test_coco_keypoints_with_a_bad_value_name_the_annotation(field, value, problem):
    from walt3d_studio.dataset.keypoints_coco import from_coco

    ann = {"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "keypoints": [1, 1, 2, 3, 3, 1]}
    if field == "keypoints":
        ann["keypoints"] = [1, 1, 2, value, 3, 1]
    else:
        ann[field] = value
    ds = {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
          "categories": [{"id": 1, "name": "vehicle", "keypoints": ["a", "b"], "skeleton": [[1, 2]]}],
          "annotations": [ann]}
    with pytest.raises(BadInputError, match=problem):
        from_coco(ds)


def test_labels_import_with_bad_fields_imports_nothing(tmp_path, capsys):
    site = tmp_path / "site.walt3d"
    assert main(["--quiet", "init", str(site), "--camera", "c"]) == 0
    doc = {"images": [{"id": 1, "walt3d": {"camera": "c", "source": "x", "source_index": 1.5,
                                           "frame_box": [0, 0, 1, 1]}}],
           "annotations": [{"id": 1, "image_id": 1, "occlusion_label": "U"}]}
    (tmp_path / "l.json").write_text(json.dumps(doc))
    assert main(["--quiet", "labels", "import", str(site), str(tmp_path / "l.json")]) == 2
    assert "source_index must be an integer" in capsys.readouterr().err


def test_detectors_weights_missing_is_not_available(tmp_path, capsys):
    assert main(["detectors", "--weights", str(tmp_path / "none.pth")]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("maskrcnn")][0]
    assert "unavailable: No weights file at" in line


@pytest.mark.slow  # imports torch
def test_detectors_weights_evil_is_not_available_and_never_suggests_unpickling(tmp_path, capsys):
    import pickle

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"x": object()}))  # what torch would only open by unpickling
    assert main(["detectors", "--weights", str(evil)]) == 0
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if x.startswith("maskrcnn")][0]
    assert "unavailable" in line and "evil.pth" in line
    assert "weights_only=False" not in out and "weights_only` set to `False" not in out


def test_torch_advice_to_unpickle_is_never_repeated():
    from walt3d_studio.validate import torch_load_problem

    torch_text = ("Weights only load failed. ... Re-running `torch.load` with `weights_only` set to `False` will "
                  "likely succeed, but it can result in arbitrary code execution.")
    msg = torch_load_problem(RuntimeError(torch_text))
    assert "False" not in msg and "never loaded" in msg
