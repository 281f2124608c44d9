"""The store gives each thread its own connection: readers never see a writer's uncommitted rows, writers in
this process take turns, a writer in another process is waited for (busy timeout), close closes them all."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

from walt3d_studio.store import Project


def test_each_thread_has_its_own_connection(tmp_path):
    with Project.create(tmp_path / "p") as p:
        main = p.conn
        assert p.conn is main  # stable within a thread
        seen = []
        t = threading.Thread(target=lambda: seen.append(p.conn))
        t.start()
        t.join()
        assert seen[0] is not None and seen[0] is not main
        assert seen[0].execute("PRAGMA foreign_keys").fetchone()[0] == 1  # same settings on every connection
        assert main.execute("PRAGMA busy_timeout").fetchone()[0] >= 10000
    with pytest.raises(sqlite3.ProgrammingError):
        seen[0].execute("SELECT 1")  # closing the project closed the other thread's connection too
    assert p.conn is None


def test_readers_never_see_uncommitted_rows(tmp_path):
    with Project.create(tmp_path / "p") as p:
        inside, release, out = threading.Event(), threading.Event(), {}

        def writer():
            with p.transaction() as c:
                c.execute("INSERT INTO cameras (name, tz, created_at) VALUES ('w', 'UTC', 0)")
                out["writer_sees"] = [r.name for r in p.cameras()]  # its own rows, inside its transaction
                inside.set()
                release.wait(10)

        t = threading.Thread(target=writer)
        t.start()
        assert inside.wait(10)
        assert p.cameras() == []  # the UI thread reads the committed state only
        release.set()
        t.join()
        assert out["writer_sees"] == ["w"] and [c.name for c in p.cameras()] == ["w"]


def test_a_failed_write_on_a_thread_is_rolled_back(tmp_path):
    with Project.create(tmp_path / "p") as p:
        def writer():
            try:
                with p.transaction() as c:
                    c.execute("INSERT INTO cameras (name, tz, created_at) VALUES ('x', 'UTC', 0)")
                    raise RuntimeError("boom")
            except RuntimeError:
                pass

        t = threading.Thread(target=writer)
        t.start()
        t.join()
        assert p.cameras() == []
        p.add_camera("after", "UTC")  # the write lock was released
        assert [c.name for c in p.cameras()] == ["after"]


def test_a_writer_in_another_process_is_waited_for(tmp_path):
    with Project.create(tmp_path / "p") as p:
        db = p.root / "project.sqlite"
        code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
                "c.execute('BEGIN IMMEDIATE'); c.execute(\"INSERT INTO cameras (name, tz, created_at) VALUES "
                "('child', 'UTC', 0)\"); print('locked', flush=True); time.sleep(1.0); c.execute('COMMIT')")
        child = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "locked"
        p.add_camera("app", "UTC")  # blocks until the child commits instead of failing "database is locked"
        child.wait(10)
        assert sorted(c.name for c in p.cameras()) == ["app", "child"]


@pytest.mark.slow
def test_lock_delegation_lets_our_child_write_and_nobody_else(tmp_path):
    import os

    from walt3d_studio.errors import ProjectLockedError

    code = ("import sys; from walt3d_studio.store import Project\n"
            "with Project.open(sys.argv[1]) as p: p.add_camera('child', 'UTC')\n")
    env = dict(os.environ)
    env.pop("WALT3D_LOCK_DELEGATE", None)
    with Project.create(tmp_path / "p") as p:
        refused = subprocess.run([sys.executable, "-c", code, str(p.root)], env=env, capture_output=True, text=True)
        assert refused.returncode != 0 and "ProjectLockedError" in refused.stderr
        wrong = subprocess.run([sys.executable, "-c", code, str(p.root)], capture_output=True, text=True,
                               env={**env, "WALT3D_LOCK_DELEGATE": "guess"})
        assert wrong.returncode != 0
        ok = subprocess.run([sys.executable, "-c", code, str(p.root)], capture_output=True, text=True,
                            env={**env, **p.delegate_lock()})
        assert ok.returncode == 0, ok.stderr
        assert [c.name for c in p.cameras()] == ["child"]  # written by the child while we hold the project
        token = p.delegate_lock()["WALT3D_LOCK_DELEGATE"]
    with pytest.raises(ProjectLockedError):  # the token died with our lock: a later holder is not bypassed
        with Project.open(tmp_path / "p.walt3d"):
            os.environ["WALT3D_LOCK_DELEGATE"] = token
            try:
                Project.open(tmp_path / "p.walt3d")
            finally:
                del os.environ["WALT3D_LOCK_DELEGATE"]
