"""The scale-out backend: a collection on a Qdrant server, or in qdrant-client's local mode.

A server suits a very large memory or several processes sharing one store. Local mode
(``path=``) runs the same client API in-process without a server; it scans every point on each
query and slows down past about 20k points, so it serves tests, not users.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from secondme.node.core.errors import DimensionMismatch, StoreLocked, VectorStoreError

from .base import (
    ANY_SCOPE,
    DENSE,
    EXACT_SEARCH_BELOW,
    HNSW_EF,
    KEYWORD_FIELDS,
    SPARSE,
    ScopeFilter,
    SparseVec,
    StoreClosed,
    VectorHit,
    VectorPoint,
    check_point_id,
    dense_values,
    normalise_id,
)

_UPSERT_BATCH = 256
_SCROLL_PAGE = 1024


class QdrantServerStore:
    """A :class:`~.base.VectorStore` over one collection reached through ``qdrant_client``."""

    name = "qdrant"

    def __init__(self, client: QdrantClient, collection: str, dimension: int, local: bool) -> None:
        """Use :meth:`open`; this only wraps a client whose collection is ready."""
        self._client: QdrantClient | None = client
        self.collection = collection
        self.dimension = dimension
        self._local = local
        self._points = 0
        self._note_size()

    @classmethod
    def open(
        cls,
        *,
        url: str | None = None,
        path: Path | None = None,
        collection: str = "l0",
        dimension: int,
    ) -> QdrantServerStore:
        """Connect to the server at ``url``, or open local mode at ``path``; exactly one of them.

        Creates the collection when missing. Raises :class:`DimensionMismatch` when it exists
        with another vector size and :class:`StoreLocked` when another client holds ``path``.
        """
        if (url is None) == (path is None):
            raise ValueError("give exactly one of url (a Qdrant server) or path (local mode)")
        try:
            if url is not None:
                # The client's version check runs in a thread and only warns, at some later time;
                # a server we cannot use fails the collection check below instead.
                client = QdrantClient(url=url, check_compatibility=False)
            else:
                client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise StoreLocked(f"vector store {path} is open elsewhere") from exc
            raise VectorStoreError(f"cannot open vector store {path}: {exc}") from exc
        try:
            _prepare_collection(client, collection, dimension, local=url is None)
        except VectorStoreError:
            client.close()
            raise
        except Exception as exc:  # an unreachable server, or one that refuses the request
            client.close()
            message = f"cannot prepare collection {collection} at {url}: {exc}"
            raise VectorStoreError(message) from exc
        return cls(client, collection, dimension, local=url is None)

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points; returns once the server has applied them."""
        client = self._live()
        prepared = [_to_point_struct(p, self.dimension) for p in points]
        for start in range(0, len(prepared), _UPSERT_BATCH):
            batch = prepared[start : start + _UPSERT_BATCH]
            client.upsert(self.collection, points=batch, wait=True)
        self._note_size()

    def delete(self, ids: Sequence[str]) -> None:
        """Remove points by id; ids not stored are ignored."""
        client = self._live()
        for point_id in ids:
            check_point_id(point_id)
        if ids:
            selector = qm.PointIdsList(points=list(ids))
            client.delete(self.collection, points_selector=selector, wait=True)
        self._note_size()

    def search_dense(
        self, vector: Sequence[float], *, limit: int, scope: ScopeFilter = ANY_SCOPE
    ) -> list[VectorHit]:
        """Nearest points by cosine within ``scope``."""
        response = self._live().query_points(
            self.collection,
            query=dense_values(vector, self.dimension, "query"),
            using=DENSE,
            query_filter=_qdrant_filter(scope),
            search_params=self._dense_params(),
            limit=limit,
            with_payload=True,
        )
        return [_hit(p) for p in response.points]

    def search_hybrid(
        self,
        vector: Sequence[float],
        sparse: SparseVec,
        *,
        limit: int,
        scope: ScopeFilter = ANY_SCOPE,
        candidates: int = 50,
    ) -> list[VectorHit]:
        """Dense and BM25 prefetches, each filtered by ``scope``, fused by RRF in the engine."""
        scope_filter = _qdrant_filter(scope)
        response = self._live().query_points(
            self.collection,
            prefetch=[
                qm.Prefetch(
                    query=dense_values(vector, self.dimension, "query"),
                    using=DENSE,
                    filter=scope_filter,
                    params=self._dense_params(),
                    limit=candidates,
                ),
                qm.Prefetch(
                    query=qm.SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
                    using=SPARSE,
                    filter=scope_filter,
                    limit=candidates,
                ),
            ],
            query=qm.FusionQuery(fusion=qm.Fusion.RRF),
            limit=limit,
            with_payload=True,
        )
        return [_hit(p) for p in response.points]

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored dense vectors by id, fetched a page at a time."""
        client = self._live()
        found: dict[str, list[float]] = {}
        for start in range(0, len(ids), _SCROLL_PAGE):
            page = list(ids[start : start + _SCROLL_PAGE])
            for point_id in page:
                check_point_id(point_id)
            for record in client.retrieve(
                self.collection, page, with_payload=False, with_vectors=[DENSE]
            ):
                vector = record.vector
                dense = vector.get(DENSE) if isinstance(vector, dict) else vector
                if dense is not None:
                    found[normalise_id(record.id)] = list(dense)
        return found

    def count(self) -> int:
        """Exact number of stored points."""
        return self._live().count(self.collection, exact=True).count

    def all_ids(self) -> Iterator[str]:
        """Every point id, a page at a time."""
        offset: qm.ExtendedPointId | None = None
        while True:
            records, offset = self._live().scroll(
                self.collection,
                offset=offset,
                limit=_SCROLL_PAGE,
                with_payload=False,
                with_vectors=False,
            )
            for record in records:
                yield normalise_id(record.id)
            if offset is None:
                return

    def flush(self) -> None:
        """Nothing to do: writes wait for the server, and local mode persists each write."""
        self._live()

    def close(self) -> None:
        """Close the connection (local mode: release the folder lock); idempotent."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close()

    def _live(self) -> QdrantClient:
        if self._client is None:
            raise StoreClosed(f"vector store collection {self.collection} is closed")
        return self._client

    def _note_size(self) -> None:
        """Remember roughly how many points there are, which decides exact versus HNSW search."""
        if not self._local:  # local mode always scans
            self._points = self._live().get_collection(self.collection).points_count or 0

    def _dense_params(self) -> qm.SearchParams | None:
        if self._local:
            return None  # local mode always scans and warns about search parameters
        if self._points < EXACT_SEARCH_BELOW:
            return qm.SearchParams(exact=True)
        return qm.SearchParams(hnsw_ef=HNSW_EF)


def _prepare_collection(client: QdrantClient, collection: str, dimension: int, local: bool) -> None:
    """Create the collection with our vectors and indexes, or check the existing one's size."""
    if client.collection_exists(collection):
        vectors = client.get_collection(collection).config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if params is None:
            raise VectorStoreError(f"collection {collection} has no {DENSE!r} vector")
        if params.size != dimension:
            raise DimensionMismatch(params.size, dimension)
        return
    client.create_collection(
        collection,
        vectors_config={DENSE: qm.VectorParams(size=dimension, distance=qm.Distance.COSINE)},
        sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
    )
    if not local:  # local mode has no payload indexes and warns when asked for one
        for field in KEYWORD_FIELDS:
            client.create_payload_index(collection, field, qm.PayloadSchemaType.KEYWORD, wait=True)


def _qdrant_filter(scope: ScopeFilter) -> qm.Filter | None:
    must: list = [
        qm.FieldCondition(key=key, match=qm.MatchAny(any=list(values)))
        for key, values in scope.conditions()
    ]
    if scope.point_ids is not None:
        must.append(qm.HasIdCondition(has_id=list(scope.point_ids)))
    return qm.Filter(must=must) if must else None


def _to_point_struct(point: VectorPoint, dimension: int) -> qm.PointStruct:
    dense = dense_values(point.dense, dimension, f"point {point.id}")
    sparse = qm.SparseVector(indices=list(point.sparse.indices), values=list(point.sparse.values))
    vectors: dict[str, qm.Vector] = {DENSE: dense, SPARSE: sparse}
    return qm.PointStruct(id=point.id, vector=vectors, payload=dict(point.payload))


def _hit(point: qm.ScoredPoint) -> VectorHit:
    return VectorHit(normalise_id(point.id), point.score, point.payload or {})
