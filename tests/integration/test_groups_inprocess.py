"""Group discussions between three nodes in one process: a moderator (``mod``) and two members
(``alice``, ``bob``), each with its real libp2p host on loopback, its real SQLite database,
access gate, stores and :class:`GroupService`. Only the heavy parts are fakes: a scripted chat
model and a memory whose search gives one hit of a fixed score per node and whose embedder
maps a text to a fixed unit vector. (The real models run in ``tests/e2e/test_groups.py``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from secondme.node.access.gate import AccessGate
from secondme.node.access.store import AccessStore
from secondme.node.core.config import GroupSettings
from secondme.node.core.db import Database
from secondme.node.core.errors import PeerRefused
from secondme.node.groups.floor import RAISED
from secondme.node.groups.service import GroupService
from secondme.node.groups.store import Group, GroupStore, StoredMessage
from secondme.node.memory.l1.store import L1Store
from secondme.node.models.llm import BASE, ModelChoice
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerStore
from secondme.protocol.clock import SystemClock
from secondme.protocol.grants import GrantTerms, Scope, issue_grant
from secondme.protocol.group_life import GroupState, MemberState
from secondme.protocol.group_messages import GroupPost
from secondme.protocol.groups import Body, BodyKind, GroupMessageError, read_message
from secondme.protocol.identity import Identity

pytestmark = pytest.mark.timeout(60)

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
GROUP = "weekend"
QUESTION = "Where should we hike on Saturday?"
GROUP_SCOPE = Scope(tags=("group",))
WAIT_S = 20.0
"""How long a test waits for something the nodes do at once (generous: a loaded machine)."""
HOUR_MS = 3_600_000
SEEDS = {"mod": 11, "alice": 12, "bob": 13}
SCORES = {"mod": 0.3, "alice": 0.9, "bob": 0.6}
"""What each node's memory search scores; the relevance it reports, when it shares it, is this
x 1000 (per mille) rounded down to a multiple of 250."""
DIMENSIONS = 128


# -- fakes -----------------------------------------------------------------------------------


class FakeModel:
    """A chat model that answers with the node's scripted text: ``<name> suggests plan N.``
    (N counts its calls, or is always 1 with ``repeat``), after ``delay`` seconds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.delay = 0.0
        self.repeat = False
        self.calls = 0
        self.answers = 0
        self.ended = asyncio.Event()
        """Set when a call ends, answered or cancelled."""
        self.before_answer: Callable[[], Awaitable[None]] | None = None
        """Awaited once, in the next call, before it answers."""

    async def complete(
        self,
        messages: Sequence[dict],
        *,
        max_tokens: int,
        temperature: float,
        requester: str,
        model: ModelChoice,
    ) -> tuple[str, None]:
        assert messages and requester.startswith("group:") and model is BASE
        self.calls += 1
        number = 1 if self.repeat else self.calls
        hook, self.before_answer = self.before_answer, None
        try:
            if hook is not None:
                await hook()
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.ended.set()
        self.answers += 1
        return f"{self.name} suggests plan {number}.", None


class OneHot:
    """Each distinct text its own unit vector (orthogonal to the others); the same text, the
    same vector."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, text: str) -> np.ndarray:
        index = self.index.setdefault(text, len(self.index))
        assert index < DIMENSIONS, "more distinct texts than dimensions"
        vector = np.zeros(DIMENSIONS, dtype=np.float32)
        vector[index] = 1.0
        return vector


def all_alike(text: str) -> np.ndarray:
    """Every text the same unit vector: everyone always agrees."""
    return np.full(DIMENSIONS, 1 / np.sqrt(DIMENSIONS), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Hit:
    text: str
    score: float


class FakeMemory:
    """One hit of a fixed score for every search; the embedder the test chose; a real (empty)
    L1 store for the scope filter."""

    def __init__(self, db: Database, name: str, embed: Callable[[str], np.ndarray]) -> None:
        self.name = name
        self.l1 = L1Store(db)
        self._embed = embed
        self.scopes: list[object] = []

    async def search(self, query: str, *, k: int, layers: Sequence[str], scope: object):
        self.scopes.append(scope)
        # What the fake model says ("<name> suggests plan N.") is in the memory it is given:
        # a member's turn is only what its memory supports.
        plans = " ".join(f"plan {n}" for n in range(1, 10))
        text = f"{self.name} remembers a trail for {query[:40]} and suggests {plans}"
        return [Hit(text, SCORES[self.name])]

    async def search_each(self, query: str, limits: dict[str, int], *, scope: object):
        return {"l0": await self.search(query, k=limits["l0"], layers=("l0",), scope=scope)}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._embed(text) for text in texts])


class FakeAccess:
    """What GroupService uses of AccessService: a usable grant of an issuer's, and the model
    that may speak within a scope (here always the base: no adapter is trained)."""

    def __init__(self) -> None:
        self.tokens: dict[tuple[str, str], bytes] = {}

    def usable_grant(self, issuer: str, ability: str):
        token = self.tokens.get((issuer, ability))
        return None if token is None else SimpleNamespace(token=token)

    def model_for(self, scope: Scope) -> ModelChoice:
        return BASE


class WrongReason(GroupService):
    """A member that signs its turns but answers each with a reason of its own."""

    def __init__(self, **parts) -> None:
        super().__init__(**parts)
        speak = self.speaker.speak

        async def wrong_reason(group: Group, reason: str) -> tuple[Body, str | None]:
            body, model = await speak(group, reason)
            return Body(kind=BodyKind.TURN, text=body.text, reason="because I felt like it"), model

        self.speaker.speak = wrong_reason  # type: ignore[method-assign]


# -- nodes -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    name: str
    db: Database
    settings: GroupSettings
    service_class: type[GroupService]
    embed: Callable[[str], np.ndarray]
    identity: Identity = field(init=False)
    clock: SystemClock = field(init=False, default_factory=SystemClock)

    def __post_init__(self) -> None:
        self.identity = Identity.from_seed(bytes([SEEDS[self.name]]) * 32)
        self.peers = PeerStore(self.db)
        self.owner = OwnerStore(self.db)
        self.owner.update({"name": self.name.capitalize()})
        self.access_store = AccessStore(self.db)
        self.gate = AccessGate(self.identity, self.access_store, self.clock)
        self.access = FakeAccess()
        self.model = FakeModel(self.name)
        self.memory = FakeMemory(self.db, self.name, self.embed)
        self.store = GroupStore(self.db)
        self.p2p, self.groups = self._services()

    @property
    def peer_id(self) -> str:
        return str(self.identity.peer_id)

    def _services(self) -> tuple[P2PService, GroupService]:
        p2p = P2PService(
            self.identity,
            [LOOPBACK],
            peers=self.peers,
            owner=self.owner,
            gate=self.gate,
            grant_holders=self.access_store.grant_holders,
            clock=self.clock,
        )
        groups = self.service_class(
            identity=self.identity,
            store=self.store,
            p2p=p2p,
            peers=self.peers,
            access=self.access,  # type: ignore[arg-type]
            gate=self.gate,
            chat=SimpleNamespace(model=self.model),  # type: ignore[arg-type]
            memory=self.memory,  # type: ignore[arg-type]
            owner=self.owner,
            settings=self.settings,
            clock=self.clock,
        )
        return p2p, groups

    async def start(self) -> None:
        await self.p2p.start()
        self.groups.start()

    async def close(self) -> None:
        await self.groups.close()
        await self.p2p.close()

    async def restart(self) -> None:
        """The node stops and starts again on a new port: same database, new services."""
        await self.close()
        self.p2p, self.groups = self._services()
        await self.start()

    def meet(self, other: Node) -> None:
        record = self.peers.add(other.peer_id, other.p2p.addrs, other.name)
        self.p2p.remember_addresses(record)

    def messages(self, gid: str) -> list[StoredMessage]:
        return self.store.messages(gid)

    def head(self, gid: str) -> bytes:
        return self.store.transcript(gid).head  # verified again from the stored bytes


Trio = tuple[Node, Node, Node]
MakeNodes = Callable[..., Awaitable[Trio]]


@pytest.fixture
async def make_nodes(tmp_path: Path) -> AsyncIterator[MakeNodes]:
    """``await make_nodes(...)``: the moderator, Alice and Bob, started and knowing each other
    by name; every service and database is closed after the test."""
    started: list[Node] = []

    async def make(
        *,
        settings: GroupSettings | None = None,
        bob_service: type[GroupService] = GroupService,
        embed: Callable[[str], np.ndarray] | None = None,
    ) -> Trio:
        settings = settings or GroupSettings(turn_timeout_s=10.0, share_relevance=True)
        embed = embed or OneHot()
        for name in ("mod", "alice", "bob"):
            node = Node(
                name,
                Database(tmp_path / f"{name}.db"),
                settings,
                bob_service if name == "bob" else GroupService,
                embed,
            )
            started.append(node)
            await node.start()
        for node in started:
            for other in started:
                if other is not node:
                    node.meet(other)
        mod, alice, bob = started
        return mod, alice, bob

    try:
        yield make
    finally:
        for node in started:
            node.groups.stop_watchers()
        for node in started:
            await node.groups.close()
        for node in started:
            await node.p2p.close()
        for node in started:
            node.db.close()


# -- helpers ---------------------------------------------------------------------------------


async def until(node: Node, gid: str, wanted: Callable[[StoredMessage], bool]) -> StoredMessage:
    """The first message of the node's transcript (kept already, or as it is kept) that is
    ``wanted``; fails after :data:`WAIT_S`."""

    async def scan() -> StoredMessage:
        async with contextlib.aclosing(node.groups.watch(gid, follow=True)) as stream:
            async for message in stream:
                if message is not None and wanted(message):
                    return message
        raise AssertionError(f"{node.name} stopped watching group {gid}")

    return await asyncio.wait_for(scan(), WAIT_S)


async def caught_up(gid: str, moderator: Node, *members: Node) -> None:
    """Wait until every member holds the moderator's last message."""
    last = moderator.messages(gid)[-1].seq
    for member in members:
        await until(member, gid, lambda message: message.seq >= last)


def roll_entry(moderator: Node, member: Node) -> dict:
    """The member as ``group list`` on the moderator shows it (with how far behind it is)."""
    described = moderator.groups.describe(moderator.groups.find(GROUP))
    return next(m for m in described["members"] if m["peer_id"] == member.peer_id)


def roll_entry_ids(moderator: Node) -> set[str]:
    """Who the moderator's outbox delivers to (``group list`` shows delivery for them)."""
    described = moderator.groups.describe(moderator.groups.find(GROUP))
    return {m["peer_id"] for m in described["members"] if "delivery" in m}


async def eventually(check: Callable[[], object]) -> None:
    """Wait until ``check()`` holds (a state in a node's database, which no event announces);
    fails after :data:`WAIT_S` with what it last saw."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not check():
        assert asyncio.get_running_loop().time() < deadline, check
        await asyncio.sleep(0.05)


async def delivered(moderator: Node, member: Node) -> dict:
    """Wait until the moderator counts ``member`` as holding its whole transcript."""
    await eventually(lambda: not roll_entry(moderator, member)["behind"])
    return roll_entry(moderator, member)


def membership(peer: Node, reason: str) -> Callable[[StoredMessage], bool]:
    return lambda m: (
        m.body.kind is BodyKind.MEMBERSHIP
        and m.body.about == peer.peer_id
        and m.body.reason == reason
    )


async def form_group(mod: Node, alice: Node, bob: Node) -> str:
    """Group "weekend", both members accepted by hand (with memory tagged ``group``), every
    node holding the same transcript (the two "joined" messages)."""
    created = await mod.groups.create(GROUP, ["alice", "bob"], topic="a hike", scope=GROUP_SCOPE)
    gid = created["group_id"]
    for member in (alice, bob):
        await member.groups.accept(GROUP, scope=GROUP_SCOPE)
    for member in (alice, bob):
        await until(mod, gid, membership(member, "joined"))
    await caught_up(gid, mod, alice, bob)
    return gid


async def discuss(mod: Node, gid: str, **options) -> str:
    """Run a discussion to its end; why it ended."""
    mod.groups.discuss(GROUP, QUESTION, **options)
    task = mod.groups.floor.discussions[gid]
    return await asyncio.wait_for(task, WAIT_S * 2)


def since_question(node: Node, gid: str) -> list[StoredMessage]:
    messages = node.messages(gid)
    start = max(i for i, m in enumerate(messages) if m.body.kind is BodyKind.QUESTION)
    return messages[start + 1 :]


def turns(messages: Sequence[StoredMessage]) -> list[StoredMessage]:
    return [m for m in messages if m.body.kind is BodyKind.TURN]


def same_transcript(gid: str, *nodes: Node) -> None:
    heads = {node.name: node.head(gid) for node in nodes}
    assert len(set(heads.values())) == 1, heads
    counts = {node.name: len(node.messages(gid)) for node in nodes}
    assert len(set(counts.values())) == 1, counts


def assert_ended(messages: Sequence[StoredMessage], reason: str) -> None:
    kinds = [m.body.kind for m in messages]
    assert kinds[-2:] == [BodyKind.SUMMARY, BodyKind.END], kinds
    assert messages[-1].body.reason == reason


# -- discussions -----------------------------------------------------------------------------


async def test_a_discussion_runs_its_rounds_and_every_node_holds_the_same_transcript(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes()
    now = mod.clock.now_ms()
    terms = GrantTerms(
        audience=mod.identity.peer_id,
        abilities=("group/join",),
        scope=GROUP_SCOPE,
        expires_ms=now + HOUR_MS,
    )
    mod.access.tokens[(bob.peer_id, "group/join")] = issue_grant(bob.identity, terms, issued_ms=now)

    created = await mod.groups.create(GROUP, ["alice", "bob"], topic="a hike", scope=GROUP_SCOPE)
    gid = created["group_id"]
    assert created["invitations"][alice.peer_id].startswith("waiting")
    assert created["invitations"][bob.peer_id].startswith("accepted")
    assert mod.store.members(gid) == {
        mod.peer_id: MemberState.ACTIVE,
        alice.peer_id: MemberState.INVITED,
        bob.peer_id: MemberState.ACTIVE,
    }
    assert alice.groups.find(GROUP).status == GroupState.INVITED
    joined_by_grant = bob.groups.find(GROUP)
    assert joined_by_grant.status == GroupState.ACTIVE and joined_by_grant.scope == GROUP_SCOPE
    assert joined_by_grant.grant_id is not None

    await alice.groups.accept(GROUP, scope=GROUP_SCOPE)
    assert alice.groups.find(GROUP).status == GroupState.ACTIVE
    assert mod.store.members(gid)[alice.peer_id] == MemberState.ACTIVE
    await until(mod, gid, membership(alice, "joined"))

    reason = await discuss(mod, gid, rounds=2)
    assert reason == "round limit reached (2 rounds)"
    same_transcript(gid, mod, alice, bob)

    after = since_question(mod, gid)
    assert_ended(after, reason)
    spoken = turns(after)
    # Relevance, shared coarsely: Alice 0.75, Bob 0.50, the moderator 0.25; each speaks once in
    # the first round, most relevant first; then the last speaker waits and relevance decides.
    order = [mod.name, alice.name, bob.name]
    by_id = {node.peer_id: node.name for node in (mod, alice, bob)}
    assert [by_id[t.sender] for t in spoken] == ["alice", "bob", "mod", "alice", "bob", "alice"]
    assert sorted(by_id[t.sender] for t in spoken[:3]) == sorted(order)
    reasons = [t.body.reason for t in spoken]
    assert reasons[:3] == [
        "relevance 0.75 to the last message, the highest of 3; has not spoken yet",
        "relevance 0.50 to the last message, the highest of 2; has not spoken yet",
        "relevance 0.25 to the last message; has not spoken yet",
    ]
    assert (
        reasons[3] == "relevance 0.75 to the last message, the highest of 2; last spoke 3 turns ago"
    )
    assert all(re.match(r"relevance \d\.\d\d to the last message", r or "") for r in reasons)
    for message in spoken:
        node = next(n for n in (mod, alice, bob) if n.peer_id == message.sender)
        assert message.body.relevance == int(SCORES[node.name] * 4) * 250
        assert message.body.text.startswith(f"{node.name} suggests plan")
    summary = after[-2].body
    assert set(summary.positions or {}) == {mod.peer_id, alice.peer_id, bob.peer_id}
    assert summary.text.startswith("Little agreement")  # every turn its own vector
    described = mod.groups.summary(GROUP)
    assert described["ended"] == reason
    # Each member searched only within the scope it joined with.
    for node in (alice, bob):
        assert node.memory.scopes and all(s.tags_any == ("group",) for s in node.memory.scopes)


async def test_a_member_too_slow_to_answer_is_skipped(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(
        settings=GroupSettings(turn_timeout_s=3.0, share_relevance=True)
    )
    gid = await form_group(mod, alice, bob)

    async def answer_after_the_skip() -> None:  # Bob's model is still writing when skipped
        await until(mod, gid, lambda m: m.body.kind is BodyKind.SKIP)

    bob.model.before_answer = answer_after_the_skip

    reason = await discuss(mod, gid, rounds=1)
    assert reason == "round limit reached (1 round)"
    after = since_question(mod, gid)
    assert [(m.body.kind, m.sender) for m in after[:3]] == [
        (BodyKind.TURN, alice.peer_id),
        (BodyKind.SKIP, mod.peer_id),
        (BodyKind.TURN, mod.peer_id),
    ]
    skip = after[1].body
    assert skip.about == bob.peer_id
    assert skip.reason is not None and skip.reason.startswith("skipped: ")
    assert re.search(r"(no response|did not answer)\b.* within \d+ s", skip.reason), skip.reason
    assert_ended(after, reason)
    same_transcript(gid, mod, alice, bob)
    # Bob's turn ends too (the moderator gave up on it), and nothing of it is kept anywhere.
    await asyncio.wait_for(bob.model.ended.wait(), WAIT_S)
    same_transcript(gid, mod, alice, bob)


async def test_a_turn_answered_with_another_reason_is_skipped(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(bob_service=WrongReason)
    gid = await form_group(mod, alice, bob)

    reason = await discuss(mod, gid, rounds=1)
    assert reason == "round limit reached (1 round)"
    after = since_question(mod, gid)
    (skip,) = [m for m in after if m.body.kind is BodyKind.SKIP]
    assert skip.body.about == bob.peer_id
    assert "invalid turn" in (skip.body.reason or "")
    assert "group_malformed" in (skip.body.reason or "")
    assert bob.peer_id not in {m.sender for m in after}
    assert {m.sender for m in turns(after)} == {mod.peer_id, alice.peer_id}
    assert_ended(after, reason)
    same_transcript(gid, mod, alice, bob)


async def test_the_owner_stops_a_discussion(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    for node in (mod, alice, bob):
        node.model.delay = 0.2
    gid = await form_group(mod, alice, bob)

    mod.groups.discuss(GROUP, QUESTION, rounds=5)
    task = mod.groups.floor.discussions[gid]
    await until(mod, gid, lambda m: m.body.kind is BodyKind.TURN)
    assert mod.groups.stop(GROUP) == {"group_id": gid, "stopping": True}
    reason = await asyncio.wait_for(task, WAIT_S)
    assert reason == "stopped by the owner"
    after = since_question(mod, gid)
    assert 1 <= len(turns(after)) < 15
    assert_ended(after, reason)
    assert gid not in mod.groups.floor.discussions
    same_transcript(gid, mod, alice, bob)


async def test_a_discussion_ends_when_its_time_budget_is_spent(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    for node in (mod, alice, bob):
        node.model.delay = 0.4
    gid = await form_group(mod, alice, bob)

    reason = await discuss(mod, gid, rounds=5, budget_s=1)
    assert reason == "time budget of 1 s spent"
    after = since_question(mod, gid)
    assert 1 <= len(turns(after)) < 15
    assert_ended(after, reason)
    same_transcript(gid, mod, alice, bob)


async def test_until_consensus_ends_after_a_full_round_that_agrees(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(embed=all_alike)
    gid = await form_group(mod, alice, bob)

    reason = await discuss(mod, gid, rounds=5, until="consensus")
    assert reason.startswith("consensus"), reason
    after = since_question(mod, gid)
    assert sorted(m.sender for m in turns(after)) == sorted(n.peer_id for n in (mod, alice, bob))
    assert_ended(after, reason)
    assert after[-2].body.text.startswith("Strong agreement")
    same_transcript(gid, mod, alice, bob)


async def test_until_consensus_runs_every_round_when_members_differ(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(embed=OneHot())
    gid = await form_group(mod, alice, bob)

    reason = await discuss(mod, gid, rounds=2, until="consensus")
    assert reason == "round limit reached (2 rounds)"
    assert len(turns(since_question(mod, gid))) == 6
    same_transcript(gid, mod, alice, bob)


async def test_a_discussion_going_in_circles_ends(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(embed=OneHot())
    for node in (mod, alice, bob):
        node.model.repeat = True  # each says the same thing every time
    gid = await form_group(mod, alice, bob)

    reason = await discuss(mod, gid, rounds=5)
    assert reason.startswith("no new information"), reason
    spoken = turns(since_question(mod, gid))
    # Three new turns, then Alice and Bob say again what they said: two repeats in a row.
    assert [m.sender for m in spoken] == [
        alice.peer_id,
        bob.peer_id,
        mod.peer_id,
        alice.peer_id,
        bob.peer_id,
    ]
    assert spoken[3].body.text == spoken[0].body.text
    assert spoken[4].body.text == spoken[1].body.text
    same_transcript(gid, mod, alice, bob)


# -- membership ------------------------------------------------------------------------------


async def test_leaving_and_removal_rotate_the_key(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    gid = await form_group(mod, alice, bob)

    left = await alice.groups.leave(GROUP)
    assert left["status"] == "left" and left["moderator_notified"]
    await until(mod, gid, membership(alice, "left the group"))
    await caught_up(gid, mod, bob)
    key = mod.store.latest_key(gid)
    assert key.epoch == 2
    assert {str(m) for m in key.members} == {mod.peer_id, bob.peer_id}
    assert mod.store.members(gid)[alice.peer_id] == "left"

    await mod.groups.say(GROUP, "Alice is gone; Bob, what now?")
    said = mod.messages(gid)[-1]
    assert (said.body.kind, said.body.text, said.epoch) == (
        BodyKind.OWNER,
        "Alice is gone; Bob, what now?",
        2,
    )
    (encoded,) = mod.store.encoded(gid, after=said.seq - 1, limit=1)
    alice_keys = {k.epoch: k for k in alice.store.keys(gid)}
    assert set(alice_keys) == {1}
    with pytest.raises(GroupMessageError) as caught:
        read_message(encoded, alice_keys)
    assert caught.value.code == "group_unknown_epoch"
    assert bob.messages(gid)[-1].hash == said.hash
    assert said.seq not in {m.seq for m in alice.messages(gid)}
    same_transcript(gid, mod, bob)

    removed = await mod.groups.remove(GROUP, "bob")
    assert removed["epoch"] == 3
    key = mod.store.latest_key(gid)
    assert {str(m) for m in key.members} == {mod.peer_id}
    assert bob.groups.find(GROUP).status == "removed"
    await mod.groups.say(GROUP, "Just me now.")
    last = mod.messages(gid)[-1]
    assert last.epoch == 3
    (encoded,) = mod.store.encoded(gid, after=last.seq - 1, limit=1)
    with pytest.raises(GroupMessageError) as caught:
        read_message(encoded, {k.epoch: k for k in bob.store.keys(gid)})
    assert caught.value.code == "group_unknown_epoch"
    assert last.hash not in {m.hash for m in bob.messages(gid)}


FAST_RETRY = GroupSettings(
    turn_timeout_s=10.0,
    share_relevance=True,
    delivery_timeout_s=2.0,
    retry_first_s=0.2,
    retry_max_s=1.0,
)
"""Deliveries that fail fast and are tried again soon."""


async def test_a_member_that_missed_messages_gets_them_without_a_new_post(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes(settings=FAST_RETRY)
    gid = await form_group(mod, alice, bob)

    await bob.p2p.close()
    await mod.groups.say(GROUP, "First, while Bob is away.")
    await mod.groups.say(GROUP, "Second, while Bob is away.")
    assert len(bob.messages(gid)) == len(mod.messages(gid)) - 2
    same_transcript(gid, mod, alice)
    entry = roll_entry(mod, bob)
    assert entry["behind"] == 2 and entry["delivery"] == "retrying", entry
    assert entry["failures"] >= 1 and entry["last_error"]

    # Bob comes back on a new port and asks nothing: the moderator's outbox finds him.
    old_address = bob.p2p.addrs
    await bob.groups.close()
    bob.p2p, bob.groups = bob._services()
    await bob.p2p.start()  # not groups.start(): no catch-up of his own
    assert bob.p2p.addrs != old_address
    mod.meet(bob)
    await caught_up(gid, mod, bob)
    same_transcript(gid, mod, alice, bob)
    assert [m.body.text for m in bob.messages(gid)[-2:]] == [
        "First, while Bob is away.",
        "Second, while Bob is away.",
    ]
    synced = [
        entry
        for entry in mod.access_store.audit_log(peer_id=bob.peer_id)
        if entry["request"] == "group.sync"
    ]
    assert synced and synced[0]["decision"] == "allowed"  # the gap filled by sync
    entry = await delivered(mod, bob)  # his answer reached the moderator too
    assert (entry["delivery"], entry["failures"], entry["last_error"]) == ("up to date", 0, None)


async def test_a_restarted_member_catches_up_at_start(make_nodes: MakeNodes):
    slow_retry = GroupSettings(delivery_timeout_s=2.0, retry_first_s=600.0, retry_max_s=600.0)
    mod, alice, bob = await make_nodes(settings=slow_retry)
    gid = await form_group(mod, alice, bob)

    await bob.p2p.close()
    await mod.groups.say(GROUP, "Said while Bob's node was down.")
    assert bob.messages(gid)[-1].body.text != "Said while Bob's node was down."
    await bob.restart()  # the moderator tries him again only in 10 minutes (and at his old
    await caught_up(gid, mod, bob)  # address): he asks for it himself, at start
    same_transcript(gid, mod, alice, bob)


async def test_a_dead_member_costs_one_timeout_per_wait(make_nodes: MakeNodes):
    settings = GroupSettings(delivery_timeout_s=0.5, retry_first_s=600.0, retry_max_s=600.0)
    mod, alice, bob = await make_nodes(settings=settings)
    gid = await form_group(mod, alice, bob)
    posts = 0
    hang = asyncio.Event()

    async def silent(incoming, permit):  # takes the post and never answers
        nonlocal posts
        posts += 1
        await hang.wait()

    bob.p2p.register(GroupPost, silent)
    try:
        for n in range(3):
            await mod.groups.say(GROUP, f"Message {n}.")
    finally:
        hang.set()
    assert posts == 1  # the first timed out; the next two waited for the retry instead
    assert len(alice.messages(gid)) == len(mod.messages(gid))
    entry = roll_entry(mod, bob)
    assert entry["behind"] == 3 and "no response" in entry["last_error"], entry


async def test_a_restarted_moderator_goes_on_delivering_what_is_owed(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(settings=FAST_RETRY)
    gid = await form_group(mod, alice, bob)

    await bob.p2p.close()
    await mod.groups.say(GROUP, "Said while Bob was down.")
    owed = roll_entry(mod, bob)
    assert owed["behind"] == 1 and owed["failures"] >= 1
    await mod.restart()  # what each member is owed is read back from its database
    after = roll_entry(mod, bob)
    assert (after["behind"], after["acked_seq"]) == (owed["behind"], owed["acked_seq"])
    assert after["failures"] >= owed["failures"] and after["last_error"]

    await bob.groups.close()
    bob.p2p, bob.groups = bob._services()
    await bob.p2p.start()  # asking nothing of his own
    mod.meet(bob)
    await caught_up(gid, mod, bob)
    same_transcript(gid, mod, alice, bob)
    assert (await delivered(mod, bob))["failures"] == 0


async def test_a_member_whose_leave_was_lost_is_taken_off_the_roll(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(settings=FAST_RETRY)
    gid = await form_group(mod, alice, bob)

    bob.store.set_status(gid, "left")  # he left, and his group.leave never arrived
    await mod.groups.say(GROUP, "Anyone still here?")
    await until(mod, gid, membership(bob, "left the group"))
    assert mod.store.members(gid)[bob.peer_id] == "left"
    assert bob.peer_id not in {str(m) for m in mod.store.latest_key(gid).members}
    await caught_up(gid, mod, alice)
    assert bob.peer_id not in roll_entry_ids(mod)


async def test_a_member_down_at_the_close_is_told_when_it_is_back(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(settings=FAST_RETRY)
    gid = await form_group(mod, alice, bob)

    await bob.p2p.close()
    await mod.groups.say(GROUP, "Last words before the close.")
    closed = await mod.groups.close_group(GROUP)
    assert (closed["members_told"], closed["members_to_tell"]) == (1, 1)
    assert alice.groups.find(GROUP).status == "closed"
    assert roll_entry(mod, bob)["end_owed"] == "closed"

    await bob.groups.close()
    bob.p2p, bob.groups = bob._services()
    await bob.p2p.start()  # asking nothing of his own: the moderator's outbox tells him
    mod.meet(bob)
    await until(bob, gid, lambda m: m.body.text == "Last words before the close.")
    await eventually(lambda: bob.groups.find(GROUP).status == "closed")  # after the messages
    same_transcript(gid, mod, alice, bob)
    assert roll_entry(mod, bob)["end_owed"] is None


async def test_a_member_leaving_during_anothers_turn_does_not_void_that_turn(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes()
    gid = await form_group(mod, alice, bob)

    async def alice_leaves() -> None:  # while Bob's model writes his turn
        await alice.groups.leave(GROUP)

    bob.model.before_answer = alice_leaves
    reason = await discuss(mod, gid, rounds=1)
    assert bob.model.answers == 1
    after = since_question(mod, gid)
    skipped = [(m.body.about, m.body.reason) for m in after if m.body.kind is BodyKind.SKIP]
    assert skipped == []
    assert bob.peer_id in {m.sender for m in turns(after)}
    assert reason.startswith("round limit")
    # The moderator waited for Bob's turn before it said that Alice left (and rotated the key).
    bobs = next(m.seq for m in turns(after) if m.sender == bob.peer_id)
    left = next(m.seq for m in mod.messages(gid) if m.body.kind is BodyKind.MEMBERSHIP
                and m.body.reason == "left the group")  # fmt: skip
    assert left > bobs


# -- raised hands and refusals ----------------------------------------------------------------


async def test_a_raised_hand_gets_the_next_turn_and_a_flood_is_refused(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(
        settings=GroupSettings(turn_timeout_s=10.0, raises_per_minute=3, share_relevance=True)
    )
    gid = await form_group(mod, alice, bob)

    await alice.groups.say(GROUP, "I can bring sandwiches.")
    owner = await until(mod, gid, lambda m: m.body.kind is BodyKind.OWNER)
    assert owner.sender == alice.peer_id
    assert (owner.body.text, owner.body.reason) == ("I can bring sandwiches.", RAISED)
    assert gid not in mod.groups.floor.discussions

    for text in ("And water.", "And a map."):
        await alice.groups.say(GROUP, text)
    with pytest.raises(PeerRefused) as caught:
        await alice.groups.say(GROUP, "And a tent.")
    assert caught.value.remote_code == "rate_limited"

    await until(mod, gid, lambda m: m.body.kind is BodyKind.OWNER and m.body.text == "And a map.")
    await caught_up(gid, mod, alice, bob)
    spoken = [m for m in mod.messages(gid) if m.body.kind is BodyKind.OWNER]
    assert [(m.sender, m.body.text) for m in spoken] == [
        (alice.peer_id, "I can bring sandwiches."),
        (alice.peer_id, "And water."),
        (alice.peer_id, "And a map."),
    ]
    same_transcript(gid, mod, alice, bob)
    raises = [
        (entry["decision"], entry["code"])
        for entry in mod.access_store.audit_log(peer_id=alice.peer_id)
        if entry["request"] == "group.raise"
    ]
    assert raises == [("refused", "rate_limited")] + [("allowed", None)] * 3


async def test_only_the_moderator_posts_to_members(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    gid = await form_group(mod, alice, bob)
    before = bob.head(gid)

    data = alice.groups.transcripts.write(
        gid, Body(kind=BodyKind.OWNER, text="psst, Bob", reason="aside")
    )
    with pytest.raises(PeerRefused) as caught:
        await alice.p2p.request(alice.peers.resolve("bob"), GroupPost(group=gid, message=data))
    assert caught.value.remote_code == "not_moderator"
    assert bob.head(gid) == before
    posts = [
        (entry["decision"], entry["code"])
        for entry in bob.access_store.audit_log(peer_id=alice.peer_id)
        if entry["request"] == "group.post"
    ]
    assert posts == [("refused", "not_moderator")]
