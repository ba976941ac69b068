"""The contract every vector store backend keeps, and the pieces they share.

Retrieval code talks to :class:`VectorStore` only, so the in-process Qdrant Edge shard and a Qdrant
server are interchangeable: the same point shape, the same :class:`ScopeFilter` (a grant's scope
is one filter everywhere), the same BM25 sparse space (:class:`Bm25Encoder`) and the same rule for
when to search exactly (:data:`EXACT_SEARCH_BELOW`).

Errors (the first three are in the node's tree, :mod:`secondme.node.core.errors`)::

    VectorStoreError           the store cannot serve; the caller decides what to do
    ├── DimensionMismatch      the stored vectors have another size; the caller rebuilds
    └── StoreLocked            another open store already holds this directory
    StoreClosed(RuntimeError)  a method was called after close(); a bug in the caller
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from qdrant_edge import Bm25, Bm25Config

DENSE = "dense"
"""Name of the dense (cosine) vector in every backend."""
SPARSE = "bm25"
"""Name of the sparse BM25 vector in every backend; the engine applies IDF to it."""
KEYWORD_FIELDS = ("doc_id", "tags", "layer")
"""Payload fields that scopes filter on, indexed as keywords where the engine supports it."""

EXACT_SEARCH_BELOW = 20_000
"""Dense searches scan every point while the store holds fewer points than this, then use HNSW.

Measured with Qdrant Edge 0.9.0 on 2 busy cores: 25k MiniLM (384-d) embeddings of real text
(Python docstrings), 200 held-out paragraphs as queries, top 10. A full scan costs p50 1.7 ms at
10k points, 3.2-3.9 ms at 20k, 12 ms at 50k and 21 ms at 100k, growing linearly; HNSW costs
0.5-1.2 ms from 10k to 25k with recall@10 of 0.997-0.998 at ``ef`` 128. Below 20k the scan is
exact, needs no index build, and costs less than embedding the query; past it the scan's cost
starts to show and HNSW's recall loss stays under 0.3%. (Random vectors, the worst case, gave
HNSW recall of 0.6 or less; real embeddings do not behave like them.) HNSW is used only where
an index exists: Qdrant Edge builds one in ``EdgeVectorStore.optimize``, a server by itself.
"""
HNSW_EF = 128
"""Beam width of approximate searches: recall@10 0.997-0.998 measured, against 0.989-0.993 at 64."""
RRF_K = 2
"""Reciprocal rank fusion constant: Qdrant's default, so both backends fuse alike."""


class StoreClosed(RuntimeError):
    """The store was used after close()."""


@dataclass(frozen=True, slots=True)
class SparseVec:
    """A sparse vector: parallel tuples of dimension indices and weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError(
                f"sparse vector has {len(self.indices)} indices but {len(self.values)} values"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorPoint:
    """One chunk as stored: ids are canonical UUID strings so they come back byte-identical."""

    id: str
    dense: Sequence[float]
    sparse: SparseVec
    payload: Mapping[str, Any]

    def __post_init__(self) -> None:
        check_point_id(self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeFilter:
    """What a query may see; the same for every backend so grant scopes are one query everywhere.

    Each empty field means "no restriction", so a grant that allows nothing must be refused before
    a query is made, not turned into an empty filter.
    """

    tags_any: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    point_ids: tuple[str, ...] | None = None
    """When set, only these points (a grant scoped to topics); an empty tuple allows none."""

    def __post_init__(self) -> None:
        if self.point_ids is not None and not all(isinstance(v, str) for v in self.point_ids):
            raise TypeError("ScopeFilter.point_ids must be a tuple of str")
        for name in ("tags_any", "layers", "doc_ids"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"ScopeFilter.{name} must be a tuple of str, got {value!r}")

    def conditions(self) -> list[tuple[str, tuple[str, ...]]]:
        """(payload key, allowed values) pairs that must all hold; the backends translate them."""
        pairs = (("tags", self.tags_any), ("layer", self.layers), ("doc_id", self.doc_ids))
        return [(key, values) for key, values in pairs if values]

    def allows(self, *, point_id: str, layer: str, doc_id: str, tags: Sequence[str]) -> bool:
        """Whether a point with this id and payload is inside the scope: the engine's filter
        as a plain check, for memories reached without a search (a hit's neighbours)."""
        return (
            self.covers_point(point_id=point_id, tags=tags)
            and (not self.layers or layer in self.layers)
            and (not self.doc_ids or doc_id in self.doc_ids)
        )

    def covers_point(self, *, point_id: str, tags: Sequence[str]) -> bool:
        """The tag and point part of :meth:`allows`, for a record drawn from several documents
        (a topic), whose layer and documents the caller checks."""
        return (not self.tags_any or any(t in self.tags_any for t in tags)) and (
            self.point_ids is None or point_id in self.point_ids
        )


ANY_SCOPE = ScopeFilter()
"""The scope that restricts nothing: the owner's own queries."""


@dataclass(frozen=True, slots=True)
class VectorHit:
    """One search result; a higher score is a better match (cosine, or fused RRF score)."""

    id: str
    score: float
    payload: Mapping[str, Any]


class VectorStore(Protocol):
    """A persistent index of chunks, searchable by dense vector and by BM25 + dense fusion.

    Writes are durable when the call returns, except where ``flush`` says otherwise. ``close``
    always closes and may be called twice; any other call after it raises :class:`StoreClosed`.
    """

    name: str
    dimension: int

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert points, replacing any with the same id."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove points; unknown ids are ignored."""
        ...

    def search_dense(
        self, vector: Sequence[float], *, limit: int, scope: ScopeFilter = ANY_SCOPE
    ) -> list[VectorHit]:
        """The ``limit`` points nearest to ``vector`` by cosine within ``scope``."""
        ...

    def search_hybrid(
        self,
        vector: Sequence[float],
        sparse: SparseVec,
        *,
        limit: int,
        scope: ScopeFilter = ANY_SCOPE,
        candidates: int = 50,
    ) -> list[VectorHit]:
        """Dense and BM25 candidates (``candidates`` each, both within ``scope``) fused by RRF."""
        ...

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored dense vectors of ``ids``; ids not stored are left out."""
        ...

    def count(self) -> int:
        """Number of points stored."""
        ...

    def all_ids(self) -> Iterator[str]:
        """Every point id, paged through the store; for reconciliation with the document DB."""
        ...

    def flush(self) -> None:
        """Make every write so far durable on disk."""
        ...

    def close(self) -> None:
        """Release the store (files, locks, connections); idempotent."""
        ...


class Bm25Encoder:
    """English BM25 term weights, computed client-side so every backend shares one sparse space.

    Documents get saturated, length-normalised term frequencies; queries get 1.0 per term. IDF is
    left to the engine (the sparse vector is configured with the IDF modifier), so it stays right
    as documents come and go.
    """

    def __init__(self) -> None:
        self._model = Bm25(Bm25Config(language="english"))

    def document(self, text: str) -> SparseVec:
        """Sparse vector for indexing ``text``."""
        vec = self._model.embed_document(text)
        return SparseVec(tuple(vec.indices), tuple(vec.values))

    def query(self, text: str) -> SparseVec:
        """Sparse vector for searching with ``text``."""
        vec = self._model.embed_query(text)
        return SparseVec(tuple(vec.indices), tuple(vec.values))


def check_point_id(point_id: str) -> None:
    """Refuse ids that are not canonical UUID strings, since engines hand back only that form."""
    try:
        canonical = str(uuid.UUID(point_id))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"point id must be a UUID string, got {point_id!r}") from exc
    if canonical != point_id:
        raise ValueError(
            f"point id must be a canonical UUID string ({canonical}), got {point_id!r}"
        )


def dense_values(vector: Sequence[float], dimension: int, what: str) -> list[float]:
    """``vector`` as plain floats; a wrong size is refused here with a clear message."""
    if len(vector) != dimension:
        raise ValueError(f"{what} has {len(vector)} dimensions, the store has {dimension}")
    return [float(x) for x in vector]


def normalise_id(engine_id: object) -> str:
    """The engine's id (UUID object or string) as the canonical string callers passed in."""
    return str(uuid.UUID(str(engine_id)))
