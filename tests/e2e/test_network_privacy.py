"""What discovery servers and co-members learn of a node's networks: only those they share.

Alice's daemon is in three networks: two on one discovery server (S1) and one on another (S2).
Mallory joins one of the networks on S1 with a real invite, as a real discovery client with its
own identity and libp2p host in this process, so that the test holds exactly what a member is
handed. Neither server may hold, and Mallory may not be handed, the id or name of a network it
does not share with Alice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from secondme.discovery.client import DiscoveryClient
from secondme.protocol.clock import SystemClock
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.records import PeerRecord
from secondme.protocol.transport.host import SmpHost
from tests.e2e import harness

pytestmark = pytest.mark.slow

SHARED, OTHER_ON_S1, ON_S2 = "garden-club", "chess-circle", "cousins-abroad"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("network-privacy")
    servers = [harness.start_discovery(root / name) for name in ("s1", "s2")]
    alice = None
    try:
        alice = harness.start_node(root / "alice", "--name", "Alice", "--public", "name")
        yield root, servers, alice
    finally:
        if alice is not None:
            alice.terminate()
        for server in servers:
            server.terminate()


def _stored(folder: Path) -> bytes:
    """Everything a discovery server wrote: its database (WAL included) and its log."""
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


async def _as_member(token: str, servers: list[str], network: str, owner: str) -> list[bytes]:
    """Join with ``token`` as a fresh peer; the records of the network's members and the record
    a lookup of ``owner`` gives, as the server handed them."""
    identity = Identity.generate()
    host = SmpHost(identity.seed, ["/ip4/127.0.0.1/tcp/0"], _no_requests)
    await host.start()
    try:
        clock = SystemClock()
        client = DiscoveryClient(identity, host, clock)
        record = PeerRecord.sign(
            identity,
            addrs=tuple(host.addrs[:1]),
            display_name="Mallory",
            seq=clock.now_ms(),
            expires_ms=clock.now_ms() + 2 * 3600 * 1000,
        )
        await client.join(servers, token, record)
        members = await client.members(servers, network)
        assert owner in {m.peer for m in members}
        found = await client.lookup(servers, PeerId.from_base58(owner))
        return [m.record.encoded for m in members if m.record] + [found.encoded]
    finally:
        await host.close()


async def _no_requests(peer, payload: bytes) -> bytes:
    raise AssertionError("nobody asks the member anything")


def test_servers_and_members_learn_only_the_networks_they_share(world):
    root, (s1, s2), alice = world
    made = {
        SHARED: alice.cli_json("network", "create", SHARED, "--discovery", s1.addr),
        OTHER_ON_S1: alice.cli_json("network", "create", OTHER_ON_S1, "--discovery", s1.addr),
        ON_S2: alice.cli_json("network", "create", ON_S2, "--discovery", s2.addr),
    }
    ids = {name: network["network_id"] for name, network in made.items()}
    report = alice.cli_json("network", "refresh")  # what a running node does every refresh_s
    assert report["registered"] == 2 and not report["failed"], report

    on_s1, on_s2 = _stored(root / "s1"), _stored(root / "s2")
    assert ids[SHARED].encode() in on_s1 and ids[ON_S2].encode() in on_s2  # the scan sees ids
    for name in (SHARED, OTHER_ON_S1):
        assert ids[name].encode() not in on_s2 and name.encode() not in on_s2, name
    assert ids[ON_S2].encode() not in on_s1 and ON_S2.encode() not in on_s1

    token = alice.cli_json("invite", "--network", SHARED, "--uses", "1", "--expires", "1h")
    handed = asyncio.run(_as_member(token["token"], [s1.addr], ids[SHARED], alice.peer_id))
    assert len(handed) >= 3  # Alice and Mallory as members, and Alice by lookup
    for record in handed:
        for name in (OTHER_ON_S1, ON_S2):
            assert ids[name].encode() not in record and name.encode() not in record, name
