"""The README's first command: the whole method on the bundled footage, into a report a browser opens.
(Small counts here; `walt3d demo` itself uses the module's defaults.)"""
import json

import pytest

from walt3d_studio.dataset.validate_dataset import validate_dataset
from walt3d_studio.method_demo import run_method


@pytest.mark.slow
def test_every_stage_runs_and_the_report_shows_them(tmp_path):
    report, steps = run_method(tmp_path, n_composites=6, train_iterations=2)
    stages = [s["stage"] for s in steps]
    assert stages[:9] == ["project", "vehicle fits", "people fits", "splits", "composites", "export", "validate",
                          "training", "evaluation"]
    for method in ("walt3d", "walt2d"):
        ds = tmp_path / "datasets" / method
        assert validate_dataset(ds) == []
        train = json.loads((ds / "annotations" / "train.json").read_text())
        assert train["images"] and train["annotations"]
        rep = json.loads((tmp_path / "runs" / method / "eval-test" / "eval.json").read_text())
        assert set(rep["buckets"]) == {"0-20%", "20-40%", "40-60%", "60-80%", "80-100%"}
    html = report.read_text()
    assert all(f"<h2>{s}" in html for s in stages[:9])
    assert "plots/occlusion.png" in html and (tmp_path / "plots" / "occlusion.png").stat().st_size > 1000
    assert "valid" in next(s["summary"] for s in steps if s["stage"] == "validate")
    # a second run into the same folder starts over instead of resuming the old training runs
    report2, _ = run_method(tmp_path, n_composites=6, train_iterations=2)
    assert report2 == report
