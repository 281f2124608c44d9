"""The trainer registry: the built-in trainer is listed and picked; a plug-in without its package is listed as
unavailable with the reason, and picking it says what to do."""
import sys
from pathlib import Path

import pytest

from walt3d_studio.cli import main
from walt3d_studio.errors import BadInputError
from walt3d_studio.training import registry

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "walt3d_detectron2"


def test_builtin_trainer_listed_available(capsys):
    assert main(["trainers"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("torchvision") and "available  [built-in]" in out
    assert registry.get_trainer("torchvision").name == "torchvision"


def test_detectron2_plugin_unavailable_without_detectron2(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(PLUGIN))
    sys.modules.pop("walt3d_detectron2", None)
    from walt3d_detectron2.trainer import spec

    class EP:
        name, value, dist = "detectron2", "walt3d_detectron2.trainer:spec", None

        def load(self):
            return spec

    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [EP()] if group == registry.GROUP else [])
    rows = {t.name: t for t in registry.list_trainers()}
    assert not rows["detectron2"].available and "detectron2" in rows["detectron2"].reason
    with pytest.raises(BadInputError, match="cannot run here"):
        registry.get_trainer("detectron2")
    assert main(["train", "nowhere", "--out", "x", "--trainer", "magic"]) == 2
    assert "No trainer named 'magic'" in capsys.readouterr().err
