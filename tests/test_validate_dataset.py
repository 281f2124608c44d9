"""`walt3d validate` catches each kind of damage to an exported dataset (one corruption per check)."""
import json
import re
import shutil

import h5py
import pytest
from pycocotools import mask as mask_utils

from export_scene import H, W, make_project, rect, rle
from walt3d_studio.dataset.export import export_dataset
from walt3d_studio.dataset.validate_dataset import validate_dataset


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("v")
    p = make_project(root / "p.walt3d")
    export_dataset(p, root / "ds", blur="none")
    p.close()
    return root / "ds"


@pytest.fixture
def ds(clean, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(clean, out)
    return out


def _edit(ds, split, fn):
    path = ds / "annotations" / f"{split}.json"
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def _car(data):
    return next(a for a in data["annotations"] if a["category_id"] == 1)


def _visible_outside(d):
    a = _car(d)
    m = mask_utils.decode(a["visible_segmentation"]).astype(bool) | rect(0, 40, 4, 44)  # 16 px outside
    a["visible_segmentation"] = rle(m)
    a["occlusion"] = 1 - m.sum() / a["area"]


def _kp_off(d):
    a = _car(d)
    a["keypoints"][0:3] = [35.0, 30.0, 2]  # under the person: hidden, yet marked visible


def _track_leak(d):
    d["annotations"][0]["track_id"] = 10  # a train track


def _frame_leak(d):
    d["annotations"][0]["walt3d"]["source_frame_id"] = 100000  # a train source frame


def _dup_ann(d):
    d["annotations"][1]["id"] = 1  # train's first annotation id


CASES = {
    "load": lambda ds: (ds / "annotations" / "val.json").write_text("{\"images\": [1, 2"),
    "visible⊆amodal": lambda ds: _edit(ds, "train", _visible_outside),
    "occlusion": lambda ds: _edit(ds, "train", lambda d: _car(d).update(occlusion=_car(d)["occlusion"] + 0.05)),
    "ids": lambda ds: _edit(ds, "val", _dup_ann),
    "images": lambda ds: _edit(ds, "test", lambda d: d["images"][0].update(width=W + 1)),
    "arrays": lambda ds: _drop_h5_image(ds),
    "splits": lambda ds: _edit(ds, "val", _track_leak),
    "splits ": lambda ds: _edit(ds, "test", _frame_leak),
    "keypoints": lambda ds: _edit(ds, "train", _kp_off),
    "instances": lambda ds: _shift_instance(ds),
    "masks": lambda ds: _edit(ds, "train", lambda d: _car(d).update(segmentation=rle(rect(0, 0, 5, 5)[:H - 1]))),
}


def _shift_instance(ds):
    with h5py.File(ds / "arrays" / "test.h5", "a") as f:
        inst = f["images/48x64/instance"]
        m = inst[0]
        m[20, 2] = m[20, 12]  # a background pixel now claims to be the car's
        inst[0] = m


def _drop_h5_image(ds):
    with h5py.File(ds / "arrays" / "val.h5", "a") as f:
        ids = f["images/48x64/image_id"]
        ids[0] = 999  # the first image's arrays now claim to be another image's


def test_clean_dataset_is_valid(clean):
    assert validate_dataset(clean) == []


@pytest.mark.parametrize("check", list(CASES))
def test_each_corruption_is_caught(ds, check):
    CASES[check](ds)
    problems = validate_dataset(ds)
    tags = {re.match(r"\[(.*?)\]", p).group(1) for p in problems}
    assert check.strip() in tags, problems


def test_walt2d_twins_export_with_their_arrays(tmp_path):
    """WALT2D composites carry maps too (the picture as pasted): exported beside WALT3D's, they validate."""
    p = make_project(tmp_path / "p.walt3d", twins=True)
    out = export_dataset(p, tmp_path / "ds", blur="none", methods=("walt3d", "walt2d"))
    p.close()
    assert out["images_without_arrays"] == 0 and out["counts"]["total"]["images"] == 12
    assert validate_dataset(tmp_path / "ds") == []
    with h5py.File(tmp_path / "ds" / "arrays" / "train.h5") as f:
        assert len(f["images/48x64/image_id"]) == 4


def test_missing_image_file(ds):
    (ds / "images" / "train" / "000002.png").unlink()
    assert validate_dataset(ds) == ["[images] train: image 2 file images/train/000002.png is missing"]
