"""Exports under faults: a full disk or a stale temporary in the way leaves the previous export whole and no
temporary behind; names from the project never make a writer leave its folder."""
import errno
import json
import pathlib
import time

import numpy as np
import pytest

from test_keypoints_synth import synthetic_scene
from test_mining_scenes import Obj, make_project
from walt3d_studio.cli import main
from walt3d_studio.mining.labels_dataset import export_labels
from walt3d_studio.mining.mine import mine
from walt3d_studio.store import keypoints as ks
from walt3d_studio.store.detections import detection_table, label_detections

OBJS = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
        Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person")]


def _snapshot(folder: pathlib.Path) -> dict:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def _temporaries(folder: pathlib.Path) -> list:
    return [f for f in folder.rglob("*") if ".tmp" in f.name or f.name.endswith(".old")]


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def labelled(tmp_path):
    p, cam, _, _ = make_project(tmp_path, OBJS, 4)
    mine(p, cam)
    t = detection_table(p, camera_id=cam)
    label_detections(p, t.id[:3].tolist(), "O", who="alice")
    yield p, cam
    p.close()


def test_labels_export_failing_at_the_json_keeps_the_old_export_whole(labelled, tmp_path, monkeypatch):
    p, cam = labelled
    out = tmp_path / "exp"
    out.mkdir()
    assert export_labels(p, out / "labels.json") == 3
    before = _snapshot(out)
    t = detection_table(p, camera_id=cam)
    label_detections(p, t.id[3:6].tolist(), "U", who="bob")  # the next export would have 6 crops
    monkeypatch.setattr(pathlib.Path, "write_text", _enospc)
    with pytest.raises(OSError):
        export_labels(p, out / "labels.json")
    assert _snapshot(out) == before and _temporaries(tmp_path) == []
    doc = json.loads((out / "labels.json").read_text())
    assert all((out / im["file_name"]).is_file() for im in doc["images"])


def test_labels_export_failing_at_a_crop_and_through_the_cli(labelled, tmp_path, monkeypatch, capsys):
    p, cam = labelled
    out = tmp_path / "exp"
    assert export_labels(p, out / "labels.json") == 3
    before = _snapshot(out)
    import walt3d_studio.mining.labels_dataset as ld

    calls = []
    real_write = ld._write_crop

    def write_then_fail(path, png):
        calls.append(path)
        if len(calls) > 1:
            _enospc()
        return real_write(path, png)

    root = str(p.root)
    p.close()
    monkeypatch.setattr(ld, "_write_crop", write_then_fail)
    assert main(["--quiet", "labels", "export", root, str(out / "labels.json")]) == 2
    err = capsys.readouterr().err
    assert "disk is full" in err and "Traceback" not in err
    assert _snapshot(out) == before and _temporaries(tmp_path) == []


def test_stale_temporaries_from_a_killed_export_do_not_get_in_the_way(labelled, tmp_path):
    p, cam = labelled
    out = tmp_path / "exp"
    (out / "labels.json.tmp").mkdir(parents=True)            # what the old code's killed runs left
    (out / "labels_crops.tmp").mkdir()
    (out / ".labels.json.abc123.tmp").write_text("half")     # and a killed run of this one
    (out / ".labels_crops.def456.tmp").mkdir()
    (out / ".labels_crops.def456.tmp" / "1.png").write_bytes(b"x")
    assert export_labels(p, out / "labels.json") == 3
    doc = json.loads((out / "labels.json").read_text())
    assert len(doc["images"]) == 3 and all((out / im["file_name"]).is_file() for im in doc["images"])
    assert not (out / ".labels.json.abc123.tmp").exists() and not (out / ".labels_crops.def456.tmp").exists()


def test_a_swap_killed_half_way_gets_the_old_export_back(tmp_path):
    from walt3d_studio.atomic import remove_stale

    (tmp_path / ".labels_crops.x1.old").mkdir()
    (tmp_path / ".labels_crops.x1.old" / "7.png").write_bytes(b"old")
    remove_stale(tmp_path / "labels_crops")
    assert (tmp_path / "labels_crops" / "7.png").read_bytes() == b"old"


@pytest.fixture
def keypointed(tmp_path):
    p, cam, dets, truth = synthetic_scene(tmp_path, 4)
    for d in dets:
        ks.set_human_keypoints(p, d, truth[d])
    yield p, cam, dets
    p.close()


def test_keypoint_export_failing_on_an_image_keeps_the_old_export(keypointed, tmp_path, monkeypatch):
    from PIL import Image

    from walt3d_studio.dataset.keypoints_coco import export_keypoints

    p, cam, dets = keypointed
    out = tmp_path / "kp"
    export_keypoints(p, out / "kp.json")
    before = _snapshot(out)
    assert len(before) == 5  # kp.json and 4 crops
    real_save = Image.Image.save
    calls = []

    def save_then_fail(self, fp, *a, **k):
        calls.append(fp)
        if len(calls) == 3:
            _enospc()
        return real_save(self, fp, *a, **k)

    monkeypatch.setattr(Image.Image, "save", save_then_fail)
    with pytest.raises(OSError):
        export_keypoints(p, out / "kp.json", images="frames")
    assert _snapshot(out) == before and _temporaries(tmp_path) == []


def test_a_camera_named_to_climb_out_cannot_make_an_export_leave_its_folder(keypointed, tmp_path):
    from walt3d_studio.dataset.keypoints_coco import export_keypoints

    p, cam, dets = keypointed
    # A name stored before names were checked (or written into the database by hand).
    p.conn.execute("UPDATE cameras SET name = '../../ESCAPED' WHERE id = ?", (cam,))
    p.conn.commit()
    out = tmp_path / "deep" / "er" / "kp"
    summary = export_keypoints(p, out / "kp.json", images="frames")
    assert summary.images == 4
    written = sorted(f.name for f in (out / "images").iterdir())
    assert len(written) == 4 and all(n.startswith("_.._ESCAPED_") for n in written)
    assert not list(tmp_path.rglob("ESCAPED*")) and not list(tmp_path.rglob("*ESCAPED_*.jpg"))[4:]
    doc = json.loads((out / "kp.json").read_text())
    assert all((out / im["file_name"]).resolve().parent == (out / "images").resolve() for im in doc["images"])


def test_path_under_refuses_what_resolves_outside(tmp_path):
    from walt3d_studio.errors import BadInputError
    from walt3d_studio.validate import path_under, safe_file_part

    assert path_under(tmp_path, "a", "b.png") == (tmp_path / "a" / "b.png").resolve()
    for bad in ("../x.png", "/etc/passwd", "a/../../x"):
        with pytest.raises(BadInputError, match="outside"):
            path_under(tmp_path / "a", bad)
    assert "/" not in safe_file_part("../../x") and safe_file_part("..") == "_"


def test_occluder_mask_for_a_camera_without_frames_is_refused_and_a_wrong_size_one_is_not_used(tmp_path):
    from walt3d_studio.errors import BadInputError
    from walt3d_studio.store import Project
    from walt3d_studio.store.detections import set_static_occluder, static_occluder

    with Project.create(tmp_path / "p") as p:
        cam = p.add_camera("c", "UTC")
        with pytest.raises(BadInputError, match="no frames yet"):
            set_static_occluder(p, cam, np.ones((100, 100), bool))
        assert static_occluder(p, cam) is None
        p.conn.execute("UPDATE cameras SET width = 48, height = 27 WHERE id = ?", (cam,))
        p.conn.commit()
        set_static_occluder(p, cam, np.ones((27, 48), bool))
        assert static_occluder(p, cam).shape == (27, 48)
        p.conn.execute("UPDATE cameras SET width = 480, height = 270 WHERE id = ?", (cam,))  # frames of another size
        p.conn.commit()
        with pytest.raises(BadInputError, match="is 48x27 but camera 'c' has 480x270"):
            static_occluder(p, cam)


def test_a_keypoint_schema_name_cannot_climb_out_of_the_schemas_folder(tmp_path):
    from walt3d_studio.errors import BadInputError
    from walt3d_studio.keypoints.schema import load_schema, save_schema, schema_from_dict

    d = load_schema("vehicle12").to_dict()
    for name in ("../../evil", "a/b", ".hidden", "x\\y"):
        with pytest.raises(BadInputError, match="becomes a file name"):
            schema_from_dict({**d, "name": name})
    s = schema_from_dict({**d, "name": "vehicle12 custom"})
    assert save_schema(s, tmp_path / "schemas").parent == (tmp_path / "schemas").resolve()
