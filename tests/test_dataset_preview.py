"""Dataset preview pictures: visible masks tinted, amodal outline drawn, keypoints marked, at the right pixels."""
import json

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from walt3d_studio.dataset.preview import COLOURS, draw_layers, draw_samples


def _rle(m):
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def _ann(image_id=1):
    amodal = np.zeros((40, 60), bool)
    amodal[10:30, 10:40] = True
    visible = amodal.copy()
    visible[:, 25:] = False
    return {"id": 1, "image_id": image_id, "segmentation": _rle(amodal), "visible_segmentation": _rle(visible),
            "occlusion": 0.5, "keypoints": [12, 12, 2, 35, 20, 1] + [0, 0, 0] * 10}


def test_layers_at_known_pixels():
    img = np.zeros((40, 60, 3), np.uint8)
    out = draw_layers(img, [_ann()])
    red = np.array(COLOURS[0])
    assert np.allclose(out[20, 18], (0.45 * red).astype(np.uint8), atol=1)   # visible part tinted
    assert out[20, 29].sum() == 0                                              # hidden part not tinted...
    assert (out[10:31, 39:41] > 0).any()                                       # ...but outlined (amodal)
    assert tuple(out[12, 12]) == (255, 255, 255)                               # visible keypoint filled
    assert tuple(out[20, 35]) != (255, 255, 255)                               # occluded keypoint hollow
    assert out[0, 0].sum() == 0


def test_samples_from_an_exported_dataset(tmp_path):
    ds = tmp_path / "datasets" / "walt3d"
    (ds / "annotations").mkdir(parents=True)
    (ds / "images").mkdir()
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(ds / "images" / "a.png")
    coco = {"images": [{"id": 1, "file_name": "images/a.png", "width": 60, "height": 40}],
            "annotations": [_ann()], "categories": [{"id": 1, "name": "vehicle"}]}
    (ds / "annotations" / "test.json").write_text(json.dumps(coco))
    written = draw_samples(tmp_path / "datasets", tmp_path / "samples")
    assert [p.name for p, _ in written] == ["walt3d-1.png"] and "occlusion up to 50%" in written[0][1]
    assert np.asarray(Image.open(written[0][0])).shape == (40, 60, 3)
