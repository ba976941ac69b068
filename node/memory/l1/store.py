"""L1 records in SQLite, one store per kind of record, and what crosses kinds: forgetting.

Each kind owns its tables: the work queue (:mod:`.job_queue`), insights (:mod:`.insight_store`),
topics (:mod:`.topic_store`), profile versions (:mod:`.profile_store`), the entity graph
(:mod:`.entity_store`), facts (:mod:`.fact_store`) and the index of vector points
(:mod:`.point_store`). :class:`L1Store` holds them (``l1.topics``, ``l1.entities``, ...).

Every record names the chunks it was made from, through foreign keys that cascade: forgetting a
document deletes its chunks, which deletes their topic memberships, mentions and relation
evidence. What is left then touches every kind at once, so it lives here, each step in one
transaction: :meth:`L1Store.forget_chunks` before chunks go, :meth:`L1Store.prune` after, which
removes whatever no longer has any source and sends the vector points of removed records to
``vector_gc``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from secondme.node.core.db import Database
from secondme.node.memory.l1.entity_store import EntityStore, refresh_entities
from secondme.node.memory.l1.fact_store import FactStore
from secondme.node.memory.l1.insight_store import InsightStore
from secondme.node.memory.l1.job_queue import JobQueue
from secondme.node.memory.l1.point_store import PointStore, release_points
from secondme.node.memory.l1.profile_store import ProfileStore
from secondme.node.memory.l1.sql import to_json
from secondme.node.memory.l1.topic_store import TopicStore


class L1Store:
    """The L1 stores over one database, and the operations that cross them."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.jobs = JobQueue(db)
        self.insights = InsightStore(db)
        self.topics = TopicStore(db)
        self.profiles = ProfileStore(db)
        self.entities = EntityStore(db)
        self.facts = FactStore(db)
        self.points = PointStore(db)

    def forget_chunks(self, chunk_ids: Sequence[str]) -> list[str]:
        """Before chunks go: drop profile versions built from them, mark topics named from
        them stale (their descriptions, sentences of those chunks, go now), and take the points
        of every record that drew on them out of the index, to be made again from what remains.

        Returns the released point ids (now in ``vector_gc``), so that the vector store can
        drop them with the chunks: no embedding of a forgotten sentence outlives the forget.
        """
        gone = set(chunk_ids)
        if not gone:
            return []
        with self._db.transaction() as conn:
            for row in conn.execute("SELECT version, sources FROM profiles").fetchall():
                if gone & set(json.loads(row["sources"])):
                    conn.execute("DELETE FROM profiles WHERE version = ?", (row["version"],))
            for row in conn.execute("SELECT id, named_from FROM topics").fetchall():
                if gone & set(json.loads(row["named_from"])):
                    conn.execute(
                        "UPDATE topics SET method = 'stale', named_from = '[]', "
                        "description = '' WHERE id = ?",
                        (row["id"],),
                    )
            gone_chunks = "(SELECT value FROM json_each(:gone))"
            points = [
                r["point_id"]
                for r in conn.execute(
                    "SELECT point_id FROM l1_points WHERE (kind = 'insight' AND ref_id IN "
                    f"(SELECT doc_id FROM chunks WHERE id IN {gone_chunks})) "
                    "OR (kind = 'topic' AND ref_id IN "
                    f"(SELECT topic_id FROM topic_chunks WHERE chunk_id IN {gone_chunks})) "
                    "OR (kind = 'entity' AND ref_id IN "
                    f"(SELECT entity_id FROM entity_mentions WHERE chunk_id IN {gone_chunks} "
                    "UNION SELECT r.source_id FROM relations r JOIN relation_evidence ev "
                    f"ON ev.relation_id = r.id WHERE ev.chunk_id IN {gone_chunks} "
                    "UNION SELECT r.target_id FROM relations r JOIN relation_evidence ev "
                    f"ON ev.relation_id = r.id WHERE ev.chunk_id IN {gone_chunks}))",
                    {"gone": to_json(sorted(gone))},
                )
            ]
            release_points(conn, points)
        return points

    def prune(self) -> list[str]:
        """Remove records left without sources (or, for a profile version, missing one) and
        remake entity names and contexts from the mentions that remain; returns the point ids
        of removed records, now in ``vector_gc``."""
        with self._db.transaction() as conn:
            for row in conn.execute("SELECT version, sources FROM profiles").fetchall():
                sources = json.loads(row["sources"])
                found = conn.execute(
                    "SELECT COUNT(*) AS n FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
                    (row["sources"],),
                ).fetchone()["n"]
                if found < len(set(sources)):
                    conn.execute("DELETE FROM profiles WHERE version = ?", (row["version"],))
            conn.execute("DELETE FROM topics WHERE id NOT IN (SELECT topic_id FROM topic_chunks)")
            conn.execute(
                "DELETE FROM relations WHERE id NOT IN (SELECT relation_id FROM relation_evidence)"
            )
            conn.execute(
                "DELETE FROM entities WHERE id NOT IN (SELECT entity_id FROM entity_mentions) "
                "AND id NOT IN (SELECT source_id FROM relations) "
                "AND id NOT IN (SELECT target_id FROM relations)"
            )
            refresh_entities(conn)
            orphans = [
                r["point_id"]
                for r in conn.execute(
                    "SELECT point_id FROM l1_points p WHERE "
                    "(kind = 'insight' AND ref_id NOT IN (SELECT doc_id FROM insights)) OR "
                    "(kind = 'topic' AND ref_id NOT IN (SELECT id FROM topics)) OR "
                    "(kind = 'entity' AND ref_id NOT IN (SELECT id FROM entities))"
                )
            ]
            release_points(conn, orphans)
        return orphans

    def counts(self) -> dict[str, int]:
        row = self._db.query_one(
            "SELECT (SELECT COUNT(*) FROM insights) AS insights, "
            "(SELECT COUNT(*) FROM topics) AS topics, "
            "(SELECT COUNT(*) FROM entities) AS entities, "
            "(SELECT COUNT(*) FROM relations) AS relations, "
            "(SELECT COUNT(*) FROM profiles) AS profile_versions"
        )
        return dict(row)
