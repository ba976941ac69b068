"""Vector stores for memory chunks: Qdrant Edge in-process by default, a Qdrant server to scale out.

Both keep the :class:`VectorStore` contract in ``base``; :func:`open_store` picks one by name so
configuration, not code, chooses the backend.
"""

from __future__ import annotations

from pathlib import Path

from secondme.node.core.errors import DimensionMismatch, StoreLocked, VectorStoreError

from .base import (
    ANY_SCOPE,
    EXACT_SEARCH_BELOW,
    Bm25Encoder,
    ScopeFilter,
    SparseVec,
    StoreClosed,
    VectorHit,
    VectorPoint,
    VectorStore,
)
from .edge import EdgeVectorStore

BACKENDS = ("edge", "qdrant")

__all__ = [
    "ANY_SCOPE",
    "BACKENDS",
    "EXACT_SEARCH_BELOW",
    "Bm25Encoder",
    "DimensionMismatch",
    "EdgeVectorStore",
    "ScopeFilter",
    "SparseVec",
    "StoreClosed",
    "StoreLocked",
    "VectorHit",
    "VectorPoint",
    "VectorStore",
    "VectorStoreError",
    "open_store",
]


def open_store(backend: str, *, path: Path, dimension: int, url: str | None = None) -> VectorStore:
    """Open the named backend: "edge" keeps its shard in ``path``; "qdrant" uses the server at
    ``url``, or local mode in ``path`` when no url is given."""
    if backend == "edge":
        if url is not None:
            raise ValueError("the edge vector store runs in-process and takes no url")
        return EdgeVectorStore.open(path, dimension)
    if backend == "qdrant":
        from .qdrant_server import QdrantServerStore  # qdrant-client costs a second to import

        if url is not None:
            return QdrantServerStore.open(url=url, dimension=dimension)
        return QdrantServerStore.open(path=path, dimension=dimension)
    raise ValueError(
        f"unknown vector store backend {backend!r}; choose one of {', '.join(BACKENDS)}"
    )
