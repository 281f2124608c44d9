"""The project on disk: a `NAME.walt3d/` folder holding one SQLite database (WAL) and array files.

This module is the single source of truth and never imports Qt. Every public write is one transaction.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_text
from ..errors import BadInputError, ProjectError
from ..jobs import JobContext, silent
from . import db
from .connections import ThreadConnections
from .db import DB_NAME
from .lock import DELEGATE_ENV, DELEGATE_FILE, DELEGATED, release_lock, take_lock

SUFFIX = ".walt3d"


@dataclass(frozen=True)
class CameraRow:
    id: int
    name: str
    tz: str
    width: int | None
    height: int | None


@dataclass(frozen=True)
class SourceRow:
    id: int
    camera_id: int
    kind: str
    path: str
    n_frames: int
    time_origin: str
    skipped: list


@dataclass
class FrameTable:
    """One camera's frames in capture order: position in these arrays is the frame index users see."""

    ids: np.ndarray  # int64 frame ids
    times: np.ndarray  # float64 UTC seconds
    source_ids: np.ndarray  # int64
    source_index: np.ndarray  # int64 decode index within the source

    def __len__(self) -> int:
        return len(self.ids)

    def position_at_time(self, t: float) -> int:
        """Index of the last frame captured at or before t (clamped)."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return min(max(i, 0), len(self) - 1)


def normalise_path(path: str | os.PathLike) -> Path:
    p = Path(path).expanduser()
    return p if p.name.endswith(SUFFIX) else p.with_name(p.name + SUFFIX)


class Project:
    """An open project. Use `Project.create` / `Project.open`; close it (or use `with`) when done."""

    def __init__(self, root: Path, conn: sqlite3.Connection, lock_fd: int | None):
        self.root = root
        self._lock_fd = lock_fd
        self.readonly = lock_fd is None
        # the opening thread uses `conn`; every other thread gets a connection of its own (store/connections.py)
        readonly = self.readonly
        self._conns = ThreadConnections(lambda: db.connect(root / DB_NAME, readonly=readonly), conn)

    @property
    def conn(self) -> sqlite3.Connection | None:
        """This thread's connection to the project's database (None once closed)."""
        return self._conns.get()

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike) -> "Project":
        root = normalise_path(path)
        if root.exists() and any(root.iterdir()):
            raise ProjectError(f"{root} already exists and is not empty.",
                               "Choose another name, or open it with File > Open project.")
        root.mkdir(parents=True, exist_ok=True)
        (root / "arrays").mkdir(exist_ok=True)
        lock_fd = take_lock(root)
        try:
            conn = db.connect(root / DB_NAME)
            db.create_schema(conn, root)
        except BaseException:
            release_lock(lock_fd)
            raise
        return cls(root, conn, lock_fd)

    @classmethod
    def open(cls, path: str | os.PathLike, readonly: bool = False) -> "Project":
        root = Path(path).expanduser()
        if not (root / DB_NAME).exists():
            alt = normalise_path(root)
            if (alt / DB_NAME).exists():
                root = alt
            else:
                raise ProjectError(f"{root} is not a WALT3D Studio project (no {DB_NAME} inside).",
                                   "Create one with `walt3d init PATH` or File > New project.")
        if not readonly and not os.access(root, os.W_OK):
            raise ProjectError(f"{root} is on a read-only location (or this user may not write there).",
                               "The project is not damaged. Open it read-only (File > Open read-only; `walt3d info` "
                               "only reads), or copy the project folder to a writable place to change it.")
        lock_fd = None if readonly else take_lock(root)
        try:
            conn = db.connect(root / DB_NAME, readonly=readonly)
            version = db.schema_version(conn, root)
            if version > db.SCHEMA_VERSION:
                raise ProjectError(
                    f"{root.name} was saved by a newer WALT3D Studio (schema {version}; this one knows "
                    f"{db.SCHEMA_VERSION}).",
                    "Update WALT3D Studio to open it; the project has not been changed.")
            if version < db.SCHEMA_VERSION:
                if readonly:
                    raise ProjectError(f"{root.name} uses an older schema ({version}) and must be upgraded first.",
                                       "Open it once for writing to migrate it (in the app, or with any `walt3d` "
                                       "command that changes the project, e.g. `walt3d background`); a backup "
                                       f"{DB_NAME}.bak-v{version} is kept.")
                db.migrate(conn, root, version)
            if not readonly:
                from .runs import mark_interrupted

                mark_interrupted(conn)  # runs whose process died are not 'running' any more
        except BaseException:
            release_lock(lock_fd)
            raise
        return cls(root, conn, lock_fd)

    def delegate_lock(self) -> dict:
        """Environment for a child process (a `walt3d` job started by the app) that may open this project for
        writing while we hold it; the token dies with our lock (close)."""
        if self.readonly or self._lock_fd in (None, DELEGATED):
            return {}
        if getattr(self, "_delegate_token", None) is None:
            import secrets

            self._delegate_token = secrets.token_hex(16)
            write_text(self.root / DELEGATE_FILE, self._delegate_token)
        return {DELEGATE_ENV: self._delegate_token}

    def close(self) -> None:
        self._conns.close_all()
        if getattr(self, "_delegate_token", None) is not None:
            (self.root / DELEGATE_FILE).unlink(missing_ok=True)
            self._delegate_token = None
        release_lock(self._lock_fd)
        self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def transaction(self):
        """One atomic write: commits on success, rolls back on any error."""
        if self.readonly:
            raise ProjectError("This project was opened read-only.", "Open it for writing to change it.")
        with self._conns.write_lock:  # one writer at a time in this process; other processes: busy timeout
            conn = self.conn
            try:
                with conn:
                    yield conn
            except sqlite3.OperationalError as e:
                err = db.explain_db_error(e, self.root)
                if err is None:
                    raise
                raise err from None

    @property
    def name(self) -> str:
        return self.root.name[: -len(SUFFIX)] if self.root.name.endswith(SUFFIX) else self.root.name

    # -- cameras -------------------------------------------------------------------------------
    def add_camera(self, name: str, tz: str | None = None) -> int:
        name, tz = self.check_new_camera(name, tz)
        with self.transaction() as c:
            return self._insert_camera(c, name, tz)

    def check_new_camera(self, name: str, tz: str | None) -> tuple[str, str]:
        """A new camera's name and time zone, checked (a clear error before anything is written)."""
        from ..timelapse import default_timezone
        from ..validate import check_camera_name

        check_camera_name(name)
        tz = tz or default_timezone()
        _check_tz(tz)
        if self.conn.execute("SELECT 1 FROM cameras WHERE name = ?", (name,)).fetchone():
            raise BadInputError(f"A camera named {name!r} already exists.", "Pick another name.")
        return name, tz

    @staticmethod
    def _insert_camera(c, name: str, tz: str) -> int:
        try:
            return c.execute("INSERT INTO cameras (name, tz, created_at) VALUES (?, ?, ?)",
                             (name, tz, time.time())).lastrowid
        except sqlite3.IntegrityError:
            raise BadInputError(f"A camera named {name!r} already exists.", "Pick another name.")

    def cameras(self) -> list[CameraRow]:
        rows = self.conn.execute("SELECT id, name, tz, width, height FROM cameras ORDER BY id").fetchall()
        return [CameraRow(*r) for r in rows]

    def camera(self, camera: int | str) -> CameraRow:
        col = "id" if isinstance(camera, int) else "name"
        row = self.conn.execute(f"SELECT id, name, tz, width, height FROM cameras WHERE {col} = ?",
                                (camera,)).fetchone()
        if row is None:
            names = ", ".join(c.name for c in self.cameras()) or "none yet"
            raise BadInputError(f"No camera {camera!r} in {self.name}.", f"Cameras: {names}.")
        return CameraRow(*row)

    def default_camera(self) -> CameraRow:
        """The only camera, or the first; a project gets a camera named 'cam1' on its first source."""
        cams = self.cameras()
        if not cams:
            raise BadInputError(f"{self.name} has no camera yet.", "Add a time-lapse first (walt3d add-source).")
        return cams[0]

    def set_calibration(self, camera_id: int, camera) -> None:
        """Store a `walt3d_studio.camera.Camera` (or None to clear it)."""
        row = self.camera(camera_id)
        if camera is not None and row.width and tuple(camera.image_size) != (row.width, row.height):
            raise BadInputError(
                f"The calibration is for {camera.image_size[0]}x{camera.image_size[1]} images but camera "
                f"{row.name!r} has {row.width}x{row.height} frames.", "Calibrate on this camera's frames.")
        text = json.dumps(camera.to_dict()) if camera is not None else None
        with self.transaction() as c:
            c.execute("UPDATE cameras SET calibration_json = ? WHERE id = ?", (text, camera_id))

    def calibration(self, camera_id: int):
        from ..camera import Camera

        row = self.conn.execute("SELECT calibration_json FROM cameras WHERE id = ?", (camera_id,)).fetchone()
        return Camera.from_dict(json.loads(row[0])) if row and row[0] else None

    # -- sources and frames --------------------------------------------------------------------
    def add_source(self, path: str | os.PathLike, camera_id: int | None = None, *, ctx: JobContext | None = None,
                   start: float | None = None, fps: float | None = None,
                   new_camera: tuple[str, str | None] | None = None) -> SourceRow:
        """Scan a folder of images or a video and add its frames to a camera: `camera_id`, or a new camera
        `new_camera` = (name, time zone or None), or the first camera ('cam1', made when there is none). A new
        camera is written in the same transaction as its first source, so an import that fails, or is killed
        while it scans, leaves no empty camera behind."""
        from ..timelapse import scan_source

        ctx = ctx or silent()
        path = Path(path).resolve()
        if camera_id is None and new_camera is None:
            cams = self.cameras()
            if cams:
                camera_id = cams[0].id
            else:
                new_camera = ("cam1", None)
        if new_camera is not None:
            name, tz = self.check_new_camera(*new_camera)
            cam = CameraRow(-1, name, tz, None, None)
        else:
            cam = self.camera(camera_id)
            if self.conn.execute("SELECT 1 FROM sources WHERE camera_id = ? AND path = ?",
                                 (camera_id, str(path))).fetchone():
                raise BadInputError(f"{path} is already a source of camera {cam.name!r}.", "Nothing to do.")
        scanned = scan_source(path, cam.tz, ctx, start=start, fps=fps)
        w, h = scanned.size
        if cam.width and (cam.width, cam.height) != (w, h):
            raise BadInputError(
                f"{path.name} has {w}x{h} frames but camera {cam.name!r} has {cam.width}x{cam.height}.",
                "Add it to a camera of its own (one camera = one fixed view and size): `walt3d add-source PROJECT "
                "PATH --camera NEW_NAME`, or Camera > New camera in the app.")
        with self.transaction() as c:
            if new_camera is not None:
                camera_id = self._insert_camera(c, cam.name, cam.tz)
            c.execute("UPDATE cameras SET width = ?, height = ? WHERE id = ?", (w, h, camera_id))
            sid = c.execute(
                "INSERT INTO sources (camera_id, kind, path, fps, start_time, time_origin, n_frames, skipped_json,"
                " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (camera_id, scanned.kind, str(path), scanned.fps, scanned.start_time, scanned.time_origin,
                 len(scanned.times), json.dumps(scanned.skipped), time.time())).lastrowid
            names = scanned.file_names or [None] * len(scanned.times)
            pts = scanned.pts or [None] * len(scanned.times)
            c.executemany(
                "INSERT INTO frames (camera_id, source_id, source_index, file_name, pts, capture_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(camera_id, sid, i, n, p, t) for i, (n, p, t) in enumerate(zip(names, pts, scanned.times))])
        return self.source(sid)

    def source(self, source_id: int) -> SourceRow:
        r = self.conn.execute("SELECT id, camera_id, kind, path, n_frames, time_origin, skipped_json FROM sources"
                              " WHERE id = ?", (source_id,)).fetchone()
        return SourceRow(*r[:6], json.loads(r[6]))

    def sources(self, camera_id: int | None = None) -> list[SourceRow]:
        q = "SELECT id FROM sources" + (" WHERE camera_id = ?" if camera_id is not None else "") + " ORDER BY id"
        return [self.source(r[0]) for r in self.conn.execute(q, () if camera_id is None else (camera_id,))]

    def frame_table(self, camera_id: int) -> FrameTable:
        rows = np.array(self.conn.execute(
            "SELECT id, capture_time, source_id, source_index FROM frames WHERE camera_id = ?"
            " ORDER BY capture_time, source_id, source_index", (camera_id,)).fetchall(), dtype=np.float64)
        if rows.size == 0:
            rows = np.zeros((0, 4))
        return FrameTable(rows[:, 0].astype(np.int64), rows[:, 1], rows[:, 2].astype(np.int64),
                          rows[:, 3].astype(np.int64))

    def frame_reader(self, camera_id: int, cache_bytes: int = 512 << 20):
        from ..frame_reader import FrameReader

        return FrameReader(self, camera_id, cache_bytes=cache_bytes)

    # -- backgrounds ---------------------------------------------------------------------------
    def save_background(self, camera_id: int, window_key: str, median: np.ndarray, *, n_frames: int,
                        first_time: float | None, last_time: float | None, settings: dict) -> None:
        self.save_backgrounds(camera_id, [dict(window_key=window_key, median=median, n_frames=n_frames,
                                               first_time=first_time, last_time=last_time, settings=settings)])

    def save_backgrounds(self, camera_id: int, items: list[dict]) -> None:
        """Store several windows' medians (dicts with window_key, median, n_frames, first_time, last_time,
        settings): every array written atomically first, then all rows in one transaction."""
        rows = []
        for it in items:
            rel = Path("arrays") / "backgrounds" / f"cam{camera_id}_{it['window_key']}.npz"
            with atomic_path(self.root / rel, suffix=".npz") as tmp:
                np.savez_compressed(tmp, median=np.asarray(it["median"]).astype(np.float32))
            rows.append((camera_id, it["window_key"], int(it["n_frames"]), it.get("first_time"), it.get("last_time"),
                         str(rel), json.dumps(it.get("settings") or {}), time.time()))
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO backgrounds (camera_id, window_key, n_frames, first_time, last_time, array_path,"
                " settings_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (camera_id, window_key)"
                " DO UPDATE SET n_frames = excluded.n_frames, first_time = excluded.first_time,"
                " last_time = excluded.last_time, array_path = excluded.array_path,"
                " settings_json = excluded.settings_json, created_at = excluded.created_at", rows)

    def backgrounds(self, camera_id: int) -> list[dict]:
        rows = self.conn.execute(
            "SELECT window_key, n_frames, first_time, last_time, settings_json FROM backgrounds"
            " WHERE camera_id = ? ORDER BY window_key", (camera_id,)).fetchall()
        return [{"window": k, "n_frames": n, "first_time": a, "last_time": b, "settings": json.loads(s)}
                for k, n, a, b, s in rows]

    def load_background(self, camera_id: int, window_key: str) -> np.ndarray:
        """The float32 median of one window (round with `background.to_display` to show it)."""
        row = self.conn.execute("SELECT array_path FROM backgrounds WHERE camera_id = ? AND window_key = ?",
                                (camera_id, window_key)).fetchone()
        if row is None:
            raise BadInputError(f"No background for window {window_key!r} yet.",
                                "Compute it first (walt3d background, or Background > Compute).")
        return _read_background(self, camera_id, window_key, row[0])

    def background_window_for_time(self, camera_id: int, t: float) -> str | None:
        """The stored window to show at capture time t (see `background.window_for_time`)."""
        from ..background import window_for_time

        return window_for_time(self.backgrounds(camera_id), t, self.camera(camera_id).tz)

    # -- summary -------------------------------------------------------------------------------
    def info(self) -> dict:
        from .summary import camera_counts, project_counts
        from .composites import split_counts

        out = {"project": str(self.root), "schema_version": db.SCHEMA_VERSION, "cameras": []}
        for cam in self.cameras():
            ft = self.frame_table(cam.id)
            calib = self.calibration(cam.id)
            srcs = self.sources(cam.id)
            skipped = sum(len(s.skipped) for s in srcs)
            out["cameras"].append({
                "id": cam.id, "name": cam.name, "tz": cam.tz, "size": [cam.width, cam.height],
                "sources": [{"kind": s.kind, "path": s.path, "frames": s.n_frames, "time_origin": s.time_origin,
                             "skipped": len(s.skipped)} for s in srcs],
                "frames": len(ft), "skipped": skipped,
                "time_span": [float(ft.times[0]), float(ft.times[-1])] if len(ft) else None,
                "calibration": calib.to_dict() if calib is not None else None,
                "backgrounds": [{k: b[k] for k in ("window", "n_frames")} for b in self.backgrounds(cam.id)],
                **camera_counts(self, cam.id),
                "splits": split_counts(self, cam.id),
            })
        out.update(project_counts(self))
        return out


def _read_background(project: "Project", camera_id: int, window_key: str, rel: str) -> np.ndarray:
    """A stored median, checked: never unpickled, the right key, shape and dtype, or a message saying what to do."""
    import zipfile

    from ..validate import is_under

    path = project.root / rel
    cam = project.camera(camera_id)
    redo = (f"Compute it again: `walt3d background {project.root} --camera {cam.name}` (or Background > Compute); "
            "the frames are untouched.")
    if not is_under(path, project.root) or not path.is_file():
        raise BadInputError(f"The background {window_key!r} of camera {cam.name!r} is missing ({rel}).", redo)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "median" not in z.files:
                raise ValueError(f"no 'median' array (has {', '.join(z.files) or 'nothing'})")
            arr = z["median"]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:  # garbage, pickles, truncation
        raise BadInputError(f"The background {window_key!r} of camera {cam.name!r} ({rel}) is unreadable or "
                            f"was altered ({type(e).__name__}: {e}).", redo) from None
    want = (cam.height, cam.width)
    if arr.dtype.kind not in "fui" or arr.ndim != 3 or arr.shape[2] != 3 or (cam.width and arr.shape[:2] != want):
        raise BadInputError(f"The background {window_key!r} of camera {cam.name!r} has shape {arr.shape} "
                            f"({arr.dtype}); expected {want[0]}x{want[1]}x3 numbers.", redo)
    return arr.astype(np.float32, copy=False)


def _check_tz(tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInputError(f"Unknown time zone {tz!r}.", "Use an IANA name such as Europe/Berlin or UTC.")

