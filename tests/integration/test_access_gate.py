"""The node's single authorisation path, on a real SQLite file: every refused request gets its
code on the wire and one "refused" line in the audit log and never reaches its handler; an
allowed one reaches it with its permit and is logged with what it shared; uses and revocations
outlive a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from secondme.node.access.gate import AccessGate
from secondme.node.access.store import AccessStore
from secondme.node.core.db import Database
from secondme.node.p2p.handlers import Reply
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerStore
from secondme.protocol.access import ACCESS_MESSAGES, Answer, Ask, GrantRevoke
from secondme.protocol.clock import ManualClock
from secondme.protocol.errors import RemoteError
from secondme.protocol.grants import (
    GrantError,
    GrantTerms,
    Permit,
    Rate,
    Scope,
    WrongAudience,
    attenuate,
    delegate,
    issue_grant,
    narrowing_checks,
    read_grant,
    short_id,
)
from secondme.protocol.identity import Identity
from secondme.protocol.messages import Request, Response
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import IncomingRequest, OutgoingRequest, SmpEndpoint

NOW = 1_700_000_000_000
HOUR = 3_600_000
LOOPBACK = "/ip4/127.0.0.1/tcp/0"
SHARED = ["l0:chunk:x"]
ALICE = Identity.from_seed(bytes([1]) * 32)
"""The node under test: it issued every grant here and answers every request."""
BOB = Identity.from_seed(bytes([2]) * 32)
CAROL = Identity.from_seed(bytes([3]) * 32)


class Node:
    """Alice's node as a peer reaches it: the service's ``_serve``, its host never started."""

    def __init__(self, path: Path, clock: ManualClock) -> None:
        self.db = Database(path)
        self.store = AccessStore(self.db)
        self.gate = AccessGate(ALICE, self.store, clock)
        self.service = P2PService(
            ALICE,
            [LOOPBACK],
            peers=PeerStore(self.db),
            owner=OwnerStore(self.db),
            gate=self.gate,
            grant_holders=self.store.grant_holders,
            clock=clock,
        )
        self.service.register(Ask, self._answer)
        self.permits: list[Permit] = []
        self.served = 0

    async def _answer(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        assert permit is not None
        self.permits.append(permit)
        answer = Answer(text="from Alice's notes", grant_id=permit.grant.grant_id, sources=1)
        return Reply(answer, shared=SHARED)

    async def serve(self, peer: Identity, payload: bytes) -> bytes:
        self.served += 1
        return await self.service._serve(peer.peer_id, payload)


class Peer:
    """Another node's endpoint, sending requests to Alice's."""

    def __init__(self, identity: Identity, clock: ManualClock, **options) -> None:
        self.identity = identity
        self.endpoint = SmpEndpoint(
            identity, clock, ReplayWindow(clock), registry=ACCESS_MESSAGES, **options
        )

    def request(self, message: Request, token: bytes | None) -> OutgoingRequest:
        return self.endpoint.request(message, grant=token)

    async def send(self, node: Node, outgoing: OutgoingRequest) -> Response:
        answer = await node.serve(self.identity, outgoing.payload)
        return self.endpoint.receive_response(ALICE.peer_id, outgoing, answer)

    async def ask(self, node: Node, token: bytes | None, *, scope: Scope | None = None) -> Answer:
        answer = await self.send(node, self.request(Ask(question="hi", scope=scope), token))
        assert isinstance(answer, Answer)
        return answer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def node(tmp_path: Path, clock: ManualClock) -> Iterator[Node]:
    node = Node(tmp_path / "node.db", clock)
    yield node
    node.db.close()


def restarted(node: Node, clock: ManualClock) -> Node:
    """The same node after a restart: its database reopened, a new gate and service."""
    node.db.close()
    return Node(node.db.path, clock)


def grant(
    clock: ManualClock,
    *,
    audience: Identity = BOB,
    abilities: tuple[str, ...] = ("chat/ask",),
    issuer: Identity = ALICE,
    expires_in_ms: int = HOUR,
    **options,
) -> bytes:
    terms = GrantTerms(
        audience=audience.peer_id,
        abilities=abilities,
        expires_ms=clock.now_ms() + expires_in_ms,
        **options,
    )
    return issue_grant(issuer, terms, issued_ms=clock.now_ms())


def grant_id(token: bytes) -> str:
    return read_grant(token, ALICE.peer_id).grant_id


# -- refusals ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """The request a case ends with, and what the audit log should say about it."""

    peer: Peer
    outgoing: OutgoingRequest
    audited_grant: str | None
    request_type: str = "ask"
    ability: str | None = "chat/ask"


def asking(peer: Peer, token: bytes | None, *, scope: Scope | None = None) -> Attempt:
    outgoing = peer.request(Ask(question="hi", scope=scope), token)
    try:
        audited = short_id(grant_id(token)) if token else None
    except GrantError:
        audited = None
    return Attempt(peer=peer, outgoing=outgoing, audited_grant=audited)


Case = Callable[[Node, ManualClock], Awaitable[Attempt]]


async def no_grant(node: Node, clock: ManualClock) -> Attempt:
    return asking(Peer(BOB, clock), None)


async def forged(node: Node, clock: ManualClock) -> Attempt:
    return asking(Peer(BOB, clock), grant(clock, issuer=CAROL))


async def tampered(node: Node, clock: ManualClock) -> Attempt:
    return asking(Peer(BOB, clock), b"\x0anot a biscuit")


async def expired(node: Node, clock: ManualClock) -> Attempt:
    bob = Peer(BOB, clock)
    token = grant(clock, expires_in_ms=60_000)
    await bob.ask(node, token)
    clock.advance(60_001)
    return asking(bob, token)


async def expired_short_lived(node: Node, clock: ManualClock) -> Attempt:
    token = grant(clock, expires_in_ms=1000)
    clock.advance(1001)
    return asking(Peer(BOB, clock), token)


async def expired_narrowed_copy(node: Node, clock: ManualClock) -> Attempt:
    checks = narrowing_checks(expires_ms=clock.now_ms() + 60_000)
    token = attenuate(grant(clock), ALICE.peer_id, checks)
    clock.advance(61_000)
    return asking(Peer(BOB, clock), token)


async def revoked(node: Node, clock: ManualClock) -> Attempt:
    bob = Peer(BOB, clock)
    token = grant(clock)
    await bob.ask(node, token)
    node.gate.revoke(grant_id(token), grant_id(token), by_peer=str(ALICE.peer_id))
    return asking(bob, token)


async def wrong_audience(node: Node, clock: ManualClock) -> Attempt:
    return asking(Peer(CAROL, clock), grant(clock, audience=BOB))


async def widened(node: Node, clock: ManualClock) -> Attempt:
    token = attenuate(grant(clock), ALICE.peer_id, 'ability("group/join");')
    return asking(Peer(BOB, clock), token)


async def stolen_and_delegated(node: Node, clock: ManualClock) -> Attempt:
    token = delegate(grant(clock, delegable=True), ALICE.peer_id, CAROL, CAROL.peer_id)
    return asking(Peer(CAROL, clock), token)


async def ability_not_granted(node: Node, clock: ManualClock) -> Attempt:
    return asking(Peer(BOB, clock), grant(clock, abilities=("memory/read",)))


async def used_up(node: Node, clock: ManualClock) -> Attempt:
    bob = Peer(BOB, clock)
    token = grant(clock, max_uses=2)
    for _ in range(2):
        await bob.ask(node, token)
    return asking(bob, token)


async def rate_limited(node: Node, clock: ManualClock) -> Attempt:
    bob = Peer(BOB, clock)
    token = grant(clock, rate=Rate(2, 60_000))
    for _ in range(2):
        await bob.ask(node, token)
        clock.advance(1000)
    return asking(bob, token)


async def out_of_scope(node: Node, clock: ManualClock) -> Attempt:
    token = grant(clock, scope=Scope(tags=("travel",)))
    return asking(Peer(BOB, clock), token, scope=Scope())


async def replayed(node: Node, clock: ManualClock) -> Attempt:
    """The same payload twice: a peer whose request ids and nonces repeat."""
    bob = Peer(BOB, clock, random_bytes=lambda size: b"\x07" * size)
    token = grant(clock)
    first = bob.request(Ask(question="hi"), token)
    await bob.send(node, first)
    again = asking(bob, token)
    assert again.outgoing.payload == first.payload
    # The endpoint refuses it before the message is parsed, so the gate never sees it.
    return Attempt(
        peer=bob, outgoing=again.outgoing, audited_grant=None, request_type=Ask.TYPE, ability=None
    )


REFUSALS = [
    pytest.param(no_grant, "no_grant", id="no grant"),
    pytest.param(forged, "grant_forged", id="forged"),
    pytest.param(tampered, "grant_tampered", id="tampered"),
    pytest.param(expired, "grant_expired", id="expired"),
    pytest.param(expired_short_lived, "grant_expired", id="expired short-lived"),
    pytest.param(expired_narrowed_copy, "grant_expired", id="expired narrowed copy"),
    pytest.param(revoked, "grant_revoked", id="revoked"),
    pytest.param(wrong_audience, "wrong_audience", id="wrong audience"),
    pytest.param(widened, "grant_widened", id="widened"),
    pytest.param(stolen_and_delegated, "grant_widened", id="delegated by a thief"),
    pytest.param(ability_not_granted, "ability_not_granted", id="ability not granted"),
    pytest.param(used_up, "grant_used_up", id="used up"),
    pytest.param(rate_limited, "grant_rate_limited", id="rate limited"),
    pytest.param(out_of_scope, "out_of_scope", id="out of scope"),
    pytest.param(replayed, "replayed", id="replayed"),
]


@pytest.mark.parametrize(("case", "code"), REFUSALS)
async def test_a_refused_request_gets_its_code_and_is_audited(
    node: Node, clock: ManualClock, case: Case, code: str
):
    attempt = await case(node, clock)
    handled = len(node.permits)
    with pytest.raises(RemoteError) as caught:
        await attempt.peer.send(node, attempt.outgoing)
    assert caught.value.code == code
    assert caught.value.message
    assert len(node.permits) == handled, "the handler ran for a refused request"
    log = node.store.audit_log()
    assert len(log) == node.served, "every request is audited exactly once"
    newest = log[0]
    assert newest["message"]
    expected = {
        "decision": "refused",
        "code": code,
        "peer_id": str(attempt.peer.identity.peer_id),
        "request": attempt.request_type,
        "request_id": f"{attempt.outgoing.request_id:016x}",
        "ability": attempt.ability,
        "grant_id": attempt.audited_grant,
        "shared": [],
    }
    assert {key: newest[key] for key in expected} == expected


async def test_a_rate_limited_peer_is_told_when_to_come_back(node: Node, clock: ManualClock):
    bob = Peer(BOB, clock)
    token = grant(clock, rate=Rate(2, 60_000))
    await bob.ask(node, token)
    clock.advance(10_000)
    await bob.ask(node, token)
    with pytest.raises(RemoteError) as caught:
        await bob.ask(node, token)
    assert caught.value.code == "grant_rate_limited"
    assert caught.value.retry_after_ms == 50_000
    clock.advance(50_000)
    await bob.ask(node, token)
    assert [permit.use for permit in node.permits] == [1, 2, 3]


# -- allowed -------------------------------------------------------------------------------------


async def test_an_allowed_request_reaches_the_handler_with_its_permit(
    node: Node, clock: ManualClock
):
    token = grant(clock, scope=Scope(tags=("food", "travel")), max_uses=5)
    bob = Peer(BOB, clock)
    outgoing = bob.request(Ask(question="hi"), token)
    answer = await bob.send(node, outgoing)
    assert answer == Answer(text="from Alice's notes", grant_id=grant_id(token), sources=1)
    (permit,) = node.permits
    assert permit.grant.grant_id == grant_id(token)
    assert (permit.ability, permit.use) == ("chat/ask", 1)
    assert permit.scope == Scope(tags=("food", "travel"))
    assert node.store.uses(grant_id(token)) == 1
    (entry,) = node.store.audit_log()
    expected = {
        "decision": "allowed",
        "code": None,
        "peer_id": str(BOB.peer_id),
        "request": "ask",
        "request_id": f"{outgoing.request_id:016x}",
        "ability": "chat/ask",
        "grant_id": short_id(grant_id(token)),
        "shared": SHARED,
        "at_ms": NOW,
    }
    assert {key: entry[key] for key in expected} == expected


async def test_a_request_runs_in_the_narrower_scope_it_asked_for(node: Node, clock: ManualClock):
    token = grant(clock, scope=Scope(tags=("food", "travel")))
    bob = Peer(BOB, clock)
    await bob.ask(node, token, scope=Scope(tags=("food",), layers=("l1",)))
    await bob.ask(node, token)
    assert [permit.scope for permit in node.permits] == [
        Scope(tags=("food",), layers=("l1",)),
        Scope(tags=("food", "travel")),
    ]
    assert [permit.use for permit in node.permits] == [1, 2]


async def test_a_delegated_copy_shares_its_parents_uses(node: Node, clock: ManualClock):
    token = grant(clock, delegable=True, max_uses=2)
    to_carol = delegate(token, ALICE.peer_id, BOB, CAROL.peer_id)
    await Peer(BOB, clock).ask(node, token)
    await Peer(CAROL, clock).ask(node, to_carol)
    assert [permit.grant.holder for permit in node.permits] == [BOB.peer_id, CAROL.peer_id]
    assert [permit.use for permit in node.permits] == [1, 2]
    with pytest.raises(RemoteError) as caught:
        await Peer(BOB, clock).ask(node, token)
    assert caught.value.code == "grant_used_up"


# -- what outlives a restart ---------------------------------------------------------------------


async def test_uses_outlive_a_restart(node: Node, clock: ManualClock):
    token = grant(clock, max_uses=2)
    for _ in range(2):
        await Peer(BOB, clock).ask(node, token)
    node = restarted(node, clock)
    try:
        assert node.store.uses(grant_id(token)) == 2
        with pytest.raises(RemoteError) as caught:
            await Peer(BOB, clock).ask(node, token)
        assert caught.value.code == "grant_used_up"
        assert node.permits == []
        assert node.store.audit_log()[0]["code"] == "grant_used_up"
    finally:
        node.db.close()


async def test_revocations_outlive_a_restart(node: Node, clock: ManualClock):
    parent = grant(clock, delegable=True)
    to_carol = delegate(parent, ALICE.peer_id, BOB, CAROL.peer_id)
    revoked_grant = grant(clock)
    block = read_grant(to_carol, ALICE.peer_id).revocation_ids[1]
    node.gate.revoke(block, grant_id(parent), by_peer=str(BOB.peer_id))
    node.gate.revoke(grant_id(revoked_grant), grant_id(revoked_grant), by_peer=str(ALICE.peer_id))
    node = restarted(node, clock)
    try:
        for peer, token in ((CAROL, to_carol), (BOB, revoked_grant)):
            with pytest.raises(RemoteError) as caught:
                await Peer(peer, clock).ask(node, token)
            assert caught.value.code == "grant_revoked"
        await Peer(BOB, clock).ask(node, parent)
        assert [permit.grant.grant_id for permit in node.permits] == [grant_id(parent)]
    finally:
        node.db.close()


# -- handlers that refuse or fail -----------------------------------------------------------


async def test_a_handler_refusing_with_a_grant_error_is_audited(node: Node, clock: ManualClock):
    async def refuse_revoke(incoming: IncomingRequest, permit: Permit | None) -> Reply:
        raise WrongAudience(f"{incoming.peer} may not end that grant")

    node.service.register(GrantRevoke, refuse_revoke)
    carol = Peer(CAROL, clock)
    revoke = GrantRevoke(grant_id="ab" * 32, revocation_id="ab" * 32)
    with pytest.raises(RemoteError) as caught:
        await carol.send(node, carol.request(revoke, None))
    assert caught.value.code == "wrong_audience"
    log = node.store.audit_log()
    assert [(entry["request"], entry["code"]) for entry in log] == [
        (GrantRevoke.TYPE, "wrong_audience")
    ]


async def test_a_crashing_handler_is_answered_internal_and_audited(node: Node, clock: ManualClock):
    async def crash(incoming: IncomingRequest, permit: Permit | None) -> Reply:
        raise RuntimeError("the model fell over")

    node.service.register(Ask, crash)
    with pytest.raises(RemoteError) as caught:
        await Peer(BOB, clock).ask(node, grant(clock))
    assert caught.value.code == "internal"
    newest = node.store.audit_log()[0]
    assert (newest["decision"], newest["code"]) == ("refused", "internal")
