"""Fits round-trip through the store; a re-fit replaces the old fit but never a person's review of it."""
import numpy as np
import pytest

from walt3d_studio.errors import BadInputError
from walt3d_studio.store import Project
from walt3d_studio.store.fits import (DetectionFit, TrackFit, fit_counts, fit_review, fits_for_frame,
                                      save_track_fits, set_fit_review, track_fits)


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p")
    c = p.conn
    with p.transaction():
        c.execute("INSERT INTO cameras (id, name, tz, width, height, created_at) VALUES (1, 'a', 'UTC', 10, 10, 0)")
        c.execute("INSERT INTO sources (id, camera_id, kind, path, time_origin, n_frames, added_at)"
                  " VALUES (1, 1, 'images', 'p', 'fps', 2, 0)")
        c.executemany("INSERT INTO frames (id, camera_id, source_id, source_index, capture_time) VALUES (?, 1, 1, ?, ?)",
                      [(1, 0, 0.0), (2, 1, 1.0)])
        c.execute("INSERT INTO tracks (id, camera_id, category, created_at) VALUES (7, 1, 'car', 0)")
        c.executemany("INSERT INTO detections (id, frame_id, track_id, detector, category, score, x, y, w, h,"
                      " created_at) VALUES (?, ?, 7, 'fg', 'car', 1, 1, 1, 3, 3, 0)", [(11, 1), (12, 2)])
    yield p
    p.close()


def _fit(method="keypoints+track", x=5.0):
    dets = [DetectionFit(11, R=np.eye(3), t=np.array([x, 1.5, 10.0]), quality={"reprojection_px": 1.2}),
            DetectionFit(12, R=np.eye(3), t=np.array([x + 1, 1.5, 10.0]), status="needs_review", reason="iou 0.4")]
    return TrackFit(7, "vehicle", method, shape={"alpha": [0.1, -0.2]}, quality={"silhouette_iou": 0.8},
                    detections=dets)


def test_round_trip_and_frame_lookup(project):
    save_track_fits(project, [_fit()])
    [f] = track_fits(project, camera_id=1, with_detections=True)
    assert f.method == "keypoints+track" and f.shape["alpha"] == [0.1, -0.2]
    assert [d.detection_id for d in f.detections] == [11, 12]
    np.testing.assert_allclose(f.detections[1].t, [6.0, 1.5, 10.0])
    [(tf, df)] = fits_for_frame(project, 2)
    assert tf.track_id == 7 and df.status == "needs_review" and df.reason == "iou 0.4"
    assert fit_counts(project, 1) == {"vehicle": {"ok": 1}}


def test_refit_replaces_fit_but_keeps_review(project):
    save_track_fits(project, [_fit()])
    assert set_fit_review(project, 7, "accept", "ann") is None
    save_track_fits(project, [_fit("silhouette", x=9.0)])
    [f] = track_fits(project, with_detections=True)
    assert f.method == "silhouette" and f.detections[0].t[0] == 9.0
    assert project.conn.execute("SELECT COUNT(*) FROM fits").fetchone()[0] == 2
    assert fit_review(project, 7) == "accept"
    assert set_fit_review(project, 7, None, "ann") == "accept" and fit_review(project, 7) is None


def test_bad_status_refused_and_nothing_written(project):
    bad = _fit()
    bad.detections[0].status = "great"
    with pytest.raises(BadInputError):
        save_track_fits(project, [bad])
    assert track_fits(project) == []
