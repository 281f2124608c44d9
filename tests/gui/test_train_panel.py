"""The Train dock: refuses a folder that is not a dataset; trains in a child process with a live loss curve, then
evaluates and fills the per-occlusion table; the window stays usable meanwhile."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from amodal_data import make_dataset  # noqa: E402


def _panel(make_window):
    w = make_window()
    w.act_train_panel.trigger()
    return w, w.train_panel


def test_not_a_dataset_is_refused_with_what_to_do(make_window, tmp_path):
    w, panel = _panel(make_window)
    assert panel.isVisible()
    panel.dataset.setText(str(tmp_path))
    assert panel.start() is None and panel.job is None
    assert "not an exported dataset" in panel.state.text() and "Export" in panel.state.text()
    assert panel.start_btn.isEnabled() and not panel.cancel_btn.isEnabled()


@pytest.mark.slow
def test_train_child_job_draws_the_loss_then_evaluates(make_window, tmp_path, qtbot):
    ds = make_dataset(tmp_path / "ds", {"train": 6, "test": 3})
    w, panel = _panel(make_window)
    panel.dataset.setText(str(ds))
    panel.iterations.setValue(6)
    panel.run_dir.setText(str(tmp_path / "run"))
    job = panel.start()
    assert job is not None and panel.cancel_btn.isEnabled() and not panel.start_btn.isEnabled()
    qtbot.waitUntil(lambda: not job.active, timeout=240_000)
    assert job.state == "finished", job.log_tail()
    assert (tmp_path / "run" / "model.pt").is_file()
    assert len(panel.losses) >= 1 and all(loss > 0 for _, loss in panel.losses)
    assert len(panel.curve.getData()[0]) == len(panel.losses)
    job = panel.evaluate()
    qtbot.waitUntil(lambda: not job.active, timeout=240_000)
    assert job.state == "finished", job.log_tail()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 6, timeout=5000)   # all + five occlusion buckets
    assert panel.table.item(1, 0).text() == "0-20%"
