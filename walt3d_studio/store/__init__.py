"""The project store: the single source of truth (SQLite in WAL mode plus array files)."""
from .project import CameraRow, FrameTable, Project, SourceRow, normalise_path
from .schema import SCHEMA_VERSION

__all__ = ["CameraRow", "FrameTable", "Project", "SourceRow", "SCHEMA_VERSION", "normalise_path"]
