"""L0 documents and chunks in SQLite: the source of truth that the vector store mirrors.

Search results are joined back through here, so a vector point without a committed chunk row is
never shown. Every point id is written to ``vector_gc`` before it reaches the vector store and
leaves it in the same transaction that commits its chunk; ids of replaced or forgotten chunks go
back into ``vector_gc``. After a crash, whatever is left in ``vector_gc`` and not a committed
chunk is deleted from the store: nothing half-written is ever visible, nothing committed is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.memory.timeline import DateMention


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRecord:
    id: str
    path: str
    name: str
    kind: str
    title: str | None
    content_hash: str
    size: int
    tags: tuple[str, ...]
    chunk_count: int
    ingested_at: float
    date: str | None = None
    """The document's own date (ISO 8601), from its metadata or front matter."""
    mtime: float | None = None
    """The file's modification time (epoch seconds) as the client sent it."""
    pipeline: int = 0
    """The ingest pipeline version that made its chunks; older ones are made again."""
    source_key: str | None = None
    """An imported item's identity across exports (see :mod:`..imports`); None for a file."""
    me: str | None = None
    """The speaker who is the owner in this document, where the owner said (``ingest --me``)."""
    links: tuple[str, ...] = ()
    """Names of the notes this note links to."""

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "path": self.path,
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "content_hash": self.content_hash,
            "size": self.size,
            "tags": list(self.tags),
            "chunks": self.chunk_count,
            "ingested_at": self.ingested_at,
            "date": self.date,
            "mtime": self.mtime,
            "source": self.source_key,
            "me": self.me,
            "links": list(self.links),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkRecord:
    id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int
    speakers: tuple[str, ...] = ()
    time_start: str | None = None
    time_end: str | None = None
    time_source: str | None = None
    """Where the time came from: "message", "text", "document" or "file"; None if unknown."""
    dates: tuple[DateMention, ...] = ()
    session: str | None = None
    turn_first: int | None = None
    turn_last: int | None = None
    at: float | None = None
    """Seconds into the recording where the chunk starts (voice notes); None elsewhere."""


_DOCUMENT_COLUMNS = (
    "id",
    "path",
    "name",
    "kind",
    "title",
    "content_hash",
    "size",
    "tags",
    "chunk_count",
    "ingested_at",
    "date",
    "mtime",
    "pipeline",
    "source_key",
    "me",
    "links",
)
# The document's columns beside a chunk's in one row, each named "d_<column>".
_JOINED_DOCUMENT = ", ".join(f"d.{column} AS d_{column}" for column in _DOCUMENT_COLUMNS)


def _document(row, prefix: str = "") -> DocumentRecord:
    values = {column: row[prefix + column] for column in _DOCUMENT_COLUMNS}
    values["tags"] = tuple(json.loads(values["tags"]))
    values["links"] = tuple(json.loads(values["links"] or "[]"))
    return DocumentRecord(**values)


def _chunk(row) -> ChunkRecord:
    return ChunkRecord(
        id=row["id"],
        doc_id=row["doc_id"],
        index=row["idx"],
        text=row["text"],
        start=row["start"],
        end=row["end"],
        speakers=tuple(json.loads(row["speakers"])),
        time_start=row["time_start"],
        time_end=row["time_end"],
        time_source=row["time_source"],
        dates=_dates(row["dates"]),
        session=row["session"],
        turn_first=row["turn_first"],
        turn_last=row["turn_last"],
        at=row["at"],
    )


def _dates(stored: str | None) -> tuple[DateMention, ...]:
    """The stored date mentions; a damaged column reads as none rather than failing a search."""
    try:
        return tuple(DateMention.from_json(d) for d in json.loads(stored or "[]"))
    except (ValueError, TypeError, KeyError):
        return ()


class DocumentStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def by_path(self, path: str) -> DocumentRecord | None:
        row = self._db.query_one("SELECT * FROM documents WHERE path = ?", (path,))
        return None if row is None else _document(row)

    def by_hash(self, content_hash: str) -> DocumentRecord | None:
        row = self._db.query_one(
            "SELECT * FROM documents WHERE content_hash = ? LIMIT 1", (content_hash,)
        )
        return None if row is None else _document(row)

    def get(self, doc_id: str) -> DocumentRecord | None:
        row = self._db.query_one("SELECT * FROM documents WHERE id = ?", (doc_id,))
        return None if row is None else _document(row)

    def ids(self) -> set[str]:
        """The ids of every document in memory."""
        return {r["id"] for r in self._db.query("SELECT id FROM documents")}

    def list(self, tag: str | None = None) -> list[DocumentRecord]:
        rows = self._db.query("SELECT * FROM documents ORDER BY ingested_at, path")
        docs = [_document(r) for r in rows]
        return [d for d in docs if tag is None or tag in d.tags]

    def counts(self) -> dict[str, int]:
        row = self._db.query_one(
            "SELECT (SELECT COUNT(*) FROM documents) AS documents, "
            "(SELECT COUNT(*) FROM chunks) AS chunks, "
            "(SELECT COALESCE(SUM(size), 0) FROM documents) AS bytes"
        )
        return {"documents": row["documents"], "chunks": row["chunks"], "bytes": row["bytes"]}

    def reserve_points(self, point_ids: Sequence[str]) -> None:
        """Record ids about to be written to the vector store, before they are."""
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO vector_gc (point_id) VALUES (?)",
                [(pid,) for pid in point_ids],
            )

    def by_source(self, source_key: str) -> DocumentRecord | None:
        row = self._db.query_one("SELECT * FROM documents WHERE source_key = ?", (source_key,))
        return None if row is None else _document(row)

    def message_ids(self, doc_id: str) -> set[str]:
        """The stable ids of the imported messages a document already holds."""
        rows = self._db.query("SELECT msg_id FROM document_messages WHERE doc_id = ?", (doc_id,))
        return {r["msg_id"] for r in rows}

    def messages_of(self, doc_id: str) -> list[tuple[str, str | None]]:
        """(message id, chunk id) of every imported message a document holds."""
        rows = self._db.query(
            "SELECT msg_id, chunk_id FROM document_messages WHERE doc_id = ?", (doc_id,)
        )
        return [(r["msg_id"], r["chunk_id"]) for r in rows]

    def last_turn(self, doc_id: str) -> int | None:
        """The highest turn number a document's chunks hold; None without turns."""
        row = self._db.query_one(
            "SELECT MAX(turn_last) AS last FROM chunks WHERE doc_id = ?", (doc_id,)
        )
        return None if row is None else row["last"]

    def next_chunk_index(self, doc_id: str) -> int:
        row = self._db.query_one("SELECT MAX(idx) AS last FROM chunks WHERE doc_id = ?", (doc_id,))
        return 0 if row is None or row["last"] is None else row["last"] + 1

    def commit_document(
        self,
        doc: DocumentRecord,
        chunks: Sequence[ChunkRecord],
        messages: Sequence[tuple[str, str | None]] = (),
        *,
        append: bool = False,
    ) -> list[str]:
        """Make ``doc`` and its chunks visible at once, replacing any older version of it, or,
        with ``append``, adding the chunks to those it has (a newer export's new messages).

        ``messages`` are (message id, chunk id) pairs of imported messages. Returns the point
        ids of the replaced chunks, now queued in ``vector_gc``.
        """
        with self._db.transaction() as conn:
            old_ids: list[str] = []
            if not append:
                old_ids = [
                    r["id"]
                    for r in conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc.id,))
                ]
                conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc.id,))
                conn.execute("DELETE FROM document_messages WHERE doc_id = ?", (doc.id,))
                conn.executemany(
                    "INSERT OR IGNORE INTO vector_gc (point_id) VALUES (?)",
                    [(pid,) for pid in old_ids],
                )
            conn.execute(
                "INSERT INTO documents (id, path, name, kind, title, content_hash, size, tags, "
                "chunk_count, ingested_at, date, mtime, pipeline, source_key, me, links) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET path = excluded.path, name = excluded.name, "
                "kind = excluded.kind, title = excluded.title, "
                "content_hash = excluded.content_hash, size = excluded.size, "
                "tags = excluded.tags, chunk_count = excluded.chunk_count, "
                "ingested_at = excluded.ingested_at, date = excluded.date, "
                "mtime = excluded.mtime, pipeline = excluded.pipeline, "
                "source_key = excluded.source_key, me = excluded.me, links = excluded.links",
                (
                    doc.id,
                    doc.path,
                    doc.name,
                    doc.kind,
                    doc.title,
                    doc.content_hash,
                    doc.size,
                    json.dumps(list(doc.tags)),
                    doc.chunk_count,
                    doc.ingested_at,
                    doc.date,
                    doc.mtime,
                    doc.pipeline,
                    doc.source_key,
                    doc.me,
                    json.dumps(list(doc.links)),
                ),
            )
            conn.executemany(
                "INSERT INTO chunks (id, doc_id, idx, text, start, end, speakers, time_start, "
                "time_end, time_source, dates, session, turn_first, turn_last, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.id,
                        doc.id,
                        c.index,
                        c.text,
                        c.start,
                        c.end,
                        json.dumps(list(c.speakers)),
                        c.time_start,
                        c.time_end,
                        c.time_source,
                        json.dumps([d.to_json() for d in c.dates]),
                        c.session,
                        c.turn_first,
                        c.turn_last,
                        c.at,
                    )
                    for c in chunks
                ],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO document_messages (doc_id, msg_id, chunk_id) "
                "VALUES (?, ?, ?)",
                [(doc.id, msg_id, chunk_id) for msg_id, chunk_id in messages],
            )
            conn.executemany("DELETE FROM vector_gc WHERE point_id = ?", [(c.id,) for c in chunks])
        return old_ids

    def remove_document(self, doc_id: str) -> list[str]:
        """Forget a document; returns its point ids, queued in ``vector_gc``."""
        with self._db.transaction() as conn:
            ids = [
                r["id"] for r in conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))
            ]
            conn.executemany(
                "INSERT OR IGNORE INTO vector_gc (point_id) VALUES (?)", [(i,) for i in ids]
            )
            conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return ids

    def pending_garbage(self) -> list[str]:
        """Point ids in ``vector_gc`` that no committed chunk or L1 record owns."""
        rows = self._db.query(
            "SELECT point_id FROM vector_gc WHERE point_id NOT IN (SELECT id FROM chunks) "
            "AND point_id NOT IN (SELECT point_id FROM l1_points)"
        )
        return [r["point_id"] for r in rows]

    def garbage_collected(self, point_ids: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM vector_gc WHERE point_id = ?", [(pid,) for pid in point_ids]
            )

    def chunks_with_documents(
        self, chunk_ids: Sequence[str]
    ) -> dict[str, tuple[ChunkRecord, DocumentRecord]]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.query(
            f"SELECT c.*, {_JOINED_DOCUMENT} "
            f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
            list(chunk_ids),
        )
        return {row["id"]: (_chunk(row), _document(row, prefix="d_")) for row in rows}

    def chunks_of(self, doc_id: str) -> list[ChunkRecord]:
        """A document's chunks in order."""
        rows = self._db.query("SELECT * FROM chunks WHERE doc_id = ? ORDER BY idx", (doc_id,))
        return [_chunk(r) for r in rows]

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """The texts of the committed chunks among ``chunk_ids``, in the order given."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.query(f"SELECT id, text FROM chunks WHERE id IN ({marks})", chunk_ids)
        texts = {r["id"]: r["text"] for r in rows}
        return {c: texts[c] for c in chunk_ids if c in texts}

    def chunk_ids(self) -> list[str]:
        """Every committed chunk id, sorted (the order clustering sees them in)."""
        return [r["id"] for r in self._db.query("SELECT id FROM chunks ORDER BY id")]

    def iter_chunks(self, batch: int = 512) -> Iterator[list[tuple[ChunkRecord, DocumentRecord]]]:
        """Every committed chunk with its document, in batches (for rebuilding vectors)."""
        last = ""
        while True:
            rows = self._db.query(
                "SELECT id FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            )
            if not rows:
                return
            ids = [r["id"] for r in rows]
            found = self.chunks_with_documents(ids)
            yield [found[i] for i in ids if i in found]
            last = ids[-1]

    def chunk_ids_at(self, places: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The ids of the chunks at (document id, chunk index) places; missing places left out."""
        found: dict[tuple[str, int], str] = {}
        for doc_id in {d for d, _ in places}:
            wanted = sorted({i for d, i in places if d == doc_id})
            marks = ",".join("?" * len(wanted))
            rows = self._db.query(
                f"SELECT id, idx FROM chunks WHERE doc_id = ? AND idx IN ({marks})",
                [doc_id, *wanted],
            )
            found.update({(doc_id, r["idx"]): r["id"] for r in rows})
        return found

    def speakers(self) -> set[str]:
        """Every speaker of a chat turn in memory (the names a question may use)."""
        rows = self._db.query("SELECT DISTINCT speakers FROM chunks WHERE speakers != '[]'")
        return {s for r in rows for s in json.loads(r["speakers"])}
