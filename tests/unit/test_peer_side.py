"""A peer's requests through the whole corridor, in one process: Bob's :class:`P2PService` asks
Alice's over an in-memory pipe (``tests/pipe.py``), her real :class:`AccessGate` authorises on
SQLite and writes the audit log, and her real handlers answer (``ask`` from the chat room, the
rest from the access room's peer side). Only the chat service and the memory search are
scripted; the real stack runs in ``tests/e2e/test_access.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from secondme.node.access.bundles import open_context
from secondme.node.access.gate import AccessGate
from secondme.node.access.peer_side import serve_peers
from secondme.node.access.store import AccessStore
from secondme.node.chat.service import Grounding, Sources
from secondme.node.core.config import AccessSettings
from secondme.node.core.db import Database
from secondme.node.core.errors import PeerRefused
from secondme.node.memory.documents import DocumentStore
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.retrieval import L1Hit, SearchHit
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.models.llm import BASE, Finished, ModelChoice, Piece
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerRecord, PeerStore
from secondme.protocol.access import (
    Answer,
    AnswerPart,
    Ask,
    ContextBundle,
    ContextRequest,
    GrantAccepted,
    GrantOffer,
    Profile,
    ProfileRead,
)
from secondme.protocol.clock import SystemClock
from secondme.protocol.grants import GrantTerms, Scope, issue_grant, read_grant, short_id
from secondme.protocol.identity import Identity
from tests.pipe import Pipe

pytestmark = pytest.mark.timeout(30)

ALICE = Identity.from_seed(bytes([1]) * 32)
"""The node that answers."""
BOB = Identity.from_seed(bytes([2]) * 32)
"""The node that asks."""
HOUR_MS = 3_600_000
CHUNK = SearchHit(
    chunk_id="c1",
    text="Tram 28 climbs to the castle.",
    score=0.8,
    doc_id="d1",
    path="/notes/lisbon.md",
    name="lisbon.md",
    title="Lisbon",
    kind="markdown",
    chunk_index=0,
    start=0,
    end=29,
    tags=("travel",),
)
TOPIC = L1Hit(point_id="p1", kind="topic", ref_id="t1", text="Travel\nTrams and hills", score=0.7)
REFS = ["l0:chunk:c1", "l1:topic:t1"]


class ScriptedChat:
    """Answers every peer with two pieces grounded in :data:`CHUNK` and :data:`TOPIC`; with
    ``hang`` it waits after the first piece until cancelled."""

    def __init__(self) -> None:
        self.hang = False
        self.calls: list[dict] = []

    async def answer_peer(self, question: str, **kwargs) -> AsyncIterator[object]:
        self.calls.append({"question": question, **kwargs})
        yield Sources("", (CHUNK, TOPIC))
        yield Piece("I took ")
        if self.hang:
            await asyncio.Event().wait()
        yield Piece("tram 28.")
        yield Grounding(used=(1,), abstained=False, dropped=())
        yield Finished("stop", 0, 2)


class ScriptedMemory:
    """Real L1 and document stores (empty), and a search that finds :data:`CHUNK` and
    :data:`TOPIC` and remembers the filter it ran under."""

    def __init__(self, db: Database) -> None:
        self.l1 = L1Store(db)
        self.documents = DocumentStore(db)
        self.searches: list[dict] = []

    async def search(self, query: str, *, k: int, layers, scope) -> list:
        self.searches.append({"query": query, "k": k, "layers": layers, "scope": scope})
        return [CHUNK, TOPIC][:k]


class Node:
    """One node: its database, access gate and SMP service, on the pipe."""

    def __init__(self, identity: Identity, path: Path, pipe: Pipe) -> None:
        self.identity = identity
        self.db = Database(path)
        self.store = AccessStore(self.db)
        self.gate = AccessGate(identity, self.store, SystemClock())
        self.peers = PeerStore(self.db)
        self.owner = OwnerStore(self.db)
        self.p2p = P2PService(
            identity,
            [],
            peers=self.peers,
            owner=self.owner,
            gate=self.gate,
            grant_holders=self.store.grant_holders,
            host=pipe,
        )


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Node, Node, ScriptedChat, ScriptedMemory]]:
    pipe = Pipe()
    alice, bob = Node(ALICE, tmp_path / "alice.db", pipe), Node(BOB, tmp_path / "bob.db", pipe)
    alice.owner.update(
        {"name": "Alice", "description": "I walk everywhere.", "style": "private"},
        public={"name": True, "description": True},
    )
    chat, memory = ScriptedChat(), ScriptedMemory(alice.db)
    serve_peers(
        alice.p2p,
        identity=ALICE,
        store=alice.store,
        gate=alice.gate,
        memory=memory,  # type: ignore[arg-type]
        chat=chat,  # type: ignore[arg-type]
        owner=alice.owner,
        settings=AccessSettings(),
        model_for=lambda scope: ModelChoice("adapter-1") if scope.tags else BASE,
    )
    yield alice, bob, chat, memory
    alice.db.close()
    bob.db.close()


@pytest.fixture
async def started(nodes):
    alice, bob, *_ = nodes
    await alice.p2p.start()
    await bob.p2p.start()
    yield nodes
    await bob.p2p.close()
    await alice.p2p.close()


def grant(ability: str, scope: Scope | None = None) -> bytes:
    now = time.time_ns() // 1_000_000
    terms = GrantTerms(
        audience=BOB.peer_id, abilities=(ability,), scope=scope or Scope(), expires_ms=now + HOUR_MS
    )
    return issue_grant(ALICE, terms, issued_ms=now)


def alice_for(bob: Node) -> PeerRecord:
    return bob.peers.add(str(ALICE.peer_id), [], "alice")


def newest_audit(alice: Node) -> dict:
    return alice.store.audit_log()[0]


async def test_an_ask_streams_its_answer_and_the_audit_names_what_it_shared(started):
    alice, bob, chat, _ = started
    token = grant("chat/ask", Scope(tags=("travel",)))
    stream = bob.p2p.request_stream(
        alice_for(bob), Ask(question="How do you get around?"), grant=token
    )
    messages = [message async for message in stream]
    assert [m.text for m in messages if isinstance(m, AnswerPart)] == ["I took ", "tram 28."]
    final = messages[-1]
    assert isinstance(final, Answer)
    assert (final.text, final.sources) == ("I took tram 28.", 2)
    assert final.grant_id == read_grant(token, ALICE.peer_id).grant_id
    (call,) = chat.calls
    assert call["scope"] == ScopeFilter(tags_any=("travel",), layers=("l0", "l1"))
    assert (call["asker"], call["profile"], call["model"]) == (
        str(BOB.peer_id),
        False,
        ModelChoice("adapter-1"),
    )
    entry = newest_audit(alice)
    expected = {
        "decision": "allowed",
        "request": "ask",
        "ability": "chat/ask",
        "peer_id": str(BOB.peer_id),
        "grant_id": short_id(final.grant_id),
        "shared": REFS,
        "model": "adapter-1",
        "message": "",
    }
    assert {key: entry[key] for key in expected} == expected


async def test_an_asker_that_leaves_mid_answer_is_audited_with_what_was_shared(started):
    alice, bob, chat, _ = started
    chat.hang = True
    stream = bob.p2p.request_stream(alice_for(bob), Ask(question="Trams?"), grant=grant("chat/ask"))
    async with contextlib.aclosing(stream):
        async for message in stream:
            assert isinstance(message, AnswerPart)
            break
    for _ in range(100):
        if alice.store.audit_log():
            break
        await asyncio.sleep(0.01)
    entry = newest_audit(alice)
    assert (entry["decision"], entry["request"], entry["shared"]) == ("allowed", "ask", REFS)
    assert entry["message"] == "the asker left before the answer ended"


async def test_an_ask_without_a_grant_is_refused_and_audited_and_never_answered(started):
    alice, bob, chat, _ = started
    with pytest.raises(PeerRefused, match="no_grant"):
        async for _ in bob.p2p.request_stream(alice_for(bob), Ask(question="Trams?")):
            pass
    assert chat.calls == []
    entry = newest_audit(alice)
    assert (entry["decision"], entry["code"], entry["shared"]) == ("refused", "no_grant", [])


async def test_context_is_sealed_to_the_asker_within_the_grants_scope(started):
    alice, bob, _, memory = started
    token = grant("memory/read", Scope(tags=("travel",), layers=("l0",)))
    response = await bob.p2p.request(
        alice_for(bob), ContextRequest(query="trams", k=1), grant=token
    )
    assert isinstance(response, ContextBundle) and response.items == 1
    items, _ = open_context(BOB, response.bundle, sender=ALICE.peer_id)
    assert items == [{"ref": "l0:chunk:c1", "layer": "l0", "title": "Lisbon", "text": CHUNK.text}]
    (search,) = memory.searches
    assert search["scope"] == ScopeFilter(tags_any=("travel",), layers=("l0",))
    assert (search["k"], search["layers"]) == (1, ("l0",))
    entry = newest_audit(alice)
    assert (entry["decision"], entry["request"], entry["shared"]) == (
        "allowed",
        "context",
        ["l0:chunk:c1"],
    )


async def test_a_profile_read_shows_public_fields_and_a_biography_for_the_scope(started):
    alice, bob, *_ = started
    token = grant("profile/read", Scope(profile=True))
    response = await bob.p2p.request(alice_for(bob), ProfileRead(), grant=token)
    assert isinstance(response, Profile)
    assert response.display_name == "Alice"
    assert dict(response.fields) == {"name": "Alice", "description": "I walk everywhere."}
    assert response.biography == "I walk everywhere."
    entry = newest_audit(alice)
    assert entry["shared"] == ["profile:public:description", "profile:public:name"]


async def test_a_grant_offered_by_its_issuer_is_kept(started):
    alice, bob, *_ = started
    now = time.time_ns() // 1_000_000
    terms = GrantTerms(audience=ALICE.peer_id, abilities=("chat/ask",), expires_ms=now + HOUR_MS)
    token = issue_grant(BOB, terms, issued_ms=now)
    offer = GrantOffer(token=token, issuer=str(BOB.peer_id), scope=None)
    response = await bob.p2p.request(alice_for(bob), offer)
    assert isinstance(response, GrantAccepted)
    (held,) = alice.store.received()
    assert (held.issuer, held.abilities) == (str(BOB.peer_id), ("chat/ask",))
    assert newest_audit(alice)["message"] == f"grant {short_id(response.grant_id)} received"
