"""Topics in SQLite: ``topics``, their member chunks (``topic_chunks``, nearest to the centroid
first) and the dated events met in them (``topic_events``).

Clustering remakes the whole set at once (:meth:`TopicStore.replace`); a topic left without
member chunks is removed by :meth:`L1Store.prune`. Removing a topic releases its vector point in
the same transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.memory.l1.point_store import points_of, release_points
from secondme.node.memory.l1.sql import to_json


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicDraft:
    """A topic as clustering made it, before it is stored."""

    id: str
    name: str
    description: str
    terms: tuple[str, ...]
    confidence: float
    method: str
    named_from: tuple[str, ...]
    chunk_ids: tuple[str, ...]  # nearest to the centroid first
    events: tuple[tuple[str, str, str], ...]  # (date, chunk id, text)


class TopicStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def members(self) -> dict[str, frozenset[str]]:
        members: dict[str, set[str]] = {}
        for row in self._db.query("SELECT topic_id, chunk_id FROM topic_chunks"):
            members.setdefault(row["topic_id"], set()).add(row["chunk_id"])
        return {t: frozenset(c) for t, c in members.items()}

    def names(self) -> dict[str, dict]:
        rows = self._db.query("SELECT id, name, description, method, named_from FROM topics")
        return {
            r["id"]: {
                "name": r["name"],
                "description": r["description"],
                "method": r["method"],
                "named_from": tuple(json.loads(r["named_from"])),
            }
            for r in rows
        }

    def replace(self, drafts: Sequence[TopicDraft]) -> list[str]:
        """Make ``drafts`` the topics; returns the point ids of dropped topics (now in gc)."""
        now = time.time()
        keep = [d.id for d in drafts]
        with self._db.transaction() as conn:
            marks = ",".join("?" * len(keep)) or "''"
            gone = [
                r["point_id"]
                for r in conn.execute(
                    f"SELECT point_id FROM l1_points WHERE kind = 'topic' "
                    f"AND ref_id NOT IN ({marks})",
                    keep,
                )
            ]
            release_points(conn, gone)
            conn.execute(f"DELETE FROM topics WHERE id NOT IN ({marks})", keep)
            for d in drafts:
                conn.execute(
                    "INSERT INTO topics (id, name, description, terms, confidence, method, "
                    "named_from, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                    "description = excluded.description, terms = excluded.terms, "
                    "confidence = excluded.confidence, method = excluded.method, "
                    "named_from = excluded.named_from, updated_at = excluded.updated_at",
                    (
                        d.id,
                        d.name,
                        d.description,
                        to_json(list(d.terms)),
                        d.confidence,
                        d.method,
                        to_json(list(d.named_from)),
                        now,
                        now,
                    ),
                )
                conn.execute("DELETE FROM topic_chunks WHERE topic_id = ?", (d.id,))
                conn.executemany(
                    "INSERT INTO topic_chunks (topic_id, chunk_id, rank) VALUES (?, ?, ?)",
                    [(d.id, c, rank) for rank, c in enumerate(d.chunk_ids)],
                )
                conn.execute("DELETE FROM topic_events WHERE topic_id = ?", (d.id,))
                conn.executemany(
                    "INSERT OR IGNORE INTO topic_events (topic_id, chunk_id, date, text) "
                    "VALUES (?, ?, ?, ?)",
                    [(d.id, chunk, date, text) for date, chunk, text in d.events],
                )
        return gone

    def rename(
        self, topic_id: str, *, name: str, description: str, method: str, named_from: Sequence[str]
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE topics SET name = ?, description = ?, method = ?, named_from = ?, "
                "updated_at = ? WHERE id = ?",
                (name, description, method, to_json(list(named_from)), time.time(), topic_id),
            )

    def list(self, topic_id: str | None = None) -> list[dict]:
        where, params = ("WHERE t.id = ?", (topic_id,)) if topic_id else ("", ())
        rows = self._db.query(
            f"SELECT t.*, (SELECT COUNT(*) FROM topic_chunks tc WHERE tc.topic_id = t.id) AS n "
            f"FROM topics t {where} ORDER BY n DESC, t.name",
            params,
        )
        result = []
        for r in rows:
            members = self._db.query(
                "SELECT tc.chunk_id, c.doc_id, d.path, d.name FROM topic_chunks tc "
                "JOIN chunks c ON c.id = tc.chunk_id JOIN documents d ON d.id = c.doc_id "
                "WHERE tc.topic_id = ? ORDER BY tc.rank",
                (r["id"],),
            )
            documents: dict[str, dict] = {}
            for m in members:
                documents.setdefault(
                    m["doc_id"], {"doc_id": m["doc_id"], "path": m["path"], "name": m["name"]}
                )
            events = self._db.query(
                "SELECT date, chunk_id, text FROM topic_events WHERE topic_id = ? "
                "ORDER BY date, chunk_id",
                (r["id"],),
            )
            result.append(
                {
                    "id": r["id"],
                    "name": r["name"],
                    "description": r["description"],
                    "terms": json.loads(r["terms"]),
                    "confidence": round(r["confidence"], 3),
                    "method": r["method"],
                    "named_from": json.loads(r["named_from"]),
                    "documents": list(documents.values()),
                    "chunks": [m["chunk_id"] for m in members],
                    "timeline": [
                        {"date": e["date"], "text": e["text"], "chunk_id": e["chunk_id"]}
                        for e in events
                    ],
                    "updated_at": r["updated_at"],
                }
            )
        return result

    def remove(self, topic_id: str) -> list[str]:
        """Delete a topic; returns its point ids, now in ``vector_gc``."""
        with self._db.transaction() as conn:
            points = points_of(conn, "topic", [topic_id])
            release_points(conn, points)
            conn.execute("DELETE FROM topics WHERE id = ?", (topic_id,))
        return points

    def find(self, wanted: str) -> dict | None:
        """A topic by id, or by name (case-insensitive)."""
        for topic in self.list():
            if wanted == topic["id"] or wanted.strip().lower() == topic["name"].lower():
                return topic
        return None
