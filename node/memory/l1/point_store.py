"""The L1 vector index's bookkeeping in SQLite: which point holds which record, and what to drop.

Every indexed L1 record (an insight, a topic, an entity) has one row in ``l1_points`` naming its
point id, kind, record id, the text embedded and the tags it carries. A point taken out of the
index goes to ``vector_gc`` in the same transaction that released it, so the vector store can
drop it later even if the daemon stops in between. The per-kind stores release their records'
points through :func:`release_points` inside their own transactions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.memory.l1.sql import to_json


@dataclass(frozen=True, slots=True, kw_only=True)
class PointRow:
    point_id: str
    kind: str
    ref_id: str
    text: str
    tags: tuple[str, ...]


def release_points(conn: sqlite3.Connection, point_ids: Sequence[str]) -> None:
    """Take points out of ``l1_points`` and put them in ``vector_gc``, in the caller's
    transaction."""
    conn.executemany(
        "INSERT OR IGNORE INTO vector_gc (point_id) VALUES (?)", [(p,) for p in point_ids]
    )
    conn.executemany("DELETE FROM l1_points WHERE point_id = ?", [(p,) for p in point_ids])


def points_of(conn: sqlite3.Connection, kind: str, ref_ids: Collection[str]) -> list[str]:
    """The point ids of these records of one kind."""
    return [
        r["point_id"]
        for r in conn.execute(
            "SELECT point_id FROM l1_points WHERE kind = ? "
            "AND ref_id IN (SELECT value FROM json_each(?))",
            (kind, to_json(sorted(ref_ids))),
        )
    ]


class PointStore:
    """``l1_points`` and ``vector_gc``: the index of L1 records, kept in step with the records."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def drop(self, kind: str, ref_ids: Collection[str]) -> list[str]:
        """Take these records out of the index (they no longer qualify); returns their point
        ids, now in ``vector_gc``."""
        with self._db.transaction() as conn:
            points = points_of(conn, kind, ref_ids)
            release_points(conn, points)
        return points

    def get(self, kind: str, ref_id: str) -> PointRow | None:
        row = self._db.query_one(
            "SELECT * FROM l1_points WHERE kind = ? AND ref_id = ?", (kind, ref_id)
        )
        return None if row is None else _point(row)

    def commit(self, rows: Sequence[PointRow]) -> list[str]:
        """Make reserved points visible, replacing older points of the same records."""
        replaced: list[str] = []
        with self._db.transaction() as conn:
            for row in rows:
                old = conn.execute(
                    "SELECT point_id FROM l1_points WHERE kind = ? AND ref_id = ?",
                    (row.kind, row.ref_id),
                ).fetchone()
                if old is not None:
                    replaced.append(old["point_id"])
                    release_points(conn, [old["point_id"]])
                conn.execute(
                    "INSERT INTO l1_points (point_id, kind, ref_id, text, tags) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        row.point_id,
                        row.kind,
                        row.ref_id,
                        row.text,
                        to_json(list(row.tags)),
                    ),
                )
                conn.execute("DELETE FROM vector_gc WHERE point_id = ?", (row.point_id,))
        return replaced

    def get_many(self, point_ids: Sequence[str]) -> dict[str, PointRow]:
        if not point_ids:
            return {}
        marks = ",".join("?" * len(point_ids))
        rows = self._db.query(f"SELECT * FROM l1_points WHERE point_id IN ({marks})", point_ids)
        return {r["point_id"]: _point(r) for r in rows}

    def count(self) -> int:
        return int(self._db.query_one("SELECT COUNT(*) AS n FROM l1_points")["n"])

    def all(self) -> list[PointRow]:
        return [_point(r) for r in self._db.query("SELECT * FROM l1_points ORDER BY point_id")]


def _point(row: sqlite3.Row) -> PointRow:
    return PointRow(
        point_id=row["point_id"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        text=row["text"],
        tags=tuple(json.loads(row["tags"])),
    )
