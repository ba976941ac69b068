"""Facts in SQLite: the statements each document makes, and their validity by replay.

A row is one statement of one sentence, tied to its chunk and document by foreign keys that
cascade: forgetting a document (or replacing its chunks) deletes its statements with it. What is
*not* stored is the validity: ``valid_to`` and ``closed_by`` are worked out on every read by
replaying a subject's statements in time order (:func:`facts.replay`), so an older document
ingested late, or a forgotten one (what it closed opens again), can never leave a stale end
behind. Tags are read from the source document on every read too: a re-tagged document's facts
follow it into (or out of) a peer's scope at once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence

from secondme.node.core.db import Database
from secondme.node.memory.l1.extract import entity_key
from secondme.node.memory.l1.facts import Fact, Statement, replay, valid_at
from secondme.node.memory.l1.text import words

_OWNER_WORDS = frozenset({"me", "i", "myself", "owner"})

_SELECT = (
    "SELECT f.*, d.tags AS d_tags, d.ingested_at AS d_ingested, c.idx AS c_idx, "
    "c.turn_first AS c_first, c.turn_last AS c_last FROM facts f "
    "JOIN documents d ON d.id = f.doc_id JOIN chunks c ON c.id = f.chunk_id"
)


class FactStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def replace_document(
        self, doc_id: str, statements: Sequence[Statement], dates: dict[str, str | None]
    ) -> int:
        """The statements of a document's current chunks, replacing what it said before;
        ``dates`` gives each chunk's fallback date (a statement naming none takes it).
        Returns how many were stored."""
        rows = self._rows(doc_id, statements, dates)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM facts WHERE doc_id = ?", (doc_id,))
            self._insert(conn, rows)
        return len(rows)

    def add(
        self, doc_id: str, statements: Sequence[Statement], dates: dict[str, str | None]
    ) -> int:
        """Add statements to a document's (the model's, after the rules'); a chunk gone since
        they were read is skipped. Returns how many were stored."""
        rows = self._rows(doc_id, statements, dates)
        with self._db.transaction() as conn:
            live = {
                r["id"] for r in conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))
            }
            rows = [r for r in rows if r[9] in live]
            self._insert(conn, rows)
        return len(rows)

    @staticmethod
    def _rows(
        doc_id: str, statements: Sequence[Statement], dates: dict[str, str | None]
    ) -> list[tuple]:
        now = time.time()
        return [
            (
                uuid.uuid4().hex,
                s.subject,
                s.subject_key,
                s.predicate,
                s.object,
                entity_key(s.object),
                int(s.negated),
                s.sentence,
                s.date or dates.get(s.chunk_id),
                s.chunk_id,
                doc_id,
                s.position,
                s.method,
                now,
            )
            for s in _unique(statements)
        ]

    @staticmethod
    def _insert(conn, rows: Sequence[tuple]) -> None:
        conn.executemany(
            "INSERT INTO facts (id, subject, subject_key, predicate, object, object_key, "
            "negated, sentence, valid_from, chunk_id, doc_id, position, method, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def remove_chunks(self, chunk_ids: Sequence[str]) -> int:
        """Drop the statements of chunks (the cascade does this when chunks are deleted; this
        is for a caller that forgets chunks' facts alone)."""
        with self._db.transaction() as conn:
            return conn.executemany(
                "DELETE FROM facts WHERE chunk_id = ?", [(c,) for c in chunk_ids]
            ).rowcount

    # -- reading ------------------------------------------------------------------------------

    def facts(
        self,
        *,
        at: str | None = None,
        about: Sequence[str] = (),
        include_ended: bool = False,
        doc_ids: Iterable[str] | None = None,
    ) -> list[Fact]:
        """Facts with their validity: the current ones (or those true at ``at``), every
        statement with ``include_ended``, only about ``about`` (names; "me" is the owner) when
        given, only from ``doc_ids`` when given (the replay still sees every statement)."""
        replayed = self._replayed(about)
        if doc_ids is not None:
            wanted = set(doc_ids)
            replayed = [f for f in replayed if f.doc_id in wanted]
        if about:
            replayed = [f for f in replayed if _concerns(f, about)]
        if include_ended:
            return replayed
        if at is not None:
            return [f for f in replayed if valid_at(f, at)]
        return [f for f in replayed if f.current]

    def about(self, names: Sequence[str], at: str | None = None) -> list[Fact]:
        """The facts about any of ``names`` (as subject or object; "me" for the owner) true now,
        or at ``at``: what a question naming them may be grounded on."""
        return self.facts(at=at, about=names)

    def get(self, fact_id: str) -> Fact | None:
        return next((f for f in self._replayed(()) if f.id == fact_id), None)

    def count(self) -> int:
        return int(self._db.query_one("SELECT COUNT(*) AS n FROM facts")["n"])

    def _replayed(self, about: Sequence[str]) -> list[Fact]:
        """Every statement of the subjects concerned (all when ``about`` is empty), replayed."""
        rows = self._db.query(f"{_SELECT} ORDER BY f.subject_key, f.predicate")
        facts = [_fact(r) for r in rows]
        if about:
            subjects = {f.subject_key for f in facts if _concerns(f, about)}
            facts = [f for f in facts if f.subject_key in subjects]
        return replay(facts)


def _unique(statements: Sequence[Statement]) -> list[Statement]:
    """One statement per (chunk, subject, predicate, object, polarity): a chunk saying it twice
    (overlapping turns) is one statement."""
    seen: set[tuple] = set()
    kept = []
    for s in statements:
        key = (s.chunk_id, s.subject_key, s.predicate, s.object_key(), s.negated)
        if key not in seen:
            seen.add(key)
            kept.append(s)
    return kept


def _concerns(fact: Fact, names: Sequence[str]) -> bool:
    """Is ``fact`` about one of ``names``: its subject, or a name among its object's words?"""
    for name in names:
        key = entity_key(name)
        if not key:
            continue
        if key in _OWNER_WORDS:
            if fact.owner:
                return True
            continue
        wanted = key.split()
        if _within(wanted, words(fact.object)) or (
            not fact.owner and _within(wanted, words(fact.subject))
        ):
            return True
        if fact.owner and _within(wanted, words(fact.subject)):
            return True  # the owner asked about by name
    return False


def _within(needle: list[str], hay: list[str]) -> bool:
    n = len(needle)
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1)) if n else False


def _fact(row) -> Fact:
    return Fact(
        id=row["id"],
        subject=row["subject"],
        subject_key=row["subject_key"],
        predicate=row["predicate"],
        object=row["object"],
        sentence_text=row["sentence"],
        valid_from=row["valid_from"],
        negated=bool(row["negated"]),
        chunk_id=row["chunk_id"],
        doc_id=row["doc_id"],
        tags=tuple(json.loads(row["d_tags"])),
        method=row["method"],
        position=row["position"],
        part=row["c_idx"],
        turns=None if row["c_first"] is None else (row["c_first"], row["c_last"]),
        order=(row["d_ingested"], row["c_idx"]),
    )
