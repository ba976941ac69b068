"""L1 records in SQLite: the work queue, insights, topics, profile versions, the entity graph.

Every record names the chunks it was made from, through foreign keys that cascade: forgetting a
document deletes its chunks, which deletes their topic memberships, mentions and relation
evidence; :meth:`L1Store.prune` then removes whatever no longer has any source, and sends the
vector points of removed records to ``vector_gc`` in the same transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.memory.l1.extract import OWNER_KEY
from secondme.node.memory.l1.fact_store import FactStore

JOB_ORDER = ("document", "topics", "topic", "profile", "summary", "entity_types")
"""Kinds of L1 work, in the order the worker takes them: cheap and foundational first."""
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Job:
    kind: str
    target: str
    version: str
    attempts: int

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


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


@dataclass(frozen=True, slots=True, kw_only=True)
class PointRow:
    point_id: str
    kind: str
    ref_id: str
    text: str
    tags: tuple[str, ...]


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class L1Store:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.facts = FactStore(db)

    # -- jobs ---------------------------------------------------------------------------------

    def enqueue(
        self, kind: str, target: str = "", version: str = "", *, force: bool = False
    ) -> None:
        """Queue work; a job already done for this ``version`` is left alone unless ``force``.

        A forced job gets a fresh version, so that a run of it already under way cannot mark
        the new request done when it finishes.
        """
        if force:
            version = uuid.uuid4().hex
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT state, version FROM l1_jobs WHERE kind = ? AND target = ?", (kind, target)
            ).fetchone()
            unchanged = row is not None and not force and row["version"] == version
            if unchanged and row["state"] in ("pending", "running", "done"):
                return
            conn.execute(
                "INSERT INTO l1_jobs (kind, target, state, version, attempts, error, queued_at) "
                "VALUES (?, ?, 'pending', ?, 0, NULL, ?) ON CONFLICT(kind, target) DO UPDATE SET "
                "state = 'pending', version = excluded.version, attempts = 0, error = NULL, "
                "queued_at = excluded.queued_at, started_at = NULL, finished_at = NULL",
                (kind, target, version, time.time()),
            )

    def resume(self) -> int:
        """Jobs left running by a stopped daemon go back to pending; returns how many."""
        with self._db.transaction() as conn:
            return conn.execute(
                "UPDATE l1_jobs SET state = 'pending', started_at = NULL WHERE state = 'running'"
            ).rowcount

    def next_job(self) -> Job | None:
        order = " ".join(f"WHEN '{kind}' THEN {i}" for i, kind in enumerate(JOB_ORDER))
        row = self._db.query_one(
            f"SELECT * FROM l1_jobs WHERE state = 'pending' "
            f"ORDER BY CASE kind {order} ELSE 99 END, queued_at, target LIMIT 1"
        )
        if row is None:
            return None
        return Job(row["kind"], row["target"], row["version"], row["attempts"])

    def has_pending(self, *kinds: str) -> bool:
        marks = ",".join("?" * len(kinds))
        row = self._db.query_one(
            f"SELECT COUNT(*) AS n FROM l1_jobs WHERE state IN ('pending', 'running') "
            f"AND kind IN ({marks})",
            kinds,
        )
        return bool(row["n"])

    def mark_running(self, job: Job) -> None:
        self._set_state(job, "state = 'running', started_at = ?", (time.time(),))

    def mark_done(self, job: Job) -> None:
        self._set_state(job, "state = 'done', error = NULL, finished_at = ?", (time.time(),))

    def mark_failed(self, job: Job, error: str, *, final: bool = False) -> str:
        """Count a failed attempt; after :data:`MAX_ATTEMPTS` (or at once when ``final``) the
        job stays failed. Returns the new state."""
        attempts = MAX_ATTEMPTS if final else job.attempts + 1
        state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        self._set_state(
            job,
            "state = ?, attempts = ?, error = ?, finished_at = ?",
            (state, attempts, error, time.time()),
        )
        return state

    def _set_state(self, job: Job, assignments: str, values: tuple) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"UPDATE l1_jobs SET {assignments} WHERE kind = ? AND target = ? AND version = ?",
                (*values, job.kind, job.target, job.version),
            )

    def drop_jobs(self, target: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM l1_jobs WHERE target = ?", (target,))

    def jobs(self) -> list[dict]:
        rows = self._db.query("SELECT * FROM l1_jobs ORDER BY queued_at, kind, target")
        return [
            {
                "kind": r["kind"],
                "target": r["target"],
                "state": r["state"],
                "attempts": r["attempts"],
                "error": r["error"],
                "queued_at": r["queued_at"],
                "started_at": r["started_at"],
                "finished_at": r["finished_at"],
            }
            for r in rows
        ]

    # -- insights -----------------------------------------------------------------------------

    def save_insight(
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
                    _json(list(key_points)),
                    summary,
                    method,
                    _json(list(sources)),
                    time.time(),
                ),
            )

    def set_insight_text(self, doc_id: str, *, title: str, overview: str, method: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE insights SET title = ?, overview = ?, method = ?, updated_at = ? "
                "WHERE doc_id = ?",
                (title, overview, method, time.time(), doc_id),
            )

    def insight(self, doc_id: str) -> dict | None:
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

    # -- topics -------------------------------------------------------------------------------

    def topic_members(self) -> dict[str, frozenset[str]]:
        members: dict[str, set[str]] = {}
        for row in self._db.query("SELECT topic_id, chunk_id FROM topic_chunks"):
            members.setdefault(row["topic_id"], set()).add(row["chunk_id"])
        return {t: frozenset(c) for t, c in members.items()}

    def topic_names(self) -> dict[str, dict]:
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

    def replace_topics(self, drafts: Sequence[TopicDraft]) -> list[str]:
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
            self._release_points(conn, gone)
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
                        _json(list(d.terms)),
                        d.confidence,
                        d.method,
                        _json(list(d.named_from)),
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

    def rename_topic(
        self, topic_id: str, *, name: str, description: str, method: str, named_from: Sequence[str]
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE topics SET name = ?, description = ?, method = ?, named_from = ?, "
                "updated_at = ? WHERE id = ?",
                (name, description, method, _json(list(named_from)), time.time(), topic_id),
            )

    def topics(self, topic_id: str | None = None) -> list[dict]:
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

    def remove_topic(self, topic_id: str) -> list[str]:
        """Delete a topic; returns its point ids, now in ``vector_gc``."""
        with self._db.transaction() as conn:
            points = [
                r["point_id"]
                for r in conn.execute(
                    "SELECT point_id FROM l1_points WHERE kind = 'topic' AND ref_id = ?",
                    (topic_id,),
                )
            ]
            self._release_points(conn, points)
            conn.execute("DELETE FROM topics WHERE id = ?", (topic_id,))
        return points

    def find_topic(self, wanted: str) -> dict | None:
        """A topic by id, or by name (case-insensitive)."""
        for topic in self.topics():
            if wanted == topic["id"] or wanted.strip().lower() == topic["name"].lower():
                return topic
        return None

    # -- profile ------------------------------------------------------------------------------

    def add_profile(
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
        latest = self.profile()
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
                    _json(list(topics)),
                    _json(list(sources)),
                    time.time(),
                ),
            )
            return int(cursor.lastrowid)

    def profile(self, version: int | None = None) -> dict | None:
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

    def profile_versions(self) -> list[int]:
        return [r["version"] for r in self._db.query("SELECT version FROM profiles ORDER BY 1")]

    # -- entities -----------------------------------------------------------------------------

    def save_entities(
        self,
        chunk_ids: Sequence[str],
        entities: Iterable[tuple[str, str, str | None, Mapping[str, tuple[str, str]]]],
        relations: dict[tuple[str, str, str], set[str]],
        owner_name: str,
    ) -> None:
        """Record one document's entities (key, name, rule kind, and per chunk the name as
        written there and the sentence it is met in) and relations.

        Mentions of ``chunk_ids`` are replaced, so re-processing a document is idempotent. An
        entity's name and context are its mentions', so they change when its chunks go.
        """
        with self._db.transaction() as conn:
            marks = ",".join("?" * len(chunk_ids)) or "''"
            conn.execute(f"DELETE FROM entity_mentions WHERE chunk_id IN ({marks})", chunk_ids)
            conn.execute(f"DELETE FROM relation_evidence WHERE chunk_id IN ({marks})", chunk_ids)
            ids: dict[str, str] = {}

            def ensure(key: str, name: str, kind: str | None, context: str = "") -> str:
                row = conn.execute(
                    "SELECT id, typed_by FROM entities WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    entity_id = str(uuid.uuid4())
                    conn.execute(
                        "INSERT INTO entities (id, key, name, kind, typed_by, context) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            entity_id,
                            key,
                            name,
                            kind or "thing",
                            "rule" if kind else "none",
                            context,
                        ),
                    )
                    return entity_id
                if kind and row["typed_by"] != "rule":
                    conn.execute(
                        "UPDATE entities SET kind = ?, typed_by = 'rule' WHERE id = ?",
                        (kind, row["id"]),
                    )
                return row["id"]

            for key, name, kind, mentions in entities:
                ids[key] = ensure(key, name, kind)
                conn.executemany(
                    "INSERT OR IGNORE INTO entity_mentions (entity_id, chunk_id, name, context) "
                    "VALUES (?, ?, ?, ?)",
                    [(ids[key], c, n, context) for c, (n, context) in mentions.items()],
                )
            for (source, target, label), chunks in relations.items():
                for key in (source, target):
                    if key == OWNER_KEY and key not in ids:
                        ids[key] = ensure(OWNER_KEY, owner_name or "me", "person", "the owner")
                if source not in ids or target not in ids:
                    continue
                conn.execute(
                    "INSERT OR IGNORE INTO relations (source_id, target_id, label) "
                    "VALUES (?, ?, ?)",
                    (ids[source], ids[target], label),
                )
                relation_id = conn.execute(
                    "SELECT id FROM relations WHERE source_id = ? AND target_id = ? AND label = ?",
                    (ids[source], ids[target], label),
                ).fetchone()["id"]
                conn.executemany(
                    "INSERT OR IGNORE INTO relation_evidence (relation_id, chunk_id) VALUES (?, ?)",
                    [(relation_id, c) for c in chunks],
                )
            _refresh_entities(conn, list(ids.values()))

    def names_of_kind(self, *kinds: str) -> list[str]:
        marks = ",".join("?" * len(kinds))
        rows = self._db.query(
            f"SELECT name FROM entities WHERE kind IN ({marks}) ORDER BY key", kinds
        )
        return [r["name"] for r in rows]

    def untyped_entities(self, limit: int) -> list[dict]:
        rows = self._db.query(
            "SELECT e.id, e.name, e.context, COUNT(m.chunk_id) AS n FROM entities e "
            "JOIN entity_mentions m ON m.entity_id = e.id WHERE e.typed_by = 'none' "
            "GROUP BY e.id ORDER BY n DESC, e.key LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def set_entity_kinds(self, kinds: dict[str, str], typed_by: str) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE entities SET kind = ?, typed_by = ? WHERE id = ?",
                [(kind, typed_by, entity_id) for entity_id, kind in kinds.items()],
            )

    def entity_names(self) -> list[tuple[str, str]]:
        """(id, name) of every entity but the owner, most mentioned first: one light query,
        for matching names in text before fetching the few entities that matter."""
        rows = self._db.query(
            "SELECT e.id, e.name, (SELECT COUNT(*) FROM entity_mentions m "
            "WHERE m.entity_id = e.id) AS n FROM entities e WHERE e.key != ? "
            "ORDER BY n DESC, e.key",
            (OWNER_KEY,),
        )
        return [(r["id"], r["name"]) for r in rows]

    def entities(
        self,
        *,
        name: str | None = None,
        kind: str | None = None,
        ids: Collection[str] | None = None,
    ) -> list[dict]:
        """The graph: entities with their mentions and relations; ``name`` selects one entity
        and its neighbours, ``ids`` exactly those entities."""
        rows = self._db.query(
            "SELECT e.*, (SELECT COUNT(*) FROM entity_mentions m WHERE m.entity_id = e.id) AS n "
            "FROM entities e ORDER BY n DESC, e.key"
        )
        by_id = {r["id"]: r for r in rows}
        relations = self._db.query(
            "SELECT r.id, r.source_id, r.target_id, r.label, "
            "GROUP_CONCAT(ev.chunk_id) AS chunks FROM relations r "
            "JOIN relation_evidence ev ON ev.relation_id = r.id GROUP BY r.id ORDER BY r.id"
        )
        # How each end of a relation is written in each chunk that supports it.
        written = {
            (r["relation_id"], r["chunk_id"], r["entity_id"]): r["name"]
            for r in self._db.query(
                "SELECT ev.relation_id, ev.chunk_id, m.entity_id, m.name "
                "FROM relation_evidence ev JOIN relations r ON r.id = ev.relation_id "
                "JOIN entity_mentions m ON m.chunk_id = ev.chunk_id "
                "AND m.entity_id IN (r.source_id, r.target_id) WHERE m.name != ''"
            )
        }
        selected = set(by_id) if ids is None else set(ids) & set(by_id)
        if name:
            wanted = name.strip().lower()
            hits = {i for i, r in by_id.items() if wanted in (r["key"], r["name"].lower())}
            selected = hits | {
                rel["target_id"] if rel["source_id"] in hits else rel["source_id"]
                for rel in relations
                if rel["source_id"] in hits or rel["target_id"] in hits
            }
        result = []
        for entity_id, r in by_id.items():
            if entity_id not in selected or (kind and r["kind"] != kind):
                continue
            mentions = self._db.query(
                "SELECT chunk_id FROM entity_mentions WHERE entity_id = ? ORDER BY chunk_id",
                (entity_id,),
            )
            result.append(
                {
                    "id": entity_id,
                    "name": r["name"],
                    "kind": r["kind"],
                    "typed_by": r["typed_by"],
                    "owner": r["key"] == OWNER_KEY,
                    "context": r["context"],
                    "chunks": [m["chunk_id"] for m in mentions],
                    "relations": [
                        _relation(rel, entity_id, by_id, written)
                        for rel in relations
                        if entity_id in (rel["source_id"], rel["target_id"])
                    ],
                }
            )
        return result

    # -- forgetting ---------------------------------------------------------------------------

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
                    {"gone": _json(sorted(gone))},
                )
            ]
            self._release_points(conn, points)
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
            _refresh_entities(conn)
            orphans = [
                r["point_id"]
                for r in conn.execute(
                    "SELECT point_id FROM l1_points p WHERE "
                    "(kind = 'insight' AND ref_id NOT IN (SELECT doc_id FROM insights)) OR "
                    "(kind = 'topic' AND ref_id NOT IN (SELECT id FROM topics)) OR "
                    "(kind = 'entity' AND ref_id NOT IN (SELECT id FROM entities))"
                )
            ]
            self._release_points(conn, orphans)
        return orphans

    # -- vector points ------------------------------------------------------------------------

    @staticmethod
    def _release_points(conn, point_ids: Sequence[str]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO vector_gc (point_id) VALUES (?)", [(p,) for p in point_ids]
        )
        conn.executemany("DELETE FROM l1_points WHERE point_id = ?", [(p,) for p in point_ids])

    def drop_points(self, kind: str, ref_ids: Collection[str]) -> list[str]:
        """Take these records out of the index (they no longer qualify); returns their point
        ids, now in ``vector_gc``."""
        with self._db.transaction() as conn:
            points = [
                r["point_id"]
                for r in conn.execute(
                    "SELECT point_id FROM l1_points WHERE kind = ? "
                    "AND ref_id IN (SELECT value FROM json_each(?))",
                    (kind, _json(sorted(ref_ids))),
                )
            ]
            self._release_points(conn, points)
        return points

    def point_for(self, kind: str, ref_id: str) -> PointRow | None:
        row = self._db.query_one(
            "SELECT * FROM l1_points WHERE kind = ? AND ref_id = ?", (kind, ref_id)
        )
        return None if row is None else _point(row)

    def commit_points(self, rows: Sequence[PointRow]) -> list[str]:
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
                    self._release_points(conn, [old["point_id"]])
                conn.execute(
                    "INSERT INTO l1_points (point_id, kind, ref_id, text, tags) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (row.point_id, row.kind, row.ref_id, row.text, _json(list(row.tags))),
                )
                conn.execute("DELETE FROM vector_gc WHERE point_id = ?", (row.point_id,))
        return replaced

    def points(self, point_ids: Sequence[str]) -> dict[str, PointRow]:
        if not point_ids:
            return {}
        marks = ",".join("?" * len(point_ids))
        rows = self._db.query(f"SELECT * FROM l1_points WHERE point_id IN ({marks})", point_ids)
        return {r["point_id"]: _point(r) for r in rows}

    def point_count(self) -> int:
        return int(self._db.query_one("SELECT COUNT(*) AS n FROM l1_points")["n"])

    def all_points(self) -> list[PointRow]:
        return [_point(r) for r in self._db.query("SELECT * FROM l1_points ORDER BY point_id")]

    def counts(self) -> dict[str, int]:
        row = self._db.query_one(
            "SELECT (SELECT COUNT(*) FROM insights) AS insights, "
            "(SELECT COUNT(*) FROM topics) AS topics, "
            "(SELECT COUNT(*) FROM entities) AS entities, "
            "(SELECT COUNT(*) FROM relations) AS relations, "
            "(SELECT COUNT(*) FROM profiles) AS profile_versions"
        )
        return dict(row)


def _relation(rel, entity_id: str, by_id: Mapping, written: Mapping) -> dict:
    """One relation as seen from ``entity_id``: the other end's name overall, and as each
    supporting chunk writes it (``named``: chunk id → name)."""
    other_id = rel["target_id"] if rel["source_id"] == entity_id else rel["source_id"]
    chunks = sorted(rel["chunks"].split(","))
    return {
        "label": rel["label"],
        "direction": "out" if rel["source_id"] == entity_id else "in",
        "other": by_id[other_id]["name"],
        "other_owner": by_id[other_id]["key"] == OWNER_KEY,
        "chunks": chunks,
        "named": {
            c: written[(rel["id"], c, other_id)]
            for c in chunks
            if (rel["id"], c, other_id) in written
        },
    }


def _refresh_entities(conn, entity_ids: Sequence[str] | None = None) -> None:
    """Each entity's name and context from the mentions it has left: the longest spelling, and
    the sentence of its earliest mention (the owner's entity, without mentions, is kept)."""
    where = ""
    if entity_ids is not None:
        if not entity_ids:
            return
        where = f"AND id IN ({','.join('?' * len(entity_ids))})"
    conn.execute(
        "UPDATE entities SET "
        "name = (SELECT m.name FROM entity_mentions m WHERE m.entity_id = entities.id "
        "AND m.name != '' ORDER BY length(m.name) DESC, m.rowid LIMIT 1), "
        "context = (SELECT m.context FROM entity_mentions m WHERE m.entity_id = entities.id "
        "ORDER BY m.rowid LIMIT 1) "
        "WHERE EXISTS (SELECT 1 FROM entity_mentions m WHERE m.entity_id = entities.id "
        f"AND m.name != '') {where}",
        tuple(entity_ids or ()),
    )


def describe_entity(entity: dict, relations: int = 8) -> str:
    """An entity as one short text: name and kind, where it was met, how it relates."""
    related = "; ".join(
        f"{r['label']} {r['other']}" if r["direction"] == "out" else f"{r['other']} {r['label']}"
        for r in entity["relations"][:relations]
    )
    return f"{entity['name']} ({entity['kind']})\n{entity['context']}\n{related}".strip()


def _point(row) -> PointRow:
    return PointRow(
        point_id=row["point_id"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        text=row["text"],
        tags=tuple(json.loads(row["tags"])),
    )
