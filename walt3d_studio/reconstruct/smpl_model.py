"""A user's own SMPL model file: checked, converted once to `.npz` (no pickles afterwards), and found again.

SMPL's official files are Python-2 pickles whose arrays are chumpy objects. Unpickling runs code named by the
file, so we only do it after the user says they trust the file (`--trust`), and even then through a restricted
unpickler that knows a short list of classes: numpy arrays, scipy sparse matrices (the joint regressor) and
chumpy's plain array class `Ch`, which is mapped to its numpy value (chumpy itself is never imported). Any other
class — including chumpy expressions — is refused with a message. The converted `.npz` is what smplx loads.
"""
from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import BadInputError

REQUIRED = ("v_template", "f", "weights", "J_regressor", "kintree_table", "shapedirs", "posedirs")
_N_JOINTS = 24
_HINT = ("Use SMPL's own model file (basicModel_*.pkl / SMPL_NEUTRAL.pkl from smpl.is.tue.mpg.de) "
         "or an .npz with the same arrays.")


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _ChumpyArray:
    """Stands in for chumpy.ch.Ch while unpickling: keeps the state, whose 'x' is the numpy value."""

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"x": state}


def _sparse(name: str):
    import scipy.sparse as sp

    return getattr(sp, name)


def _multiarray(name: str):
    import importlib

    try:
        return getattr(importlib.import_module("numpy._core.multiarray"), name)
    except ImportError:  # numpy < 2
        return getattr(importlib.import_module("numpy.core.multiarray"), name)


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): lambda: _multiarray("_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _multiarray("_reconstruct"),
    ("numpy.core.multiarray", "scalar"): lambda: _multiarray("scalar"),
    ("numpy._core.multiarray", "scalar"): lambda: _multiarray("scalar"),
    ("_codecs", "encode"): lambda: __import__("codecs").encode,  # how Python 3 writes bytes in protocol 2
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("copy_reg", "_reconstructor"): lambda: __import__("copyreg")._reconstructor,
    ("copyreg", "_reconstructor"): lambda: __import__("copyreg")._reconstructor,
    ("__builtin__", "object"): lambda: object,
    ("builtins", "object"): lambda: object,
    ("chumpy.ch", "Ch"): lambda: _ChumpyArray,
}
for _mod in ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr"):
    _ALLOWED[(_mod, _mod.rsplit(".", 1)[1].strip("_") + "_matrix")] = \
        (lambda m: (lambda: _sparse(m.rsplit(".", 1)[1].strip("_") + "_matrix")))(_mod)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        make = _ALLOWED.get((module, name))
        if make is None:
            if module.startswith("chumpy"):
                raise BadInputError(f"The model file holds a chumpy expression ({module}.{name}), not plain arrays.",
                                    "Convert it with SMPL's own tools to plain numpy arrays (.npz), then set that.")
            raise BadInputError(f"The model file asks to load {module}.{name}, which an SMPL model never needs; "
                                "it was not loaded.", _HINT)
        return make()


def _plain(value, key: str):
    """chumpy stand-ins and sparse matrices → numpy arrays; other values unchanged."""
    if isinstance(value, _ChumpyArray):
        if "x" not in value.state:
            raise BadInputError(f"The model's '{key}' is a chumpy object without a value.", _HINT)
        value = value.state["x"]
    if hasattr(value, "toarray"):
        value = value.toarray()
    return value


def read_model_file(path) -> dict:
    """The arrays of an SMPL model file (.pkl through the restricted unpickler, or .npz), as numpy."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BadInputError(f"Cannot read the model file {path}: {e.strerror or e}.", "Check the path.") from None
    if raw[:2] == b"PK":  # an .npz (zip) file: no pickles allowed inside
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (ValueError, OSError) as e:
            raise BadInputError(f"{path.name} is not a usable .npz model file: {e}.", _HINT) from None
    else:
        try:
            data = _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
        except BadInputError:
            raise
        except Exception as e:  # a damaged or foreign pickle can fail in many ways
            raise BadInputError(f"{path.name} is not an SMPL model file ({type(e).__name__}: {e}).", _HINT) from None
        if not isinstance(data, dict):
            raise BadInputError(f"{path.name} does not hold a dictionary of arrays, as SMPL model files do.", _HINT)
        data = {str(k): _plain(v, str(k)) for k, v in data.items()}
    return check_model(data, path.name)


def check_model(data: dict, name: str) -> dict:
    """Validate shapes and return just the arrays smplx needs, with sensible dtypes."""
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise BadInputError(f"{name} lacks {', '.join(missing)}, so it is not an SMPL model.", _HINT)
    try:
        out = {k: np.asarray(_plain(data[k], k)) for k in REQUIRED}
    except Exception as e:
        raise BadInputError(f"{name}: an array could not be read ({e}).", _HINT) from None
    v, f = out["v_template"].astype(np.float64), out["f"]
    n = len(v)
    problems = []
    if v.ndim != 2 or v.shape[1] != 3 or n < 4:
        problems.append(f"v_template has shape {v.shape}, not (N, 3)")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer) or f.size == 0 \
            or f.min() < 0 or f.max() >= n:
        problems.append("f is not a list of triangles over the template's vertices")
    shapes = {"weights": (n, _N_JOINTS), "J_regressor": (_N_JOINTS, n), "kintree_table": (2, _N_JOINTS)}
    for k, s in shapes.items():
        if out[k].shape != s:
            problems.append(f"{k} has shape {out[k].shape}, not {s}")
    sd, pd = out["shapedirs"], out["posedirs"]
    if sd.ndim != 3 or sd.shape[:2] != (n, 3) or sd.shape[2] < 1:
        problems.append(f"shapedirs has shape {sd.shape}, not ({n}, 3, B)")
    if pd.shape != (n, 3, (_N_JOINTS - 1) * 9):
        problems.append(f"posedirs has shape {pd.shape}, not ({n}, 3, 207)")
    if problems:
        raise BadInputError(f"{name} is not an SMPL model: " + "; ".join(problems) + ".", _HINT)
    for k in ("v_template", "weights", "J_regressor", "shapedirs", "posedirs"):
        if not np.isfinite(out[k]).all():
            raise BadInputError(f"{name}: {k} contains non-finite numbers.", _HINT)
    if not np.allclose(out["weights"].sum(axis=1), 1, atol=1e-3):
        raise BadInputError(f"{name}: the skinning weights of a vertex do not sum to 1.", _HINT)
    kt = out["kintree_table"].astype(np.int64)
    kt[0, 0] = -1  # SMPL stores the root's parent as 2**32-1
    if not all(0 <= kt[0, j] < j for j in range(1, _N_JOINTS)):
        raise BadInputError(f"{name}: kintree_table is not a tree with parents before children.", _HINT)
    return {"v_template": v, "f": f.astype(np.int64), "weights": out["weights"].astype(np.float64),
            "J_regressor": out["J_regressor"].astype(np.float64), "kintree_table": kt,
            "shapedirs": sd.astype(np.float32), "posedirs": pd.astype(np.float32)}  # smplx computes in float32


def convert_model(src, dest_dir, trust: bool) -> tuple[str, str, Path]:
    """Check and convert a model file into `dest_dir/<sha256>.npz` (atomically). Returns (file name, sha256 of
    the source file, npz path). A pickle is read only when `trust` is True."""
    src = Path(src)
    if not src.is_file():
        raise BadInputError(f"No model file at {src}.", "Give the path of your SMPL model file.")
    head = src.read_bytes()[:2]
    if head != b"PK" and not trust:
        raise BadInputError(f"{src.name} is a pickle: loading it can run code written into the file.",
                            "If you trust this file (e.g. downloaded by you from smpl.is.tue.mpg.de), run again "
                            "with --trust; it is converted once to .npz and never unpickled again.")
    data = read_model_file(src)
    sha = sha256_of(src)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{sha}.npz"
    with atomic_path(dest, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **data)
        smoke_test(tmp)  # before it replaces anything: a model smplx cannot pose is never stored
    return src.name, sha, dest


def smoke_test(npz: Path) -> None:
    """Build the smplx layer from the npz and pose it once, so a model that smplx cannot use fails now."""
    from .bodies import _smpl_forward, _smpl_layer

    try:
        _smpl_forward(Path(npz), {"global_orient": np.zeros((1, 3)), "body_pose": np.zeros((1, 69)),
                                  "transl": np.zeros((1, 3))}, np.zeros(10))
    except Exception as e:
        raise BadInputError(f"smplx cannot use this model ({type(e).__name__}: {e}).", _HINT) from None
    finally:
        _smpl_layer.cache_clear()
