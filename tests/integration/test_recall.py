"""Recall through the real stack (MiniLM, Qdrant Edge, SQLite): the time asked about decides
between two similar turns, and neither candidates nor neighbours leave a grant's scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from secondme.node.core.config import DataDir, MemorySettings
from secondme.node.core.db import Database
from secondme.node.memory.recall import Recall, RecallOptions
from secondme.node.memory.service import Memory
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder

pytestmark = pytest.mark.slow

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)


def chat(*turns: tuple[str, str, str, str]) -> bytes:
    """A JSON-lines chat export: (session, time, speaker, text) per turn."""
    rows = [{"session": s, "time": t, "speaker": who, "text": text} for s, t, who, text in turns]
    return "\n".join(json.dumps(r) for r in rows).encode()


SESSIONS = chat(
    ("feb", "2026-02-03T19:00:00+00:00", "Ana", "The new bakery on our street sells great rye."),
    ("feb", "2026-02-03T19:02:00+00:00", "Sam", "I should try it this weekend."),
    ("may", "2026-05-14T18:00:00+00:00", "Ana", "I went to a support group yesterday."),
    ("may", "2026-05-14T18:01:00+00:00", "Sam", "Good for you, how did it feel?"),
    ("may", "2026-05-14T18:03:00+00:00", "Ana", "Strange at first, then fine."),
    ("aug", "2025-08-20T09:58:00+00:00", "Ana", "Our street is so loud with the roadworks."),
    (
        "aug",
        "2025-08-20T10:00:00+00:00",
        "Ana",
        "I went to the support group again yesterday, Sam.",
    ),
    ("aug", "2025-08-20T10:01:00+00:00", "Sam", "The support group helps you, I think."),
)
EVIDENCE = "I went to a support group yesterday."
SIMILAR = "I went to the support group again yesterday, Sam."


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(locate.embedder_path(""))


@pytest.fixture
async def memory(tmp_path, embedder):
    data_dir = DataDir(tmp_path)
    data_dir.root.mkdir(exist_ok=True)
    db = Database(data_dir.database)
    memory = Memory(data_dir, db, MemorySettings(chunk_tokens=24, chunk_overlap=0), embedder)
    memory.open()
    yield memory
    memory.close()
    db.close()


def rank_of(texts: list[str], turn: str) -> int:
    return next(i for i, text in enumerate(texts) if turn in text)


async def test_the_month_asked_about_decides_between_similar_turns(memory):
    await memory.ingest("/chats/ana.jsonl", SESSIONS, ["chat"])
    question = "When did Ana go to the support group in May?"
    recalled = await Recall(memory).recall(question, now=NOW, k=4, budget_chars=6500)
    texts = [h.text for h in recalled.hits]
    assert recalled.plan.asks_when and recalled.plan.names == ("Ana",)
    assert rank_of(texts, EVIDENCE) == 0
    assert rank_of(texts, SIMILAR) > rank_of(texts, EVIDENCE)
    assert recalled.chars == sum(len(t) for t in texts) <= 6500
    # The search alone, blind to time, prefers the turn that repeats the question's words.
    plain = [h.text for h in await memory.search(question, k=4)]
    assert rank_of(plain, SIMILAR) < rank_of(plain, EVIDENCE)


async def test_budget_is_kept(memory):
    await memory.ingest("/chats/ana.jsonl", SESSIONS, ["chat"])
    recalled = await Recall(memory).recall("support group", now=NOW, k=10, budget_chars=120)
    assert recalled.hits and recalled.chars <= 120


SECRET = "My bank PIN is 4471, keep it between us."
SHARED = chat(
    ("s1", "2026-05-02T09:00:00+00:00", "Ana", "The hiking trail above the lake was lovely."),
    ("s1", "2026-05-02T09:01:00+00:00", "Sam", "We hiked up to the lake and swam after."),
    ("s1", "2026-05-02T09:02:00+00:00", "Ana", SECRET),
    ("s1", "2026-05-02T09:03:00+00:00", "Sam", "Noted, I will never tell anyone."),
)


async def test_neighbours_never_leave_the_scope(memory):
    """A grant scoped to one chunk (a topic) must not reach the chunk next to it through
    neighbour expansion, nor a document whose tag the grant lacks."""
    await memory.ingest("/chats/hike.jsonl", SHARED, ["hiking"])
    await memory.ingest("/chats/ana.jsonl", SESSIONS, ["private"])
    doc = memory.documents.by_path("/chats/hike.jsonl")
    chunks = memory.documents.chunks_of(doc.id)
    assert len(chunks) >= 2, "the chat must span several chunks for this test"
    granted = next(c for c in chunks if SECRET not in c.text)
    hidden = [c for c in chunks if c.id != granted.id]
    assert any(SECRET in c.text for c in hidden)
    recall = Recall(memory, RecallOptions(neighbours=True))
    for scope in (
        ScopeFilter(tags_any=("hiking",), point_ids=(granted.id,)),
        ScopeFilter(tags_any=("hiking",), layers=("l0",), point_ids=(granted.id,)),
    ):
        for question in ("hiking at the lake", "bank PIN", "support group"):
            recalled = await recall.recall(question, scope=scope, now=NOW, k=10)
            assert [h.chunk_id for h in recalled.hits] == [granted.id]
    # Without a scope the same recall does add the neighbour: the expansion is real.
    everything = await recall.recall("hiking at the lake", now=NOW, k=1)
    assert {h.chunk_id for h in everything.hits} & {c.id for c in hidden}
    # A tag grant sees no chunk of the document tagged otherwise, neighbours included.
    tagged = await recall.recall("support group", scope=ScopeFilter(tags_any=("hiking",)), now=NOW)
    assert all("private" not in h.tags for h in tagged.hits)
    assert all(h.path == "/chats/hike.jsonl" for h in tagged.hits)
