"""L0 ingestion of one file: parse, chunk, embed, index, commit, in that order.

A file is identified by its path; re-sending identical bytes with the same tags does nothing,
changed bytes or tags replace the old chunks, and bytes already stored under another path are
reported as a duplicate instead of being indexed twice. Identical bytes indexed by an older
pipeline (before chunks knew their time) are indexed again. Blocking work: run it in a thread.

Each chunk is given its time (see :mod:`timeline`): its chat turns' times, else the first date
written in it, else the document's own date, else the file's modification time the client sent;
the dates written in it are resolved against the time of the turn they were written in.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from secondme.node.core.config import MemorySettings
from secondme.node.core.errors import FileTooLarge
from secondme.node.core.testing_hooks import hold
from secondme.node.memory.chunker import Chunk, chunk_document
from secondme.node.memory.documents import ChunkRecord, DocumentRecord, DocumentStore
from secondme.node.memory.parsers import ParsedDocument, Segment, parse_document
from secondme.node.memory.timeline import chunk_dates, chunk_time, epoch_seconds, file_time
from secondme.node.memory.vectors import Bm25Encoder, VectorPoint, VectorStore
from secondme.node.models.embedder import Embedder

LAYER_L0 = "l0"
PIPELINE_VERSION = 1
"""Raised whenever chunks are made differently, so unchanged files made before are redone:
1 = chunks carry their time, resolved dates, sessions and turns."""
_DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    path: str
    status: str  # "added" | "replaced" | "unchanged" | "duplicate"
    doc_id: str
    chunks: int
    message: str = ""

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "status": self.status,
            "doc_id": self.doc_id,
            "chunks": self.chunks,
            "message": self.message,
        }


def normalise_tags(tags: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({t.strip().lower() for t in tags if t.strip()}))


def point_payload(chunk: ChunkRecord, doc: DocumentRecord) -> dict:
    """What every backend stores beside a vector; scope filters read these keys.

    ``when_start``/``when_end`` (epoch seconds) bound when the chunk happened, where known; a
    date without a clock time covers its whole day.
    """
    payload = {
        "doc_id": doc.id,
        "chunk_index": chunk.index,
        "layer": LAYER_L0,
        "tags": list(doc.tags),
        "time": doc.ingested_at,
    }
    if (start := epoch_seconds(chunk.time_start)) is not None:
        payload["when_start"] = start
    if (end := epoch_seconds(chunk.time_end)) is not None:
        whole_day = chunk.time_end is not None and "T" not in chunk.time_end
        payload["when_end"] = end + (_DAY_SECONDS - 1 if whole_day else 0)
    return payload


class Ingestor:
    def __init__(
        self,
        documents: DocumentStore,
        store: VectorStore,
        embedder: Embedder,
        bm25: Bm25Encoder,
        settings: MemorySettings,
        *,
        embed_lock: threading.Lock,
        store_lock: threading.Lock,
    ) -> None:
        self._documents = documents
        self._store = store
        self._embedder = embedder
        self._bm25 = bm25
        self._settings = settings
        self._embed_lock = embed_lock
        self._store_lock = store_lock
        self._file_lock = threading.Lock()

    def ingest(
        self, path: str, data: bytes, tags: Sequence[str] = (), mtime: float | None = None
    ) -> IngestResult:
        """Index ``data`` as the file ``path``; ``mtime`` (epoch seconds) is the file's
        modification time, the chunks' time when nothing else tells it."""
        limit = self._settings.max_file_mb * 1024 * 1024
        if len(data) > limit:
            raise FileTooLarge(
                f"{path}: {len(data) / 1048576:.1f} MB is over the limit of "
                f"{self._settings.max_file_mb} MB (memory.max_file_mb)"
            )
        tags = normalise_tags(tags)
        content_hash = hashlib.sha256(data).hexdigest()
        with self._file_lock:  # one file at a time: the dedup checks must see committed state
            existing = self._documents.by_path(path)
            if (
                existing
                and existing.content_hash == content_hash
                and existing.tags == tags
                and existing.pipeline == PIPELINE_VERSION
            ):
                return IngestResult(
                    path=path,
                    status="unchanged",
                    doc_id=existing.id,
                    chunks=existing.chunk_count,
                )
            twin = self._documents.by_hash(content_hash)
            if twin is not None and twin.path != path:
                return IngestResult(
                    path=path,
                    status="duplicate",
                    doc_id=twin.id,
                    chunks=twin.chunk_count,
                    message=f"same content as {twin.path}",
                )
            return self._index(path, data, tags, content_hash, existing, mtime)

    def _index(
        self,
        path: str,
        data: bytes,
        tags: tuple[str, ...],
        content_hash: str,
        existing: DocumentRecord | None,
        mtime: float | None,
    ) -> IngestResult:
        # errors then name the file as the owner knows it
        parsed = parse_document(path, data, session_gap_hours=self._settings.session_gap_hours)
        with self._embed_lock:
            pieces = chunk_document(
                parsed,
                self._embedder.count_tokens,
                max_tokens=self._settings.chunk_tokens,
                overlap_tokens=self._settings.chunk_overlap,
            )
            vectors = self._embedder.embed([p.text for p in pieces])
        doc = DocumentRecord(
            id=existing.id if existing else str(uuid.uuid4()),
            path=path,
            name=PurePath(path).name,
            kind=parsed.kind,
            title=parsed.title,
            content_hash=content_hash,
            size=len(data),
            tags=tags,
            chunk_count=len(pieces),
            ingested_at=time.time(),
            date=parsed.date,
            mtime=mtime,
            pipeline=PIPELINE_VERSION,
        )
        turns = [s for s in parsed.segments if s.turn is not None]
        bounds = ([t.start for t in turns], [t.end for t in turns])
        chunks = [self._record(doc, parsed, turns, bounds, p) for p in pieces]
        points = [
            VectorPoint(
                id=c.id,
                dense=vector,
                sparse=self._bm25.document(c.text),
                payload=point_payload(c, doc),
            )
            for c, vector in zip(chunks, vectors, strict=True)
        ]
        self._documents.reserve_points([c.id for c in chunks])
        with self._store_lock:
            self._store.upsert(points)
        hold("ingest.commit")  # tests kill here: points stored, the document not yet committed
        replaced = self._documents.commit_document(doc, chunks)
        self.collect_garbage(replaced)
        return IngestResult(
            path=path,
            status="replaced" if existing else "added",
            doc_id=doc.id,
            chunks=len(chunks),
            message="; ".join(parsed.notes),
        )

    def _record(
        self,
        doc: DocumentRecord,
        parsed: ParsedDocument,
        turns: list[Segment],
        bounds: tuple[list[int], list[int]],
        piece: Chunk,
    ) -> ChunkRecord:
        """The stored chunk, with its time, the dates written in it, and its turns."""
        # The file's own time, else the time it arrived: the last resort, and still a time
        # that "last week" in an undated note can be read against.
        file_date = file_time(doc.mtime if doc.mtime is not None else doc.ingested_at)
        # Turns are in text order; only those overlapping the chunk matter.
        first = bisect.bisect_right(bounds[1], piece.start)
        last = bisect.bisect_left(bounds[0], piece.end)
        dates = chunk_dates(
            parsed.text,
            piece.start,
            piece.end,
            turns[first:last],
            parsed.date or file_date,
            self._settings.date_languages,
        )
        when = chunk_time(piece.turn_times, dates, parsed.date, file_date)
        return ChunkRecord(
            id=str(uuid.uuid4()),
            doc_id=doc.id,
            index=piece.index,
            text=piece.text,
            start=piece.start,
            end=piece.end,
            speakers=piece.speakers,
            time_start=when.time_start,
            time_end=when.time_end,
            time_source=when.source,
            dates=tuple(dates),
            session=piece.session,
            turn_first=piece.turn_first,
            turn_last=piece.turn_last,
        )

    def collect_garbage(self, point_ids: Sequence[str] | None = None) -> int:
        """Delete uncommitted or replaced points from the store; all pending ones if None."""
        ids = list(point_ids) if point_ids is not None else self._documents.pending_garbage()
        if ids:
            with self._store_lock:
                self._store.delete(ids)
            self._documents.garbage_collected(ids)
        return len(ids)
