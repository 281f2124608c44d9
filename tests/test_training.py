"""Training and evaluation by occlusion level on a tiny dataset with exact truth."""
import json
import math

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from amodal_data import make_dataset
from walt3d_studio.cli import main
from walt3d_studio.errors import BadInputError, Cancelled
from walt3d_studio.jobs import JobContext
from walt3d_studio.training.evaluate import evaluate_predictions


def _rle(m):
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def _gt():
    a = np.zeros((60, 80), bool)
    a[10:30, 10:40] = True
    b = np.zeros((60, 80), bool)
    b[30:50, 40:70] = True
    kp_a = [15, 15, 2] * 12
    return {
        "images": [{"id": 1, "file_name": "x.png", "width": 80, "height": 60}],
        "categories": [{"id": 1, "name": "vehicle", "keypoints": [str(i) for i in range(12)]}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 20], "area": 600, "iscrowd": 0,
             "segmentation": _rle(a), "occlusion": 0.1, "keypoints": kp_a},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [40, 30, 30, 20], "area": 600, "iscrowd": 0,
             "segmentation": _rle(b), "occlusion": 0.5, "keypoints": [50, 40, 1] * 12},
        ]}, a


def test_ap_and_pck_per_bucket_match_hand_computed_values():
    gt, a = _gt()
    fp = np.zeros((60, 80), bool)
    fp[0:8, 60:78] = True
    results = [
        {"image_id": 1, "category_id": 1, "score": 0.9, "bbox": [10, 10, 30, 20], "segmentation": _rle(a),
         "keypoints": [15, 15, 1] * 12},
        {"image_id": 1, "category_id": 1, "score": 0.5, "bbox": [60, 0, 18, 8], "segmentation": _rle(fp),
         "keypoints": [0, 0, 1] * 12},
    ]
    rep = evaluate_predictions(gt, results)
    # overall: one of two found before the false positive -> precision 1 up to recall 0.5: 51 of 101 points
    assert rep["overall"]["AP_box"] == pytest.approx(51 / 101)
    assert rep["overall"]["AP_mask"] == pytest.approx(51 / 101)
    b = rep["buckets"]
    assert b["0-20%"]["AP_box"] == pytest.approx(1.0) and b["0-20%"]["AP_mask"] == pytest.approx(1.0)
    assert b["40-60%"]["AP_box"] == 0.0 and b["40-60%"]["n_gt"] == 1
    assert math.isnan(b["80-100%"]["AP_box"]) and b["80-100%"]["n_gt"] == 0
    assert b["0-20%"]["PCK@0.1"] == 1.0 and b["40-60%"]["PCK@0.1"] == 0.0


def test_no_predictions_give_zero_ap():
    gt, _ = _gt()
    rep = evaluate_predictions(gt, [])
    assert rep["overall"]["AP_box"] == 0.0 and rep["buckets"]["0-20%"]["AP_mask"] == 0.0


@pytest.mark.slow
def test_train_loss_falls_then_resume_and_eval(tmp_path):
    from walt3d_studio.training.train import TrainSettings, read_metrics, train

    ds = make_dataset(tmp_path / "ds", {"train": 6, "test": 3})
    run = tmp_path / "run"
    settings = TrainSettings(iterations=24, batch_size=2, checkpoint_every=6, lr=0.01, seed=1, short_side=128)

    stop_at = 14

    def progress(done, total, message):
        if done == stop_at:
            ctx.cancel()

    ctx = JobContext(progress)
    with pytest.raises(Cancelled):
        train(ds, run, settings, ctx)
    assert not (run / "model.pt").exists() and (run / "checkpoints" / "last.pt").exists()
    result = train(ds, run, settings)
    assert result.resumed_from == stop_at and result.iterations == 24 and result.model_path.exists()
    losses = [r["loss"] for r in read_metrics(run)]
    assert np.mean(losses[-6:]) < 0.7 * np.mean(losses[:3])

    out = tmp_path / "eval"
    assert main(["--quiet", "eval", str(ds), "--model", str(result.model_path), "--out", str(out)]) == 0
    rep = json.loads((out / "eval.json").read_text())
    assert set(rep["buckets"]) == {"0-20%", "20-40%", "40-60%", "60-80%", "80-100%"}
    assert (out / "eval.csv").read_text().startswith("bucket,n_gt") and (out / "occlusion.png").stat().st_size > 0
    assert main(["eval-plot", str(out / "eval.json"), str(out / "eval.json"), "--labels", "a,b",
                 "--out", str(tmp_path / "cmp.png")]) == 0

    # the trained model mines a camera as a detector backend (the loop closes without downloaded weights)
    from walt3d_studio.resources import resource
    from walt3d_studio.store import Project

    from PIL import Image, ImageSequence

    frames = tmp_path / "frames"  # four real frames keep the mining short (a random-ish model finds many boxes)
    frames.mkdir()
    with Image.open(resource("footage", "parking-lot-person-bicycle-car.gif")) as gif:
        for i, im in zip(range(4), ImageSequence.Iterator(gif)):
            im.convert("RGB").save(frames / f"{i:03d}.png")
    proj = tmp_path / "p.walt3d"
    assert main(["--quiet", "init", str(proj)]) == 0
    assert main(["--quiet", "add-source", str(proj), str(frames)]) == 0
    assert main(["--quiet", "mine", str(proj), "--detector", f"trained:{run}", "--option",
                 "score_threshold=0.0"]) == 0
    with Project.open(proj, readonly=True) as p:
        rows = p.conn.execute("SELECT detector, COUNT(*) FROM detections GROUP BY detector").fetchall()
    assert rows and rows[0][0] == "trained" and rows[0][1] > 0


def test_bad_inputs_exit_2_with_message(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds", {"train": 1})
    bad = tmp_path / "evil.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["--quiet", "eval", str(ds), "--model", str(bad), "--split", "train"]) == 2
    assert "not a WALT3D model" in capsys.readouterr().err
    import torch
    if not torch.cuda.is_available():
        assert main(["--quiet", "train", str(ds), "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    assert main(["--quiet", "eval", str(ds), "--model", str(bad), "--split", "val"]) == 2
    assert "no val split" in capsys.readouterr().err
    with pytest.raises(BadInputError):
        from walt3d_studio.training.model import preset
        preset("huge")
    assert main(["--quiet", "train", str(ds), "--out", str(tmp_path / "r2"), "--rois-per-image", "4"]) == 2
    assert "--rois-per-image must be 16..2048" in capsys.readouterr().err


def test_rois_per_image_sets_the_sampler_and_rpn_budget_and_changes_no_weights():
    from walt3d_studio.training.model import build_model, preset
    from walt3d_studio.training.train import TrainSettings, _config

    cfg = _config(TrainSettings(preset="tiny", rois_per_image=128, short_side=256))
    assert cfg["rois_per_image"] == 128 and cfg["min_size"] == 256
    cheap, default = build_model(cfg), build_model(preset("tiny"))
    assert cheap.roi_heads.fg_bg_sampler.batch_size_per_image == 128
    assert cheap.rpn._post_nms_top_n["training"] == 512 and cheap.rpn._pre_nms_top_n["training"] == 1024
    assert default.roi_heads.fg_bg_sampler.batch_size_per_image == 512          # torchvision's defaults
    assert default.rpn._post_nms_top_n["training"] == 2000 and default.rpn._pre_nms_top_n["training"] == 2000
    assert cheap.rpn._post_nms_top_n["testing"] == default.rpn._post_nms_top_n["testing"]
    # a checkpoint of one loads into the other: same tensors
    assert {k: v.shape for k, v in cheap.state_dict().items()} == {k: v.shape for k, v in default.state_dict().items()}
    old = preset("tiny")
    del old["rois_per_image"]                                                    # a checkpoint from before the key
    assert build_model(old).roi_heads.fg_bg_sampler.batch_size_per_image == 512
