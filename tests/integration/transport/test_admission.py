"""Strangers (peers the host does not trust) share bounded pools of connections, streams and
buffer bytes; a flood of them never takes the room of a trusted peer. Real hosts on loopback,
where every peer has the same address, as fresh identities behind one address would."""

from __future__ import annotations

import asyncio
import os

import pytest

from secondme.protocol.errors import RemoteProtocolError, TransportError
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.transport import StreamReset, TransportLimits
from tests.integration.transport.conftest import FAST_LIMITS

pytestmark = pytest.mark.timeout(90)

FRIEND_SEED = os.urandom(32)
FRIEND = Identity.from_seed(FRIEND_SEED).peer_id


def trusts_friend(peer: PeerId) -> bool:
    return peer == FRIEND


async def refuse_with_code(peer: PeerId, error: RemoteProtocolError) -> bytes:
    return error.code.encode()


async def eventually(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)  # polling the host's connection table


def limits(**changes) -> TransportLimits:
    fields = {
        "first_byte_timeout_s": 1.0,
        "request_timeout_s": 5.0,
        "dial_timeout_s": 1.0,
        "max_stranger_connections": 64,
        "max_stranger_connections_per_ip": 64,
    }
    return TransportLimits(**(fields | changes))


@pytest.mark.parametrize(
    "cap", ["max_stranger_connections", "max_stranger_connections_per_ip"], ids=["all", "per-ip"]
)
async def test_strangers_over_the_connection_caps_are_closed_but_a_trusted_peer_gets_in(
    make_host, cap
):
    server = await make_host(limits=limits(**{cap: 2}), is_trusted=trusts_friend)
    first, second, third = [await make_host(limits=limits()) for _ in range(3)]
    for stranger in (first, second):
        await stranger.connect(server.addrs[0])
        assert await stranger.request(server.peer_id, b"in") == b"in"

    await third.connect(server.addrs[0])  # the handshake passes; then the host closes it
    with pytest.raises((TransportError, StreamReset)):
        await third.request(server.peer_id, b"one too many")
    await eventually(lambda: set(server.connected_peers()) == {first.peer_id, second.peer_id})

    friend = await make_host(seed=FRIEND_SEED, limits=limits())
    await friend.connect(server.addrs[0])
    assert await friend.request(server.peer_id, b"trusted") == b"trusted"

    await first.disconnect(server.peer_id)
    await eventually(lambda: first.peer_id not in server.connected_peers())
    await third.connect(server.addrs[0])
    assert await third.request(server.peer_id, b"room again") == b"room again"


async def test_a_stranger_gets_fewer_streams_than_a_trusted_peer(make_host):
    release = asyncio.Event()
    inside: list[PeerId] = []

    async def hold(peer: PeerId, payload: bytes) -> bytes:
        inside.append(peer)
        await release.wait()
        return payload

    server = await make_host(
        hold,
        limits=limits(max_streams_per_stranger=1, max_streams_per_peer=3),
        is_trusted=trusts_friend,
    )
    stranger = await make_host(limits=limits())
    friend = await make_host(seed=FRIEND_SEED, limits=limits())
    for client in (stranger, friend):
        await client.connect(server.addrs[0])

    held = [asyncio.create_task(stranger.request(server.peer_id, b"s"))]
    held += [asyncio.create_task(friend.request(server.peer_id, b"f%d" % i)) for i in range(3)]
    await eventually(lambda: len(inside) == 4)
    with pytest.raises(StreamReset):
        await stranger.request(server.peer_id, b"a second stream")
    release.set()
    assert await asyncio.gather(*held) == [b"s", b"f0", b"f1", b"f2"]


async def test_strangers_cannot_make_the_host_buffer_more_than_their_share(make_host):
    server = await make_host(
        limits=limits(max_frame=64 * 1024, max_stranger_buffered_bytes=4096),
        is_trusted=trusts_friend,
        refuse=refuse_with_code,
    )
    stranger = await make_host(limits=limits(max_frame=64 * 1024))
    friend = await make_host(seed=FRIEND_SEED, limits=limits(max_frame=64 * 1024))
    for client in (stranger, friend):
        await client.connect(server.addrs[0])

    assert await stranger.request(server.peer_id, bytes(4096)) == bytes(4096)
    assert await stranger.request(server.peer_id, bytes(4097)) == b"busy"
    assert await friend.request(server.peer_id, bytes(32 * 1024)) == bytes(32 * 1024)


def test_the_stranger_limits_are_smaller_by_default():
    default = TransportLimits()
    assert default.max_streams_per_stranger < default.max_streams_per_peer
    assert default.max_stranger_connections < default.max_connections
    assert default.max_stranger_buffered_bytes < default.max_buffered_bytes
    assert FAST_LIMITS.max_stranger_connections_per_ip <= FAST_LIMITS.max_stranger_connections
