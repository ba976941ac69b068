"""The discovery store in PostgreSQL, so that several discovery servers serve one network.

Each worker thread holds its own connection. A redemption locks its invite row
(``SELECT ... FOR UPDATE``), so two servers redeeming the same single-use token at once bind it
to one peer only; record replacement is one conditional upsert.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from secondme.discovery.errors import StoreError
from secondme.discovery.store.sql import SqlStore

WORKERS = 4


def _without_password(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class PostgresStore(SqlStore):
    BYTES_TYPE = "BYTEA"
    LOCK_ROW = " FOR UPDATE"
    SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(4242001)"
    # The two-key form: its key space is apart from SCHEMA_LOCK's single key.
    OWNER_LOCK = "SELECT pg_advisory_xact_lock(4242002, hashtext(?))"

    def __init__(self, url: str, *, workers: int = WORKERS) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise StoreError(f"PostgreSQL needs the psycopg package: {exc}") from None
        self._psycopg = psycopg
        self.url = url
        self.description = _without_password(url)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discovery-pg")
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        try:
            self._create_schema()
        except psycopg.Error as exc:
            self.close()
            raise StoreError(f"cannot use PostgreSQL at {self.description}: {exc}") from None

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = self._psycopg.connect(self.url, autocommit=True)
            except self._psycopg.Error as exc:
                raise StoreError(f"cannot connect to {self.description}: {exc}") from None
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _exec(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(sql.replace("?", "%s"), params)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        conn = self._connection()
        with conn.transaction():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Any]:
        yield self._connection()

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
