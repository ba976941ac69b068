"""The node's SQLite database: WAL mode, foreign keys, numbered migrations.

One connection per process, shared by the event loop and worker threads behind one lock;
SQLite itself would serialise, but the lock also keeps a transaction from interleaving with
another thread's reads. Each logical write is one transaction, so a killed daemon leaves all of a
write or none of it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from secondme.node.core.errors import SchemaTooNew
from secondme.node.core.migrations import MIGRATIONS


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._write_lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        applied = {
            row["id"]: row["name"]
            for row in self._conn.execute("SELECT id, name FROM schema_migrations")
        }
        newest = max(applied, default=0)
        if newest > len(MIGRATIONS):
            raise SchemaTooNew(
                f"{self.path}: written by a newer secondme-node (schema {newest}, this release "
                f"knows {len(MIGRATIONS)}); upgrade secondme-node to open it"
            )
        for number, (name, statements) in enumerate(MIGRATIONS, start=1):
            if number in applied:
                continue
            with self.transaction() as conn:
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                    (number, name, time.time()),
                )

    @property
    def schema_version(self) -> int:
        row = self._conn.execute("SELECT MAX(id) AS v FROM schema_migrations").fetchone()
        return int(row["v"] or 0)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; concurrent writers from threads wait their turn."""
        with self._write_lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._write_lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        with self._write_lock:
            return self._conn.execute(sql, params).fetchone()

    def get_setting(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if row is None else row["value"]

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        self._conn.close()
