"""The entity graph in SQLite: ``entities``, their mentions per chunk (``entity_mentions``),
``relations`` between them and the chunks that support each (``relation_evidence``).

An entity's name and context are its mentions' (the longest spelling, the sentence of its
earliest mention), so they change when its chunks go; an entity or relation left without
evidence is removed by :meth:`L1Store.prune`.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence

from secondme.node.core.db import Database
from secondme.node.memory.l1.extract import OWNER_KEY


class EntityStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(
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
            refresh_entities(conn, list(ids.values()))

    def names_of_kind(self, *kinds: str) -> list[str]:
        marks = ",".join("?" * len(kinds))
        rows = self._db.query(
            f"SELECT name FROM entities WHERE kind IN ({marks}) ORDER BY key", kinds
        )
        return [r["name"] for r in rows]

    def untyped(self, limit: int) -> list[dict]:
        rows = self._db.query(
            "SELECT e.id, e.name, e.context, COUNT(m.chunk_id) AS n FROM entities e "
            "JOIN entity_mentions m ON m.entity_id = e.id WHERE e.typed_by = 'none' "
            "GROUP BY e.id ORDER BY n DESC, e.key LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def set_kinds(self, kinds: dict[str, str], typed_by: str) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE entities SET kind = ?, typed_by = ? WHERE id = ?",
                [(kind, typed_by, entity_id) for entity_id, kind in kinds.items()],
            )

    def names(self) -> list[tuple[str, str]]:
        """(id, name) of every entity but the owner, most mentioned first: one light query,
        for matching names in text before fetching the few entities that matter."""
        rows = self._db.query(
            "SELECT e.id, e.name, (SELECT COUNT(*) FROM entity_mentions m "
            "WHERE m.entity_id = e.id) AS n FROM entities e WHERE e.key != ? "
            "ORDER BY n DESC, e.key",
            (OWNER_KEY,),
        )
        return [(r["id"], r["name"]) for r in rows]

    def list(
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


def refresh_entities(conn: sqlite3.Connection, entity_ids: Sequence[str] | None = None) -> None:
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
