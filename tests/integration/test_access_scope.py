"""A grant's scope applied inside the real vector search (MiniLM + Qdrant Edge + SQLite):
tags, layers, topics bound by id, and the profile a peer gets for its scope."""

from __future__ import annotations

import pytest

from secondme.node.core.config import DataDir, MemorySettings
from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest
from secondme.node.memory.l1.profile import peer_profile
from secondme.node.memory.l1.text import content_words
from secondme.node.memory.l1.topic_store import TopicDraft
from secondme.node.memory.scope import bind_topics, memory_filter, topic_names
from secondme.node.memory.service import Memory
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder
from secondme.node.people.owner import OwnerStore
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
def db(tmp_path):
    database = Database(DataDir(tmp_path).database)
    yield database
    database.close()


@pytest.fixture
async def memory(tmp_path, db, embedder):
    memory = Memory(DataDir(tmp_path), db, MemorySettings(), embedder)
    memory.open()
    for path, (text, tags) in NOTES.items():
        await memory.ingest(path, text.encode(), tags)
    yield memory
    memory.close()


def chunk_of(memory: Memory, path: str) -> str:
    doc = next(d for d in memory.documents.list() if d.path == path)
    return memory.documents.chunks_of(doc.id)[0].id


def add_topic(memory: Memory, name: str, paths: list[str]) -> None:
    set_topics(memory, {f"topic-{name}": (name, paths)})


def set_topics(memory: Memory, topics: dict[str, tuple[str, list[str]]]) -> None:
    """Make these the topics (id → name, notes), as re-clustering would, each indexed with
    the tags all its notes share."""
    drafts, records = [], []
    for topic_id, (name, paths) in topics.items():
        terms = tuple(dict.fromkeys(w for p in paths for w in content_words(NOTES[p][0])))
        drafts.append(
            TopicDraft(
                id=topic_id,
                name=name,
                description="",
                terms=terms,
                confidence=1.0,
                method="test",
                named_from=(),
                chunk_ids=tuple(chunk_of(memory, p) for p in paths),
                events=(),
            )
        )
        tags = set.intersection(*(set(NOTES[p][1]) for p in paths))
        records.append(("topic", topic_id, f"{name}\nKey words: {', '.join(terms)}", tags))
    memory.collect_garbage(memory.l1.topics.replace(drafts))
    memory.index_l1(records)


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


async def test_a_topic_grant_follows_its_topic_not_its_name(memory):
    """The attack: a grant on "travel"; re-clustering renames that topic and a new topic, made
    of the bank note, takes the name "travel". The grant must still reach exactly the first."""
    trips = {"/notes/lisbon.md", "/notes/kyoto.md"}
    set_topics(memory, {"t-trips": ("Travel", sorted(trips))})
    granted = bind_topics(Scope(topics=("travel",)), memory.l1)
    assert granted.topics == ("travel#t-trips",)
    assert topic_names(granted, None) == ["travel"]  # what the grantee reads
    everything = "bank PIN safe code sardines Kyoto temple"
    assert await paths_found(memory, everything, granted) == trips

    set_topics(
        memory, {"t-trips": ("Journeys", sorted(trips)), "t-new": ("Travel", ["/notes/bank.md"])}
    )
    assert await paths_found(memory, everything, granted) == trips
    assert topic_names(granted, memory.l1) == ["Journeys"]  # the owner's list: its name now

    set_topics(memory, {"t-new": ("Travel", ["/notes/bank.md"])})  # the topic itself is gone
    assert memory_filter(granted, memory.l1) is None
    assert topic_names(granted, memory.l1) == ["travel (gone)"]


async def test_binding_refuses_a_topic_memory_does_not_have(memory):
    add_topic(memory, "cooking", ["/notes/soup.md"])
    with pytest.raises(InvalidRequest, match="no topic named 'baking'"):
        bind_topics(Scope(topics=("cooking", "baking")), memory.l1)
    by_id = bind_topics(Scope(topics=("topic-cooking",)), memory.l1)
    assert bind_topics(by_id, memory.l1) == by_id == Scope(topics=("cooking#topic-cooking",))


async def test_a_peers_profile_holds_public_fields_and_its_scope_only(memory, db):
    """The attack: a `--profile --tags travel` grantee reads the profile; the owner's private
    description and the topic of the `private` tag must not be in it."""
    set_topics(
        memory,
        {
            "t-trips": ("Trips", ["/notes/lisbon.md", "/notes/kyoto.md"]),
            "t-safe": ("Safe", ["/notes/bank.md"]),
        },
    )
    owner = OwnerStore(db)
    owner.update({"name": "Maria", "description": "Quietly saving for a boat."}, {"name": True})

    def profile(scope: Scope) -> tuple[str, tuple[str, ...]]:
        made = peer_profile(
            memory.l1, memory.documents, owner.get(), memory_filter(scope, memory.l1)
        )
        return made.text, made.refs

    text, refs = profile(Scope(tags=("travel",), profile=True))
    assert "Trips" in text and "sardines" in text  # the topic and the owner's own sentence
    for private in ("boat", "Safe", "PIN", "4471"):
        assert private not in text
    lisbon, bank = chunk_of(memory, "/notes/lisbon.md"), chunk_of(memory, "/notes/bank.md")
    assert "l1:topic:t-trips" in refs and f"l0:chunk:{lisbon}" in refs
    assert not {"l1:topic:t-safe", f"l0:chunk:{bank}"} & set(refs)

    assert profile(Scope(profile_only=True)) == ("", ())  # no memory: no topics either
    assert profile(Scope(tags=("travel",), layers=("l1",), profile=True))[0] == (
        "I write most about: Trips."  # an L1-only scope names the topic, quotes no note
    )
    owner.update({}, {"description": True})
    assert profile(Scope(profile_only=True))[0] == "Quietly saving for a boat."
