"""Where the shipped resources (demo footage, calibrations, schemas, shape model, proxy body) live.

They are package data (`walt3d_studio/data`, a link to the checkout's top-level `resources/` folder), found
through importlib.resources so an installed wheel works as well as an editable checkout."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import Walt3DError

ROOT = Path(str(files("walt3d_studio") / "data"))


def resource(*parts: str) -> Path:
    path = ROOT.joinpath(*parts)
    if not path.exists():
        raise Walt3DError(f"The resource {'/'.join(parts)} is missing from {ROOT}.",
                          "Reinstall WALT3D Studio (pip install walt3d-studio, or pip install -e . in a checkout).")
    return path
