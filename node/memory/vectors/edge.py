"""The default backend: a Qdrant Edge shard running in this process.

Qdrant's engine without a server: a WAL makes every ``upsert`` durable when it returns, the WAL
lock refuses a second open of the same directory, and reopening 100k points takes a fraction of a
second. The shard never builds its HNSW graph by itself; :meth:`EdgeVectorStore.optimize` does,
and until it runs every search is a full scan whatever the search parameters say.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import qdrant_edge as qe

from secondme.node.core.errors import DimensionMismatch, StoreLocked, VectorStoreError

from .base import (
    ANY_SCOPE,
    DENSE,
    EXACT_SEARCH_BELOW,
    HNSW_EF,
    KEYWORD_FIELDS,
    RRF_K,
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

_CONFIG_FILE = "edge_config.json"
"""Where the shard persists its configuration; its presence means a shard exists."""
_UPSERT_BATCH = 256
_SCROLL_PAGE = 1024


class EdgeVectorStore:
    """A :class:`~.base.VectorStore` over one ``qdrant_edge.EdgeShard`` directory."""

    name = "edge"

    def __init__(self, shard: qe.EdgeShard, path: Path, dimension: int) -> None:
        """Use :meth:`open`; this only wraps an already opened shard."""
        self._shard: qe.EdgeShard | None = shard
        self.path = path
        self.dimension = dimension
        self._points = shard.info().points_count

    @classmethod
    def open(cls, path: Path, dimension: int) -> EdgeVectorStore:
        """Open the shard at ``path``, creating it when the directory holds none.

        Raises :class:`DimensionMismatch` when the shard stores another vector size and
        :class:`StoreLocked` when another open store holds the directory.
        """
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(dimension, qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            wal_enabled=True,
        )
        config_file = path / _CONFIG_FILE
        try:
            if config_file.exists():
                stored = _stored_dimension(config_file)
                if stored != dimension:
                    raise DimensionMismatch(stored, dimension)
                shard = qe.EdgeShard.load(str(path), config)
            else:
                shard = qe.EdgeShard.create(str(path), config)
        except VectorStoreError:
            raise
        except Exception as exc:
            # The engine raises bare Exception; the WAL lock shows as an EWOULDBLOCK.
            if "WouldBlock" in str(exc):
                raise StoreLocked(f"vector store {path} is open elsewhere") from exc
            raise VectorStoreError(f"cannot open vector store {path}: {exc}") from exc
        indexed = shard.info().payload_schema
        for field in KEYWORD_FIELDS:
            if field not in indexed:
                shard.update(
                    qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword)
                )
        return cls(shard, path, dimension)

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points; durable on return through the WAL."""
        shard = self._live()
        prepared = [_to_edge_point(p, self.dimension) for p in points]
        for start in range(0, len(prepared), _UPSERT_BATCH):
            batch = prepared[start : start + _UPSERT_BATCH]
            shard.update(qe.UpdateOperation.upsert_points(batch))
        self._points = shard.info().points_count

    def delete(self, ids: Sequence[str]) -> None:
        """Remove points by id; ids not stored are ignored."""
        shard = self._live()
        for point_id in ids:
            check_point_id(point_id)
        if ids:
            shard.update(qe.UpdateOperation.delete_points(list(ids)))
        self._points = shard.info().points_count

    def search_dense(
        self, vector: Sequence[float], *, limit: int, scope: ScopeFilter = ANY_SCOPE
    ) -> list[VectorHit]:
        """Nearest points by cosine within ``scope``."""
        shard = self._live()
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(dense_values(vector, self.dimension, "query"), using=DENSE),
            filter=_edge_filter(scope),
            params=self._dense_params(),
            with_payload=True,
        )
        return [_hit(p) for p in shard.query(request)]

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
        shard = self._live()
        dense = dense_values(vector, self.dimension, "query")
        scope_filter = _edge_filter(scope)
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Fusion.Rrf(k=RRF_K),
            prefetches=[
                qe.Prefetch(
                    limit=candidates,
                    query=qe.Query.Nearest(dense, using=DENSE),
                    filter=scope_filter,
                    params=self._dense_params(),
                ),
                qe.Prefetch(
                    limit=candidates,
                    query=qe.Query.Nearest(_edge_sparse(sparse), using=SPARSE),
                    filter=scope_filter,
                ),
            ],
            with_payload=True,
        )
        return [_hit(p) for p in shard.query(request)]

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored dense vectors by id, fetched a page at a time."""
        shard = self._live()
        found: dict[str, list[float]] = {}
        for start in range(0, len(ids), _SCROLL_PAGE):
            page = list(ids[start : start + _SCROLL_PAGE])
            for point_id in page:
                check_point_id(point_id)
            for record in shard.retrieve(page, False, True):
                vector = record.vector
                dense = vector.get(DENSE) if isinstance(vector, dict) else vector
                if dense is not None:
                    found[normalise_id(record.id)] = list(dense)
        return found

    def count(self) -> int:
        """Exact number of stored points."""
        return self._live().count(qe.CountRequest(exact=True))

    def all_ids(self) -> Iterator[str]:
        """Every point id, a page at a time."""
        offset: qe.PointId | None = None
        while True:
            records, offset = self._live().scroll(
                qe.ScrollRequest(
                    offset=offset, limit=_SCROLL_PAGE, with_payload=False, with_vector=False
                )
            )
            for record in records:
                yield normalise_id(record.id)
            if offset is None:
                return

    def optimize(self) -> bool:
        """Build HNSW graphs on segments big enough for one; True if anything changed.

        Blocks for a long time (18 s for 20k 384-d points on 2 cores, more for more points), so
        run it from a background job after a bulk ingest; searches keep working meanwhile.
        """
        return self._live().optimize()

    def flush(self) -> None:
        """Write segments to disk so reopening need not replay the WAL."""
        self._live().flush()

    def close(self) -> None:
        """Release the shard and its WAL lock; idempotent."""
        if self._shard is not None:
            shard, self._shard = self._shard, None
            shard.close()

    def _live(self) -> qe.EdgeShard:
        if self._shard is None:
            raise StoreClosed(f"vector store {self.path} is closed")
        return self._shard

    def _dense_params(self) -> qe.SearchParams:
        if self._points < EXACT_SEARCH_BELOW:
            return qe.SearchParams(exact=True)
        return qe.SearchParams(hnsw_ef=HNSW_EF)


def _stored_dimension(config_file: Path) -> int:
    """The dense size the shard was created with, from its persisted configuration."""
    try:
        return int(json.loads(config_file.read_text())["vectors"][DENSE]["size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VectorStoreError(f"unreadable shard configuration {config_file}: {exc}") from exc


def _edge_filter(scope: ScopeFilter) -> qe.Filter | None:
    must: list = [
        qe.FieldCondition(key, match=qe.MatchAny(list(values)))
        for key, values in scope.conditions()
    ]
    if scope.point_ids is not None:
        must.append(qe.HasIdCondition(set(scope.point_ids)))
    return qe.Filter(must=must) if must else None


def _edge_sparse(sparse: SparseVec) -> qe.SparseVector:
    return qe.SparseVector(list(sparse.indices), list(sparse.values))


def _to_edge_point(point: VectorPoint, dimension: int) -> qe.Point:
    dense = dense_values(point.dense, dimension, f"point {point.id}")
    vectors = {DENSE: dense, SPARSE: _edge_sparse(point.sparse)}
    return qe.Point(point.id, vectors, dict(point.payload))


def _hit(point: qe.ScoredPoint) -> VectorHit:
    return VectorHit(normalise_id(point.id), point.score, point.payload or {})
