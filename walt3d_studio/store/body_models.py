"""Which SMPL model a project uses (`walt3d bodies set-model`): its file name and checksum in `meta`; the
converted arrays live in PROJECT/bodies/<sha256>.npz. No model set means the shipped proxy body."""
from __future__ import annotations

import json
from pathlib import Path

KEY = "body_model"


def model_dir(project) -> Path:
    return Path(project.root) / "bodies"


def body_model(project) -> dict | None:
    """{"file", "sha256", "npz"} of the project's SMPL model, or None (use the proxy)."""
    row = project.conn.execute("SELECT value FROM meta WHERE key = ?", (KEY,)).fetchone()
    if row is None:
        return None
    info = json.loads(row[0])
    return info or None


def set_body_model(project, file: str | None, sha256: str | None = None) -> None:
    """Record the project's SMPL model (None: back to the proxy) in one transaction."""
    value = json.dumps({} if file is None else {"file": file, "sha256": sha256, "npz": f"bodies/{sha256}.npz"})
    with project.transaction() as c:
        c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                  (KEY, value))


def body_model_name(project) -> str:
    """'proxy' or 'smpl:<file>:<sha256>', as fits store it."""
    info = body_model(project)
    return "proxy" if info is None else f"smpl:{info['file']}:{info['sha256']}"
