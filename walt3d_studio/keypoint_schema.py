"""Keypoint schemas: which points a class has, how they connect, which swap under a left-right flip.

One JSON file per class (`resources/keypoints/vehicle12.json`, `person17.json`); any file of the same form
works with the editor, the exports and the keypoint model. Qt-free. The file form::

    {"format": "walt3d-keypoint-schema", "version": 1,
     "name": "vehicle12", "category": "vehicle",
     "detection_categories": ["car", ...],        # detector categories this schema is for (optional)
     "description": "...",                         # optional
     "keypoints": [{"name": "...", "description": "..."}, ...]   # or plain name strings
     "skeleton": [["a", "b"], ...],               # edges, by name or 0-based index
     "flip_pairs": [["left_x", "right_x"], ...]}  # by name or 0-based index; each point in one pair at most

In memory, skeleton and flip pairs are 0-based index pairs; COCO files want the skeleton 1-based
(`coco_skeleton()`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import BadInputError
from .resources import ROOT as RESOURCES

FORMAT = "walt3d-keypoint-schema"
FORMAT_VERSION = 1
SCHEMA_DIR = RESOURCES / "keypoints"


@dataclass(frozen=True)
class KeypointSchema:
    name: str
    category: str
    keypoints: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]  # 0-based
    flip_pairs: tuple[tuple[int, int], ...]  # 0-based
    descriptions: tuple[str, ...] = ()
    detection_categories: tuple[str, ...] = ()
    description: str = ""
    path: str | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def index(self, name: str) -> int:
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise BadInputError(f"Schema {self.name!r} has no keypoint {name!r}.",
                                f"Its keypoints: {', '.join(self.keypoints)}.") from None

    def flip_index(self) -> list[int]:
        """Permutation p such that after a horizontal flip keypoint i of the flipped object is p[i]."""
        p = list(range(len(self.keypoints)))
        for a, b in self.flip_pairs:
            p[a], p[b] = b, a
        return p

    def coco_skeleton(self) -> list[list[int]]:
        """The skeleton 1-based, as COCO categories carry it."""
        return [[a + 1, b + 1] for a, b in self.skeleton]

    def applies_to(self, detection_category: str) -> bool:
        return detection_category == self.category or detection_category in self.detection_categories

    def empty(self) -> np.ndarray:
        """A (K, 3) array of absent keypoints (x = y = 0, v = 0)."""
        return np.zeros((len(self.keypoints), 3), dtype=np.float64)

    def check_points(self, points) -> np.ndarray:
        """Validate COCO triplets for this schema: a (K, 3) array or a flat list of 3K numbers."""
        arr = np.asarray(points, dtype=np.float64)
        k = len(self.keypoints)
        if arr.ndim == 1 and arr.size == 3 * k:
            arr = arr.reshape(k, 3)
        if arr.shape != (k, 3):
            raise BadInputError(f"Expected {k} keypoints [x, y, v] for schema {self.name!r}, got shape "
                                f"{tuple(np.shape(points))}.", "Give one [x, y, v] triplet per schema keypoint.")
        if not np.all(np.isfinite(arr)):
            raise BadInputError(f"Keypoints for schema {self.name!r} contain NaN or infinite values.",
                                "Use v = 0 with x = y = 0 for an absent keypoint.")
        bad = [i for i, v in enumerate(arr[:, 2]) if v not in (0, 1, 2)]
        if bad:
            raise BadInputError(f"Keypoint visibility must be 0, 1 or 2; {self.keypoints[bad[0]]} has "
                                f"{arr[bad[0], 2]:g}.", "v = 0 absent, 1 labelled but occluded, 2 visible.")
        return arr

    def to_dict(self) -> dict:
        d = {"format": FORMAT, "version": FORMAT_VERSION, "name": self.name, "category": self.category}
        if self.detection_categories:
            d["detection_categories"] = list(self.detection_categories)
        if self.description:
            d["description"] = self.description
        descs = self.descriptions or ("",) * len(self.keypoints)
        d["keypoints"] = [{"name": n, "description": t} if t else {"name": n} for n, t in zip(self.keypoints, descs)]
        d["skeleton"] = [[self.keypoints[a], self.keypoints[b]] for a, b in self.skeleton]
        d["flip_pairs"] = [[self.keypoints[a], self.keypoints[b]] for a, b in self.flip_pairs]
        return d

    def coco_category(self, category_id: int) -> dict:
        """A COCO category entry: `keypoints` names and a 1-based `skeleton`, plus our schema in `walt3d`."""
        return {"id": category_id, "name": self.category, "supercategory": self.category,
                "keypoints": list(self.keypoints), "skeleton": self.coco_skeleton(),
                "walt3d": {"schema": self.name, "flip_pairs": [list(p) for p in self.flip_pairs]}}


# -- loading ---------------------------------------------------------------------------------------

def builtin_schemas() -> list[str]:
    """Names of the schemas shipped in resources/keypoints."""
    return sorted(p.stem for p in SCHEMA_DIR.glob("*.json"))


def load_schema(name_or_path: str | os.PathLike | KeypointSchema, search: tuple = ()) -> KeypointSchema:
    """A built-in schema by name ("vehicle12", "person17"), a schema in one of the `search` folders (a
    project's keypoints/schemas/), or any schema file by path."""
    if isinstance(name_or_path, KeypointSchema):
        return name_or_path
    text = str(name_or_path)
    p = Path(text).expanduser()
    if p.suffix.lower() == ".json" or os.sep in text or p.exists():
        return _load_file(str(p.resolve()), _mtime(p))
    for folder in (*(Path(d) for d in search), SCHEMA_DIR):
        f = folder / f"{text}.json"
        if f.is_file():
            return _load_file(str(f.resolve()), _mtime(f))
    raise BadInputError(f"No keypoint schema named {text!r}.",
                        f"Built-in schemas: {', '.join(builtin_schemas()) or 'none'}; or give a schema file.")


def save_schema(schema: KeypointSchema, folder: str | os.PathLike) -> Path:
    """Write a schema as FOLDER/NAME.json (atomically), e.g. into a project's keypoints/schemas/."""
    from .atomic import write_text
    from .validate import path_under

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = path_under(folder, f"{schema.name}.json")  # a name cannot climb out of the folder
    write_text(dest, json.dumps(schema.to_dict(), indent=2))
    return dest


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=64)
def _load_file(path: str, _mtime: float) -> KeypointSchema:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BadInputError(f"Keypoint schema file {path} does not exist.", "Check the path.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"Cannot read keypoint schema {path}: {e}.", "Check the file.") from None
    except json.JSONDecodeError as e:
        raise BadInputError(f"Keypoint schema {path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}).",
                            "Fix the file; see resources/keypoints/vehicle12.json for the form.") from None
    return schema_from_dict(data, source=path)


def schema_from_dict(data, source: str = "schema") -> KeypointSchema:
    """Build and validate a schema from its JSON form; errors name the file and the field."""

    def bad(msg: str) -> BadInputError:
        return BadInputError(f"Keypoint schema {source}: {msg}",
                             "See resources/keypoints/vehicle12.json for a valid schema file.")

    if not isinstance(data, dict):
        raise bad("the file must hold a JSON object.")
    if data.get("format", FORMAT) != FORMAT:
        raise bad(f"format is {data.get('format')!r}, expected {FORMAT!r}.")
    version = data.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise bad(f"version {version!r} is newer than this program understands ({FORMAT_VERSION}).")
    for key in ("name", "category"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise bad(f"'{key}' must be a non-empty string.")
    if any(c in data["name"] for c in "/\\\0") or data["name"].startswith(".") or len(data["name"]) > 64:
        raise bad(f"'name' {data['name'][:40]!r} becomes a file name: no '/', '\\', leading '.', at most 64 "
                  "characters.")
    kps = data.get("keypoints")
    if not isinstance(kps, list) or not kps:
        raise bad("'keypoints' must be a non-empty list.")
    names, descs = [], []
    for i, kp in enumerate(kps):
        if isinstance(kp, str):
            kp = {"name": kp}
        if not isinstance(kp, dict) or not isinstance(kp.get("name"), str) or not kp["name"].strip():
            raise bad(f"keypoint {i} must be a name or an object with a non-empty 'name'.")
        if not isinstance(kp.get("description", ""), str):
            raise bad(f"keypoint {kp['name']!r}: 'description' must be a string.")
        names.append(kp["name"])
        descs.append(kp.get("description", ""))
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise bad(f"keypoint names must be unique; repeated: {', '.join(dup)}.")

    def pairs(key: str) -> list[tuple[int, int]]:
        raw = data.get(key, [])
        if not isinstance(raw, list):
            raise bad(f"'{key}' must be a list of pairs.")
        out = []
        for j, pair in enumerate(raw):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise bad(f"{key}[{j}] must be a pair of keypoint names or 0-based indices, got {pair!r}.")
            idx = []
            for item in pair:
                if isinstance(item, bool):
                    item = None
                if isinstance(item, str):
                    if item not in names:
                        raise bad(f"{key}[{j}] names an unknown keypoint {item!r}.")
                    idx.append(names.index(item))
                elif isinstance(item, int):
                    if not 0 <= item < len(names):
                        raise bad(f"{key}[{j}] index {item} is out of range 0..{len(names) - 1} (indices are 0-based).")
                    idx.append(item)
                else:
                    raise bad(f"{key}[{j}] must hold keypoint names or 0-based indices, got {item!r}.")
            if idx[0] == idx[1]:
                raise bad(f"{key}[{j}] pairs {names[idx[0]]!r} with itself.")
            out.append((idx[0], idx[1]))
        return out

    skeleton = pairs("skeleton")
    flips = pairs("flip_pairs")
    seen: set[int] = set()
    for a, b in flips:
        if a in seen or b in seen:
            raise bad(f"keypoint {names[a] if a in seen else names[b]!r} is in more than one flip pair.")
        seen.update((a, b))
    cats = data.get("detection_categories", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise bad("'detection_categories' must be a list of strings.")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise bad("'description' must be a string.")
    return KeypointSchema(name=data["name"], category=data["category"], keypoints=tuple(names),
                          skeleton=tuple(skeleton), flip_pairs=tuple(flips), descriptions=tuple(descs),
                          detection_categories=tuple(cats), description=desc,
                          path=source if os.path.isabs(str(source)) else None)


def schema_for_category(detection_category: str, candidates: list[str] | None = None) -> KeypointSchema | None:
    """The schema (among the built-ins, or `candidates`) whose class covers a detector category."""
    for name in candidates or builtin_schemas():
        s = load_schema(name)
        if s.applies_to(detection_category):
            return s
    return None


# -- several classes in one head -------------------------------------------------------------------

@dataclass(frozen=True)
class JointLayout:
    """Slots of several schemas side by side in one keypoint head (vehicle 0-11, person 12-28).

    Slots of the other classes are v = 0 for an instance of one class."""

    schemas: tuple[KeypointSchema, ...]

    @property
    def offsets(self) -> tuple[int, ...]:
        out, o = [], 0
        for s in self.schemas:
            out.append(o)
            o += len(s)
        return tuple(out)

    @property
    def total(self) -> int:
        return sum(len(s) for s in self.schemas)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.schemas)

    def schema(self, name: str) -> KeypointSchema:
        for s in self.schemas:
            if s.name == name:
                return s
        raise BadInputError(f"Schema {name!r} is not part of this keypoint head ({', '.join(self.names)}).",
                            "Train a model that includes this class.")

    def slots(self, name: str) -> slice:
        for s, o in zip(self.schemas, self.offsets):
            if s.name == name:
                return slice(o, o + len(s))
        self.schema(name)  # raises
        raise AssertionError

    def flip_index(self) -> list[int]:
        out: list[int] = []
        for s, o in zip(self.schemas, self.offsets):
            out.extend(o + i for i in s.flip_index())
        return out

    def pack(self, name: str, points) -> np.ndarray:
        """(K, 3) points of one class -> (total, 3) with every other class's slots v = 0."""
        full = np.zeros((self.total, 3), dtype=np.float64)
        full[self.slots(name)] = self.schema(name).check_points(points)
        return full

    def unpack(self, name: str, arr) -> np.ndarray:
        """The class's rows of a (total, ...) array (points or confidences)."""
        return np.asarray(arr)[self.slots(name)]

    def to_dict(self) -> dict:
        return {"schemas": [s.to_dict() for s in self.schemas]}

    @classmethod
    def from_dict(cls, d: dict) -> "JointLayout":
        return cls(tuple(schema_from_dict(s, source="checkpoint") for s in d["schemas"]))


def joint_layout(*names: str | KeypointSchema, search: tuple = ()) -> JointLayout:
    """E.g. `joint_layout("vehicle12", "person17")`: the 29-slot two-class layout."""
    schemas = tuple(load_schema(n, search=search) for n in names)
    if len({s.name for s in schemas}) != len(schemas):
        raise BadInputError("A keypoint head cannot hold the same schema twice.", "List each class once.")
    return JointLayout(schemas)
