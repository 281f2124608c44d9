"""Where the shipped resources (demo footage, calibrations, schemas, shape model) live."""
from __future__ import annotations

from pathlib import Path

from .errors import Walt3DError

ROOT = Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    path = ROOT.joinpath(*parts)
    if not path.exists():
        raise Walt3DError(f"The resource {'/'.join(parts)} is missing from {ROOT}.",
                          "Reinstall WALT3D Studio from a full checkout (pip install -e .).")
    return path
