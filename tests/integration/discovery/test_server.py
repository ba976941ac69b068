"""A real discovery server (libp2p host, SQLite store) and real client hosts on loopback.

The clock is a ManualClock shared by the server and its clients, so expiry is tested by
moving time, never by waiting.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from secondme.discovery.client import DiscoveryClient, DiscoveryRefused
from secondme.discovery.server import DiscoveryServer
from secondme.discovery.service import HOUR_MS, DiscoveryLimits
from secondme.discovery.store.sqlite import SqliteStore
from secondme.protocol.clock import ManualClock, SystemClock
from secondme.protocol.discovery import Register
from secondme.protocol.identity import Identity
from secondme.protocol.invites import TOKEN_PREFIX, InviteToken, Role
from secondme.protocol.records import RECORD_CONTEXT, PeerRecord
from secondme.protocol.signed import sign_map
from secondme.protocol.transport.host import SmpHost
from secondme.protocol.wire import pack_canonical, unpack_strict

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


async def _echo(peer, payload: bytes) -> bytes:
    return payload


@dataclass
class Client:
    identity: Identity
    host: SmpHost
    api: DiscoveryClient
    clock: ManualClock
    seq: int = 0

    @property
    def peer(self) -> str:
        return str(self.identity.peer_id)

    def record(self, *, ttl_ms: int = 2 * HOUR_MS) -> PeerRecord:
        self.seq += 1
        return PeerRecord.sign(
            self.identity,
            addrs=tuple(self.host.addrs[:1]),
            display_name=f"peer {self.peer[-4:]}",
            profile={"city": "Lisbon"},
            seq=self.seq,
            expires_ms=self.clock.now_ms() + ttl_ms,
        )


@dataclass
class World:
    tmp: Path
    clock: ManualClock
    server: DiscoveryServer
    key: Identity
    hosts: list[SmpHost]

    @property
    def servers(self) -> list[str]:
        return self.server.addrs[:1]

    async def client(self) -> Client:
        identity = Identity.generate()
        host = SmpHost(identity.seed, [LOOPBACK], _echo)
        self.hosts.append(host)
        await host.start()
        return Client(identity, host, DiscoveryClient(identity, host, self.clock), self.clock)

    async def restart(self, limits: DiscoveryLimits | None = None) -> None:
        """Stop the server and start it again on the same address, key and database."""
        listen = self.server.addrs[0].rsplit("/p2p/", 1)[0]
        await self.server.close()
        self.server.store.close()
        self.server = DiscoveryServer(
            self.key,
            [listen],
            SqliteStore(self.tmp / "discovery.db"),
            clock=self.clock,
            limits=limits or DiscoveryLimits(),
        )
        await self.server.start()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(SystemClock().now_ms())
    key = Identity.generate()
    server = DiscoveryServer(key, [LOOPBACK], SqliteStore(tmp_path / "discovery.db"), clock=clock)
    await server.start()
    state = World(tmp_path, clock, server, key, [])
    try:
        yield state
    finally:
        for host in state.hosts:
            await host.close()
        await state.server.close()
        state.server.store.close()


def invite(
    issuer: Client,
    world: World,
    network: str,
    *,
    uses: int = 1,
    ttl_ms: int = HOUR_MS,
    role: Role = Role.MEMBER,
    name: str = "friends",
) -> InviteToken:
    return InviteToken.sign(
        issuer.identity,
        network=network,
        network_name=name,
        discovery=tuple(world.servers),
        role=role,
        uses=uses,
        expires_ms=world.clock.now_ms() + ttl_ms,
        invite_id=secrets.token_hex(16),
    )


async def refused(code: str, call) -> DiscoveryRefused:
    with pytest.raises(DiscoveryRefused) as caught:
        await call
    assert caught.value.code == code, caught.value
    return caught.value


async def network_of(world: World, owner: Client) -> str:
    network = secrets.token_hex(16)
    info = await owner.api.create_network(world.servers, network, "friends")
    assert info.owner == owner.peer
    return network


async def test_create_invite_join_and_members(world: World) -> None:
    alice, bob, carol, mallory = [await world.client() for _ in range(4)]
    network = await network_of(world, alice)
    await alice.api.register(world.servers, alice.record())

    for joiner in (bob, carol):
        token = invite(alice, world, network)
        joined = await joiner.api.join(world.servers, token.text, joiner.record())
        assert (joined.network, joined.owner, joined.role) == (network, alice.peer, "member")

    members = await bob.api.members(world.servers, network)
    assert {m.peer for m in members} == {alice.peer, bob.peer, carol.peer}
    roles = {m.peer: m.role for m in members}
    assert roles[alice.peer] == "owner"
    for member in members:
        assert member.record is not None and str(member.record.peer) == member.peer
        assert member.record.addrs[0].endswith(member.peer)
    found = await carol.api.lookup(world.servers, bob.identity.peer_id)
    assert found.addrs == tuple(bob.host.addrs[:1])

    # A non-member learns nothing: no members, no lookups, no registration.
    await refused("not_member", mallory.api.members(world.servers, network))
    await refused("not_member", mallory.api.lookup(world.servers, bob.identity.peer_id))
    await refused("not_member", mallory.api.register(world.servers, mallory.record()))
    # Someone else's network id cannot be taken over.
    await refused("network_exists", mallory.api.create_network(world.servers, network, "mine"))


async def test_member_pages(world: World) -> None:
    owner = await world.client()
    network = await network_of(world, owner)
    token = invite(owner, world, network, uses=5)
    joiners = [await world.client() for _ in range(4)]
    for joiner in joiners:
        await joiner.api.join(world.servers, token.text, joiner.record())
    paged = await owner.api.members(world.servers, network, page_size=2)
    assert [m.peer for m in paged] == sorted([owner.peer, *(j.peer for j in joiners)])


async def test_single_use_token_redeemed_twice_and_raced(world: World) -> None:
    alice, bob, carol, dave, erin = [await world.client() for _ in range(5)]
    network = await network_of(world, alice)
    token = invite(alice, world, network)
    await bob.api.join(world.servers, token.text, bob.record())
    # The same joiner again costs nothing; another joiner finds it spent.
    await bob.api.join(world.servers, token.text, bob.record())
    await refused("invite_spent", carol.api.join(world.servers, token.text, carol.record()))

    raced = invite(alice, world, network)
    results = await asyncio.gather(
        *(c.api.join(world.servers, raced.text, c.record()) for c in (carol, dave, erin)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, DiscoveryRefused)]
    assert len(winners) == 1 and len(losers) == 2, results
    assert all(loser.code == "invite_spent" for loser in losers)
    members = {m.peer for m in await alice.api.members(world.servers, network)}
    assert len(members & {carol.peer, dave.peer, erin.peer}) == 1


async def test_expiry_of_tokens_and_records(world: World) -> None:
    alice, bob, carol = [await world.client() for _ in range(3)]
    network = await network_of(world, alice)
    token = invite(alice, world, network, ttl_ms=10 * 60_000)
    await bob.api.join(world.servers, token.text, bob.record(ttl_ms=HOUR_MS + 60_000))
    late = invite(alice, world, network, ttl_ms=10 * 60_000, uses=3)

    world.clock.advance(11 * 60_000)
    await refused("invite_expired", carol.api.join(world.servers, late.text, carol.record()))
    before = await alice.api.members(world.servers, network)
    assert next(m for m in before if m.peer == bob.peer).record is not None

    world.clock.advance(HOUR_MS)
    assert await world.server.sweep() >= 1
    after = await alice.api.members(world.servers, network)
    assert next(m for m in after if m.peer == bob.peer).record is None
    assert bob.peer in {m.peer for m in after}  # membership outlives the record
    await refused("no_record", alice.api.lookup(world.servers, bob.identity.peer_id))
    # Bob comes back: a fresh registration brings the record back.
    registered = await bob.api.register(world.servers, bob.record())
    assert registered.networks == (network,)
    assert (await alice.api.lookup(world.servers, bob.identity.peer_id)).seq == bob.seq


async def test_bad_tokens_are_refused(world: World) -> None:
    alice, bob, mallory = [await world.client() for _ in range(3)]
    network = await network_of(world, alice)
    other = await network_of(world, mallory)

    forged = invite(mallory, world, network)  # signed by a non-member
    await refused("invite_forged", bob.api.join(world.servers, forged.text, bob.record()))
    # Mallory's own network token, edited to name Alice's network: the signature breaks.
    own = invite(mallory, world, other)
    edited = edit_token(own.text, net=network)
    await refused("invite_forged", bob.api.join(world.servers, edited, bob.record()))
    await refused("invite_malformed", bob.api.join(world.servers, "smi1AAAA", bob.record()))
    unknown = invite(alice, world, secrets.token_hex(16))
    await refused("unknown_network", bob.api.join(world.servers, unknown.text, bob.record()))
    # Refused joins left nothing behind: no membership, no record, no invite bookkeeping.
    store = world.server.store
    assert store.networks_of(bob.peer) == [] and store.record_seq(bob.peer) is None
    assert [m.peer for m in store.members(network, after=None, limit=10, now_ms=0)] == [alice.peer]
    # A member cannot invite unless it joined as an inviter.
    plain = invite(alice, world, network)
    await bob.api.join(world.servers, plain.text, bob.record())
    carol = await world.client()
    from_bob = invite(bob, world, network)
    await refused("invite_forged", carol.api.join(world.servers, from_bob.text, carol.record()))
    revoked = invite(alice, world, network, uses=2)
    await alice.api.revoke_invite(world.servers, network, revoked.invite_id, revoked.expires_ms)
    await refused("invite_revoked", carol.api.join(world.servers, revoked.text, carol.record()))
    await refused(
        "not_owner",
        bob.api.revoke_invite(world.servers, network, revoked.invite_id, revoked.expires_ms),
    )


async def test_inviter_role_may_invite_members(world: World) -> None:
    alice, ivan, judy = [await world.client() for _ in range(3)]
    network = await network_of(world, alice)
    promoted = invite(alice, world, network, role=Role.INVITER)
    assert (await ivan.api.join(world.servers, promoted.text, ivan.record())).role == "inviter"
    from_ivan = invite(ivan, world, network)
    await judy.api.join(world.servers, from_ivan.text, judy.record())
    roles = {m.peer: m.role for m in await judy.api.members(world.servers, network)}
    assert roles == {alice.peer: "owner", ivan.peer: "inviter", judy.peer: "member"}
    # An inviter who redeems a member token stays an inviter, and is told so.
    again = invite(alice, world, network)
    assert (await ivan.api.join(world.servers, again.text, ivan.record())).role == "inviter"


def edit_token(text: str, **changes) -> str:
    """The token with fields changed and its signature kept: a tampered token."""
    body = text[len(TOKEN_PREFIX) :]
    fields = unpack_strict(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    fields.update(changes)
    encoded = base64.urlsafe_b64encode(pack_canonical(fields)).rstrip(b"=").decode()
    return TOKEN_PREFIX + encoded


async def test_bad_records_are_refused(world: World) -> None:
    alice, bob = [await world.client() for _ in range(2)]
    network = await network_of(world, alice)
    await alice.api.register(world.servers, alice.record())

    stale = alice.record()
    await alice.api.register(world.servers, alice.record())
    good = alice.seq
    await refused("record_stale", alice.api.register(world.servers, stale))
    await refused(
        "ttl_out_of_range", alice.api.register(world.servers, alice.record(ttl_ms=60_000))
    )
    await refused(
        "ttl_out_of_range", alice.api.register(world.servers, alice.record(ttl_ms=100 * HOUR_MS))
    )
    # Bob's valid record, sent by Alice: not hers to register.
    await refused("record_invalid", alice.api.register(world.servers, bob.record()))

    def raw(**changes) -> bytes:
        fields = {
            "peer": alice.peer,
            "addrs": [f"/ip4/127.0.0.1/tcp/{4000 + i}/p2p/{alice.peer}" for i in range(1)],
            "name": "alice",
            "profile": {},
            "seq": 10_000,
            "exp": world.clock.now_ms() + 2 * HOUR_MS,
        }
        fields.update(changes)
        return sign_map(alice.identity, RECORD_CONTEXT, fields)

    too_many = [f"/ip4/127.0.0.1/tcp/{4000 + i}/p2p/{alice.peer}" for i in range(9)]
    for data in (
        raw(addrs=too_many),
        raw(name="x" * 500),
        raw(profile={f"k{i}": "v" for i in range(40)}),
        raw(addrs=["/ip4/127.0.0.1/tcp/1/p2p/" + bob.peer]),
        raw()[:-1] + b"\x00",  # a broken signature
    ):
        await refused("record_invalid", alice.api.call(world.servers, Register(record=data)))
    # The stored record is still the last good one.
    assert (await alice.api.lookup(world.servers, alice.identity.peer_id)).seq == good
    assert network


async def test_flood_is_limited_and_others_are_served(world: World) -> None:
    await world.restart(DiscoveryLimits(requests_per_s=5, burst=5))
    alice, bob = [await world.client() for _ in range(2)]
    network = await network_of(world, alice)
    results = await asyncio.gather(
        *(alice.api.members(world.servers, network) for _ in range(20)), return_exceptions=True
    )
    limited = [r for r in results if isinstance(r, DiscoveryRefused)]
    assert limited and all(r.code == "rate_limited" for r in limited)
    other = await network_of(world, bob)  # another peer is still served
    assert other


async def test_remove_leave_close(world: World) -> None:
    alice, bob, carol = [await world.client() for _ in range(3)]
    network = await network_of(world, alice)
    token = invite(alice, world, network, uses=2)
    await bob.api.join(world.servers, token.text, bob.record())
    await carol.api.join(world.servers, token.text, carol.record())

    await refused("not_owner", bob.api.remove_member(world.servers, network, carol.peer))
    await alice.api.remove_member(world.servers, network, bob.peer)
    await refused("not_member", bob.api.members(world.servers, network))
    # A removed member cannot come back with the token it already used.
    await refused("invite_spent", bob.api.join(world.servers, token.text, bob.record()))
    await refused("forbidden", alice.api.leave(world.servers, network))
    await carol.api.leave(world.servers, network)
    assert {m.peer for m in await alice.api.members(world.servers, network)} == {alice.peer}
    # Carol left: to her the network is as unknown as one that does not exist.
    await refused("not_member", carol.api.close_network(world.servers, network))
    await refused("not_member", carol.api.close_network(world.servers, secrets.token_hex(16)))
    await alice.api.close_network(world.servers, network)
    await refused("not_member", alice.api.members(world.servers, network))


async def test_restart_keeps_everything(world: World) -> None:
    alice, bob = [await world.client() for _ in range(2)]
    network = await network_of(world, alice)
    token = invite(alice, world, network)
    await bob.api.join(world.servers, token.text, bob.record())
    await world.restart()
    members = await bob.api.members(world.servers, network)
    assert {m.peer for m in members} == {alice.peer, bob.peer}
    assert next(m for m in members if m.peer == bob.peer).record is not None
    carol = await world.client()
    await refused("invite_spent", carol.api.join(world.servers, token.text, carol.record()))
    assert os.path.exists(world.tmp / "discovery.db")


async def test_an_invite_id_of_one_network_cannot_touch_another(world: World) -> None:
    alice, mallory, bob, carol = [await world.client() for _ in range(4)]
    network = await network_of(world, alice)
    theirs = await network_of(world, mallory)
    token = invite(alice, world, network)
    # Mallory learned the id of Alice's invite: she revokes it in her own network and spends
    # a token of her own that reuses it.
    await mallory.api.revoke_invite(world.servers, theirs, token.invite_id, token.expires_ms)
    copy = InviteToken.sign(
        mallory.identity,
        network=theirs,
        network_name="mine",
        discovery=tuple(world.servers),
        role=Role.MEMBER,
        uses=1000,
        expires_ms=token.expires_ms,
        invite_id=token.invite_id,
    )
    await refused("invite_revoked", carol.api.join(world.servers, copy.text, carol.record()))
    # Alice's invite is untouched.
    joined = await bob.api.join(world.servers, token.text, bob.record())
    assert joined.network == network and joined.role == "member"


async def test_records_read_again_are_not_verified_again(world: World, monkeypatch) -> None:
    alice, bob = [await world.client() for _ in range(2)]
    network = await network_of(world, alice)
    await alice.api.register(world.servers, alice.record())
    await bob.api.join(world.servers, invite(alice, world, network).text, bob.record())
    decoded: list[bytes] = []
    real_decode = PeerRecord.decode

    def counting(data: bytes) -> PeerRecord:
        decoded.append(data)
        return real_decode(data)

    monkeypatch.setattr(PeerRecord, "decode", staticmethod(counting))
    first = await alice.api.members(world.servers, network)
    assert len(decoded) == 2 and all(m.record is not None for m in first)
    await alice.api.members(world.servers, network)
    assert len(decoded) == 2  # the same bytes: nothing to check again
    await bob.api.register(world.servers, bob.record())  # the server (here, in-process) checks it
    decoded.clear()
    again = await alice.api.members(world.servers, network)
    assert len(decoded) == 1  # only Bob's new record
    assert next(m for m in again if m.peer == bob.peer).record.seq == bob.seq
