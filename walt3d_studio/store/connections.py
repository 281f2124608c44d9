"""One SQLite connection per thread for a project: readers (the UI, frame loaders) and writers never share one.

Why: a connection is one transaction at a time. Shared across threads, the UI would read a job's uncommitted
rows (and see them vanish on rollback), and one thread's commit would end another's transaction. With one
connection per thread, WAL gives each reader a consistent snapshot of committed data; writes within this
process are serialised by a lock (one writer at a time), and writers in other processes (a `walt3d` child)
are waited for through SQLite's busy timeout instead of failing with "database is locked".
"""
from __future__ import annotations

import sqlite3
import threading
from typing import Callable

BUSY_TIMEOUT_S = 30.0  # a merge of a big shard may hold the write lock for seconds


class ThreadConnections:
    def __init__(self, connect: Callable[[], sqlite3.Connection], first: sqlite3.Connection):
        self._connect = connect
        self._local = threading.local()
        self._local.conn = first
        self._all: list[sqlite3.Connection] = [first]
        self._lock = threading.Lock()
        self.write_lock = threading.RLock()  # one writer in this process; re-entrant for nested transactions
        self.closed = False

    def get(self) -> sqlite3.Connection | None:
        """This thread's connection (made on first use), or None once closed."""
        if self.closed:
            return None
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            with self._lock:
                if self.closed:  # closed while we connected
                    conn.close()
                    return None
                self._all.append(conn)
            self._local.conn = conn
        return conn

    def count(self) -> int:
        return len(self._all)

    def close_all(self) -> None:
        with self._lock:
            self.closed = True
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except sqlite3.ProgrammingError:
                pass
