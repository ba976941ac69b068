"""Insights in SQLite (``insights``): what one document says, in a title, overview, key points
and summary, with the chunks each came from.

One row per document, replaced whenever the document is processed again; the row goes with the
document (foreign key), and its vector point with :meth:`L1Store.prune`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from secondme.node.core.db import Database
from secondme.node.memory.l1.sql import to_json


class InsightStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(
        self,
        doc_id: str,
        content_hash: str,
        *,
        title: str,
        overview: str,
        key_points: Sequence[dict],
        summary: str,
        method: str,
        sources: Sequence[str],
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO insights (doc_id, content_hash, title, overview, key_points, "
                "summary, method, sources, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(doc_id) DO UPDATE SET content_hash = excluded.content_hash, "
                "title = excluded.title, overview = excluded.overview, "
                "key_points = excluded.key_points, summary = excluded.summary, "
                "method = excluded.method, sources = excluded.sources, "
                "updated_at = excluded.updated_at",
                (
                    doc_id,
                    content_hash,
                    title,
                    overview,
                    to_json(list(key_points)),
                    summary,
                    method,
                    to_json(list(sources)),
                    time.time(),
                ),
            )

    def set_text(self, doc_id: str, *, title: str, overview: str, method: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE insights SET title = ?, overview = ?, method = ?, updated_at = ? "
                "WHERE doc_id = ?",
                (title, overview, method, time.time(), doc_id),
            )

    def get(self, doc_id: str) -> dict | None:
        row = self._db.query_one("SELECT * FROM insights WHERE doc_id = ?", (doc_id,))
        if row is None:
            return None
        return {
            "doc_id": row["doc_id"],
            "title": row["title"],
            "overview": row["overview"],
            "key_points": json.loads(row["key_points"]),
            "summary": row["summary"],
            "method": row["method"],
            "sources": json.loads(row["sources"]),
            "content_hash": row["content_hash"],
            "updated_at": row["updated_at"],
        }
