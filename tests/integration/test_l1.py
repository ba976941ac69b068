"""L1 through the real stack: MiniLM, Qdrant Edge, SQLite and the shipped SmolLM2 model.

One node is built from the planted corpus (``tests/l1_corpus.py``) and L1 runs on it to the end;
read-only tests look at what it made, and tests that change memory work on a copy of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import pytest

from secondme.node.core.config import DataDir, MemorySettings
from secondme.node.core.db import Database
from secondme.node.memory.documents import DocumentStore
from secondme.node.memory.l1.service import L1Service
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.l1.text import content_words
from secondme.node.memory.l1.text import words as words_of
from secondme.node.memory.scope import memory_filter
from secondme.node.memory.service import Memory
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder
from secondme.node.models.llm import ChatModel
from secondme.node.people.owner import OwnerStore
from secondme.protocol.grants import Scope
from tests.l1_corpus import OWNER, make_documents

pytestmark = pytest.mark.slow

SETTINGS = MemorySettings(l1_summaries_per_topic=1, l1_model_entities=16)
DOCS = make_documents()
TRAITS = {
    "hiking": ("hik", "trail", "summit"),
    "cooking": ("cook", "kitchen", "recipe", "bacalhau", "caldo"),
    "nursing": ("nurse", "nursing", "ward", "shift", "patient"),
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(locate.embedder_path(""))


@contextlib.asynccontextmanager
async def node(root: Path, embedder: Embedder, *, model: bool = True, start: bool = True):
    data_dir = DataDir(root)
    db = Database(data_dir.database)
    memory = Memory(data_dir, db, SETTINGS, embedder)
    memory.open()
    chat_model = ChatModel(locate.chat_model_path(""), context_tokens=2048) if model else None
    if chat_model is not None:
        await chat_model.start()
    owner = OwnerStore(db)
    owner.update({"name": OWNER})
    l1 = L1Service(memory, chat_model, owner, SETTINGS)
    if start:
        l1.start()
    try:
        yield memory, l1
    finally:
        await l1.close()
        if chat_model is not None:
            await chat_model.close()
        memory.close()
        db.close()


async def ingest(memory: Memory, docs) -> list[str]:
    ids = []
    for doc in docs:
        result = await memory.ingest(f"/notes/{doc.name}", doc.text.encode())
        ids.append(result.doc_id)
    return ids


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    root = tmp_path_factory.mktemp("l1-node")

    async def build() -> None:
        async with node(root, embedder) as (memory, l1):
            await ingest(memory, DOCS)
            assert await l1.wait_idle(timeout=900)

    asyncio.run(build())
    return root


@pytest.fixture
def copy(built, tmp_path) -> Path:
    target = tmp_path / "node"
    shutil.copytree(built, target)
    return target


@pytest.fixture
def stores(built):
    db = Database(DataDir(built).database)
    yield L1Store(db), DocumentStore(db)
    db.close()


def docs_by_topic(documents: DocumentStore) -> dict[str, set[str]]:
    by_name = {d.name: d.topic for d in DOCS}
    grouped: dict[str, set[str]] = {}
    for doc in documents.list():
        grouped.setdefault(by_name[doc.name], set()).add(doc.id)
    return grouped


def test_every_planted_theme_is_one_topic(stores):
    l1, documents = stores
    topics = l1.topics.list()
    for theme, doc_ids in docs_by_topic(documents).items():
        holders = [t for t in topics if {d["doc_id"] for d in t["documents"]} & doc_ids]
        assert len(holders) == 1, f"{theme} is spread over {[t['name'] for t in holders]}"
        assert {d["doc_id"] for d in holders[0]["documents"]} == doc_ids, theme


def test_topics_are_described_and_dated(stores):
    l1, documents = stores
    topics = l1.topics.list()
    assert len({t["name"].lower() for t in topics}) == len(topics)
    for topic in topics:
        assert topic["name"] and topic["description"] and topic["terms"]
        assert 0 < topic["confidence"] <= 1
        dates = [e["date"] for e in topic["timeline"]]
        assert dates == sorted(dates)
    hiking = docs_by_topic(documents)["hiking"]
    [hike_topic] = [t for t in topics if {d["doc_id"] for d in t["documents"]} <= hiking]
    assert "2024-06-14" in [e["date"] for e in hike_topic["timeline"]]  # planted in hiking-01


def test_profile_mentions_the_planted_traits(stores):
    l1, _ = stores
    profile = l1.profiles.get()
    assert profile is not None
    first = profile["first_person"].lower()
    for trait, words in TRAITS.items():
        assert any(w in first for w in words), f"profile says nothing of {trait}: {first}"
    assert OWNER in profile["third_person"]
    assert profile["recently"]


def test_entity_graph_links_the_planted_people_and_places(stores):
    l1, _ = stores
    graph = {e["name"]: e for e in l1.entities.list()}
    ana = graph["Ana"]
    assert ana["kind"] == "person"
    assert {"label": "lives in", "other": "Porto"}.items() <= next(
        r for r in ana["relations"] if r["other"] == "Porto"
    ).items()
    assert any(r["other"] == "Hospital de Santa Maria" for r in graph["Dr. Rui Costa"]["relations"])
    assert graph["Hospital de Santa Maria"]["kind"] == "organization"
    assert graph["Serra da Estrela"]["kind"] == "place"
    owner = next(e for e in l1.entities.list() if e["owner"])
    assert any(r["other"] == "Tomás" for r in owner["relations"])
    neighbourhood = {e["name"] for e in l1.entities.list(name="Ana")}
    assert {"Ana", "Porto"} <= neighbourhood


def test_every_record_cites_chunks_that_exist(stores):
    l1, documents = stores
    existing = set(documents.chunk_ids())
    for topic in l1.topics.list():
        assert set(topic["chunks"]) <= existing
        assert {e["chunk_id"] for e in topic["timeline"]} <= existing
    for entity in l1.entities.list():
        assert set(entity["chunks"]) <= existing
        for relation in entity["relations"]:
            assert set(relation["chunks"]) <= existing
    assert set(l1.profiles.get()["sources"]) <= existing
    for doc in documents.list():
        insight = l1.insights.get(doc.id)
        assert insight is not None and insight["title"]
        assert set(insight["sources"]) <= existing
        text = next(d.text for d in DOCS if d.name == doc.name)
        for point in insight["key_points"]:
            assert point["text"].rstrip("…") in " ".join(text.split())


def test_model_failures_are_recorded_with_a_reason(stores):
    l1, _ = stores
    jobs = l1.jobs.list()
    assert not [j for j in jobs if j["state"] in ("pending", "running")]
    assert {j["kind"] for j in jobs if j["state"] == "done"} >= {"document", "topics"}
    for job in jobs:
        if job["state"] == "failed":
            assert job["error"], job


def ranked(hits) -> list[tuple[float, str]]:
    return sorted((-round(h.score, 6), getattr(h, "chunk_id", None) or h.point_id) for h in hits)


async def test_search_reaches_l1_records(built, embedder):
    async with node(built, embedder, model=False, start=False) as (memory, _):
        l1_hits = await memory.search("Where does my sister Ana live?", k=5, layers=("l1",))
        both = await memory.search("Where does my sister Ana live?", k=10, layers=("l0", "l1"))
        only_l0 = await memory.search("Where does my sister Ana live?", k=10)
        each = await memory.search_each("Where does my sister Ana live?", {"l1": 5, "l0": 10})
    # One embedding, the same results (the engine orders equal RRF scores arbitrarily).
    assert {layer: ranked(hits) for layer, hits in each.items()} == {
        "l1": ranked(l1_hits),
        "l0": ranked(only_l0),
    }
    assert l1_hits and all(h.layer == "l1" for h in l1_hits)
    assert any("Porto" in h.text for h in l1_hits)
    assert {h.layer for h in both} == {"l0", "l1"}
    assert all(h.layer == "l0" for h in only_l0)


async def test_a_new_document_touches_only_itself(copy, embedder):
    db = Database(DataDir(copy).database)
    before = L1Store(db)
    insights = {d["doc_id"]: d["updated_at"] for d in _insights(before)}
    topics = {t["id"]: t["name"] for t in before.topics.list()}
    db.close()
    extra = make_documents(per_topic=4, seed=7)[3]  # a fourth hiking note, new text
    assert extra.topic == "hiking"
    async with node(copy, embedder) as (memory, l1):
        [new_id] = await ingest(memory, [extra])
        assert await l1.wait_idle(timeout=600)
        after = l1.store
        document_jobs = [j for j in after.jobs.list() if j["kind"] == "document"]
        new_insight = after.insights.get(new_id)
        insights_after = {d["doc_id"]: d["updated_at"] for d in _insights(after)}
        topics_after = {t["id"]: t for t in after.topics.list()}
    assert new_insight is not None
    assert {k: v for k, v in insights_after.items() if k != new_id} == insights
    assert sum(j["finished_at"] > max(insights.values()) for j in document_jobs) == 1
    assert set(topics) == set(topics_after)  # the same topics, carried over by membership
    assert {tid: t["name"] for tid, t in topics_after.items()} == topics
    [home] = [t for t in topics_after.values() if new_id in {d["doc_id"] for d in t["documents"]}]
    assert "hik" in " ".join(home["terms"]) + home["name"].lower()


def _insights(store: L1Store) -> list[dict]:
    rows = store._db.query("SELECT doc_id FROM insights")
    return [store.insights.get(r["doc_id"]) for r in rows]


async def test_forget_removes_what_was_derived(copy, embedder):
    async with node(copy, embedder, start=False) as (memory, l1):
        family = next(d for d in memory.documents.list() if d.name == "family-01.md")
        chunk_ids = {c.id for c in memory.documents.chunks_of(family.id)}
        only_here = {
            e["id"]
            for e in l1.store.entities.list()
            if e["chunks"] and set(e["chunks"]) <= chunk_ids
        }
        assert only_here, "family-01 should mention someone no other note does"
        await memory.forget(family)
        l1.documents_forgotten()
        assert l1.store.insights.get(family.id) is None
        assert not only_here & {e["id"] for e in l1.store.entities.list()}
        for topic in l1.store.topics.list():
            assert not set(topic["chunks"]) & chunk_ids
        for version in l1.store.profiles.versions():
            assert not set(l1.store.profiles.get(version)["sources"]) & chunk_ids
        hits = await memory.search("family Ana Porto sister", k=50, layers=("l1",))
        assert family.id not in {h.ref_id for h in hits if h.kind == "insight"}
        leftover = (
            set(memory.store.all_ids())
            - set(memory.documents.chunk_ids())
            - {p.point_id for p in l1.store.points.all()}
        )
        assert not leftover  # every vector point belongs to a live chunk or L1 record


async def test_work_resumes_after_a_stop(tmp_path, embedder):
    docs = DOCS[:6]
    async with node(tmp_path, embedder, start=False) as (memory, l1):
        await ingest(memory, docs)
        l1.start()
        job = l1.store.jobs.next()
        assert job is not None and job.kind == "document"
        # Stop while work is queued, as a killed daemon would.
    async with node(tmp_path, embedder) as (memory, l1):
        assert await l1.wait_idle(timeout=600)
        assert all(l1.store.insights.get(d.id) for d in memory.documents.list())
        assert l1.store.topics.list()


CLINIC = (
    "# Clinic visit\nYesterday Dr. Rui Costa at the clinic raised my insulin dose after the "
    "glucose test, and the endocrinology ward booked a pancreas scan."
)
WORK = (
    "# Budget review\nToday Rui Costa reviewed the quarterly budget with me and asked for the "
    "supplier invoices by Friday.",
    "# Project kickoff\nThis week Rui Costa opened the warehouse project and gave the "
    "logistics dashboard to my team.",
)
L1_TEXT = {
    "entities": ("name", "context"),
    "entity_mentions": ("name", "context"),
    "relations": ("label",),
    "topics": ("name", "description", "terms"),
    "topic_events": ("text",),
    "insights": ("title", "overview", "key_points", "summary"),
    "profiles": ("first_person", "third_person", "recently", "topics"),
    "l1_points": ("text",),
}
"""Every column of an L1 record that holds text made from a document."""


async def test_a_forgotten_note_leaves_no_word_in_another_tags_records(tmp_path, embedder):
    """The attack: a health note names a person first (so the person's record quotes it), two
    work notes name the same person; once the health note is forgotten, a `work` grant must
    find none of its words, neither at once nor after L1 has made its records again."""
    private = set(content_words(CLINIC)) - set(content_words(" ".join(WORK)))
    private |= {"dr"}  # the title only the clinic note gives him
    work = Scope(tags=("work",))
    queries = ("Rui Costa", "Who is Dr. Rui Costa?", "insulin glucose pancreas clinic", CLINIC)

    async def found_under_work(memory: Memory) -> set[str]:
        where = memory_filter(work, memory.l1)
        texts = []
        for query in queries:
            hits = await memory.search(query, k=32, layers=("l0", "l1"), scope=where)
            each = await memory.search_each(query, {"l1": 8, "l0": 8}, scope=where)
            texts += [h.text for h in [*hits, *each["l1"], *each["l0"]]]
        assert texts, "the work notes are shared"
        return private & set(words_of(" ".join(texts)))

    async with node(tmp_path, embedder, model=False) as (memory, l1):
        clinic = await memory.ingest("/notes/clinic.md", CLINIC.encode(), ["health"])
        assert await l1.wait_idle(timeout=600)
        for i, text in enumerate(WORK):
            await memory.ingest(f"/notes/work-{i}.md", text.encode(), ["work"])
        assert await l1.wait_idle(timeout=600)
        [rui] = [e for e in l1.store.entities.list() if "Rui Costa" in e["name"]]
        assert "insulin" in rui["context"] and len(rui["chunks"]) == 3  # the clinic's, first

        await memory.forget(memory.documents.get(clinic.doc_id))
        l1.documents_forgotten()
        assert not await found_under_work(memory)  # at once
        assert await l1.wait_idle(timeout=600)
        assert not await found_under_work(memory)  # and in the records made again
        [rui] = [e for e in l1.store.entities.list() if "Rui Costa" in e["name"]]
        assert l1.store.points.get("entity", rui["id"]).tags == ("work",)

        for table, columns in L1_TEXT.items():
            for row in l1.store._db.query(f"SELECT {', '.join(columns)} FROM {table}"):
                text = " ".join(str(row[c]) for c in columns)
                assert not private & set(words_of(text)), (table, text)
        leftover = (
            set(memory.store.all_ids())
            - set(memory.documents.chunk_ids())
            - {p.point_id for p in l1.store.points.all()}
        )
        assert not leftover  # no vector of a record that quoted the note is left behind
