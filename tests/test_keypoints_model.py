"""The heatmap keypoint model: geometry, decoding, checkpoints, the training loop on synthetic cars, and
predictions landing in the store."""
import pickle

import numpy as np
import pytest
import torch

from test_keypoints_synth import synthetic_samples, synthetic_scene
from walt3d_studio.errors import BadInputError, Cancelled
from walt3d_studio.jobs import JobContext
from walt3d_studio.keypoints.metrics import pck
from walt3d_studio.keypoints.model import (KeypointPredictor, apply_affine, decode_heatmaps, heatmap_to_input,
                                           input_to_heatmap, load_checkpoint, new_model, read_checkpoint,
                                           save_checkpoint, warp, window_affine)
from walt3d_studio.keypoints.train import evaluate, eval_job, make_batch, make_targets, predict_job, train_job, train_model
from walt3d_studio.store import keypoints as ks

FAST = {"width": 16, "batch_size": 8, "lr": 3e-3, "input_size": 96}


def test_window_affine_centres_the_box_and_flips():
    box = (10, 20, 40, 20)                       # pixels 10..49 x 20..39: centre (29.5, 29.5)
    a = window_affine(box, 64, margin=0.0)
    np.testing.assert_allclose(apply_affine(a, np.array([[29.5, 29.5], [9.5, 29.5]])), [[31.5, 31.5], [-0.5, 31.5]])
    f = window_affine(box, 64, margin=0.0, flip=True)
    np.testing.assert_allclose(apply_affine(f, np.array([[29.5, 29.5], [9.5, 29.5]])), [[31.5, 31.5], [63.5, 31.5]])
    img = np.zeros((60, 60, 3), np.uint8)
    img[30, 20] = 255                            # a bright pixel lands where the affine says
    out = warp(img, window_affine((0, 0, 60, 60), 60, margin=0.0, flip=True), 60)
    assert tuple(np.argwhere(out[..., 0] == 255)[0]) == (30, 39)


def test_heatmap_coordinates_and_subpixel_decoding():
    np.testing.assert_allclose(heatmap_to_input(input_to_heatmap(np.array([7.25, 100.0]))), [7.25, 100.0])
    true = np.array([[[10.3, 7.6], [3.0, 20.8]]])
    hm = make_targets(heatmap_to_input(true), 128, 1.5)
    xy, conf = decode_heatmaps(hm)
    np.testing.assert_allclose(xy, true, atol=0.05)
    assert np.all(conf > 0.8) and np.all(conf <= 1)


def test_flip_batch_swaps_left_and_right():
    s = synthetic_samples(1)[0]
    cfg = {"input_size": 128, "margin": 0.15, "flip": True, "scale_jitter": 0, "shift_jitter": 0, "color_jitter": 0}
    plain, xy0, _ = make_batch([s], cfg, None, list(range(12)))
    flip_index = [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10]
    for seed in range(20):   # find a draw that flips
        img, xy, w = make_batch([s], cfg, np.random.default_rng(seed), flip_index)
        if not np.array_equal(img, plain):
            break
    assert np.array_equal(img[0], plain[0][:, ::-1])
    np.testing.assert_allclose(xy[0][flip_index, 0], 127 - xy0[0][:, 0])   # the right wheel became the left
    np.testing.assert_allclose(xy[0][flip_index, 1], xy0[0][:, 1])


def test_overfits_synthetic_cars_with_flip_augmentation():
    """32 synthetic cars whose left/right points share a colour and half of which face the other way: PCK@0.1
    above 0.9 is only reachable when flip augmentation swaps the schema's flip pairs correctly."""
    samples = synthetic_samples(32, mirror_cars=True)
    model, cfg, layout, hist = train_model(samples, {**FAST, "epochs": 40, "flip": True}, device="cpu")
    assert hist[-1] < hist[0] / 5
    r = evaluate(KeypointPredictor(model, cfg, layout), samples)
    assert r.all > 0.9, r.summary()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_checkpoints_load_and_bad_files_are_refused(tmp_path):
    model, cfg, layout = new_model({"width": 8})
    path = tmp_path / "m.pt"
    version = save_checkpoint(path, model, cfg, layout, {"note": "x"})
    m2, cfg2, layout2, ck = load_checkpoint(path, device="cpu")
    assert ck["model_version"] == version and version.startswith("kp-compact-") and layout2.total == 12
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), m2(x))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(BadInputError, match="junk.pt is not a WALT3D keypoint checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(BadInputError, match="torch file but not a WALT3D keypoint checkpoint"):
        read_checkpoint(tmp_path / "other.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "walt3d-keypoint-model", "x": Evil()}, f)
    with pytest.raises(BadInputError, match="evil.pt is not a WALT3D keypoint checkpoint"):
        read_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(BadInputError, match="does not exist"):
        read_checkpoint(tmp_path / "none.pt")
    # starting from a checkpoint keeps its network
    _, cfg3, layout3, _ = train_model(synthetic_samples(2), {"epochs": 1, "width": 32}, init=path, device="cpu")
    assert cfg3["width"] == 8 and cfg3["init"]["model_version"] == version


def test_train_predict_eval_on_a_project(tmp_path):
    p, cam, dets, truth = synthetic_scene(tmp_path, 22, seed=3, mirror_cars=True)
    labelled, todo = dets[:16], dets[16:21]
    with p.transaction() as c:   # the last one is occluded: no proposal for it
        c.execute("UPDATE verdicts SET verdict = 'occluded' WHERE detection_id = ?", (dets[21],))
    for d in labelled:
        ks.set_human_keypoints(p, d, truth[d])
    # cancelling writes no checkpoint
    ctx = JobContext(lambda done, total, msg: ctx.cancel() if done >= 2 else None)
    with pytest.raises(Cancelled):
        train_job(p, out=tmp_path / "c.pt", config={**FAST, "epochs": 3}, ctx=ctx, device="cpu")
    assert not (tmp_path / "c.pt").exists()

    r = train_job(p, out=tmp_path / "kp.pt", config={**FAST, "batch_size": 4, "epochs": 40, "val_fraction": 0.25}, device="cpu")
    assert r.n_train + r.n_val == 16 and r.n_val > 0 and r.pck_val is not None
    assert r.pck_train.all > 0.9, r.pck_train.summary()
    assert r.path.exists()
    n = predict_job(p, r.path, device="cpu")
    assert n == len(todo)
    pred = []
    for d in todo:
        row = ks.get_keypoints(p, d)
        assert row.origin == "model" and row.model_version == r.model_version
        assert row.confidences.shape == (12,) and np.all((row.confidences >= 0) & (row.confidences <= 1))
        pred.append(row.points)
    assert ks.get_keypoints(p, dets[21]) is None and ks.get_keypoints(p, labelled[0]).origin == "human"
    boxes = [ks.detection(p, d).box for d in todo]
    res = pck(np.array(pred), np.array([truth[d] for d in todo]), boxes)
    assert res.all > 0.8, res.summary()   # unseen cars, found in frame coordinates
    assert predict_job(p, r.path, device="cpu") == 0                   # already proposed by this model
    assert predict_job(p, r.path, redo=True, device="cpu") == len(todo)
    val, n_val = eval_job(p, r.path, device="cpu")
    assert n_val == r.n_val and val.all == pytest.approx(r.pck_val.all)
    p.close()


def test_two_class_head_uses_29_slots():
    from walt3d_studio.keypoints.data import Sample
    from walt3d_studio.keypoints.schema import joint_layout

    lay = joint_layout("vehicle12", "person17")
    cars = synthetic_samples(3)
    samples = [Sample(s.image, s.box, lay.pack("vehicle12", s.keypoints[:12]), "vehicle12", s.group, s.key)
               for s in cars]
    person = np.zeros((17, 3))
    person[:, :2] = np.random.default_rng(0).uniform(40, 100, (17, 2))
    person[:, 2] = 2
    samples.append(Sample(cars[0].image, (30, 20, 60, 110), lay.pack("person17", person), "person17", "p", "p"))
    model, cfg, layout, _ = train_model(samples, {"width": 8, "epochs": 1, "input_size": 64,
                                                  "schemas": ["vehicle12", "person17"]}, device="cpu")
    assert layout.total == 29 and cfg["schemas"] == ["vehicle12", "person17"]
    pred = KeypointPredictor(model, cfg, layout)
    pts, conf = pred.predict_schema("person17", [cars[0].image], [(30, 20, 60, 110)])
    assert pts.shape == (1, 17, 3) and conf.shape == (1, 17)
    with pytest.raises(BadInputError):
        KeypointPredictor(*new_model({"width": 8})[:1], cfg, joint_layout("vehicle12")).predict_schema(
            "person17", [cars[0].image], [(30, 20, 60, 110)])
