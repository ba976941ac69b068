"""The node's L0 memory assembled: documents in SQLite, vectors in the configured store.

Owns the embedder and the vector store and the locks that serialise them; everything blocking
runs in worker threads, so the event loop keeps serving while a large file is embedded. The
vector store is derived data: it is rebuilt from SQLite when the embedder, its dimension or the
backend changes, and after a crash the points that no committed chunk owns are deleted.

Every ingest hands a new or changed document to L1 here, whoever called it: its job goes into the
L1 queue (in SQLite, so it outlives a stop) and the worker is woken through
:meth:`Memory.on_l1_work`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from secondme.node.core.config import DataDir, MemorySettings
from secondme.node.core.db import Database
from secondme.node.memory.documents import DocumentRecord, DocumentStore
from secondme.node.memory.imports.detect import MEDIA_SUFFIXES, known_key, recording_seconds
from secondme.node.memory.ingest import (
    LAYER_L0,
    Ingestor,
    IngestResult,
    normalise_tags,
    point_payload,
)
from secondme.node.memory.l1.point_store import PointRow
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.parsers import SUPPORTED_SUFFIXES
from secondme.node.memory.retrieval import LAYER_L1, L1Hit, Retriever, SearchHit
from secondme.node.memory.transcriptions import Progress as TranscribeProgress
from secondme.node.memory.transcriptions import Transcription, TranscriptionQueue
from secondme.node.memory.vectors import (
    EXACT_SEARCH_BELOW,
    Bm25Encoder,
    DimensionMismatch,
    ScopeFilter,
    VectorPoint,
    VectorStore,
    open_store,
)
from secondme.node.models.embedder import Embedder

log = logging.getLogger(__name__)

_FINGERPRINT_KEY = "vectors.fingerprint"
_INDEXED_KEY = "vectors.indexed_points"
_REINDEX_GROWTH = 1.2
"""Rebuild the approximate index once the store has grown by this factor since the last build."""
Progress = Callable[[int, int], None]


def store_location(data_dir: DataDir, settings: MemorySettings) -> tuple[Path, str | None]:
    """Where the configured backend keeps its vectors: a folder, or a server URL."""
    if settings.vector_backend == "qdrant" and settings.qdrant_url:
        return data_dir.vectors / "qdrant", settings.qdrant_url
    return data_dir.vectors / settings.vector_backend, None


class Memory:
    def __init__(
        self, data_dir: DataDir, db: Database, settings: MemorySettings, embedder: Embedder
    ) -> None:
        self._data_dir = data_dir
        self._db = db
        self.settings = settings
        self.embedder = embedder
        self.documents = DocumentStore(db)
        self.l1 = L1Store(db)
        self._bm25 = Bm25Encoder()
        self._embed_lock = threading.Lock()
        self._store_lock = threading.Lock()
        self._store: VectorStore | None = None
        self._ingestor: Ingestor | None = None
        self._retriever: Retriever | None = None
        self._index_job: asyncio.Future[None] | None = None
        self._l1_listeners: list[Callable[[], None]] = []
        self.transcriptions = TranscriptionQueue(data_dir.transcriptions, db, self._transcribed)

    # -- life cycle ---------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        path, url = store_location(self._data_dir, self.settings)
        return f"{self.settings.vector_backend}|{url or path}|{self.embedder.model_id}"

    def open(self, progress: Progress | None = None) -> None:
        """Open (and if needed rebuild) the vector store, then drop crash leftovers."""
        stale = self._db.get_setting(_FINGERPRINT_KEY) != self._fingerprint()
        try:
            store = self._open_store()
        except DimensionMismatch as exc:
            log.warning("vector store has another dimension (%s); rebuilding it", exc)
            store, stale = None, True
        if stale and (store is None or self.documents.counts()["chunks"] or store.count()):
            if store is not None:
                store.close()
            store = self._rebuild(progress)
        self._db.set_setting(_FINGERPRINT_KEY, self._fingerprint())
        self._attach(store)
        removed = self._ingestor.collect_garbage()  # type: ignore[union-attr]
        if removed:
            log.info("removed %d vector points left by an interrupted write", removed)

    def _open_store(self) -> VectorStore:
        path, url = store_location(self._data_dir, self.settings)
        return open_store(
            self.settings.vector_backend, path=path, dimension=self.embedder.dimension, url=url
        )

    def _attach(self, store: VectorStore) -> None:
        self._store = store
        locks = {"embed_lock": self._embed_lock, "store_lock": self._store_lock}
        self._ingestor = Ingestor(
            self.documents, store, self.embedder, self._bm25, self.settings, **locks
        )
        self._retriever = Retriever(
            self.documents, self.l1, store, self.embedder, self._bm25, **locks
        )

    def _rebuild(self, progress: Progress | None) -> VectorStore:
        """A fresh store filled from SQLite: every committed chunk re-embedded."""
        path, url = store_location(self._data_dir, self.settings)
        if url is None:
            shutil.rmtree(path, ignore_errors=True)
        store = self._open_store()
        if url is not None:
            store.delete(list(store.all_ids()))
        total = self.documents.counts()["chunks"]
        log.info("rebuilding %s vectors for %d chunks", self.settings.vector_backend, total)
        done = 0
        for batch in self.documents.iter_chunks():
            vectors = self.embedder.embed([chunk.text for chunk, _ in batch])
            store.upsert(
                [
                    VectorPoint(
                        id=chunk.id,
                        dense=vector,
                        sparse=self._bm25.document(chunk.text),
                        payload=point_payload(chunk, doc),
                    )
                    for (chunk, doc), vector in zip(batch, vectors, strict=True)
                ]
            )
            done += len(batch)
            if progress:
                progress(done, total)
        rows = self.l1.points.all()
        for start in range(0, len(rows), 512):
            batch_rows = rows[start : start + 512]
            vectors = self.embedder.embed([row.text for row in batch_rows])
            store.upsert(
                [
                    self._l1_point(row, vector)
                    for row, vector in zip(batch_rows, vectors, strict=True)
                ]
            )
        store.flush()
        self._db.set_setting(_INDEXED_KEY, "0")
        return store

    def reindex(self, settings: MemorySettings, progress: Progress | None = None) -> int:
        """Rebuild the vectors, possibly into another backend; returns the chunks indexed."""
        with self._embed_lock, self._store_lock:
            if self._store is not None:
                self._store.close()
            self.settings = settings
            store = self._rebuild(progress)
            self._db.set_setting(_FINGERPRINT_KEY, self._fingerprint())
            self._attach(store)  # before L1 or an ingest can reach the closed store
        return store.count()

    def index_is_stale(self) -> bool:
        """Whether a store big enough for approximate search has outgrown its last index build."""
        store = self._store
        if store is None or not hasattr(store, "optimize"):
            return False
        points = store.count()
        built = int(self._db.get_setting(_INDEXED_KEY) or 0)
        return points >= EXACT_SEARCH_BELOW and points > built * _REINDEX_GROWTH

    def build_index(self) -> None:
        """Build the HNSW graphs (minutes at 100k points); searches go on meanwhile."""
        store = self.store
        points = store.count()
        started = time.perf_counter()
        store.optimize()  # type: ignore[attr-defined]
        self._db.set_setting(_INDEXED_KEY, str(points))
        log.info(
            "built the vector index for %d points in %.1f s", points, time.perf_counter() - started
        )

    def index_in_background(self) -> None:
        """Start :meth:`build_index` in a thread if the index is stale and no build runs."""
        if (self._index_job is None or self._index_job.done()) and self.index_is_stale():
            self._index_job = asyncio.get_running_loop().run_in_executor(None, self.build_index)

    async def wait_for_index(self) -> None:
        if self._index_job is not None and not self._index_job.done():
            log.info("waiting for the vector index build to finish")
            await self._index_job

    def close(self) -> None:
        with self._store_lock:
            if self._store is not None:
                self._store.flush()
                self._store.close()
                self._store = None

    # -- work ---------------------------------------------------------------------------------

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            raise RuntimeError("memory is not open")
        return self._store

    @property
    def retriever(self) -> Retriever:
        """The search side, for callers that gather and re-rank candidates themselves."""
        if self._retriever is None:
            raise RuntimeError("memory is not open")
        return self._retriever

    async def ingest(
        self,
        path: str,
        data: bytes,
        tags: Sequence[str] = (),
        mtime: float | None = None,
        me: str | None = None,
    ) -> IngestResult:
        assert self._ingestor is not None, "memory is not open"
        queued = await asyncio.to_thread(self._queue_if_long, path, data, tags, mtime, me)
        if queued is not None:
            self.transcriptions.wake()
            return queued
        result = await asyncio.to_thread(self._ingestor.ingest, path, data, tags, mtime, me)
        self.index_in_background()
        self._hand_to_l1(result)
        return result

    def _queue_if_long(
        self,
        path: str,
        data: bytes,
        tags: Sequence[str],
        mtime: float | None,
        me: str | None,
    ) -> IngestResult | None:
        """A recording longer than the owner should wait for goes to the background queue (its
        answer says so); None for everything else, ingested now."""
        seconds = recording_seconds(path, data)
        if seconds is None or seconds <= self.settings.transcribe_wait_seconds:
            return None
        key = known_key(path, data)
        held = self.documents.by_source(key) if key else None
        if held is not None:
            return None  # in memory already: ingest says whether anything changed
        if len(data) > self.settings.max_file_mb * 1024 * 1024:
            return None  # refused by ingest, with its reason
        job = self.transcriptions.add(path, data, normalise_tags(tags), mtime, me, seconds)
        minutes = max(1, round(seconds / 60))
        return IngestResult(
            path=path,
            status="queued",
            doc_id="",
            chunks=0,
            message=(
                f"a recording of about {minutes} min: transcribing in the background "
                "(`memory status` shows how far)"
            ),
            transcription=job.id,
        )

    def _transcribed(self, job: Transcription, data: bytes, progress: TranscribeProgress) -> None:
        """The queue's work: the recording ingested as if sent now, L1 told."""
        assert self._ingestor is not None, "memory is not open"
        result = self._ingestor.ingest(
            job.path, data, job.tags, job.mtime, job.me, progress=progress
        )
        self._hand_to_l1(result)

    def on_l1_work(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever memory queues L1 work (the L1 worker wakes on it)."""
        self._l1_listeners.append(listener)

    def _hand_to_l1(self, result: IngestResult) -> None:
        """Queue L1 work for a new or changed document, whoever ingested it: the job is in
        SQLite, so a worker that is not running yet finds it when it starts."""
        if not self.settings.l1_enabled:
            return
        queued = False
        for item in result.changed():
            doc = self.documents.get(item.doc_id)
            if doc is not None:
                self.l1.jobs.enqueue("document", doc.id, doc.content_hash)
                queued = True
        if not queued:
            return
        for listener in self._l1_listeners:
            listener()

    async def search(
        self,
        query: str,
        *,
        k: int = 10,
        tags: Sequence[str] = (),
        layers: Sequence[str] = (LAYER_L0,),
        scope: ScopeFilter | None = None,
    ) -> list[SearchHit | L1Hit]:
        """The best ``k`` memories of the given layers (``l0`` chunks, ``l1`` records); with
        ``scope`` (a grant's), nothing outside it is even a candidate."""
        assert self._retriever is not None, "memory is not open"
        return await asyncio.to_thread(
            self._retriever.search, query, k=k, tags=tags, layers=tuple(layers), scope=scope
        )

    async def search_each(
        self, query: str, limits: Mapping[str, int], *, scope: ScopeFilter | None = None
    ) -> dict[str, list[SearchHit | L1Hit]]:
        """One top list per layer (layer → k), the query embedded once (chat's grounding)."""
        assert self._retriever is not None, "memory is not open"
        return await asyncio.to_thread(self._retriever.search_each, query, limits, scope=scope)

    async def forget(self, doc: DocumentRecord) -> int:
        """Remove a document, its chunks, every L1 record made only from them, and the
        vectors of every L1 record that drew on them (L1 makes those again from the rest)."""
        assert self._ingestor is not None, "memory is not open"
        chunk_ids = [c.id for c in self.documents.chunks_of(doc.id)]
        ids = self.l1.forget_chunks(chunk_ids)
        ids += self.documents.remove_document(doc.id)
        ids += self.l1.prune()
        self.l1.jobs.drop(doc.id)
        return await asyncio.to_thread(self._ingestor.collect_garbage, ids)

    # -- what L1 needs from the vector side ---------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (one row each), sharing the embedder with ingest."""
        with self._embed_lock:
            return np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)

    def chunk_vectors(self, chunk_ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """The stored embeddings of chunks (re-embedded from ``texts`` where one is missing)."""
        with self._store_lock:
            found = self.store.dense_vectors(list(chunk_ids))
        missing = [i for i, cid in enumerate(chunk_ids) if cid not in found]
        vectors = np.zeros((len(chunk_ids), self.embedder.dimension), dtype=np.float32)
        for i, cid in enumerate(chunk_ids):
            if cid in found:
                vectors[i] = found[cid]
        if missing:
            with self._embed_lock:
                vectors[missing] = self.embedder.embed([texts[i] for i in missing])
        return vectors

    def index_l1(self, records: Sequence[tuple[str, str, str, Sequence[str]]]) -> int:
        """Embed and store L1 records (kind, ref id, text, tags); unchanged ones are skipped."""
        rows = []
        for kind, ref_id, text, tags in records:
            current = self.l1.points.get(kind, ref_id)
            tags = tuple(sorted(tags))
            if current is not None and (current.text, current.tags) == (text, tags):
                continue
            rows.append(
                PointRow(point_id=str(uuid.uuid4()), kind=kind, ref_id=ref_id, text=text, tags=tags)
            )
        if not rows:
            return 0
        with self._embed_lock:
            vectors = self.embedder.embed([row.text for row in rows])
        self.documents.reserve_points([row.point_id for row in rows])
        with self._store_lock:
            self.store.upsert(
                [self._l1_point(row, vector) for row, vector in zip(rows, vectors, strict=True)]
            )
        replaced = self.l1.points.commit(rows)
        self.collect_garbage(replaced)
        return len(rows)

    def _l1_point(self, row: PointRow, vector: Sequence[float]) -> VectorPoint:
        return VectorPoint(
            id=row.point_id,
            dense=vector,
            sparse=self._bm25.document(row.text),
            payload={
                "layer": LAYER_L1,
                "kind": row.kind,
                "ref_id": row.ref_id,
                "tags": list(row.tags),
            },
        )

    def collect_garbage(self, point_ids: Sequence[str] | None = None) -> int:
        """Delete points that no committed record owns (all pending ones if None)."""
        assert self._ingestor is not None, "memory is not open"
        return self._ingestor.collect_garbage(point_ids)

    def stats(self) -> dict:
        counts = self.documents.counts()
        return {
            **counts,
            "l1": self.l1.counts(),
            "l1_points": self.l1.points.count(),
            "vector_backend": self.settings.vector_backend,
            "vector_points": self._store.count() if self._store else 0,
            "embedder": self.embedder.model_id,
            "dimension": self.embedder.dimension,
            "max_file_mb": self.settings.max_file_mb,
            "formats": sorted(SUPPORTED_SUFFIXES | MEDIA_SUFFIXES),
            "index_building": self._index_job is not None and not self._index_job.done(),
            "transcriptions": self.transcriptions.status(),
        }
