"""L0 ingestion of one file: parse, chunk, embed, index, commit, in that order.

A file is identified by its path; re-sending identical bytes with the same tags does nothing,
changed bytes or tags replace the old chunks, and bytes already stored under another path are
reported as a duplicate instead of being indexed twice. Identical bytes indexed by an older
pipeline (before chunks knew their time) are indexed again. Blocking work: run it in a thread.

An export of another app (see :mod:`.imports`) may hold several items (chats, emails); each is
a document known by its source key, not by the file. A newer export of a conversation adds only
the messages whose stable ids the document does not hold yet: the chunks made before stay as
they were, so nothing is duplicated and nothing is embedded twice.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath

from secondme.node.core.config import MemorySettings
from secondme.node.core.errors import FileTooLarge
from secondme.node.core.testing_hooks import hold
from secondme.node.memory.chunker import Chunk, chunk_document
from secondme.node.memory.documents import ChunkRecord, DocumentRecord, DocumentStore
from secondme.node.memory.imports.detect import known_key, read_import
from secondme.node.memory.imports.found import Imported
from secondme.node.memory.parsers import (
    ParsedDocument,
    Segment,
    TextBuilder,
    assign_sessions,
    parse_document,
)
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
    status: str  # "added" | "replaced" | "updated" | "unchanged" | "duplicate"
    """``updated``: new messages of a conversation were added to the document that held it."""
    doc_id: str
    chunks: int
    message: str = ""
    found: dict | None = None
    """What an import found (:meth:`Found.to_json`); None for a plain file."""
    new_messages: int | None = None
    """Messages added by an import (the rest were in memory already)."""
    documents: tuple[IngestResult, ...] = field(default=())
    """Each item of an import: one per chat, email or note."""
    notes: tuple[str, ...] = ()
    """What could not be read of an import, one line each (the rest was)."""
    transcription: str | None = None
    """The background transcription a long recording waits in (status ``queued``)."""

    def to_json(self) -> dict:
        out = {
            "path": self.path,
            "status": self.status,
            "doc_id": self.doc_id,
            "chunks": self.chunks,
            "message": self.message,
        }
        if self.transcription is not None:
            out["transcription"] = self.transcription
        if self.found is not None:
            out["found"] = self.found
            out["new_messages"] = self.new_messages
            out["documents"] = [d.to_json() for d in self.documents]
            out["notes"] = list(self.notes)
        return out

    def changed(self) -> list[IngestResult]:
        """The documents this ingest added or changed (for L1)."""
        items = self.documents or (self,)
        return [d for d in items if d.status in ("added", "replaced", "updated")]


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
        self,
        path: str,
        data: bytes,
        tags: Sequence[str] = (),
        mtime: float | None = None,
        me: str | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> IngestResult:
        """Index ``data`` as the file ``path``; ``mtime`` (epoch seconds) is the file's
        modification time, the chunks' time when nothing else tells it; ``me`` names the speaker
        who is the owner in a conversation; ``progress`` hears how far a slow read (a
        recording's transcription) is."""
        limit = self._settings.max_file_mb * 1024 * 1024
        if len(data) > limit:
            raise FileTooLarge(
                f"{path}: {len(data) / 1048576:.1f} MB is over the limit of "
                f"{self._settings.max_file_mb} MB (memory.max_file_mb)"
            )
        tags = normalise_tags(tags)
        me = " ".join(me.split()) if me else None
        content_hash = hashlib.sha256(data).hexdigest()
        with self._file_lock:  # one file at a time: the dedup checks must see committed state
            known = self._known(path, data, content_hash, tags, me)
        if known is not None:
            return known
        # Reading an export (OCR, a transcription) may take minutes: other files go on meanwhile.
        imported = read_import(path, data, progress)
        with self._file_lock:
            if (known := self._known(path, data, content_hash, tags, me)) is not None:
                return known  # the same file, committed while it was read
            if imported is None:
                existing = self._documents.by_path(path)
                return self._index(path, data, tags, content_hash, existing, mtime, me)
            return self._import(path, data, imported, tags, mtime, me)

    def _known(
        self, path: str, data: bytes, content_hash: str, tags: tuple[str, ...], me: str | None
    ) -> IngestResult | None:
        """The answer for a file memory holds already (unchanged, or a duplicate of another
        path's), without reading it; None for a file to read."""
        existing = self._documents.by_path(path)
        if (
            existing
            and existing.content_hash == content_hash
            and existing.tags == tags
            and existing.pipeline == PIPELINE_VERSION
            and me in (None, existing.me)
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
        key = known_key(path, data)
        held = self._documents.by_source(key) if key else None
        if held is not None and held.tags == tags and me in (None, held.me):
            # A photo or recording is its bytes: not read (or transcribed) twice.
            return IngestResult(
                path=path, status="unchanged", doc_id=held.id, chunks=held.chunk_count
            )
        return None

    def _import(
        self,
        path: str,
        data: bytes,
        imported: Imported,
        tags: tuple[str, ...],
        mtime: float | None,
        me: str | None,
    ) -> IngestResult:
        """Each item of an export as its own document, found again by its source key."""
        single = len(imported.documents) == 1
        results = []
        new_messages = 0
        for parsed in imported.documents:
            result, added = self._import_item(path, data, parsed, single, tags, mtime, me)
            results.append(result)
            new_messages += added
        statuses = {r.status for r in results}
        status = next((s for s in ("added", "updated", "replaced") if s in statuses), "unchanged")
        notes = [*imported.notes, *(r.message for r in results if r.message)]
        return IngestResult(
            path=path,
            status=status,
            doc_id=results[0].doc_id if results else "",
            chunks=sum(r.chunks for r in results if r.status != "unchanged"),
            message="; ".join([imported.found.line(), *notes]),
            found=imported.found.to_json(),
            notes=tuple(notes),
            new_messages=new_messages,
            documents=tuple(results),
        )

    def _import_item(
        self,
        path: str,
        data: bytes,
        parsed: ParsedDocument,
        single: bool,
        tags: tuple[str, ...],
        mtime: float | None,
        me: str | None,
    ) -> tuple[IngestResult, int]:
        """One imported item: added, replaced, updated with its new messages, or unchanged.
        Returns the result and how many messages it added."""
        key = parsed.key or f"file:{path}"
        doc_path = path if single else f"{path}#{key}"
        existing = self._documents.by_source(key)
        if existing is None:
            at_path = self._documents.by_path(doc_path)
            if at_path is not None and at_path.source_key in (None, key):
                existing = at_path  # the same file read before it was known as an import
        item_tags = normalise_tags((*tags, *parsed.tags))
        owner = me or (existing.me if existing else None) or parsed.me
        speakers = {s.speaker for s in parsed.segments if s.speaker}
        message = ""
        if me and speakers and me not in speakers:
            shown = ", ".join(sorted(speakers)[:8])
            message = f"{me!r} is not a speaker in {parsed.title or key} (speakers: {shown})"
        parsed = _stable_sessions(assign_sessions(parsed, self._settings.session_gap_hours))
        ids = [s.id for s in parsed.segments if s.id is not None]
        same_terms = existing is not None and existing.tags == item_tags and existing.me == owner
        if existing is not None and ids and existing.source_key == key:
            # A conversation imported before: what it holds stays, whatever this export lacks.
            retagged = not same_terms
            if retagged:
                existing = self._retag(existing, item_tags, owner)
            known = self._documents.message_ids(existing.id)
            fresh = [s for s in parsed.segments if s.id is not None and s.id not in known]
            if not fresh:
                result = IngestResult(
                    path=existing.path,
                    status="replaced" if retagged else "unchanged",
                    doc_id=existing.id,
                    chunks=existing.chunk_count,
                )
                return _noted(result, message), 0
            chain = hashlib.sha256(
                (existing.content_hash + "".join(s.id or "" for s in fresh)).encode()
            ).hexdigest()
            result = self._index_parsed(
                existing.path,
                _only(parsed, _after(fresh, self._documents.last_turn(existing.id))),
                existing,
                item_tags,
                chain,
                mtime,
                owner,
                size=existing.size + len(data) if single else existing.size,
                append=True,
            )
            return _noted(result, message), len(fresh)
        item_hash = hashlib.sha256(
            "\x1f".join((key, parsed.text, *item_tags, *parsed.links, parsed.date or "")).encode()
        ).hexdigest()
        if (
            existing is not None
            and existing.content_hash == item_hash
            and same_terms
            and existing.pipeline == PIPELINE_VERSION
        ):
            unchanged = IngestResult(
                path=existing.path,
                status="unchanged",
                doc_id=existing.id,
                chunks=existing.chunk_count,
            )
            return unchanged, 0
        result = self._index_parsed(
            existing.path if existing else doc_path,
            replace(parsed, key=key),
            existing,
            item_tags,
            item_hash,
            mtime,
            owner,
            size=len(data) if single else len(parsed.text.encode()),
        )
        return _noted(result, message), len(ids)

    def _retag(self, doc: DocumentRecord, tags: tuple[str, ...], me: str | None) -> DocumentRecord:
        """``doc`` with other tags or another owner, its chunks kept as they are: copied under
        new point ids with the new payload, so that the old points go the way replaced ones
        always go (nothing half-written is visible, and no message an older export alone held
        is lost). L1 reads it again (its content hash changes)."""
        old = self._documents.chunks_of(doc.id)
        pairs = self._documents.messages_of(doc.id)
        renamed = {c.id: str(uuid.uuid4()) for c in old}
        changed = replace(
            doc,
            tags=tags,
            me=me,
            ingested_at=time.time(),
            content_hash=hashlib.sha256(
                "\x1f".join((doc.content_hash, *tags, me or "")).encode()
            ).hexdigest(),
        )
        chunks = [replace(c, id=renamed[c.id]) for c in old]
        with self._embed_lock:
            vectors = self._embedder.embed([c.text for c in chunks])
        messages = [(m, renamed.get(c) if c else None) for m, c in pairs]
        self._commit(changed, chunks, vectors, messages)
        return changed

    def _commit(
        self,
        doc: DocumentRecord,
        chunks: Sequence[ChunkRecord],
        vectors: Sequence[Sequence[float]],
        messages: Sequence[tuple[str, str | None]],
        *,
        append: bool = False,
    ) -> None:
        """Store the chunks' points, then make the document and its chunks visible at once
        (see :mod:`.documents`: the ids are reserved first, so a crash leaves nothing
        half-written); the points of chunks it replaced are collected."""
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
        replaced = self._documents.commit_document(doc, chunks, messages, append=append)
        self.collect_garbage(replaced)

    def _index(
        self,
        path: str,
        data: bytes,
        tags: tuple[str, ...],
        content_hash: str,
        existing: DocumentRecord | None,
        mtime: float | None,
        me: str | None = None,
    ) -> IngestResult:
        # errors then name the file as the owner knows it
        parsed = parse_document(path, data, session_gap_hours=self._settings.session_gap_hours)
        owner = me or (existing.me if existing else None)
        return self._index_parsed(
            path, parsed, existing, tags, content_hash, mtime, owner, size=len(data)
        )

    def _index_parsed(
        self,
        path: str,
        parsed: ParsedDocument,
        existing: DocumentRecord | None,
        tags: tuple[str, ...],
        content_hash: str,
        mtime: float | None,
        me: str | None,
        *,
        size: int,
        append: bool = False,
    ) -> IngestResult:
        """Chunk, embed and commit ``parsed`` as the document at ``path``: in place of what
        ``existing`` held, or, with ``append``, after it."""
        with self._embed_lock:
            pieces = chunk_document(
                parsed,
                self._embedder.count_tokens,
                max_tokens=self._settings.chunk_tokens,
                overlap_tokens=self._settings.chunk_overlap,
            )
            vectors = self._embedder.embed([p.text for p in pieces])
        first_index = self._documents.next_chunk_index(existing.id) if append and existing else 0
        if first_index:
            pieces = [replace(p, index=p.index + first_index) for p in pieces]
        doc = DocumentRecord(
            id=existing.id if existing else str(uuid.uuid4()),
            path=path,
            name=PurePath(path.removesuffix(f"#{parsed.key}")).name,
            kind=parsed.kind,
            title=parsed.title if not append or existing is None else existing.title,
            content_hash=content_hash,
            size=size,
            tags=tags,
            chunk_count=len(pieces) + (existing.chunk_count if append and existing else 0),
            ingested_at=time.time(),
            date=parsed.date if not append or existing is None else existing.date,
            mtime=mtime,
            pipeline=PIPELINE_VERSION,
            source_key=parsed.key,
            me=me,
            links=parsed.links,
        )
        turns = [s for s in parsed.segments if s.turn is not None]
        bounds = ([t.start for t in turns], [t.end for t in turns])
        chunks = [self._record(doc, parsed, turns, bounds, p) for p in pieces]
        messages = [
            (msg_id, chunk.id)
            for piece, chunk in zip(pieces, chunks, strict=True)
            for msg_id in piece.message_ids
        ]
        self._commit(doc, chunks, vectors, messages, append=append)
        status = "updated" if append else "replaced" if existing else "added"
        return IngestResult(
            path=path,
            status=status,
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
            at=piece.at,
        )

    def collect_garbage(self, point_ids: Sequence[str] | None = None) -> int:
        """Delete uncommitted or replaced points from the store; all pending ones if None."""
        ids = list(point_ids) if point_ids is not None else self._documents.pending_garbage()
        if ids:
            with self._store_lock:
                self._store.delete(ids)
            self._documents.garbage_collected(ids)
        return len(ids)


def _stable_sessions(parsed: ParsedDocument) -> ParsedDocument:
    """Sessions numbered by time gaps named instead by their first message's id, so that the
    same conversation read from a longer (or later-starting) export names them alike."""
    if parsed.kind != "chat" or not any(s.id for s in parsed.segments):
        return parsed
    names: dict[str | None, str] = {}
    for segment in parsed.segments:
        if segment.session is not None and segment.session not in names and segment.id:
            names[segment.session] = segment.id[-12:]
    return replace(
        parsed,
        segments=tuple(
            replace(s, session=names.get(s.session, s.session)) for s in parsed.segments
        ),
    )


def _after(segments: Sequence[Segment], last_turn: int | None) -> list[Segment]:
    """New messages numbered on from the last turn a document holds, where an export that
    starts later than the first would number them as turns it already has."""
    turns = [s.turn for s in segments if s.turn is not None]
    if last_turn is None or not turns or min(turns) > last_turn:
        return list(segments)
    shift = last_turn + 1 - min(turns)
    return [replace(s, turn=s.turn + shift) if s.turn is not None else s for s in segments]


def _only(parsed: ParsedDocument, segments: Sequence[Segment]) -> ParsedDocument:
    """``parsed`` cut down to ``segments`` (the new messages of a newer export), with each
    segment's speaker, time, session, turn and id kept and its span moved to the new text."""
    builder = TextBuilder()
    for s in segments:
        builder.add(
            s.text,
            sep="\n",
            speaker=s.speaker,
            time=s.time,
            session=s.session,
            turn=s.turn,
            id=s.id,
            at=s.at,
        )
    built = builder.build(parsed.kind, parsed.title, parsed.date)
    return replace(parsed, text=built.text, segments=built.segments)


def _noted(result: IngestResult, note: str) -> IngestResult:
    """``result`` with ``note`` added to what it says."""
    if not note:
        return result
    return replace(result, message="; ".join(m for m in (result.message, note) if m))
