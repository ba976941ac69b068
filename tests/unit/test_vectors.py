"""The vector store contract, run against every backend (Qdrant Edge, qdrant-client local mode)."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from secondme.node.memory.vectors import (
    BACKENDS,
    Bm25Encoder,
    DimensionMismatch,
    ScopeFilter,
    SparseVec,
    StoreClosed,
    StoreLocked,
    VectorPoint,
    VectorStore,
    VectorStoreError,
    open_store,
)
from secondme.node.memory.vectors import edge as edge_module

DIM = 16
ENCODER = Bm25Encoder()
WORDS = ["garden", "river", "coffee", "window", "morning", "letter", "music", "train", "market"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[VectorStore]:
    opened = open_store(backend, path=tmp_path / "vectors", dimension=DIM)
    yield opened
    opened.close()


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIM))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_points(
    vectors: np.ndarray,
    texts: Sequence[str] | None = None,
    tags: Sequence[list[str]] | None = None,
    layers: Sequence[str] | None = None,
) -> list[VectorPoint]:
    points = []
    for i, vector in enumerate(vectors):
        text = texts[i] if texts else f"{WORDS[i % len(WORDS)]} {WORDS[(i * 3) % len(WORDS)]}"
        points.append(
            VectorPoint(
                id=str(uuid.uuid4()),
                dense=vector.tolist(),
                sparse=ENCODER.document(text),
                payload={
                    "doc_id": f"doc-{i // 4}",
                    "chunk_index": i % 4,
                    "layer": layers[i] if layers else "l0",
                    "tags": tags[i] if tags else ["all"],
                    "time": 1_700_000_000.0 + i,
                },
            )
        )
    return points


def test_dense_search_returns_nearest_with_payload(store: VectorStore) -> None:
    vectors = unit_vectors(60)
    points = make_points(vectors)
    store.upsert(points)
    noise = np.random.default_rng(1).normal(scale=0.05, size=DIM)
    hits = store.search_dense((vectors[17] + noise).tolist(), limit=5)
    assert hits[0].id == points[17].id
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert dict(hits[0].payload) == dict(points[17].payload)
    exact = sorted(range(60), key=lambda i: -float(vectors[i] @ (vectors[17] + noise)))
    assert [h.id for h in hits] == [points[i].id for i in exact[:5]]


def test_hybrid_finds_rare_keyword_that_dense_ranks_low(store: VectorStore) -> None:
    vectors = unit_vectors(40, seed=2)
    texts = [f"notes about the {WORDS[i % len(WORDS)]} and the weather" for i in range(40)]
    target = 23
    texts[target] = "notes about the xylophone and the weather"
    points = make_points(vectors, texts)
    store.upsert(points)
    query = (-vectors[target]).tolist()  # as far from the target as a vector can be
    dense_ids = [h.id for h in store.search_dense(query, limit=40)]
    assert dense_ids.index(points[target].id) >= 30

    hits = store.search_hybrid(query, ENCODER.query("xylophone"), limit=5)
    assert hits[0].id == points[target].id
    assert [h.id for h in hits[1:]] == dense_ids[: len(hits) - 1]


def test_hybrid_weights_terms_by_idf(store: VectorStore) -> None:
    vectors = unit_vectors(31, seed=10)
    texts = [f"weather notes on {WORDS[i % len(WORDS)]}" for i in range(31)]
    target = 30
    texts[target] = "xylophone concert"  # one query term; every other point matches two
    points = make_points(vectors, texts)
    store.upsert(points)
    query = (-vectors[target]).tolist()
    dense_ids = [h.id for h in store.search_dense(query, limit=31)]
    assert dense_ids[-1] == points[target].id

    # Without IDF the target would rank last on both lists; with it, "weather" and "notes" weigh
    # next to nothing and the target tops the sparse list, which RRF lifts into the first four.
    hits = store.search_hybrid(query, ENCODER.query("weather notes xylophone"), limit=4)
    assert points[target].id in {h.id for h in hits}


def test_hybrid_with_stopword_only_query_falls_back_to_dense(store: VectorStore) -> None:
    vectors = unit_vectors(30, seed=3)
    points = make_points(vectors)
    store.upsert(points)
    empty = ENCODER.query("the and of")
    assert empty.indices == ()
    hits = store.search_hybrid(vectors[4].tolist(), empty, limit=3)
    assert [h.id for h in hits] == [h.id for h in store.search_dense(vectors[4].tolist(), limit=3)]


def test_scope_filters_exclude_what_they_must(store: VectorStore) -> None:
    vectors = unit_vectors(24, seed=4)
    tags = [
        ["work"] if i % 3 == 0 else ["family", "travel"] if i % 3 == 1 else [] for i in range(24)
    ]
    layers = ["l0" if i % 2 == 0 else "l1" for i in range(24)]
    points = make_points(vectors, tags=tags, layers=layers)
    store.upsert(points)
    query = vectors[0].tolist()
    sparse = ENCODER.query(" ".join(WORDS))

    def visible(scope: ScopeFilter) -> tuple[set[str], set[str]]:
        dense = {h.id for h in store.search_dense(query, limit=100, scope=scope)}
        hybrid = {h.id for h in store.search_hybrid(query, sparse, limit=100, scope=scope)}
        return dense, hybrid

    def expected(keep: list[int]) -> tuple[set[str], set[str]]:
        ids = {points[i].id for i in keep}
        return ids, ids

    everything = list(range(24))
    assert visible(ScopeFilter()) == expected(everything)
    assert visible(ScopeFilter(tags_any=("travel",))) == expected(
        [i for i in everything if i % 3 == 1]
    )
    assert visible(ScopeFilter(tags_any=("work", "travel"))) == expected(
        [i for i in everything if i % 3 != 2]
    )
    assert visible(ScopeFilter(tags_any=("nobody",))) == (set(), set())
    assert visible(ScopeFilter(layers=("l1",))) == expected([i for i in everything if i % 2 == 1])
    assert visible(ScopeFilter(doc_ids=("doc-2", "doc-5"))) == expected(
        [8, 9, 10, 11, 20, 21, 22, 23]
    )
    assert visible(ScopeFilter(tags_any=("work",), layers=("l0",), doc_ids=("doc-0", "doc-1"))) == (
        expected([0, 6])
    )


def test_delete_removes_points(store: VectorStore) -> None:
    vectors = unit_vectors(20, seed=5)
    points = make_points(vectors)
    store.upsert(points)
    gone = [points[3].id, points[11].id]
    store.delete([*gone, str(uuid.uuid4())])  # an unknown id is ignored
    assert store.count() == 18
    assert set(store.all_ids()) == {p.id for p in points} - set(gone)
    found = {h.id for h in store.search_dense(vectors[3].tolist(), limit=20)}
    assert found.isdisjoint(gone)
    assert len(found) == 18


def test_dense_vectors_come_back_as_stored(store: VectorStore) -> None:
    vectors = unit_vectors(12, seed=8)
    points = make_points(vectors)
    store.upsert(points)
    unknown = str(uuid.uuid4())
    wanted = [points[2].id, points[7].id, unknown]
    found = store.dense_vectors(wanted)
    assert set(found) == {points[2].id, points[7].id}
    for index in (2, 7):
        # Cosine stores may keep the vector normalised; ours are unit vectors already.
        assert np.allclose(found[points[index].id], vectors[index], atol=1e-5)
    assert store.dense_vectors([]) == {}


def test_upsert_replaces_a_point_with_the_same_id(store: VectorStore) -> None:
    vectors = unit_vectors(5, seed=6)
    points = make_points(vectors)
    store.upsert(points)
    moved = VectorPoint(
        id=points[0].id,
        dense=vectors[4].tolist(),
        sparse=SparseVec((), ()),
        payload={"doc_id": "x"},
    )
    store.upsert([moved])
    assert store.count() == 5
    hits = store.search_dense(vectors[4].tolist(), limit=2)
    assert {h.id for h in hits} == {points[0].id, points[4].id}
    assert next(h for h in hits if h.id == points[0].id).payload == {"doc_id": "x"}


def test_count_and_all_ids_page_through_everything(
    store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.count() == 0
    assert list(store.all_ids()) == []
    monkeypatch.setattr(sys.modules[type(store).__module__], "_SCROLL_PAGE", 7)
    points = make_points(unit_vectors(50, seed=7))  # seven full pages and one short
    store.upsert(points)
    assert store.count() == 50
    ids = list(store.all_ids())
    assert len(ids) == 50
    assert set(ids) == {p.id for p in points}


def test_reopen_after_close_keeps_data(backend: str, tmp_path: Path) -> None:
    vectors = unit_vectors(30, seed=8)
    texts = [f"entry {i} about the {WORDS[i % len(WORDS)]}" for i in range(30)]
    texts[9] = "entry about the xylophone"
    points = make_points(vectors, texts)
    first = open_store(backend, path=tmp_path / "v", dimension=DIM)
    first.upsert(points)
    first.close()
    second = open_store(backend, path=tmp_path / "v", dimension=DIM)
    try:
        assert second.count() == 30
        assert set(second.all_ids()) == {p.id for p in points}
        assert second.search_dense(vectors[9].tolist(), limit=1)[0].id == points[9].id
        far = (-vectors[9]).tolist()
        hits = second.search_hybrid(far, ENCODER.query("xylophone"), limit=3)
        assert hits[0].id == points[9].id  # the sparse index came back too
    finally:
        second.close()


def test_reopen_with_another_dimension_raises(backend: str, tmp_path: Path) -> None:
    open_store(backend, path=tmp_path / "v", dimension=DIM).close()
    with pytest.raises(DimensionMismatch) as caught:
        open_store(backend, path=tmp_path / "v", dimension=DIM * 2)
    assert (caught.value.stored, caught.value.wanted) == (DIM, DIM * 2)
    open_store(backend, path=tmp_path / "v", dimension=DIM).close()  # the refusal broke nothing


def test_second_open_of_the_same_directory_is_refused(backend: str, tmp_path: Path) -> None:
    first = open_store(backend, path=tmp_path / "v", dimension=DIM)
    try:
        # Edge: its WAL lock (EWOULDBLOCK); local mode: qdrant-client's folder lock.
        with pytest.raises(StoreLocked):
            open_store(backend, path=tmp_path / "v", dimension=DIM)
    finally:
        first.close()
    open_store(backend, path=tmp_path / "v", dimension=DIM).close()  # free again once closed


def test_close_is_idempotent_and_use_after_close_raises(store: VectorStore) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreClosed):
        store.count()
    with pytest.raises(StoreClosed):
        store.search_dense([0.0] * DIM, limit=1)


def test_wrong_vector_size_is_refused(store: VectorStore) -> None:
    point = make_points(unit_vectors(1))[0]
    short = VectorPoint(id=point.id, dense=[0.1] * (DIM - 1), sparse=point.sparse, payload={})
    with pytest.raises(ValueError, match="dimensions"):
        store.upsert([short])
    with pytest.raises(ValueError, match="dimensions"):
        store.search_dense([0.1] * (DIM + 1), limit=1)
    assert store.count() == 0


def test_edge_approximate_search_after_optimize(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge_module, "EXACT_SEARCH_BELOW", 0)  # take the HNSW branch
    store = edge_module.EdgeVectorStore.open(tmp_path / "v", DIM)
    try:
        vectors = unit_vectors(300, seed=9)
        points = make_points(vectors)
        store.upsert(points)
        assert isinstance(store.optimize(), bool)
        assert store.search_dense(vectors[123].tolist(), limit=1)[0].id == points[123].id
        hits = store.search_hybrid(vectors[45].tolist(), SparseVec((), ()), limit=1)
        assert hits[0].id == points[45].id
    finally:
        store.close()


def test_unreachable_qdrant_server_is_a_store_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(VectorStoreError, match="cannot prepare collection"):
        open_store("qdrant", path=tmp_path, dimension=DIM, url=f"http://127.0.0.1:{port}")


def test_open_store_rejects_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="edge, qdrant"):
        open_store("faiss", path=tmp_path, dimension=DIM)


def test_bm25_shares_stems_and_drops_stopwords() -> None:
    document = ENCODER.document("She runs and was running to the gardens")
    query = ENCODER.query("run garden")
    assert set(query.indices) <= set(document.indices)
    assert query.values == (1.0, 1.0)
    assert len(document.indices) == 2  # stopwords dropped; runs, running share a stem
    assert ENCODER.query("she and was to the").indices == ()


def test_point_ids_must_be_canonical_uuids() -> None:
    good = str(uuid.uuid4())
    VectorPoint(id=good, dense=[0.0], sparse=SparseVec((), ()), payload={})
    for bad in ("chunk-1", good.upper(), good.replace("-", "")):
        with pytest.raises(ValueError, match="UUID"):
            VectorPoint(id=bad, dense=[0.0], sparse=SparseVec((), ()), payload={})


def test_scope_filter_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError):
        ScopeFilter(tags_any="work")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SparseVec((1, 2), (1.0,))
