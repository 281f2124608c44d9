"""The occlusion classifier: learns a synthetic labelled set well above chance; trained on a project's
labels it stores predictions with its version and decides where no person has."""
from __future__ import annotations

import numpy as np
import pytest

from test_mining_scenes import Obj, make_project
from walt3d_studio.errors import BadInputError

torch = pytest.importorskip("torch")

from walt3d_studio.mining.classifier import CUE_NAMES, fit, train_classifier  # noqa: E402
from walt3d_studio.mining.mine import mine  # noqa: E402
from walt3d_studio.store import Project  # noqa: E402
from walt3d_studio.store.detections import (active_classifier, detection_table, label_detections,  # noqa: E402
                                            label_tracks, track_table)


def synthetic_set(n, seed):
    """Objects of a random colour; occluded ones have a block of another colour cut out of their mask."""
    rng = np.random.default_rng(seed)
    P = np.zeros((n, 4, 48, 48), np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    for i in range(n):
        P[i, :3] = rng.random(3)[:, None, None]
        P[i, 3] = 1
        if not y[i]:
            h, w = rng.integers(12, 30, 2)
            y0, x0 = rng.integers(0, 48 - h), rng.integers(0, 48 - w)
            P[i, :3, y0:y0 + h, x0:x0 + w] = rng.random(3)[:, None, None]
            P[i, 3, y0:y0 + h, x0:x0 + w] = 0
        P[i, :3] += rng.normal(0, 0.05, (3, 48, 48)).astype(np.float32)
    C = rng.normal(0, 1, (n, len(CUE_NAMES))).astype(np.float32) * 0.1  # uninformative cues
    return P, C, y


def test_learns_a_synthetic_set_well_above_chance():
    P, C, y = synthetic_set(320, seed=1)
    model, rep = fit(P, C, y, groups=np.arange(320) // 4, seed=0, epochs=10, threads=2)
    assert rep.n_val >= 50 and rep.val_accuracy >= 0.85, rep
    P2, C2, y2 = synthetic_set(200, seed=2)  # fresh samples
    assert ((model.predict_arrays(P2, C2) >= 0.5) == (y2 >= 0.5)).mean() >= 0.85


def test_same_seed_same_model():
    P, C, y = synthetic_set(60, seed=3)
    a, ra = fit(P, C, y, seed=5, epochs=2, threads=1)
    b, rb = fit(P, C, y, seed=5, epochs=2, threads=1)
    assert np.allclose(a.predict_arrays(P, C), b.predict_arrays(P, C), atol=1e-5)


def test_too_few_or_one_sided_labels():
    P, C, y = synthetic_set(10, seed=0)
    with pytest.raises(BadInputError, match="at least 20"):
        fit(P, C, y)
    P, C, y = synthetic_set(40, seed=0)
    with pytest.raises(BadInputError, match="both"):
        fit(P, C, np.ones(40, np.float32))


OBJS = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
        Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person"),
        Obj("rect", (240, 240, 60), (30, 30), (150, 20), (0, 6), "other")]


def test_train_on_project_labels_then_it_decides(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 10)
    with p:
        mine(p, cam)
        with pytest.raises(BadInputError, match="No detection has a human occlusion label"):
            train_classifier(p, epochs=1)
        tracks = track_table(p, cam)
        label_tracks(p, tracks.id[:2], "U", who="eve")
        dets = detection_table(p, track_id=int(tracks.id[2]))
        label_detections(p, dets.id, "O", who="eve")  # not mined, no crops yet: made on demand
        rep = train_classifier(p, epochs=2, seed=0)
        assert rep.n_labels == 30 and rep.applied == 30 and 0 <= rep.val_accuracy <= 1
        row = active_classifier(p)
        assert row["version"] == rep.version and (p.root / row["path"]).exists()
        t = detection_table(p, camera_id=cam)
        assert np.all(np.isfinite(t.p_unoccluded)) and set(t.decided_by) == {"human"}
        assert set(t.machine_verdict) <= {"unoccluded", "occluded"}
        assert all(c for c in t.crop_path)  # every labelled detection has a crop now
        model_versions = {r[0] for r in p.conn.execute("SELECT model_version FROM verdicts")}
        assert model_versions == {rep.version}
        tt = track_table(p, cam)
        assert np.all(np.isfinite(tt.p_unoccluded))
        root = p.root
    # mining again uses the stored classifier (loaded with weights_only) where nobody has labelled
    with Project.open(root) as p:
        rep2 = mine(p, cam, replace=True)
        t = detection_table(p, camera_id=cam)
        # the people's labels carried over to the new detections (store.carry_over); the machine verdicts
        # under them are the classifier's
        assert rep2.carry["orphaned"] == {"labels": 0, "human_keypoints": 0, "other_labels": 0, "track_labels": 0}
        assert set(t.decided_by) == {"human"} and np.all(np.isfinite(t.p_unoccluded))
        assert {r[0] for r in p.conn.execute("SELECT decided_by FROM verdicts")} == {"classifier"}
        assert {r[0] for r in p.conn.execute("SELECT model_version FROM verdicts")} == {rep.version}
