"""The background stage on the stage protocol: `walt3d background --shard-out DIR` reads the project
read-only and writes DIR (shard.json last); `--merge DIR` stores every window in one transaction."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from walt3d_studio.cli import main
from walt3d_studio.errors import BadInputError
from walt3d_studio.store import Project
from walt3d_studio.store.runs import list_runs

GIF = Path(__file__).resolve().parents[1] / "resources" / "footage" / "parking-lot-person-bicycle-car.gif"


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "p.walt3d"
    with Project.create(root) as p:
        cam = p.add_camera("lot", "UTC")
        p.add_source(GIF, cam)
    return root


def test_shard_then_merge_equals_direct(project, tmp_path):
    from walt3d_studio.background_job import compute_backgrounds

    shard = tmp_path / "shard"
    assert main(["--quiet", "background", str(project), "--all", "--shard-out", str(shard)]) == 0
    meta = json.loads((shard / "shard.json").read_text())
    assert [w["window_key"] for w in meta["windows"]] == ["all"] and meta["windows"][0]["n_frames"] == 41
    with Project.open(project, readonly=True) as p:
        assert p.backgrounds(p.default_camera().id) == []  # nothing stored by the shard run
    assert main(["--quiet", "background", str(project), "--merge", str(shard)]) == 0
    with Project.open(project) as p:
        cam = p.default_camera().id
        (row,) = p.backgrounds(cam)
        assert row["window"] == "all" and row["n_frames"] == 41
        merged = p.load_background(cam, "all")
        direct_keys = compute_backgrounds(p, cam, hours_per_window=None)
        assert direct_keys == ["all"] and np.array_equal(merged, p.load_background(cam, "all"))
        assert list_runs(p)[0].stage == "background-merge"


def test_incomplete_shard_is_refused_and_stores_nothing(project, tmp_path):
    from walt3d_studio.background_job import merge_background_shard

    shard = tmp_path / "half"
    shard.mkdir()
    np.savez(shard / "all.npz", median=np.zeros((2, 2, 3), np.float32))  # no shard.json: a killed run
    with Project.open(project) as p:
        with pytest.raises(BadInputError, match="not a complete background shard"):
            merge_background_shard(p, shard)
        assert p.backgrounds(p.default_camera().id) == []
