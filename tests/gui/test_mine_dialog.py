"""Mining > Mine detections…: the dialog lists every detector backend with why one is unavailable, enables OK
only when the selected one can run with the files given, returns MineSettings; then a real mining job runs
through the window with those settings."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialog

from walt3d_studio.gui.review.mine_dialog import MineDialog
from walt3d_studio.mining import registry
from walt3d_studio.mining.mine import MineSettings
from walt3d_studio.store.detections import detection_table

from .gui_helpers import wait_job
from .test_review_workflow import _build


@pytest.fixture
def plugins(monkeypatch):
    """A detectron2 plugin (package most likely missing here) and a plugin that failed to load."""
    spec = registry.DetectorSpec("detectron2", "detectron2 instance segmentation (plugin).", lambda **k: None,
                                 check=lambda: registry.package_missing("detectron2"), needs_weights=True,
                                 origin="plugin walt3d-detectron2")
    monkeypatch.setattr(registry, "_PLUGINS", {"detectron2": spec})
    monkeypatch.setattr(registry, "_PLUGIN_ERRORS", {"broken": "plugin failed to load (plugin x): ImportError: no"})


def rows(dialog):
    t = dialog.tree
    return {t.topLevelItem(i).text(0): [t.topLevelItem(i).text(c) for c in range(3)]
            for i in range(t.topLevelItemCount())}


def test_dialog_lists_every_backend_with_its_reason(qtbot, plugins, tmp_path):
    d = MineDialog()
    qtbot.addWidget(d)
    r = rows(d)
    assert set(r) == {"foreground", "maskrcnn", "import", "detectron2", "broken"}
    assert r["foreground"][1:] == ["built-in", "available"]
    assert r["maskrcnn"][2] == "unavailable: needs a weights file"
    assert r["import"][2] == "unavailable: needs a detections file"
    assert r["detectron2"][1] == "plugin walt3d-detectron2" and r["detectron2"][2].startswith("unavailable")
    assert "package missing: detectron2" in r["detectron2"][2] or "weights" in r["detectron2"][2]
    assert "failed to load" in r["broken"][2]
    # foreground is selected first and can run as it is
    assert d.selected() == "foreground" and d.can_run()
    assert d.settings() == MineSettings()
    assert not d.weights_button.isEnabled() and not d.import_button.isEnabled()
    assert "Built-in" in d.description.text()
    d.show()
    d.grab().save(str(tmp_path / "mine_dialog.png"))

    # maskrcnn: OK stays off until a weights file is given (and exists)
    d.select("maskrcnn")
    assert d.weights_button.isEnabled() and not d.import_button.isEnabled()
    assert not d.can_run() and d.settings() is None and "needs a weights file" in d.problem.text()
    d.set_weights(tmp_path / "missing.pth")
    assert not d.can_run() and "No weights file" in rows(d)["maskrcnn"][2]
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"x")
    d.set_weights(garbage)                       # a file it would refuse is never "available"
    assert not d.can_run() and "not a PyTorch checkpoint" in rows(d)["maskrcnn"][2]
    import torch

    weights = tmp_path / "maskrcnn.pth"          # the keys a torchvision Mask R-CNN checkpoint has
    torch.save({"roi_heads.box_predictor.cls_score.weight": torch.zeros(2, 4),
                "roi_heads.mask_predictor.mask_fcn_logits.weight": torch.zeros(2, 4, 1, 1)}, weights)
    d.set_weights(weights)
    assert d.selected() == "maskrcnn" and d.can_run() and rows(d)["maskrcnn"][2] == "available"
    assert d.settings() == MineSettings(detector="maskrcnn", weights=str(weights))

    # a backend that cannot run at all stays listed, selectable, with OK off
    d.select("broken")
    assert d.selected() == "broken" and not d.can_run() and "failed to load" in d.problem.text()

    # import: a detections file makes it runnable; weights are not passed to it
    d.select("import")
    assert d.import_button.isEnabled() and not d.weights_button.isEnabled() and not d.can_run()
    dets = tmp_path / "dets.txt"
    dets.write_text("1,-1,10,10,20,20,1\n")
    d.set_import_path(dets)
    assert d.can_run() and rows(d)["import"][2] == "available"
    assert d.settings() == MineSettings(detector="import", import_path=str(dets))


def test_mine_detections_menu_asks_then_mines(qtbot, make_window, tmp_path, monkeypatch):
    from walt3d_studio.gui.review import install_review

    root = _build(tmp_path / "fresh", mined=False)
    w = make_window()
    rc = install_review(w)
    assert w.open_project(root)
    w.settle()

    # Cancel: nothing runs
    monkeypatch.setattr(MineDialog, "exec", lambda self: QDialog.Rejected)
    rc.act_mine.trigger()
    assert not w.jobs.busy and rc.panel.model.rowCount() == 0

    seen = []

    def accept_foreground(self):
        seen.append(rows(self))
        self.select("foreground")
        return QDialog.Accepted

    monkeypatch.setattr(MineDialog, "exec", accept_foreground)
    how, report = wait_job(qtbot, rc.mining.ask_mine())
    assert how == "finished", report
    assert seen and "maskrcnn" in seen[0] and "import" in seen[0]
    assert report.detector == "foreground" and report.detections > 0
    assert len(detection_table(w.project, camera_id=w.camera_id)) == report.detections
    assert rc.panel.model.rowCount() == 3 and "Mined" in w.statusBar().currentMessage()
    assert rc.mining.last_mine_settings == MineSettings()
