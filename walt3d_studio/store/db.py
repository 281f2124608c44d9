"""The project's SQLite file: opening it (read-write in WAL mode, or read-only wherever it lies), saying what a
SQLite failure means (a full disk, a read-only place, a failing drive, or damage), and making or upgrading its
schema, each step one transaction (`schema.MIGRATIONS`)."""
from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from ..atomic import atomic_path
from ..errors import ProjectError
from .connections import BUSY_TIMEOUT_S
from .schema import MIGRATIONS, SCHEMA_VERSION

DB_NAME = "project.sqlite"


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the project's database, foreign keys on: for writing in WAL mode, or read-only."""
    if readonly:
        # Where nothing may be written (a read-only mount, a write-protected copy) SQLite may not be able to make
        # the WAL's shared-memory file: then the file is opened as immutable (read as it is, no locks, no side
        # files). Plain read-only comes first, so edits still in the WAL are seen wherever SQLite can read them.
        writable = os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)
        uri = f"file:{quote(str(path))}?mode=ro"
        if not writable:
            try:
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                conn.execute("PRAGMA foreign_keys = ON")
                return conn
            except sqlite3.Error:
                uri += "&immutable=1"
    else:
        uri = f"file:{quote(str(path))}"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as e:
        raise (explain_db_error(e, path.parent) or damaged(path.parent, e)) from None
    return conn


def damaged(root: Path, e: Exception) -> ProjectError:
    return ProjectError(f"{root.name} is damaged or not a WALT3D Studio project ({e}).",
                        f"Restore {DB_NAME} from a backup ({DB_NAME}.bak-* beside it), or create a new project.")


def explain_db_error(e: BaseException, root: Path) -> ProjectError | None:
    """What is true about a SQLite failure that is not damage (disk full, read-only place), or None."""
    from ..errors import explain_os_error

    text = str(e).lower()
    if "full" in text or "disk i/o" in text or "readonly" in text or "read-only" in text or "unable to open" in text:
        if "full" in text or ("disk i/o" in text and free_bytes(root) < (64 << 20)):
            code = errno.ENOSPC
        elif "readonly" in text or "read-only" in text or not os.access(root, os.W_OK):
            code = errno.EROFS
        else:
            code = errno.EIO
        probe = OSError(code, str(e))
        if probe.errno == errno.EIO:
            return ProjectError(f"Cannot read or write {root.name} ({e}).",
                                "This is a storage problem (a disk or network drive failing or gone), not damage to "
                                "the project: check the drive and try again before restoring anything.")
        return explain_os_error(probe, root)
    return None


def free_bytes(root: Path) -> int:
    try:
        return shutil.disk_usage(root).free
    except OSError:
        return 0


def create_schema(conn: sqlite3.Connection, root: Path) -> None:
    """Every migration step and the version, in one transaction: a kill or a full disk leaves no half-made
    database."""
    with immediate(conn, root):
        for step in MIGRATIONS:
            for statement in split_sql(step):
                conn.execute(statement)
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("INSERT INTO meta VALUES ('created_at', ?)", (str(time.time()),))


def schema_version(conn: sqlite3.Connection, root: Path) -> int:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as e:
        raise (explain_db_error(e, root) or damaged(root, e)) from None
    if row is None:
        raise ProjectError(f"{root.name} has no schema version.", "The database is damaged; restore a backup.")
    try:
        return int(str(row[0]).strip())
    except ValueError:
        raise ProjectError(f"{root.name} has a schema version that is not a number ({str(row[0])[:40]!r}).",
                           f"The database is damaged; restore {DB_NAME} from a backup ({DB_NAME}.bak-*).") from None


@contextmanager
def immediate(conn: sqlite3.Connection, root: Path):
    """An explicit BEGIN IMMEDIATE ... COMMIT with autocommit off around it.

    Python's sqlite3 starts its implicit transactions only before INSERT/UPDATE/DELETE, so DDL in a `with conn:`
    block commits one statement at a time; here everything between BEGIN and COMMIT rolls back as one."""
    old = conn.isolation_level
    conn.isolation_level = None
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError):
                err = explain_db_error(e, root)
                if err is not None:
                    raise err from None
            raise
    finally:
        conn.isolation_level = old


def migrate(conn: sqlite3.Connection, root: Path, version: int) -> None:
    """Back the database up (SQLite's online backup), then apply each missing step in a transaction of its own
    that also records the new version: a failure (or a kill) leaves the last whole version, and opening again
    retries from there."""
    backup_path = root / f"{DB_NAME}.bak-v{version}"
    if not backup_path.exists():  # a retry keeps the first backup, made before any step ran
        with atomic_path(backup_path) as tmp:
            backup = sqlite3.connect(tmp)
            try:
                conn.backup(backup)
            finally:
                backup.close()
    for v in range(version, SCHEMA_VERSION):
        try:
            with immediate(conn, root):
                for statement in split_sql(MIGRATIONS[v]):
                    conn.execute(statement)
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(v + 1),))
        except sqlite3.DatabaseError as e:
            raise ProjectError(f"Upgrading {root.name} from schema {v} to {v + 1} failed ({e}); nothing of that step "
                               f"was kept, the project is still at schema {v}.",
                               "Fix the cause (e.g. free disk space) and open it again to retry; the backup "
                               f"{backup_path.name} holds the project as it was.") from None


def split_sql(script: str) -> list[str]:
    """Statements of a migration step (executescript would commit mid-way; we want one transaction)."""
    out, buf = [], ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):  # a ';' inside a string or trigger does not end a statement
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    return out
