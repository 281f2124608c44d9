"""The built-in body estimator against exact truth: the proxy body walking or standing at known positions,
seen through several cameras (one with lens distortion); boxes are what the posed body covers."""
import numpy as np
import pytest

from people_synth import CAMERAS, person_track
from walt3d_studio.reconstruct import bodies
from walt3d_studio.reconstruct.body_builtin import BuiltinEstimator
from walt3d_studio.reconstruct.body_estimators import PersonDetection


def _fitted(est, cam):
    feet = np.array([bodies.ground_point(bodies.posed_joints(p, est.shape)[None], cam.n, cam.d)[0]
                     for p in est.params])
    facing = np.array([bodies.rodrigues(np.asarray(p["global_orient"]))[:, 2] for p in est.params])
    return feet, facing


@pytest.mark.slow
@pytest.mark.parametrize("cam_name", sorted(CAMERAS))
def test_builtin_meets_the_truth(cam_name):
    cam = CAMERAS[cam_name]
    rng = np.random.default_rng(7)
    # 2 s at 10 fps: the smoothing along a track needs about a gait cycle and a half (docs/reconstruction-people.md)
    tracks = [person_track(cam, rng, n=20, walking=w) for w in (True, True, False)]
    results = BuiltinEstimator().estimate_tracks(cam, [d for d, _ in tracks], "proxy")
    for (dets, truth), est in zip(tracks, results):
        assert est.shape["body_model"] == "proxy" and len(est.params) == len(dets) and not est.failed
        feet, facing = _fitted(est, cam)
        dist = np.linalg.norm(truth["feet"], axis=1)
        foot_err = np.linalg.norm(feet - truth["feet"], axis=1) / dist
        assert foot_err.max() <= 0.015, (cam_name, foot_err)
        assert abs(est.shape["height_m"] / truth["height"] - 1) <= 0.03
        # the body stands on the ground: its lowest point at ground level
        v, _ = bodies.posed_mesh(est.params[0], est.shape)
        assert (v @ cam.n + cam.d).min() == pytest.approx(0, abs=0.01)
        if np.linalg.norm(truth["feet"][-1] - truth["feet"][0]) > 0:  # walkers face where they go
            angle = np.degrees(np.arccos(np.clip(facing @ truth["heading"], -1, 1)))
            assert angle.max() <= 15
            assert all(est.notes["moving"])
        else:  # people standing still face the camera
            to_cam = -cam.d * cam.n - feet
            to_cam -= np.outer(to_cam @ cam.n, cam.n)
            cosang = np.sum(facing * to_cam, axis=1) / np.linalg.norm(to_cam, axis=1)
            assert cosang.min() > np.cos(np.radians(5))
        # one height per track, SMPL-layout parameters per detection
        p = est.params[0]
        assert len(p["global_orient"]) == 3 and len(p["body_pose"]) == 69 and len(p["betas"]) == 10


def test_box_above_the_horizon_is_reported_not_fitted():
    cam = CAMERAS["street"]
    dets, _ = person_track(cam, np.random.default_rng(1), n=4)
    dets.append(PersonDetection(99, dets[-1].time + 0.1, np.array([300.0, 0.0, 20.0, 10.0])))  # in the sky
    est = BuiltinEstimator().estimate_track(cam, dets)
    assert est.params[-1] is None and 99 in est.failed and "horizon" in est.failed[99]
    assert all(p is not None for p in est.params[:-1])
