"""Export → validate on composites made by the real compositor (exact-truth synthetic project), both methods."""
import json

import pytest

from composite_project import build, mesh_fn
from walt3d_studio.composite.make import CompositeSettings, make_composites
from walt3d_studio.composite.splits import split_tracks
from walt3d_studio.dataset.export import export_dataset
from walt3d_studio.dataset.validate_dataset import validate_dataset

pytestmark = pytest.mark.slow


def test_compositor_output_exports_and_validates(tmp_path):
    p, _ = build(tmp_path / "p")
    try:
        split_tracks(p, "track", 0.25, 0.25, seed=0)
        for method in ("walt3d", "walt2d"):
            make_composites(p, settings=CompositeSettings(method=method, n=6, seed=1, objects_per_image=(3, 6)),
                            mesh_fn=mesh_fn)
            s = export_dataset(p, tmp_path / method, methods=(method,))
            assert validate_dataset(tmp_path / method) == [], method
            assert s["counts"]["total"]["images"] == 6 and s["counts"]["total"]["annotations"] >= 18
        ann = json.loads(next((tmp_path / "walt3d" / "annotations").glob("*.json")).read_text())["annotations"]
        assert any(a["occluded_by"] for a in ann) and all("fit_quality" in a["walt3d"] for a in ann)
    finally:
        p.close()
