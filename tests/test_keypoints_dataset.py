"""COCO keypoint export/import round trips and CarFusion import (id and visibility mapping, reports)."""
import json

import numpy as np
import pytest
from PIL import Image

from test_keypoints_synth import synthetic_scene
from walt3d_studio.dataset.carfusion import format_carfusion, parse_carfusion, read_carfusion, write_carfusion
from walt3d_studio.dataset.keypoints_coco import (export_keypoints, external_datasets, from_coco, import_keypoints,
                                                  read_coco, to_coco)
from walt3d_studio.errors import BadInputError
from walt3d_studio.keypoints.data import external_samples
from walt3d_studio.keypoints.schema import joint_layout
from walt3d_studio.store import keypoints as ks


@pytest.fixture
def labelled(tmp_path):
    p, cam, dets, truth = synthetic_scene(tmp_path, 4)
    with p.transaction() as c:  # one detection without a stored crop: cut from its frame instead
        c.execute("UPDATE detections SET crop_path = NULL WHERE id = ?", (dets[3],))
    for i, d in enumerate(dets):
        kp = truth[d].copy()
        kp[i, 2] = 1            # one occluded point each
        kp[(i + 5) % 12] = 0    # and one absent
        ks.set_human_keypoints(p, d, kp, who="ann")
        truth[d] = kp
    yield p, dets, truth
    p.close()


def test_export_crops_loads_in_pycocotools_and_round_trips(labelled, tmp_path):
    from pycocotools.coco import COCO

    p, dets, truth = labelled
    out = tmp_path / "export" / "train.json"
    s = export_keypoints(p, out)
    assert (s.images, s.annotations, s.from_frames) == (4, 4, 1)
    coco = COCO(str(out))
    cat = coco.loadCats(coco.getCatIds())[0]
    assert cat["keypoints"][0] == "Right_Front_wheel" and len(cat["keypoints"]) == 12
    assert [1, 3] in cat["skeleton"] and min(min(e) for e in cat["skeleton"]) == 1   # 1-based
    for d in dets:
        ann = coco.loadAnns([d])[0]
        img = coco.loadImgs([ann["image_id"]])[0]
        x0, y0 = img["walt3d"]["crop_origin"]
        kp = np.array(ann["keypoints"], float).reshape(-1, 3)
        lab = truth[d][:, 2] > 0
        np.testing.assert_allclose(kp[lab, :2] + [x0, y0], truth[d][lab, :2], atol=1e-9)
        assert np.array_equal(kp[:, 2], truth[d][:, 2]) and np.all(kp[~lab, :2] == 0)
        assert ann["num_keypoints"] == int(lab.sum()) == 11
        im = np.asarray(Image.open(out.parent / img["file_name"]))
        assert im.shape[:2] == (img["height"], img["width"])
    # the file round-trips through our codec without change
    data = json.loads(out.read_text())
    again = to_coco(from_coco(data))
    assert again | {"info": data["info"]} == data
    # importing it back is a no-op; after the labels are cleared it restores them exactly
    assert import_keypoints(p, out).unchanged == 4
    for d in dets:
        ks.clear_human_keypoints(p, d)
    r = import_keypoints(p, out, who="me")
    assert (r.updated, r.unchanged, r.external) == (4, 0, 0)
    for d in dets:
        row = ks.human_keypoints(p, d)
        assert np.array_equal(row.points, truth[d]) and row.who == "me"


def test_export_frames(labelled, tmp_path):
    p, dets, truth = labelled
    out = tmp_path / "frames_export" / "all.json"
    s = export_keypoints(p, out, images="frames")
    data = json.loads(out.read_text())
    assert s.images == 4 and {im["file_name"] for im in data["images"]} == {f"images/cam1_{i}.jpg" for i in range(1, 5)}
    for ann in data["annotations"]:
        d = ann["walt3d"]["detection_id"]
        assert np.array_equal(np.array(ann["keypoints"], float).reshape(-1, 3), truth[d])
    assert import_keypoints(p, out).unchanged == 4


def test_bad_coco_files_are_reported(tmp_path):
    ds = {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
          "categories": [{"id": 1, "name": "vehicle", "keypoints": ["a", "b"], "skeleton": [[1, 2]]}],
          "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5],
                           "keypoints": [1, 1, 2, 3, 3, 3]}]}
    with pytest.raises(BadInputError, match=r"annotation\(s\) have keypoint visibility other than 0, 1, 2: 7 \(v=3\)"):
        from_coco(ds)
    ds["annotations"][0]["keypoints"] = [1, 1, 2]
    with pytest.raises(BadInputError, match="annotation 7 has 3 keypoint values"):
        from_coco(ds)
    ds["annotations"][0]["keypoints"] = [1, 1, 2, 3, 3, 1]
    parsed = from_coco(ds)   # an unknown keypoint category becomes its own schema (skeleton back to 0-based)
    assert parsed.schemas["vehicle"].skeleton == ((0, 1),) and parsed.annotations[0].keypoints[1, 2] == 1
    (tmp_path / "x.json").write_text('{"images": []')
    with pytest.raises(BadInputError, match="Cannot read x.json as JSON"):
        read_coco(tmp_path / "x.json")
    with pytest.raises(BadInputError, match="is not a COCO file"):
        from_coco({"foo": 1})


CARFUSION = """\
100,200,1,1,1
110,210,2,1,2
120,220,9,1,1
130,230,10,1,1
140,240,13,1,2
150,250,14,1,1
300.5,400.25,8,2,1
310,410,11,2,3
320,420,12,2,0
oops
330,430,15,2,1
"""


def test_carfusion_mapping_and_reports():
    from walt3d_studio.dataset.carfusion import CarFusionReport

    rep = CarFusionReport()
    inst = parse_carfusion(CARFUSION, "seq/gt/a.txt", rep)
    a, b = inst[1], inst[2]
    assert a[0].tolist() == [100, 200, 2] and a[1].tolist() == [110, 210, 1]   # vis 1 -> v 2, vis 2 -> v 1
    assert a[8].tolist() == [130, 230, 2] and a[11].tolist() == [140, 240, 1]  # ids 10, 13 -> 8, 11
    assert int((a[:, 2] > 0).sum()) == 4 and b[7].tolist() == [300.5, 400.25, 2]
    assert b[9, 2] == 0 and b[10, 2] == 0                                      # unknown visibility: left out
    assert rep.dropped == {"Exhaust": 1, "Center": 1} and rep.points == 5
    msgs = rep.messages()
    assert any(m.startswith("seq/gt/a.txt:8: visibility 3 is neither") for m in msgs)
    assert any(m.startswith("seq/gt/a.txt:9: visibility 0 is neither") for m in msgs)
    assert any(m.startswith("seq/gt/a.txt:10: not 'x,y,kp_id") for m in msgs)
    assert any(m.startswith("seq/gt/a.txt:11: keypoint id 15") for m in msgs)
    assert len(msgs) == 4
    # ours -> CarFusion text -> ours is exact
    again = parse_carfusion(format_carfusion(inst))
    assert all(np.array_equal(again[k], inst[k]) for k in inst)


def test_carfusion_folder_imports_as_training_data(tmp_path):
    from test_keypoints_synth import make_project

    root = tmp_path / "carfusion"
    for seq in ("car_craig1", "car_fifth1"):
        (root / seq / "gt").mkdir(parents=True)
        (root / seq / "images_jpg").mkdir()
        (root / seq / "gt" / "01_0001.txt").write_text(CARFUSION)
        Image.new("RGB", (640, 480)).save(root / seq / "images_jpg" / "01_0001.jpg")
    (root / "car_fifth1" / "images_jpg" / "01_0001.jpg").unlink()  # one image missing
    ds, rep = read_carfusion(root)
    assert len(ds.images) == 2 and len(ds.annotations) == 4 and len(rep.issues) == 8
    a = ds.annotations[0]
    assert a.extra["group"] == "car_craig1" and ds.images[0].width == 640
    x, y, w, h = a.bbox                                                 # labelled extent + 10% per side
    assert (x, y, w, h) == pytest.approx((96, 196, 48, 48))
    # write back as CarFusion and read again: the same keypoints
    write_carfusion(ds, tmp_path / "cf_out" / "seq")
    ds2, _ = read_carfusion(tmp_path / "cf_out")
    assert np.array_equal(ds2.annotations[0].keypoints, a.keypoints)

    p, cam, frames, _ = make_project(tmp_path, 1)
    with p:
        r = import_keypoints(p, root, carfusion=True)
        assert (r.updated, r.external, r.missing_images) == (0, 2, 2)
        assert any("visibility 3" in m for m in r.issues) and any("not found" in m for m in r.issues)
        (name, ext, image_root), = external_datasets(p)
        assert name == "carfusion" and len(ext.annotations) == 2
        samples = external_samples(p, joint_layout("vehicle12"))
        assert len(samples) == 2 and samples[0].group == "ext:carfusion:car_craig1"
        s = samples[0]
        lab = s.keypoints[:, 2] > 0
        crop_pts = s.crop.to_frame(s.keypoints[lab, :2])
        np.testing.assert_allclose(crop_pts, a.keypoints[a.keypoints[:, 2] > 0, :2])


def test_custom_schema_file_works_with_store_and_export(tmp_path):
    p, cam, dets, truth = synthetic_scene(tmp_path, 2)
    f = tmp_path / "tri.json"
    f.write_text(json.dumps({"name": "tri", "category": "vehicle", "keypoints": ["a", "b", "c"],
                             "skeleton": [["a", "b"], ["b", "c"]], "flip_pairs": [["a", "c"]]}))
    pts = np.array([[50, 60, 2], [70, 80, 1], [0, 0, 0]], float)
    ks.set_human_keypoints(p, dets[0], pts, schema=f)
    assert ks.human_keypoints(p, dets[0]).schema == "tri"           # the name now resolves in the project
    ks.set_human_keypoints(p, dets[0], pts + [1, 1, 0])               # schema taken from the earlier row
    out = tmp_path / "tri_export" / "tri.json"
    export_keypoints(p, out, schemas=("tri",))
    data = json.loads(out.read_text())
    assert data["categories"][0]["keypoints"] == ["a", "b", "c"] and data["categories"][0]["skeleton"] == [[1, 2], [2, 3]]
    assert data["annotations"][0]["num_keypoints"] == 2
    ks.clear_human_keypoints(p, dets[0])
    assert import_keypoints(p, out).updated == 1
    expected = np.array([[51, 61, 2], [71, 81, 1], [0, 0, 0]], float)   # absent points are stored as 0, 0, 0
    assert np.array_equal(ks.human_keypoints(p, dets[0], schema="tri").points, expected)
    p.close()


def test_crops_are_placed_in_their_frames(tmp_path):
    """Crops carrying `walt3d_crop`, crops written as mining does (exactly the box's pixels, no metadata), and
    anything else (cut from the frame instead) all give the same frame pixels at the same frame points."""
    from walt3d_studio.keypoints.data import CropSource, write_crop
    from walt3d_studio.mining.detection import Detection, rgba_crop

    p, cam, dets, truth = synthetic_scene(tmp_path, 1)
    reader = p.frame_reader(cam)
    frame = reader.frame(0)
    reader.close()
    det = ks.detection(p, dets[0])
    box = (det.box[0] + 0.3, det.box[1] + 0.6, det.box[2], det.box[3])   # not on whole pixels
    rgba = rgba_crop(frame, Detection("car", 1.0, box))
    write_crop(p.root / "a.png", rgba, 0, 0)                                       # wrong placement on purpose
    Image.fromarray(rgba).save(p.root / "mining.png")
    Image.fromarray(rgba[1:]).save(p.root / "odd.png")
    with p.transaction() as c:
        c.execute("UPDATE detections SET x = ?, y = ? WHERE id = ?", (box[0], box[1], det.id))
    pt = np.array([[det.box[0] + 20.0, det.box[1] + 10.0]])
    with CropSource(p) as src:
        for rel, from_frame in (("crops/det_f1.png", False), ("mining.png", False), ("odd.png", True)):
            with p.transaction() as c:
                c.execute("UPDATE detections SET crop_path = ? WHERE id = ?", (rel, det.id))
            n = src.from_frames
            crop = src.crop(ks.detection(p, det.id))
            assert src.from_frames == n + from_frame
            (cx, cy), = crop.to_crop(pt).astype(int)
            assert np.array_equal(crop.image[cy, cx, :3], frame[int(pt[0, 1]), int(pt[0, 0])])
        with p.transaction() as c:
            c.execute("UPDATE detections SET crop_path = 'a.png' WHERE id = ?", (det.id,))
        crop = src.crop(ks.detection(p, det.id))
        assert (crop.x0, crop.y0) == (0, 0)   # the recorded placement wins
    p.close()
