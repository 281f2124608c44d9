"""A small synthetic model in SMPL's file format (no licensed data): the proxy body's vertices, faces and
skinning weights, a sparse joint regressor, random shape directions, zero pose correctives, written as a
Python-2-style pickle whose arrays are chumpy `Ch` objects (a stand-in class, chumpy is not needed)."""
import pickle
import sys
import types

import numpy as np
import scipy.sparse as sp

from walt3d_studio.reconstruct import bodies


def _fake_chumpy():
    ch = types.ModuleType("chumpy.ch")

    class Ch:  # pickled by reference as chumpy.ch.Ch with its __dict__ as state, as chumpy's arrays are
        def __init__(self, x):
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    ch.Ch = Ch
    return ch


def synthetic_smpl(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rest = bodies.proxy_rest({"height_m": 1.7})
    v = rest.vertices
    reg = np.zeros((24, len(v)))
    for j, J in enumerate(rest.joints):
        near = np.argsort(np.linalg.norm(v - J, axis=1))[:8]
        reg[j, near] = 1 / 8
    kt = np.vstack([bodies.PARENTS, np.arange(24)]).astype(np.int64)
    kt[0, 0] = 2 ** 32 - 1
    return {"v_template": v, "f": rest.faces.astype(np.uint32), "weights": rest.dense_weights,
            "J_regressor": sp.csc_matrix(reg), "kintree_table": kt,
            "shapedirs": rng.normal(0, 0.01, (len(v), 3, 10)), "posedirs": np.zeros((len(v), 3, 207), np.float32),
            "bs_style": "lbs", "bs_type": "lrotmin"}


def write_pickle(path, model: dict, chumpy: bool = True) -> None:
    data = dict(model)
    if chumpy:
        mod = _fake_chumpy()
        saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
        sys.modules["chumpy"], sys.modules["chumpy.ch"] = types.ModuleType("chumpy"), mod
        try:
            for k in ("v_template", "weights", "shapedirs", "posedirs"):
                data[k] = mod.Ch(data[k])
            with open(path, "wb") as f:
                pickle.dump(data, f, protocol=2)
        finally:
            for k, m in saved.items():
                if m is None:
                    sys.modules.pop(k, None)
                else:
                    sys.modules[k] = m
    else:
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=2)
