"""The project store under faults: interrupted upgrades, read-only places, full disks, a deleted .lock,
damaged databases and tampered arrays. Each failure is reported truthfully (exit 2) and leaves the project as it was."""
import errno
import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from walt3d_studio.cli import main
from walt3d_studio.errors import BadInputError, ProjectError, ProjectLockedError
from walt3d_studio.store import Project
from walt3d_studio.store import schema

from conftest import GIF


def run(*args):
    return main(["--quiet", *map(str, args)])


def _columns(db, table):
    with sqlite3.connect(db) as c:
        return {r[1] for r in c.execute(f"PRAGMA table_info({table})")}


def _tables(db):
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.mark.parametrize("failing_step", range(1, len(schema.MIGRATIONS)))
def test_an_upgrade_that_fails_in_any_step_rolls_that_step_back_and_can_be_retried(tmp_path, monkeypatch,
                                                                                   failing_step):
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr("walt3d_studio.store.db.SCHEMA_VERSION", 1)
    with Project.create(tmp_path / "old") as p:
        p.add_camera("north", "UTC")
    db = tmp_path / "old.walt3d" / "project.sqlite"
    # The step fails at its very end, after all its DDL ran (as a full disk or a clash would).
    broken = list(schema.MIGRATIONS)
    broken[failing_step] = broken[failing_step] + "\nINSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", broken)
    monkeypatch.setattr("walt3d_studio.store.db.SCHEMA_VERSION", len(broken))
    with pytest.raises(ProjectError, match=f"from schema {failing_step} to {failing_step + 1} failed") as e:
        Project.open(tmp_path / "old.walt3d")
    assert "open it again to retry" in e.value.hint
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(failing_step)
    if failing_step == 1:  # none of v2's DDL survived
        assert "detector" not in _columns(db, "tracks") and "classifiers" not in _tables(db)
    else:
        assert "runs" not in _tables(db) and "orphans" not in _tables(db)
    # Retried with the working program: the upgrade completes and nothing was lost.
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", schema.MIGRATIONS)
    monkeypatch.setattr("walt3d_studio.store.db.SCHEMA_VERSION", schema.SCHEMA_VERSION)
    with Project.open(tmp_path / "old.walt3d") as p:
        assert [c.name for c in p.cameras()] == ["north"]
        assert p.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == \
            str(schema.SCHEMA_VERSION)
        assert "detector" in _columns(db, "tracks") and "runs" in _tables(db)
    assert (tmp_path / "old.walt3d" / "project.sqlite.bak-v1").exists()


def test_a_failed_create_leaves_no_half_made_schema(tmp_path, monkeypatch):
    broken = list(schema.MIGRATIONS)
    broken[-1] += "\nINSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        Project.create(tmp_path / "p")
    assert _tables(tmp_path / "p.walt3d" / "project.sqlite") == set()


def test_older_schema_read_only_hint_names_no_missing_flag(tmp_path, monkeypatch):
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr("walt3d_studio.store.db.SCHEMA_VERSION", 1)
    Project.create(tmp_path / "old").close()
    monkeypatch.undo()
    with pytest.raises(ProjectError, match="older schema") as e:
        Project.open(tmp_path / "old.walt3d", readonly=True)
    assert "--readonly" not in str(e.value) and "walt3d background" in e.value.hint


def test_schema_version_not_a_number_and_damaged_pages_exit_2(tmp_path, capsys):
    Project.create(tmp_path / "a").close()
    db = tmp_path / "a.walt3d" / "project.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
    assert run("info", tmp_path / "a.walt3d") == 2
    assert "schema version that is not a number" in capsys.readouterr().err
    # Garbage over the pages after the header: SQLite finds it only when it reads them.
    with Project.create(tmp_path / "b") as p:
        for i in range(50):
            p.add_camera(f"c{i}", "UTC")
    db = tmp_path / "b.walt3d" / "project.sqlite"
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)
    db.write_bytes(bytes(data))
    rc = run("info", tmp_path / "b.walt3d")
    err = capsys.readouterr().err
    assert rc == 2 and "damaged" in err and "Traceback" not in err
    db.write_bytes(b"this is not sqlite at all" * 100)
    assert run("info", tmp_path / "b.walt3d") == 2
    assert "damaged or not a WALT3D Studio project" in capsys.readouterr().err


def test_deleting_the_lock_file_does_not_let_a_second_writer_in(tmp_path):
    p = Project.create(tmp_path / "a")
    try:
        (p.root / ".lock").unlink()
        with pytest.raises(ProjectLockedError, match="already open"):
            Project.open(p.root)
    finally:
        p.close()
    Project.open(p.root).close()


def test_a_failed_add_source_to_a_new_camera_leaves_no_empty_camera(tmp_path, capsys):
    site = tmp_path / "site.walt3d"
    assert run("init", site) == 0
    assert run("add-source", site, tmp_path / "missing", "--camera", "new") == 2
    assert run("add-source", site, tmp_path / "missing") == 2
    with Project.open(site, readonly=True) as p:
        assert p.cameras() == []


@pytest.mark.parametrize("name", ["../../ESCAPED", "a/b", "..", ".hidden", "", "x" * 80, "tab\there", "c:\\x"])
def test_camera_names_that_could_reach_outside_a_folder_are_refused(tmp_path, name):
    with Project.create(tmp_path / "p") as p:
        with pytest.raises(BadInputError, match="cannot be a camera name"):
            p.add_camera(name, "UTC")
        assert p.cameras() == []
        p.add_camera("North cam-1", "UTC")


# -- full disk and read-only places ---------------------------------------------------------------

def test_full_disk_on_a_store_write_is_reported_as_full_not_damaged(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site.walt3d"
    assert run("init", site, "--camera", "c", "--tz", "UTC") == 0
    assert run("add-source", site, GIF) == 0
    before = sorted(f for f in (site / "arrays").rglob("*") if f.is_file())

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    assert run("background", site, "--all") == 2
    err = capsys.readouterr().err
    assert "disk is full" in err and "MB free" in err and "restore" not in err.lower()
    assert sorted(f for f in (site / "arrays").rglob("*") if f.is_file()) == before
    assert not [f for f in site.rglob("*") if ".tmp" in f.name]
    with Project.open(site, readonly=True) as p:
        assert p.backgrounds(p.cameras()[0].id) == []


def test_sqlite_disk_full_is_reported_as_full(tmp_path, monkeypatch):
    from walt3d_studio.store.db import explain_db_error

    monkeypatch.setattr("walt3d_studio.store.db.free_bytes", lambda root: 0)
    err = explain_db_error(sqlite3.OperationalError("database or disk is full"), tmp_path)
    assert "disk is full" in err.message and "restore" not in str(err).lower()


def test_read_only_location_opens_for_reading_and_refuses_writes_truthfully(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site.walt3d"
    assert run("init", site, "--camera", "c", "--tz", "UTC") == 0
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if mode & os.W_OK else real_access(p, mode))
    assert run("info", site) == 0
    assert "camera c" in capsys.readouterr().out
    assert run("background", site) == 2
    err = capsys.readouterr().err
    assert "read-only location" in err and "not damaged" in err and "restore" not in err.lower()


def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def test_a_real_read_only_mount_and_a_real_full_disk(tmp_path, capsys):
    """Where this machine lets us mount (root in a container), the same with a real EROFS and ENOSPC."""
    src, ro, small = tmp_path / "src", tmp_path / "ro", tmp_path / "small"
    for d in (src, ro, small):
        d.mkdir()
    assert run("init", src / "p", "--camera", "c", "--tz", "UTC") == 0
    if os.geteuid() != 0 or not _mount("--bind", str(src), str(ro)):
        pytest.skip("cannot mount here")
    try:
        if not _mount("-o", "remount,ro,bind", str(ro)):
            pytest.skip("cannot remount read-only here")
        capsys.readouterr()
        assert run("info", ro / "p.walt3d") == 0
        assert run("add-source", ro / "p.walt3d", GIF) == 2
        assert "read-only" in capsys.readouterr().err
    finally:
        _mount_off(ro)
    if not _mount("-t", "tmpfs", "-o", "size=400k", "tmpfs", str(small)):
        pytest.skip("cannot mount tmpfs here")
    try:
        assert run("init", small / "q", "--camera", "c", "--tz", "UTC") == 0
        with open(small / "fill", "wb") as f:
            try:
                f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        capsys.readouterr()
        rc = run("add-source", small / "q.walt3d", GIF)
        err = capsys.readouterr().err
        assert rc == 2 and "full" in err and "restore" not in err.lower()
        (small / "fill").unlink()
        with Project.open(small / "q.walt3d", readonly=True) as p:
            assert p.sources() == []
    finally:
        _mount_off(small)


def _mount_off(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- tampered arrays --------------------------------------------------------------------------------

@pytest.mark.parametrize("tamper", ["object", "garbage", "shape", "key", "deleted"])
def test_a_tampered_or_missing_background_says_what_to_do(tmp_path, tamper):
    with Project.create(tmp_path / "p") as p:
        cam = p.add_camera("c", "UTC")
        p.conn.execute("UPDATE cameras SET width = 8, height = 6 WHERE id = ?", (cam,))
        p.conn.commit()
        p.save_background(cam, "all", np.zeros((6, 8, 3), np.float32), n_frames=1, first_time=0, last_time=0,
                          settings={})
        path = p.root / "arrays" / "backgrounds" / f"cam{cam}_all.npz"
        if tamper == "object":
            np.savez(path, median=np.array([{"evil": 1}], dtype=object))
        elif tamper == "garbage":
            path.write_bytes(b"PK\x03\x04 not a zip")
        elif tamper == "shape":
            np.savez(path, median=np.zeros((3, 3), np.float32))
        elif tamper == "key":
            np.savez(path, other=np.zeros((6, 8, 3), np.float32))
        else:
            path.unlink()
        with pytest.raises(BadInputError, match="background 'all' of camera 'c'") as e:
            p.load_background(cam, "all")
        assert "walt3d background" in e.value.hint


def test_the_app_says_disk_full_as_such(capsys):
    pytest.importorskip("PySide6")
    from walt3d_studio.gui.errors import set_interactive, show_error

    set_interactive(False)
    try:
        show_error(None, OSError(errno.ENOSPC, "No space left on device", "/tmp/x/labels.json"))
    finally:
        set_interactive(True)
    err = capsys.readouterr().err
    assert "disk is full" in err and "Something went wrong" not in err and "Nothing needs restoring" in err


def test_a_read_only_mount_still_shows_edits_left_in_the_wal(tmp_path, capsys):
    """A writer killed before its checkpoint leaves edits in project.sqlite-wal; a read-only open must see them."""
    import sys

    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    assert run("init", src / "p") == 0
    code = ("import os\nfrom walt3d_studio.store import Project\n"
            f"p = Project.open({str(src / 'p.walt3d')!r}); p.add_camera('walcam', 'UTC'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert (src / "p.walt3d" / "project.sqlite-wal").stat().st_size > 0
    if os.geteuid() != 0 or not _mount("--bind", str(src), str(ro)):
        pytest.skip("cannot mount here")
    try:
        if not _mount("-o", "remount,ro,bind", str(ro)):
            pytest.skip("cannot remount read-only here")
        capsys.readouterr()
        assert run("info", ro / "p.walt3d") == 0
        assert "camera walcam" in capsys.readouterr().out
    finally:
        _mount_off(ro)
