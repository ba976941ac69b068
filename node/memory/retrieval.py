"""Hybrid retrieval over L0: dense similarity and BM25, fused in the engine, cited by source."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from secondme.node.memory.documents import DocumentStore
from secondme.node.memory.vectors import Bm25Encoder, ScopeFilter, VectorStore
from secondme.node.models.embedder import Embedder

# Hits whose chunk is not committed (mid-ingest, or replaced) are dropped after the join, so
# ask the store for a few more than wanted.
_OVERFETCH = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit:
    chunk_id: str
    text: str
    score: float
    doc_id: str
    path: str
    name: str
    title: str | None
    kind: str
    chunk_index: int
    start: int
    end: int
    tags: tuple[str, ...]
    speakers: tuple[str, ...] = ()
    time_start: str | None = None
    time_end: str | None = None

    def to_json(self) -> dict:
        return {
            "chunk_id": self.chunk_id,
            "text": self.text,
            "score": self.score,
            "tags": list(self.tags),
            "source": {
                "doc_id": self.doc_id,
                "path": self.path,
                "name": self.name,
                "title": self.title,
                "kind": self.kind,
                "chunk_index": self.chunk_index,
                "span": [self.start, self.end],
                "speakers": list(self.speakers),
                "time": [self.time_start, self.time_end],
            },
        }


class Retriever:
    def __init__(
        self,
        documents: DocumentStore,
        store: VectorStore,
        embedder: Embedder,
        bm25: Bm25Encoder,
        *,
        embed_lock: threading.Lock,
        store_lock: threading.Lock,
    ) -> None:
        self._documents = documents
        self._store = store
        self._embedder = embedder
        self._bm25 = bm25
        self._embed_lock = embed_lock
        self._store_lock = store_lock

    def search(self, query: str, *, k: int = 10, tags: Sequence[str] = ()) -> list[SearchHit]:
        """The ``k`` best chunks for ``query``; with ``tags``, only chunks carrying one of them."""
        with self._embed_lock:
            vector = self._embedder.embed([query])[0]
        sparse = self._bm25.query(query)
        scope = ScopeFilter(tags_any=tuple(t.lower() for t in tags))
        with self._store_lock:
            hits = self._store.search_hybrid(
                vector, sparse, limit=k * _OVERFETCH, scope=scope, candidates=max(50, k * 5)
            )
        found = self._documents.chunks_with_documents([h.id for h in hits])
        results = []
        for hit in hits:
            if hit.id not in found:
                continue
            chunk, doc = found[hit.id]
            results.append(
                SearchHit(
                    chunk_id=chunk.id,
                    text=chunk.text,
                    score=hit.score,
                    doc_id=doc.id,
                    path=doc.path,
                    name=doc.name,
                    title=doc.title,
                    kind=doc.kind,
                    chunk_index=chunk.index,
                    start=chunk.start,
                    end=chunk.end,
                    tags=doc.tags,
                    speakers=chunk.speakers,
                    time_start=chunk.time_start,
                    time_end=chunk.time_end,
                )
            )
            if len(results) == k:
                break
        return results
