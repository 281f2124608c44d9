"""A user's SMPL model: trusted pickles converted once to .npz (chumpy arrays mapped to numpy, anything else
refused), posed through smplx, and checked against our own skinning."""
import pickle

import numpy as np
import pytest

from smpl_synth import synthetic_smpl, write_pickle
from walt3d_studio.errors import BadInputError
from walt3d_studio.reconstruct import bodies
from walt3d_studio.reconstruct.smpl_model import convert_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("smpl") / "SMPL_SYNTH.pkl"
    model = synthetic_smpl()
    write_pickle(path, model)
    return path, model


@pytest.mark.slow
def test_pickle_needs_trust_then_converts_and_poses_like_our_lbs(model_file, tmp_path, monkeypatch):
    path, model = model_file
    with pytest.raises(BadInputError, match="--trust"):
        convert_model(path, tmp_path / "bodies", trust=False)
    assert not (tmp_path / "bodies").exists() or not list((tmp_path / "bodies").iterdir())
    name, sha, npz = convert_model(path, tmp_path / "bodies", trust=True)
    assert name == "SMPL_SYNTH.pkl" and npz.name == f"{sha}.npz" and len(sha) == 64
    with np.load(npz, allow_pickle=False) as z:  # plain arrays, loadable without pickles
        assert z["v_template"].shape == (6890, 3) and z["J_regressor"].shape == (24, 6890)
    bodies.add_model_dir(tmp_path / "bodies")
    shape = {"betas": [0.5, -1.0] + [0] * 8, "body_model": f"smpl:{name}:{sha}"}
    rng = np.random.default_rng(1)
    params = {"global_orient": [np.pi, 0, 0], "body_pose": rng.normal(0, 0.3, 69), "transl": [0.3, 1.0, 8.0]}
    v, f = bodies.posed_mesh(params, shape)
    assert v.shape == (6890, 3) and v.dtype == np.float64 and f.shape == (13776, 3)
    # the same model posed by our LBS (posedirs are zero): smplx and we agree to float32 precision
    betas = np.asarray(shape["betas"])
    vs = model["v_template"] + model["shapedirs"] @ betas
    rest = bodies.RestBody(vs, model["f"].astype(int), model["J_regressor"] @ vs,
                           np.argsort(-model["weights"], axis=1)[:, :24],
                           -np.sort(-model["weights"], axis=1)[:, :24])
    rv = np.r_[params["global_orient"], params["body_pose"]].reshape(1, 24, 3)
    ours, joints = bodies.pose_rest(rest, rv, np.array([params["transl"]]))
    assert np.abs(ours[0] - v).max() < 1e-4
    assert np.abs(joints[0] - bodies.posed_joints(params, shape)).max() < 1e-4
    assert bodies.coco17_keypoints(params, shape).shape == (17, 3)
    # height control through betas[0]
    from walt3d_studio.reconstruct.bodies import find_smpl_npz, smpl_betas_for_height, smpl_rest_height
    b = smpl_betas_for_height(find_smpl_npz(name, sha), 1.75)
    assert smpl_rest_height(find_smpl_npz(name, sha), b) == pytest.approx(1.75, abs=0.005)


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload,match", [
    ({"v_template": _Evil()}, "posix.system|os.system|never needs"),
    ("not a dict", "dictionary"),
    (None, "not an SMPL model"),
])
def test_bad_model_files_are_refused_and_nothing_is_stored(tmp_path, payload, match):
    path = tmp_path / "bad.pkl"
    if payload is None:
        model = synthetic_smpl()
        model["weights"] = model["weights"][:100]  # wrong shape
        write_pickle(path, model, chumpy=False)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(BadInputError, match=match):
        convert_model(path, tmp_path / "bodies", trust=True)
    assert not list((tmp_path / "bodies").glob("*")) if (tmp_path / "bodies").exists() else True


def test_chumpy_expressions_and_garbage_are_refused(tmp_path):
    # a pickle naming another chumpy class (an expression, not an array)
    path = tmp_path / "expr.pkl"
    path.write_bytes(b"\x80\x02cchumpy.ch_ops\nadd\nq\x00.")
    with pytest.raises(BadInputError, match="chumpy expression"):
        convert_model(path, tmp_path / "bodies", trust=True)
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x00\x01garbage")
    with pytest.raises(BadInputError, match="not an SMPL model file"):
        convert_model(junk, tmp_path / "bodies", trust=True)
