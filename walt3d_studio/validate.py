"""Checks shared by every importer and writer: untrusted values in, safe names and paths out.

Files users give us (COCO, MOT, CarFusion, calibration JSON, label exports) are checked field by field before
anything is stored, so a bad value is reported with where it is (file:line or annotation id) and nothing is
imported. Names that end up in file names (cameras) cannot climb out of the folder they are written to.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from .errors import BadInputError

MAX_INT_DIGITS = 18  # ids, frame numbers, sizes: anything longer is an attack or a corrupt file
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")


class Invalid(ValueError):
    """One field's problem (the caller adds where it is)."""


# -- numbers ----------------------------------------------------------------------------------------

def finite(v, what: str = "value") -> float:
    """A finite real number (not a bool, string or list)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Invalid(f"{what} must be a number, not {_show(v)}")
    try:
        f = float(v)
    except OverflowError:
        raise Invalid(f"{what} is too large ({_show(v)})") from None
    if not math.isfinite(f):
        raise Invalid(f"{what} must be finite, not {_show(v)}")
    return f


def integer(v, what: str = "value", *, allow_float: bool = False) -> int:
    """An integer id (no bools, no 1.5; whole floats only with `allow_float`, as MOT text writes 3.0)."""
    if isinstance(v, bool):
        raise Invalid(f"{what} must be an integer, not {_show(v)}")
    if isinstance(v, int):
        if abs(v) >= 10 ** MAX_INT_DIGITS:
            raise Invalid(f"{what} is too large ({_show(v)})")
        return v
    if allow_float and isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 10 ** MAX_INT_DIGITS:
        return int(v)
    raise Invalid(f"{what} must be an integer, not {_show(v)}")


def number_text(text: str, what: str = "value") -> float:
    """A finite number written as text (MOT, CarFusion lines)."""
    try:
        f = float(text)
    except (TypeError, ValueError):
        raise Invalid(f"{what} {text!r} is not a number") from None
    if not math.isfinite(f):
        raise Invalid(f"{what} must be finite, not {text!r}")
    return f


def integer_text(text: str, what: str = "value") -> int:
    """An integer written as text; '3' and '3.0' are fine, '3.5', 'nan', 'inf' and 400 digits are not."""
    return integer(number_text(text, what), what, allow_float=True)


def score(v, what: str = "score") -> float:
    """A detection score in [0, 1] (None means 'no score' = 1.0)."""
    if v is None:
        return 1.0
    s = finite(v, what)
    if not 0.0 <= s <= 1.0:
        raise Invalid(f"{what} must be within 0..1, not {_show(v)}")
    return s


def box(v, what: str = "bbox") -> tuple[float, float, float, float]:
    """[x, y, w, h] of finite numbers with w, h > 0."""
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        raise Invalid(f"{what} must be [x, y, w, h], not {_show(v)}")
    x, y, w, h = (finite(c, what) for c in v)
    if w <= 0 or h <= 0:
        raise Invalid(f"{what} needs w, h > 0, not {_show(v)}")
    return x, y, w, h


def _show(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


# -- JSON -------------------------------------------------------------------------------------------

def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise Invalid(f"an integer of {len(text)} digits")
    return int(text)


MAX_DEPTH = 64  # no format we read nests deeper than a few levels


def load_json(text: str, source: str, hint: str, error=BadInputError):
    """json.loads with a bound on nesting depth and integer size; any failure is a BadInputError naming the line."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as e:
        raise error(f"{source} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}).", hint) from None
    except RecursionError:
        raise error(f"{source} is nested too deeply to be a file of this kind.", hint) from None
    except Invalid as e:
        raise error(f"{source} holds {e}, too large for any field of this format.", hint) from None


def depth(value, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of parsed JSON, walked without recursion; stops counting past `limit`."""
    best, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            best = max(best, d)
            if best > limit:
                return best
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return best


def read_json_file(path, hint: str):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist.", "Check the path.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"Cannot read {path.name}: {e}.", hint) from None
    return load_json(text, path.name, hint)


# -- names and paths --------------------------------------------------------------------------------

def check_camera_name(name) -> str:
    """Camera names become parts of file names (exports, crops): letters, digits, space, _ . + - only."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name or name.strip() != name:
        raise BadInputError(f"{_show(name)} cannot be a camera name.",
                            "Use 1-64 letters, digits, spaces, '_', '.', '+' or '-', starting with a letter or digit "
                            "(no '/', '\\' or '..').")
    return name


def safe_file_part(text: str) -> str:
    """Any text as one harmless file-name part (for names stored before names were checked)."""
    out = re.sub(r"[^A-Za-z0-9_.+-]", "_", str(text)).strip(".")
    return out[:64] or "_"


def path_under(root, *parts) -> Path:
    """root/parts..., refused (BadInputError) when it would resolve outside root."""
    root = Path(root).resolve()
    p = root.joinpath(*[str(x) for x in parts]).resolve()
    if p != root and root not in p.parents:
        raise BadInputError(f"Refusing to write {p}: it is outside {root}.",
                            "A name in the project or the file holds '..' or '/'; rename it.")
    return p


def is_under(path, root) -> bool:
    root = Path(root).resolve()
    p = Path(os.path.abspath(path)).resolve()
    return p == root or root in p.parents


# -- untrusted checkpoints --------------------------------------------------------------------------

def torch_load_problem(e: BaseException) -> str:
    """Why `torch.load(..., weights_only=True)` refused a file, in words for a user.

    torch's own message advises re-running with weights_only=False; that would run whatever code the file holds,
    so it is never repeated to a user."""
    text = str(e).strip()
    if "weights_only" in text or "Weights only" in text or "Unsupported global" in text or "GLOBAL" in text:
        return "it holds Python objects that would have to be unpickled; such files are never loaded"
    first = text.splitlines()[0] if text else type(e).__name__
    return f"not a readable torch file: {first[:160]}"
