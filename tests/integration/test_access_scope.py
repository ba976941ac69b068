"""A grant's scope applied inside the real vector search (MiniLM + Qdrant Edge + SQLite)."""

from __future__ import annotations

import pytest

from secondme.node.access.scope import memory_filter
from secondme.node.config import DataDir, MemorySettings
from secondme.node.db import Database
from secondme.node.memory.l1.store import TopicDraft
from secondme.node.memory.service import Memory
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder
from secondme.protocol.grants import Scope

pytestmark = pytest.mark.slow

NOTES = {
    "/notes/lisbon.md": ("I ate grilled sardines in Lisbon and rode tram 28.", ["travel"]),
    "/notes/kyoto.md": ("In Kyoto I watched maple leaves at Tofuku-ji temple.", ["travel"]),
    "/notes/bank.md": ("My bank PIN is in the blue box; the safe code is 4471.", ["private"]),
    "/notes/soup.md": ("My grandmother's onion soup recipe uses a lot of thyme.", []),
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(locate.embedder_path(""))


@pytest.fixture
async def memory(tmp_path, embedder):
    data_dir = DataDir(tmp_path)
    db = Database(data_dir.database)
    memory = Memory(data_dir, db, MemorySettings(), embedder)
    memory.open()
    for path, (text, tags) in NOTES.items():
        await memory.ingest(path, text.encode(), tags)
    yield memory
    memory.close()
    db.close()


def chunk_of(memory: Memory, path: str) -> str:
    doc = next(d for d in memory.documents.list() if d.path == path)
    return memory.documents.chunks_of(doc.id)[0].id


def add_topic(memory: Memory, name: str, paths: list[str]) -> None:
    chunks = tuple(chunk_of(memory, p) for p in paths)
    memory.l1.replace_topics(
        [
            TopicDraft(
                id=f"topic-{name}",
                name=name,
                description="",
                terms=(),
                confidence=1.0,
                method="test",
                named_from=(),
                chunk_ids=chunks,
                events=(),
            )
        ]
    )


async def paths_found(memory: Memory, query: str, scope: Scope) -> set[str]:
    where = memory_filter(scope, memory.l1)
    if where is None:
        return set()
    hits = await memory.search(query, k=10, layers=("l0",), scope=where)
    return {hit.path for hit in hits}


async def test_tags_bound_the_search(memory):
    everything = await memory.search("bank PIN safe code", k=10)
    assert "/notes/bank.md" in {h.path for h in everything}
    found = await paths_found(memory, "bank PIN safe code", Scope(tags=("travel",)))
    assert found and found <= {"/notes/lisbon.md", "/notes/kyoto.md"}


async def test_topics_bound_the_search_to_their_chunks(memory):
    add_topic(memory, "cooking", ["/notes/soup.md"])
    found = await paths_found(memory, "bank PIN sardines", Scope(topics=("cooking",)))
    assert found == {"/notes/soup.md"}
    # Tags and topics together: both must hold, and nothing does.
    assert await paths_found(memory, "soup", Scope(tags=("travel",), topics=("cooking",))) == set()


async def test_scopes_that_allow_no_memory_search_nothing(memory):
    assert memory_filter(Scope(profile_only=True), memory.l1) is None
    assert memory_filter(Scope(layers=()), memory.l1) is None
    assert memory_filter(Scope(topics=("no such topic",)), memory.l1) is None


async def test_layers_bound_the_search(memory):
    where = memory_filter(Scope(layers=("l1",)), memory.l1)
    assert where is not None
    assert await memory.search("sardines", k=5, layers=("l0",), scope=where) == []
