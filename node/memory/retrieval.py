"""Hybrid retrieval over memory: dense similarity and BM25, fused in the engine, cited by source.

L0 hits are chunks of documents; L1 hits are records the node made from them (document
insights, topics, entities). Both live in one vector store, told apart by the ``layer`` payload,
and both are joined back through SQLite so that nothing uncommitted or forgotten is returned.
A grant's scope arrives as a ready :class:`ScopeFilter` (:mod:`.scope` makes it, and narrows it
to each search's layers and tags); the store applies it inside the search.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from secondme.node.memory.documents import ChunkRecord, DocumentRecord, DocumentStore
from secondme.node.memory.ingest import LAYER_L0
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.recording import clock
from secondme.node.memory.scope import narrow_scope
from secondme.node.memory.timeline import DateMention, annotate, day_of, label
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
    time_source: str | None = None
    """Where the time came from: "message", "text", "document", "file"; None if unknown."""
    dates: tuple[DateMention, ...] = ()
    """Dates written in the text, each resolved against the time it was written."""
    session: str | None = None
    turn_first: int | None = None
    turn_last: int | None = None
    at: float | None = None
    """Seconds into a recording where the chunk starts (voice notes)."""

    layer = LAYER_L0

    def date_label(self) -> str:
        """When this memory happened, as a person reads it ("2026-05-14", "2026-03", or a range
        "2026-05-14 to 2026-05-16"); "" when unknown."""
        if self.time_source == "text" and self.dates:
            return label(min(self.dates, key=lambda d: d.start))
        first, last = day_of(self.time_start), day_of(self.time_end)
        if first and last and last != first:
            return f"{first} to {last}"
        return first or last

    def dated_text(self) -> str:
        """The text with each relative date's resolved date beside it, for prompts:
        "I went there yesterday (2026-05-13)"."""
        return annotate(self.text, self.dates)

    def turns(self) -> tuple[int, int] | None:
        if self.turn_first is None:
            return None
        return self.turn_first, self.turn_last if self.turn_last is not None else self.turn_first

    def citation(self) -> str:
        """Where this memory came from, as the prompt names it: the file, its turns (a chat) or
        part, and its date when known."""
        turns = self.turns()
        if self.at is not None:
            where = f"{self.name}, at {clock(self.at)}"
        elif turns is None:
            where = f"{self.name}, part {self.chunk_index + 1}"
        elif turns[0] == turns[1]:
            where = f"{self.name}, turn {turns[0]}"
        else:
            where = f"{self.name}, turns {turns[0]}\u2013{turns[1]}"
        when = self.date_label()
        return f"{where}, {when}" if when else where

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
                "when": self.date_label() or None,
                "time_source": self.time_source,
                "session": self.session,
                "turns": list(turns) if (turns := self.turns()) else None,
                "dates": [d.to_json() for d in self.dates],
                "at": self.at,
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
    source: str = ""
    """Where a fact was said (document, turns or part), for its citation."""

    layer = LAYER_L1

    @property
    def title(self) -> str:
        return self.text.split("\n", 1)[0]

    def citation(self) -> str:
        if self.kind == "profile":
            # The owner's profile has versions; the one made for a peer's scope has none.
            return f"my profile, version {self.ref_id}" if self.ref_id.isdigit() else "my profile"
        if self.kind == "fact":
            return f"a fact from {self.source}" if self.source else "a fact"
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
            **({"from": self.source} if self.source else {}),
        }


def memory_ref(hit: SearchHit | L1Hit) -> str:
    """How the audit log names a memory that was shared: layer, kind and id, never text."""
    if isinstance(hit, SearchHit):
        return f"l0:chunk:{hit.chunk_id}"
    return f"l1:{hit.kind}:{hit.ref_id}"


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


def chunk_hit(chunk: ChunkRecord, doc: DocumentRecord, *, score: float) -> SearchHit:
    """A committed chunk with its document, as a search returns it."""
    return SearchHit(
        chunk_id=chunk.id,
        text=chunk.text,
        score=score,
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
        time_source=chunk.time_source,
        dates=chunk.dates,
        session=chunk.session,
        turn_first=chunk.turn_first,
        turn_last=chunk.turn_last,
        at=chunk.at,
    )


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

    def candidates(
        self,
        vector: Sequence[float],
        sparse_query: str,
        *,
        k: int,
        tags: Sequence[str] = (),
        layers: Sequence[str] = (LAYER_L0,),
        scope: ScopeFilter | None = None,
    ) -> tuple[list[SearchHit | L1Hit], dict[str, float]]:
        """A pool of ``k`` hybrid hits to re-rank, and each one's cosine to ``vector``.

        The dense and the BM25 side may be asked in other words (the question as written for
        meaning, its names and keywords for terms), so the caller embeds the dense side.
        """
        _check_layers(layers)
        vector = np.asarray(vector, dtype=np.float32)
        hits = self._search(
            vector, self._bm25.query(sparse_query), k=k, tags=tags, layers=layers, scope=scope
        )
        ids = [h.chunk_id if isinstance(h, SearchHit) else h.point_id for h in hits]
        with self._store_lock:
            stored = self._store.dense_vectors(ids)
        cosines: dict[str, float] = {}
        norm = float(np.linalg.norm(vector)) or 1.0
        for point_id, dense in stored.items():
            other = np.asarray(dense, dtype=np.float32)
            cosines[point_id] = float(vector @ other) / (
                norm * (float(np.linalg.norm(other)) or 1.0)
            )
        return hits, cosines

    def neighbours(
        self,
        hits: Sequence[SearchHit],
        *,
        tags: Sequence[str] = (),
        scope: ScopeFilter | None = None,
    ) -> dict[str, list[SearchHit]]:
        """The chunks just before and after each hit in its document (and its chat session),
        keyed by the hit's chunk id. Only chunks inside the same filter a search runs under are
        returned: a neighbour is never a way around a grant's scope."""
        allowed = narrow_scope(scope, tags=tags, layers=(LAYER_L0,))
        if allowed is None or not hits:
            return {}
        places = {(h.doc_id, h.chunk_index + d): h for h in hits for d in (-1, 1)}
        ids = self._documents.chunk_ids_at([p for p in places if p[1] >= 0])
        found = self._documents.chunks_with_documents(list(ids.values()))
        result: dict[str, list[SearchHit]] = {}
        for place, chunk_id in sorted(ids.items(), key=lambda item: item[0]):
            if chunk_id not in found:
                continue
            chunk, doc = found[chunk_id]
            hit = places[place]
            session = getattr(hit, "session", None)
            if session is not None and getattr(chunk, "session", None) != session:
                continue
            if not allowed.allows(point_id=chunk.id, layer=LAYER_L0, doc_id=doc.id, tags=doc.tags):
                continue
            result.setdefault(hit.chunk_id, []).append(chunk_hit(chunk, doc, score=0.0))
        return result

    def known_names(self) -> list[str]:
        """Names memory knows (L1 entities, chat speakers): what a question may call people."""
        names = {name for _, name in self._l1.entities.names()}
        return sorted(names | self._documents.speakers())

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
        scope = narrow_scope(scope, tags=tags, layers=layers)
        if scope is None:
            return []
        with self._store_lock:
            hits = self._store.search_hybrid(
                vector, sparse, limit=k * _OVERFETCH, scope=scope, candidates=max(50, k * 5)
            )
        found = self._documents.chunks_with_documents([h.id for h in hits])
        records = self._l1.points.get_many([h.id for h in hits if h.id not in found])
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
                results.append(chunk_hit(*found[hit.id], score=hit.score))
        return results[:k]
