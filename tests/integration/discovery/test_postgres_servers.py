"""Two discovery servers on one PostgreSQL database serve one network: a member joins through
either, sees the same members, and a single-use invite raced through both binds once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from secondme.discovery.client import DiscoveryClient, DiscoveryRefused
from secondme.discovery.server import DiscoveryServer
from secondme.discovery.service import HOUR_MS
from secondme.discovery.store.postgres import PostgresStore
from secondme.protocol.clock import SystemClock
from secondme.protocol.identity import Identity
from secondme.protocol.invites import InviteToken, Role
from secondme.protocol.records import PeerRecord
from secondme.protocol.transport.host import SmpHost
from tests.e2e import harness

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


async def _echo(peer, payload: bytes) -> bytes:
    return payload


class Node:
    def __init__(self, host: SmpHost, identity: Identity) -> None:
        self.identity = identity
        self.host = host
        self.api = DiscoveryClient(identity, host, SystemClock())
        self.seq = 0

    def record(self) -> PeerRecord:
        self.seq += 1
        return PeerRecord.sign(
            self.identity,
            addrs=tuple(self.host.addrs[:1]),
            display_name="n",
            seq=self.seq,
            expires_ms=SystemClock().now_ms() + 2 * HOUR_MS,
        )


@pytest.fixture
async def two_servers(postgres_url: str) -> AsyncIterator[tuple[list[DiscoveryServer], list]]:
    servers = [
        DiscoveryServer(Identity.generate(), [LOOPBACK], PostgresStore(postgres_url))
        for _ in range(2)
    ]
    hosts: list[SmpHost] = []
    for server in servers:
        await server.start()

    async def node() -> Node:
        identity = Identity.generate()
        host = SmpHost(identity.seed, [LOOPBACK], _echo)
        hosts.append(host)
        await host.start()
        return Node(host, identity)

    try:
        yield servers, node
    finally:
        for host in hosts:
            await host.close()
        for server in servers:
            await server.close()
            server.store.close()


async def test_two_servers_serve_one_network(two_servers) -> None:
    (one, two), node = two_servers
    alice, bob, carol, dave, erin = [await node() for _ in range(5)]
    network = secrets.token_hex(16)
    await alice.api.create_network(one.addrs[:1], network, "friends")

    def invite(first: DiscoveryServer, uses: int = 1) -> InviteToken:
        both = first.addrs[:1] + (two if first is one else one).addrs[:1]
        return InviteToken.sign(
            alice.identity,
            network=network,
            network_name="friends",
            discovery=tuple(both),
            role=Role.MEMBER,
            uses=uses,
            expires_ms=SystemClock().now_ms() + HOUR_MS,
            invite_id=secrets.token_hex(16),
        )

    await bob.api.join(two.addrs[:1], invite(two).text, bob.record())
    await carol.api.join(one.addrs[:1], invite(one).text, carol.record())
    through_one = await bob.api.members(one.addrs[:1], network)
    through_two = await carol.api.members(two.addrs[:1], network)
    assert [m.peer for m in through_one] == [m.peer for m in through_two]
    assert len(through_one) == 3
    with_records = {m.peer for m in through_two if m.record is not None}
    assert with_records == {str(bob.identity.peer_id), str(carol.identity.peer_id)}

    # A server that is down: the client moves on to the next one in the token.
    await one.close()
    token = invite(one)
    assert token.discovery[0] == one.addrs[0]
    joined = await dave.api.join(token.discovery, token.text, dave.record())
    assert joined.network == network

    raced = invite(two)
    results = await asyncio.gather(
        erin.api.join(two.addrs[:1], raced.text, erin.record()),
        carol.api.join(two.addrs[:1], raced.text, carol.record()),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, DiscoveryRefused)]
    assert len(refused) == 1 and refused[0].code == "invite_spent", results


async def test_discovery_process_on_postgres(postgres_url: str, tmp_path) -> None:
    process = harness.start_discovery(tmp_path, db=postgres_url)
    try:
        identity = Identity.generate()
        host = SmpHost(identity.seed, [LOOPBACK], _echo)
        await host.start()
        try:
            client = DiscoveryClient(identity, host, SystemClock())
            network = secrets.token_hex(16)
            info = await client.create_network([process.addr], network, "on postgres")
            assert info.owner == str(identity.peer_id)
        finally:
            await host.close()
        assert "postgresql://" in process.log_text()
    finally:
        assert process.terminate() == 0
    assert PostgresStore(postgres_url).network(network) is not None
