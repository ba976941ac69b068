"""Profile versions in SQLite (``profiles``): who the owner is, in the first and third person and
what they did recently, each version naming the topics and chunks it was written from.

A version is immutable; a new one is added only when it says something new. Forgetting any of
its source chunks deletes the version (see :meth:`L1Store.forget_chunks`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from secondme.node.core.db import Database
from secondme.node.memory.l1.sql import to_json


class ProfileStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        *,
        first_person: str,
        third_person: str,
        recently: str,
        method: str,
        topics: Sequence[str],
        sources: Sequence[str],
    ) -> int:
        """Store a new version unless it says what the newest already says; returns the newest."""
        latest = self.get()
        if latest and (latest["first_person"], latest["third_person"], latest["recently"]) == (
            first_person,
            third_person,
            recently,
        ):
            return latest["version"]
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO profiles (first_person, third_person, recently, method, topics, "
                "sources, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    first_person,
                    third_person,
                    recently,
                    method,
                    to_json(list(topics)),
                    to_json(list(sources)),
                    time.time(),
                ),
            )
            return int(cursor.lastrowid)

    def get(self, version: int | None = None) -> dict | None:
        if version is None:
            row = self._db.query_one("SELECT * FROM profiles ORDER BY version DESC LIMIT 1")
        else:
            row = self._db.query_one("SELECT * FROM profiles WHERE version = ?", (version,))
        if row is None:
            return None
        return {
            "version": row["version"],
            "first_person": row["first_person"],
            "third_person": row["third_person"],
            "recently": row["recently"],
            "method": row["method"],
            "topics": json.loads(row["topics"]),
            "sources": json.loads(row["sources"]),
            "created_at": row["created_at"],
        }

    def versions(self) -> list[int]:
        return [r["version"] for r in self._db.query("SELECT version FROM profiles ORDER BY 1")]
