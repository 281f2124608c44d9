"""Export → validate round trip on synthetic composites with exact truth; refusal, rejections, cancel, CLI."""
import json

import h5py
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from export_scene import make_project
from walt3d_studio.cli import main
from walt3d_studio.dataset.arrays_h5 import annotation_arrays, image_arrays
from walt3d_studio.dataset.export import IGNORE_INSTANCE, export_dataset
from walt3d_studio.dataset.validate_dataset import validate_dataset
from walt3d_studio.errors import BadInputError, Cancelled
from walt3d_studio.jobs import JobContext
from walt3d_studio.store.composites import list_composites, set_rejected
from walt3d_studio.store.datasets import list_datasets


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path / "p.walt3d")
    yield p
    p.close()


def _load(ds, split):
    return json.loads((ds / "annotations" / f"{split}.json").read_text())


@pytest.mark.slow
def test_round_trip_fields_arrays_manifest(project, tmp_path):
    ds = tmp_path / "ds"
    s = export_dataset(project, ds)
    assert validate_dataset(ds) == []
    assert s["counts"]["total"] == {"images": 6, "annotations": 12}
    train = _load(ds, "train")
    cats = {c["name"]: c for c in train["categories"]}
    assert len(cats["vehicle"]["keypoints"]) == 12 and len(cats["person"]["keypoints"]) == 17
    assert cats["person"]["skeleton"] and min(min(e) for e in cats["person"]["skeleton"]) >= 1  # 1-based
    car, person = sorted(train["annotations"][:2], key=lambda a: a["category_id"])
    # the car is hidden by the person where the two rectangles overlap: exact truth from the scene
    amodal = mask_utils.decode(car["segmentation"]).astype(bool)
    visible = mask_utils.decode(car["visible_segmentation"]).astype(bool)
    assert amodal.sum() == 32 * 20 and visible.sum() == 32 * 20 - 10 * 20
    assert car["occlusion"] == pytest.approx(200 / 640) and car["area"] == 640 and car["visible_area"] == 440
    assert car["occluded_by"] == [person["id"]] and person["occluded_by"] == []
    assert (car["depth_rank"], person["depth_rank"]) == (1, 0)
    assert car["bbox"] == [8, 14, 32, 20] and car["visible_bbox"] == [8, 14, 22, 20]
    assert car["num_keypoints"] == 12 and car["track_id"] == 10
    assert car["walt3d"]["t"] == [0.0, 1.5, 12.0] and car["walt3d"]["camera"] == "cam1"
    assert person["walt3d"]["body_model"] == "proxy" and person["walt3d"]["source_frame_id"] == 100001
    with h5py.File(ds / "arrays" / "train.h5") as f:
        g = image_arrays(f, car["image_id"])
        inst, ids = g["instance"], list(g["instance_ann_ids"])
        assert f["images/48x64/depth"].compression == "gzip" and f["images/48x64/depth"].chunks == (1, 48, 64)
        assert ids[inst[20, 10]] == car["id"] and ids[inst[20, 35]] == person["id"] and inst[0, 0] == 0
        assert np.isnan(g["depth"][0, 0]) and g["depth"][20, 35] == 8.0
        car3d, person3d = annotation_arrays(f, car["id"]), annotation_arrays(f, person["id"])
        assert np.array_equal(car3d["R"], np.eye(3)) and "betas" not in car3d
        assert len(person3d["body_pose"]) == 69 and "R" not in person3d
    manifest = json.loads((ds / "manifest.json").read_text())
    import hashlib

    for rel, sha in manifest["files"].items():
        assert hashlib.sha256((ds / rel).read_bytes()).hexdigest() == sha, rel
    assert manifest["counts"]["splits"]["val"]["categories"] == {"vehicle": 2, "person": 2}
    assert manifest["seeds"] == [7, 8] and manifest["settings"]["blur"] == ["faces", "plates"]
    (row,) = list_datasets(project)
    assert row["path"] == str(ds) and row["counts"]["total"]["images"] == 6 and row["format"] == "coco-amodal"
    run = project.conn.execute("SELECT stage, status FROM runs WHERE id = ?", (row["run_id"],)).fetchone()
    assert tuple(run) == ("export", "done")


@pytest.mark.slow
def test_kins_names_rejections_and_force(project, tmp_path):
    ds = tmp_path / "ds"
    comps = list_composites(project, split="train")
    set_rejected(project, comps[0].id, None, True, "ann")       # whole composite out
    set_rejected(project, comps[1].id, 1, True, "ann")          # the person of the second one out
    export_dataset(project, ds, fmt="kins", blur="none", arrays=True)
    assert validate_dataset(ds) == []
    train = _load(ds, "train")
    assert len(train["images"]) == 1 and len(train["annotations"]) == 1
    (car,) = train["annotations"]
    assert {"a_segm", "i_segm", "a_bbox", "i_bbox", "a_area", "i_area"} <= set(car)
    assert "segmentation" not in car and car["occluded_by"] == []  # its occluder was rejected
    with h5py.File(ds / "arrays" / "train.h5") as f:
        inst = image_arrays(f, car["image_id"])["instance"]
    assert inst[20, 35] == IGNORE_INSTANCE and inst[20, 10] == 1
    # without blur the image is the composite, byte for byte
    src = project.root / comps[1].image_path
    assert (ds / train["images"][0]["file_name"]).read_bytes() == src.read_bytes()
    with pytest.raises(BadInputError, match="exists"):
        export_dataset(project, ds)
    export_dataset(project, ds, force=True, arrays=False)
    assert not (ds / "arrays").exists() and len(_load(ds, "train")["annotations"]) == 1
    assert validate_dataset(ds) == []


def test_cancel_midway_leaves_nothing(project, tmp_path):
    ds = tmp_path / "ds"
    seen = []

    def on_progress(done, total, msg):
        seen.append(done)
        if done == 3:
            ctx.cancel()

    ctx = JobContext(on_progress)
    with pytest.raises(Cancelled):
        export_dataset(project, ds, ctx=ctx, blur="none")
    assert not ds.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["p.walt3d"]
    assert max(seen) == 3
    assert project.conn.execute("SELECT status FROM runs WHERE stage = 'export'").fetchone()[0] == "cancelled"
    assert list_datasets(project) == []


def test_failure_leaves_nothing_and_bad_requests_refused(project, tmp_path):
    ds = tmp_path / "ds"
    comps = list_composites(project)
    (project.root / comps[-1].image_path).unlink()  # the last image goes missing: fail late
    with pytest.raises(BadInputError, match="missing"):
        export_dataset(project, ds, blur="none", arrays=False)
    assert not ds.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["p.walt3d"]
    with pytest.raises(BadInputError, match="format"):
        export_dataset(project, ds, fmt="voc")
    with pytest.raises(BadInputError, match="privacy"):
        export_dataset(project, ds, blur="eyes")
    with pytest.raises(BadInputError, match="no .*composites"):
        export_dataset(project, ds, methods=("walt2d",))


@pytest.mark.slow
def test_cli_export_validate_exit_codes(project, tmp_path, capsys):
    root = project.root
    project.close()
    ds = tmp_path / "ds"
    assert main(["--quiet", "export", str(root), str(ds), "--no-arrays", "--blur", "none"]) == 0
    assert "6 images" in capsys.readouterr().out
    assert main(["--quiet", "export", str(root), str(ds)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--quiet", "validate", str(ds)]) == 0
    (ds / "images" / "val" / "000003.png").unlink()
    assert main(["--quiet", "validate", str(ds)]) == 1
    assert "000003.png is missing" in capsys.readouterr().out


@pytest.mark.slow
def test_composites_without_arrays(tmp_path):
    """Composites without arrays (an uncalibrated camera): none at all -> no HDF5; some -> listed in the manifest."""
    p = make_project(tmp_path / "p.walt3d", arrays=False)
    s = export_dataset(p, tmp_path / "none", blur="none")
    assert s["arrays"] is False and not (tmp_path / "none" / "arrays").exists()
    assert validate_dataset(tmp_path / "none") == [] and "6 images (train 2, val 2, test 2)" in s.summary()
    p.close()
    p = make_project(tmp_path / "q.walt3d")
    first = list_composites(p)[0]
    with p.transaction() as c:
        c.execute("UPDATE composites SET arrays_path = NULL WHERE id = ?", (first.id,))
    s = export_dataset(p, tmp_path / "some", blur="none")
    manifest = json.loads((tmp_path / "some" / "manifest.json").read_text())
    assert manifest["images_without_arrays"] == [1] and s["images_without_arrays"] == 1
    assert validate_dataset(tmp_path / "some") == []
    p.close()
