"""L0 memory through the real embedder and both real vector-store backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from secondme.node.core.config import DataDir, MemorySettings
from secondme.node.core.db import Database
from secondme.node.core.errors import ParseError, UnsupportedFormat
from secondme.node.memory.service import Memory
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder

pytestmark = pytest.mark.slow

NOTES = {
    "/notes/boat.md": "We sail the little wooden boat Marlinspike on Lake Annecy every June.",
    "/notes/piano.md": "I practise Satie's Gymnopédies on the upright piano after dinner.",
    "/notes/work.txt": "Our team ships the billing service on Tuesdays after the code freeze.",
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(locate.embedder_path(""))


@pytest.fixture(scope="module")
def small_embedder(embedder, tmp_path_factory) -> Embedder:
    """A real local model of another dimension: MiniLM followed by a 384→64 projection."""
    from sentence_transformers import SentenceTransformer, models

    base = SentenceTransformer(str(embedder.path), device="cpu")
    projection = models.Dense(384, 64)
    folder = tmp_path_factory.mktemp("minilm-64")
    SentenceTransformer(modules=[*base, projection], device="cpu").save(str(folder))
    return Embedder(folder)


def open_memory(tmp_path: Path, embedder: Embedder, **settings) -> tuple[Memory, Database]:
    data_dir = DataDir(tmp_path)
    data_dir.root.mkdir(exist_ok=True)
    db = Database(data_dir.database)
    memory = Memory(data_dir, db, MemorySettings(**settings), embedder)
    memory.open()
    return memory, db


async def fill(memory: Memory) -> None:
    for path, text in NOTES.items():
        result = await memory.ingest(path, text.encode(), ["notes"])
        assert result.status == "added"


async def top_path(memory: Memory, query: str) -> str:
    hits = await memory.search(query, k=1)
    return hits[0].path


async def test_ingest_search_and_forget(tmp_path, embedder):
    memory, db = open_memory(tmp_path, embedder)
    await fill(memory)
    assert await top_path(memory, "sailing on a lake") == "/notes/boat.md"
    assert await top_path(memory, "Gymnopédies") == "/notes/piano.md"  # a rare keyword
    doc = memory.documents.by_path("/notes/boat.md")
    await memory.forget(doc)
    assert all(h.path != "/notes/boat.md" for h in await memory.search("boat Annecy", k=5))
    assert memory.store.count() == memory.documents.counts()["chunks"]
    with pytest.raises(UnsupportedFormat):
        await memory.ingest("/x/backup.tar", b"ustar\x00", [])
    with pytest.raises(ParseError, match=r"picture\.png: the content is not a PNG image"):
        await memory.ingest("/x/picture.png", b"\x89PNG", [])
    with pytest.raises(ParseError):
        await memory.ingest("/x/empty.txt", b"   ", [])
    assert memory.documents.counts()["documents"] == 2
    memory.close()
    db.close()


async def test_ingest_hands_new_documents_to_l1(tmp_path, embedder):
    memory, db = open_memory(tmp_path, embedder)
    woken: list[str] = []
    memory.on_l1_work(lambda: woken.append("wake"))
    boat = await memory.ingest("/notes/boat.md", NOTES["/notes/boat.md"].encode())
    doc = memory.documents.get(boat.doc_id)
    [job] = memory.l1.jobs.list()
    assert (job["kind"], job["target"], job["state"]) == ("document", doc.id, "pending")
    assert memory.l1.jobs.next().version == doc.content_hash
    assert woken == ["wake"]
    again = await memory.ingest("/notes/boat.md", NOTES["/notes/boat.md"].encode())
    assert again.status == "unchanged" and woken == ["wake"]  # nothing new for L1
    assert len(memory.l1.jobs.list()) == 1
    memory.close()
    db.close()


async def test_ingest_queues_no_l1_work_when_l1_is_off(tmp_path, embedder):
    memory, db = open_memory(tmp_path, embedder, l1_enabled=False)
    woken: list[str] = []
    memory.on_l1_work(lambda: woken.append("wake"))
    await fill(memory)
    assert memory.l1.jobs.list() == [] and woken == []
    memory.close()
    db.close()


async def test_interrupted_write_is_invisible_and_collected(tmp_path, embedder):
    memory, db = open_memory(tmp_path, embedder)
    await fill(memory)
    committed = memory.store.count()
    # A crash after the vectors were written but before SQLite committed the chunks:
    from secondme.node.memory.vectors import VectorPoint

    orphan = "00000000-0000-4000-8000-000000000001"
    memory.documents.reserve_points([orphan])
    vector = embedder.embed(["the orphan chunk about sailing boats"])[0]
    memory.store.upsert(
        [
            VectorPoint(
                id=orphan,
                dense=vector,
                sparse=memory._bm25.document("sailing boats"),
                payload={
                    "doc_id": "gone",
                    "chunk_index": 0,
                    "layer": "l0",
                    "tags": [],
                    "time": 0.0,
                },
            )
        ]
    )
    assert all(h.chunk_id != orphan for h in await memory.search("sailing boats", k=10))
    memory.close()
    memory, db = open_memory(tmp_path, embedder)  # the restart collects it
    assert memory.store.count() == committed
    assert memory.documents.pending_garbage() == []
    memory.close()
    db.close()


async def test_new_embedder_dimension_rebuilds_the_store(tmp_path, embedder, small_embedder):
    memory, db = open_memory(tmp_path, embedder)
    await fill(memory)
    chunks = memory.documents.counts()["chunks"]
    memory.close()
    db.close()
    memory, db = open_memory(tmp_path, small_embedder)
    assert memory.store.dimension == 64
    assert memory.store.count() == chunks
    assert await top_path(memory, "Marlinspike") == "/notes/boat.md"
    memory.close()
    db.close()


async def test_reindex_moves_between_backends_without_loss(tmp_path, embedder):
    memory, db = open_memory(tmp_path, embedder)
    await fill(memory)
    chunks = memory.documents.counts()["chunks"]
    moved = memory.reindex(MemorySettings(vector_backend="qdrant"))
    assert moved == chunks and memory.store.name == "qdrant"
    assert await top_path(memory, "billing service release day") == "/notes/work.txt"
    hits = await memory.search("piano", k=5, tags=["other"])
    assert hits == []
    back = memory.reindex(MemorySettings(vector_backend="edge"))
    assert back == chunks and memory.store.name == "edge"
    assert await top_path(memory, "upright piano") == "/notes/piano.md"
    memory.close()
    db.close()


async def test_big_memory_gets_an_index_built_while_search_goes_on(tmp_path, embedder):
    """Past EXACT_SEARCH_BELOW points the HNSW index is built in the background."""
    import uuid

    import numpy as np

    from secondme.node.memory.vectors import EXACT_SEARCH_BELOW, VectorPoint

    memory, db = open_memory(tmp_path, embedder)
    await fill(memory)
    assert not memory.index_is_stale()  # small memories are searched exactly, no index
    rng = np.random.default_rng(5)
    sparse = memory._bm25.document("filler")
    for _ in range(0, EXACT_SEARCH_BELOW, 2000):
        vectors = rng.normal(size=(2000, embedder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        memory.store.upsert(
            [
                VectorPoint(
                    id=str(uuid.uuid4()),
                    dense=v,
                    sparse=sparse,
                    payload={
                        "doc_id": "bulk",
                        "chunk_index": 0,
                        "layer": "l0",
                        "tags": [],
                        "time": 0.0,
                    },
                )
                for v in vectors
            ]
        )
    assert memory.index_is_stale()
    memory.index_in_background()
    assert memory.stats()["index_building"]
    searched = 0
    while memory.stats()["index_building"]:
        assert await top_path(memory, "Marlinspike boat") == "/notes/boat.md"
        searched += 1
    await memory.wait_for_index()
    assert searched > 0 and not memory.index_is_stale()
    assert await top_path(memory, "upright piano") == "/notes/piano.md"
    memory.close()
    db.close()
