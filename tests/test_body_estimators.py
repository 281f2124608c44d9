"""The body-estimator registry and the HMR 2.0 plug-in (with a fake `hmr2` package: no weights, no network)."""
from __future__ import annotations

import importlib.machinery
import sys
import tomllib
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from people_synth import CAMERAS
from walt3d_studio.errors import BadInputError
from walt3d_studio.reconstruct import bodies
from walt3d_studio.reconstruct import body_estimators as reg
from walt3d_studio.reconstruct.body_estimators import PersonDetection, create_estimator, list_estimators

PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "walt3d_hmr2"
FLIP = np.diag([1.0, -1.0, -1.0])  # rest body upright, facing the camera, in an OpenCV camera


class FakeEP:
    def __init__(self, name, obj=None, error=None):
        self.name, self.value, self._obj, self._error = name, f"fake:{name}", obj, error
        self.dist = type("D", (), {"name": f"fake-{name}"})()

    def load(self):
        if self._error:
            raise self._error
        return self._obj


@pytest.fixture
def plugins(monkeypatch):
    def install(*eps):
        monkeypatch.setattr("importlib.metadata.entry_points",
                            lambda group=None: list(eps) if group == reg.GROUP else [])
        reg.reload_plugins()
    yield install
    monkeypatch.undo()
    reg.reload_plugins()


@pytest.fixture
def hmr2_plugin(monkeypatch):
    meta = tomllib.loads((PLUGIN / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["walt3d_studio.body_estimators"] == {"hmr2": "walt3d_hmr2:spec"}
    monkeypatch.syspath_prepend(str(PLUGIN))
    sys.modules.pop("walt3d_hmr2", None)
    import walt3d_hmr2
    return walt3d_hmr2


def fake_hmr2(monkeypatch, calls):
    """A stand-in for 4D-Humans' hmr2: an upright T-pose facing its crop camera, zero betas."""
    import torch

    class Model:
        def to(self, device):
            return self

        def eval(self):
            return self

        def __call__(self, batch):
            img = batch["img"]
            calls.append(tuple(img.shape))
            B = img.shape[0]
            return {"pred_smpl_params": {
                "global_orient": torch.as_tensor(FLIP).expand(B, 1, 3, 3),
                "body_pose": torch.eye(3).expand(B, 23, 3, 3),
                "betas": torch.zeros(B, 10)}, "pred_cam": torch.zeros(B, 3)}

    cfg = types.SimpleNamespace(MODEL=types.SimpleNamespace(IMAGE_SIZE=64, IMAGE_MEAN=[0.485, 0.456, 0.406],
                                                            IMAGE_STD=[0.229, 0.224, 0.225]))
    root = types.ModuleType("hmr2")
    root.__spec__ = importlib.machinery.ModuleSpec("hmr2", None)
    models = types.ModuleType("hmr2.models")
    models.DEFAULT_CHECKPOINT = "fake.ckpt"
    models.load_hmr2 = lambda ckpt: (Model(), cfg)
    root.models = models
    monkeypatch.setitem(sys.modules, "hmr2", root)
    monkeypatch.setitem(sys.modules, "hmr2.models", models)


def test_builtin_is_listed_and_hmr2_says_package_missing(plugins):
    plugins()
    rows = {r.name: r for r in list_estimators()}
    assert rows["builtin"].available and rows["builtin"].origin == "built-in"
    assert not rows["hmr2"].available and "package missing" in rows["hmr2"].reason
    with pytest.raises(BadInputError, match="not installed"):
        create_estimator("hmr2")
    with pytest.raises(BadInputError, match="builtin"):
        create_estimator("nope")


def test_installed_plugin_without_hmr2_is_unavailable_and_broken_plugins_are_listed(plugins, hmr2_plugin,
                                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "hmr2", None)  # not importable, whatever is installed here
    plugins(FakeEP("hmr2", hmr2_plugin.spec), FakeEP("broken", error=ImportError("no module named x")))
    rows = {r.name: r for r in list_estimators()}
    assert not rows["hmr2"].available and "package missing: hmr2" in rows["hmr2"].reason
    assert rows["hmr2"].origin == "plugin fake-hmr2"
    assert not rows["broken"].available and "failed to load" in rows["broken"].reason
    with pytest.raises(BadInputError, match="cannot run here"):
        create_estimator("hmr2")


@pytest.mark.slow
def test_hmr2_output_goes_into_our_camera_frame_and_onto_the_ground(plugins, hmr2_plugin, monkeypatch, tmp_path):
    calls = []
    fake_hmr2(monkeypatch, calls)
    plugins(FakeEP("hmr2", hmr2_plugin.spec))
    assert {r.name: r for r in list_estimators()}["hmr2"].available
    est = create_estimator("hmr2", batch_size=2)
    cam = CAMERAS["street"]
    dets = []
    for i, box in enumerate([(400.0, 180.0, 60.0, 150.0), (100.0, 220.0, 50.0, 120.0), (300.0, 260.0, 70.0, 170.0)]):
        crop = tmp_path / f"{i}.png"
        cv2.imwrite(str(crop), np.full((int(box[3]), int(box[2]), 4), 128, np.uint8))
        dets.append(PersonDetection(i + 1, float(i), np.array(box), crop_path=str(crop)))
    dets.append(PersonDetection(9, 9.0, np.array([10.0, 10.0, 5.0, 9.0])))  # no crop
    res = est.estimate_track(cam, dets, "proxy")
    assert calls == [(2, 3, 64, 64), (1, 3, 64, 64)]  # batches of the preprocessed crops
    assert res.params[3] is None and "crop" in res.failed[9]
    assert res.shape["body_model"] == "proxy" and res.shape["betas"] == [0.0] * 10
    for d, p in zip(dets[:3], res.params[:3]):
        # HMR's orientation, turned from the crop's camera to the ray through the box centre
        x, y, w, h = d.box
        ray = cam.rays(np.array([[x + w / 2 - 0.5, y + h / 2 - 0.5]]))[0]
        R = bodies.rodrigues(np.asarray(p["global_orient"]))
        np.testing.assert_allclose(R, hmr2_plugin.axis_to_ray(ray) @ FLIP, atol=1e-9)
        assert np.allclose(hmr2_plugin.axis_to_ray(ray) @ [0, 0, 1], ray / np.linalg.norm(ray))
        # on the ground, with its projected box bottom on the detection's (z = -d / nᵀK⁻¹p)
        v, _ = bodies.posed_mesh(p, res.shape)
        assert (v @ cam.n + cam.d).min() == pytest.approx(0, abs=1e-6)
        px = cam.project(v)
        assert px[:, 1].max() == pytest.approx(y + h - 0.5, abs=0.5)
        assert (px[:, 0].min() + px[:, 0].max()) / 2 == pytest.approx(x + w / 2 - 0.5, abs=0.5)
