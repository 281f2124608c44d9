import sqlite3

import numpy as np
import pytest

from walt3d_studio.errors import BadInputError, ProjectError, ProjectLockedError
from walt3d_studio.store import SCHEMA_VERSION, Project
from walt3d_studio.store import schema

from conftest import GIF


def test_create_reopen_round_trip(tmp_path, image_folder):
    with Project.create(tmp_path / "site") as p:
        assert p.root.name == "site.walt3d"
        cam = p.add_camera("north", "Europe/Berlin")
        src = p.add_source(image_folder, cam)
        assert src.n_frames == 6 and src.time_origin == "filename"
        p.save_background(cam, "h08", np.full((48, 64, 3), 7.5, np.float32), n_frames=6,
                          first_time=1.0, last_time=2.0, settings={"hours_per_window": 1})
    with Project.open(tmp_path / "site.walt3d") as p:
        cams = p.cameras()
        assert [(c.name, c.tz, c.width, c.height) for c in cams] == [("north", "Europe/Berlin", 64, 48)]
        table = p.frame_table(cams[0].id)
        assert len(table) == 6
        # 08:00:0i Berlin summer time is 06:00:0i UTC
        assert table.times[0] == pytest.approx(1714543200.0)
        assert np.all(np.diff(table.times) == 1.0)
        bg = p.load_background(cams[0].id, "h08")
        assert bg.dtype == np.float32 and bg[0, 0, 0] == 7.5


def test_second_writer_is_refused_with_a_clear_message(tmp_path):
    p = Project.create(tmp_path / "a")
    try:
        with pytest.raises(ProjectLockedError, match="already open"):
            Project.open(p.root)
        with Project.open(p.root, readonly=True) as ro:  # readers are fine
            assert ro.cameras() == []
    finally:
        p.close()
    Project.open(p.root).close()  # the lock goes with the first writer


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    Project.create(tmp_path / "a").close()
    db = tmp_path / "a.walt3d" / "project.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(ProjectError, match="newer WALT3D Studio"):
        Project.open(tmp_path / "a.walt3d")
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION + 1)


def test_older_schema_is_migrated_after_a_backup(tmp_path, monkeypatch):
    # A project made by a program that knew only the first step, opened by one that knows one more.
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr("walt3d_studio.store.db.SCHEMA_VERSION", 1)
    with Project.create(tmp_path / "old") as p:
        p.add_camera("c", "UTC")
    extra = "CREATE TABLE test_extra (id INTEGER PRIMARY KEY); ALTER TABLE cameras ADD COLUMN note TEXT;"
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", schema.MIGRATIONS[:1] + [extra])
    monkeypatch.setattr("walt3d_studio.store.db.SCHEMA_VERSION", 2)
    with Project.open(tmp_path / "old.walt3d") as p:
        assert p.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
        p.conn.execute("SELECT note FROM cameras").fetchall()
        assert [c.name for c in p.cameras()] == ["c"]
    backup = tmp_path / "old.walt3d" / "project.sqlite.bak-v1"
    with sqlite3.connect(backup) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "1"
        assert c.execute("SELECT name FROM cameras").fetchall() == [("c",)]


def test_not_a_project_and_existing_folder(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(ProjectError, match="not a WALT3D Studio project"):
        Project.open(tmp_path / "x")
    (tmp_path / "y.walt3d").mkdir()
    (tmp_path / "y.walt3d" / "file").write_text("keep me")
    with pytest.raises(ProjectError, match="not empty"):
        Project.create(tmp_path / "y")
    assert (tmp_path / "y.walt3d" / "file").read_text() == "keep me"


def test_several_sources_per_camera_in_capture_order(tmp_path, image_folder):
    import shutil

    day2 = tmp_path / "day2"
    shutil.copytree(image_folder, day2)
    for f in day2.iterdir():  # the same clip one day later
        f.rename(day2 / f.name.replace("20240501", "20240502"))
    with Project.create(tmp_path / "p") as p:
        cam = p.add_camera("c", "UTC")
        p.add_source(day2, cam)
        p.add_source(image_folder, cam)
        t = p.frame_table(cam)
        assert len(t) == 12 and np.all(np.diff(t.times) > 0)
        assert t.position_at_time(t.times[7] + 0.5) == 7
        with pytest.raises(BadInputError, match="already a source"):
            p.add_source(image_folder, cam)


def test_source_of_other_size_is_refused_and_nothing_changes(tmp_path, image_folder):
    with Project.create(tmp_path / "p") as p:
        cam = p.add_camera("c", "UTC")
        p.add_source(image_folder, cam)
        with pytest.raises(BadInputError, match="480x270 frames but camera 'c' has 64x48"):
            p.add_source(GIF, cam)
        assert len(p.frame_table(cam)) == 6 and len(p.sources(cam)) == 1


def test_unknown_time_zone(tmp_path):
    with Project.create(tmp_path / "p") as p:
        with pytest.raises(BadInputError, match="Unknown time zone"):
            p.add_camera("c", "Mars/Olympus")


def test_migration_statements_split_like_sqlite_would():
    from walt3d_studio.store.db import split_sql

    a, b = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for statement in split_sql(schema.MIGRATIONS[0]):
        a.execute(statement)
    b.executescript(schema.MIGRATIONS[0])
    q = "SELECT name, sql FROM sqlite_master ORDER BY name"
    assert a.execute(q).fetchall() == b.execute(q).fetchall()
