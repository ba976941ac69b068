"""Hybrid retrieval over memory: dense similarity and BM25, fused in the engine, cited by source.

L0 hits are chunks of documents; L1 hits are records the node made from them (document
insights, topics, entities). Both live in one vector store, told apart by the ``layer`` payload,
and both are joined back through SQLite so that nothing uncommitted or forgotten is returned.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from secondme.node.memory.documents import DocumentStore
from secondme.node.memory.ingest import LAYER_L0
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.vectors import Bm25Encoder, ScopeFilter, SparseVec, VectorStore
from secondme.node.models.embedder import Embedder

# Hits whose chunk is not committed (mid-ingest, or replaced) are dropped after the join, so
# ask the store for a few more than wanted.
_OVERFETCH = 2
LAYER_L1 = "l1"
LAYERS = (LAYER_L0, LAYER_L1)


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

    layer = LAYER_L0

    def citation(self) -> str:
        """Where this memory came from, as the prompt names it."""
        return f"{self.name}, part {self.chunk_index + 1}"

    def to_json(self) -> dict:
        return {
            "layer": LAYER_L0,
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


@dataclass(frozen=True, slots=True, kw_only=True)
class L1Hit:
    """An L1 record: what the node understood (an insight, a topic, an entity), not a quote."""

    point_id: str
    kind: str  # "insight" | "topic" | "entity" | "profile"
    ref_id: str
    text: str
    score: float
    tags: tuple[str, ...] = ()

    layer = LAYER_L1

    @property
    def title(self) -> str:
        return self.text.split("\n", 1)[0]

    def citation(self) -> str:
        if self.kind == "profile":
            # The owner's profile has versions; the one made for a peer's scope has none.
            return f"my profile, version {self.ref_id}" if self.ref_id.isdigit() else "my profile"
        labels = {"insight": "my notes on", "topic": "my topic", "entity": "what I know of"}
        return f"{labels.get(self.kind, self.kind)} '{self.title}'"

    def to_json(self) -> dict:
        return {
            "layer": LAYER_L1,
            "kind": self.kind,
            "ref_id": self.ref_id,
            "title": self.title,
            "text": self.text,
            "score": self.score,
            "tags": list(self.tags),
        }


LAYER_PEER = "peer"


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerHit:
    """A snippet another node shared with this one (a context bundle), not the owner's own."""

    peer_id: str
    peer_name: str
    bundle_id: str
    ref: str
    title: str
    text: str
    score: float

    layer = LAYER_PEER

    def citation(self) -> str:
        return f"shared by {self.peer_name}: '{self.title}'"

    def to_json(self) -> dict:
        return {
            "layer": LAYER_PEER,
            "peer_id": self.peer_id,
            "peer": self.peer_name,
            "bundle_id": self.bundle_id,
            "ref": self.ref,
            "title": self.title,
            "text": self.text,
            "score": self.score,
        }


def _check_layers(layers: Sequence[str]) -> None:
    if not layers or set(layers) - set(LAYERS):
        raise ValueError(f"layers must be some of {', '.join(LAYERS)}, got {list(layers)}")


class Retriever:
    def __init__(
        self,
        documents: DocumentStore,
        l1: L1Store,
        store: VectorStore,
        embedder: Embedder,
        bm25: Bm25Encoder,
        *,
        embed_lock: threading.Lock,
        store_lock: threading.Lock,
    ) -> None:
        self._documents = documents
        self._l1 = l1
        self._store = store
        self._embedder = embedder
        self._bm25 = bm25
        self._embed_lock = embed_lock
        self._store_lock = store_lock

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        tags: Sequence[str] = (),
        layers: Sequence[str] = (LAYER_L0,),
        scope: ScopeFilter | None = None,
    ) -> list[SearchHit | L1Hit]:
        """The ``k`` best memories for ``query`` in ``layers``; with ``tags``, only those
        carrying one of them (an L1 record carries the tags all its sources share).

        ``scope`` is a grant's: its layers, tags and points bound the search itself, so that
        nothing outside it is ever a candidate.
        """
        _check_layers(layers)
        return self._search(*self._encode(query), k=k, tags=tags, layers=layers, scope=scope)

    def search_each(
        self,
        query: str,
        limits: Mapping[str, int],
        *,
        tags: Sequence[str] = (),
        scope: ScopeFilter | None = None,
    ) -> dict[str, list[SearchHit | L1Hit]]:
        """A separate top list per layer (``limits``: layer → k), the query embedded once."""
        _check_layers(tuple(limits))
        encoded = self._encode(query)
        return {
            layer: self._search(*encoded, k=k, tags=tags, layers=(layer,), scope=scope)
            for layer, k in limits.items()
        }

    def _encode(self, query: str) -> tuple[Sequence[float], SparseVec]:
        with self._embed_lock:
            vector = self._embedder.embed([query])[0]
        return vector, self._bm25.query(query)

    def _search(
        self,
        vector: Sequence[float],
        sparse: SparseVec,
        *,
        k: int,
        tags: Sequence[str],
        layers: Sequence[str],
        scope: ScopeFilter | None = None,
    ) -> list[SearchHit | L1Hit]:
        if scope is not None:
            layers = [layer for layer in layers if not scope.layers or layer in scope.layers]
            wanted = tuple(t.lower() for t in tags)
            allowed = wanted or scope.tags_any
            if scope.tags_any and wanted:
                allowed = tuple(t for t in wanted if t in scope.tags_any)
            if not layers or (wanted and not allowed):
                return []
            scope = ScopeFilter(
                tags_any=allowed,
                layers=tuple(layers),
                doc_ids=scope.doc_ids,
                point_ids=scope.point_ids,
            )
        else:
            scope = ScopeFilter(
                tags_any=tuple(t.lower() for t in tags),
                layers=() if set(layers) == set(LAYERS) else tuple(layers),
            )
        with self._store_lock:
            hits = self._store.search_hybrid(
                vector, sparse, limit=k * _OVERFETCH, scope=scope, candidates=max(50, k * 5)
            )
        found = self._documents.chunks_with_documents([h.id for h in hits])
        records = self._l1.points([h.id for h in hits if h.id not in found])
        results: list[SearchHit | L1Hit] = []
        for hit in hits:
            if hit.id in records:
                row = records[hit.id]
                results.append(
                    L1Hit(
                        point_id=row.point_id,
                        kind=row.kind,
                        ref_id=row.ref_id,
                        text=row.text,
                        score=hit.score,
                        tags=row.tags,
                    )
                )
            elif hit.id in found:
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
        return results[:k]
