"""The detector registry: built-ins, entry-point plugins, availability reasons; Mask R-CNN weights checks."""
from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from walt3d_studio.errors import BadInputError
from walt3d_studio.mining import registry
from walt3d_studio.mining.registry import DetectorSpec, create_detector, list_detectors

PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "walt3d_detectron2"


class FakeEP:
    def __init__(self, name, obj=None, error=None):
        self.name, self.value, self._obj, self._error = name, f"fake:{name}", obj, error
        self.dist = type("D", (), {"name": f"fake-{name}"})()

    def load(self):
        if self._error:
            raise self._error
        return self._obj


@pytest.fixture
def fake_plugins(monkeypatch):
    def install(*eps):
        monkeypatch.setattr("importlib.metadata.entry_points", lambda group=None: list(eps) if group ==
                            registry.GROUP else [])
        registry.reload_plugins()
    yield install
    monkeypatch.undo()
    registry.reload_plugins()


def test_builtins_and_reasons():
    rows = {r.name: r for r in list_detectors()}
    assert rows["foreground"].available and rows["foreground"].origin == "built-in"
    assert not rows["maskrcnn"].available and "weights" in rows["maskrcnn"].reason
    assert not rows["import"].available and "detections file" in rows["import"].reason
    # "available" only for a weights file it would load (issue 21): a missing file is named as the reason
    row = {r.name: r for r in list_detectors(weights="w.pth")}["maskrcnn"]
    assert not row.available and "No weights file at w.pth" in row.reason


def test_entry_point_plugins_and_broken_ones(fake_plugins):
    class Dummy:
        name, needs_pixels, needs_background, thread_safe = "dummy", True, False, True

        def __init__(self, **kw):
            self.kw = kw

    spec = DetectorSpec("dummy", "a test backend", lambda **kw: Dummy(**kw))
    missing = DetectorSpec("needs-pkg", "needs a package", lambda **kw: None,
                           check=lambda: registry.package_missing("surely_not_installed_pkg"))
    fake_plugins(FakeEP("dummy", spec), FakeEP("needs-pkg", lambda: missing),
                 FakeEP("broken", error=ImportError("no module named foo")))
    rows = {r.name: r for r in list_detectors()}
    assert rows["dummy"].available and rows["dummy"].origin == "plugin fake-dummy"
    assert not rows["needs-pkg"].available and "package missing: surely_not_installed_pkg" in rows["needs-pkg"].reason
    assert not rows["broken"].available and "no module named foo" in rows["broken"].reason
    assert create_detector("dummy", threshold=3).kw == {"threshold": 3}
    with pytest.raises(BadInputError, match="cannot run here: package missing"):
        create_detector("needs-pkg")
    with pytest.raises(BadInputError, match="No detector named 'nope'"):
        create_detector("nope")


def test_detectron2_plugin_declares_its_entry_point_and_says_why_not(fake_plugins, monkeypatch):
    meta = tomllib.loads((PLUGIN / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["walt3d_studio.detectors"] == {"detectron2": "walt3d_detectron2:spec"}
    monkeypatch.syspath_prepend(str(PLUGIN))
    sys.modules.pop("walt3d_detectron2", None)
    import walt3d_detectron2

    fake_plugins(FakeEP("detectron2", walt3d_detectron2.spec))
    row = {r.name: r for r in list_detectors(weights="model.pth")}["detectron2"]
    if importlib.util.find_spec("detectron2") is None:
        assert not row.available and "detectron2" in row.reason
        with pytest.raises(BadInputError, match="detectron2"):
            create_detector("detectron2", weights="model.pth")
    else:  # pragma: no cover - only where detectron2 is installed
        assert row.available


def test_maskrcnn_refuses_files_that_are_not_checkpoints(tmp_path):
    pytest.importorskip("torch")
    import torch

    text = tmp_path / "weights.pth"
    text.write_text("definitely not a checkpoint")
    with pytest.raises(BadInputError, match="not a PyTorch checkpoint"):
        create_detector("maskrcnn", weights=str(text))
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(BadInputError, match="not of a torchvision Mask R-CNN"):
        create_detector("maskrcnn", weights=str(other))
    with pytest.raises(BadInputError, match="No weights file"):
        create_detector("maskrcnn", weights=str(tmp_path / "missing.pth"))
    with pytest.raises(BadInputError, match="needs a weights file"):
        create_detector("maskrcnn")


def test_maskrcnn_pickled_objects_are_not_unpickled(tmp_path):
    pytest.importorskip("torch")
    import pickle

    evil = tmp_path / "evil.pth"

    class Boom:
        def __reduce__(self):
            return (print, ("unpickled!",))

    evil.write_bytes(pickle.dumps({"model": Boom()}))
    with pytest.raises(BadInputError, match="not a PyTorch checkpoint"):
        create_detector("maskrcnn", weights=str(evil))


@pytest.mark.slow
def test_maskrcnn_runs_from_a_local_coco_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    from walt3d_studio.mining.detection import FrameInfo
    from walt3d_studio.mining.registry import RunInfo

    torch.manual_seed(0)
    model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    path = tmp_path / "maskrcnn_coco.pth"
    torch.save({"model": model.state_dict()}, path)
    det = create_detector("maskrcnn", weights=str(path), score_threshold=0.0, threads=2)
    assert det.class_map == {1: "person", 3: "car"}
    det.start(RunInfo(None, 1, 160, 120, None, None))
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    out = det.detect(frame, FrameInfo(0, 1, 1, 0, 0.0))
    for d in out:
        assert d.category in ("person", "car") and 0 <= d.score <= 1
        assert d.mask is not None and d.mask.shape == (int(d.box[3]), int(d.box[2]))
