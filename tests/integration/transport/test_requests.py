"""Requests between real hosts: round trips, who the handler sees, dialling and its failures."""

from __future__ import annotations

import asyncio
import os

import pytest

from secondme.protocol.errors import FrameTooLarge
from secondme.protocol.framing import encode_frame
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.transport import (
    SMP_PROTOCOL_ID,
    DialFailed,
    PeerIdMismatch,
    ProtocolRefused,
    RequestTimeout,
    TransportLimits,
)
from tests.integration.transport.conftest import FAST_LIMITS, LOOPBACK, RawStream

pytestmark = pytest.mark.timeout(60)


def transport_part(multiaddr: str) -> str:
    return multiaddr.rpartition("/p2p/")[0]


async def test_round_trip_and_the_handler_sees_the_authenticated_peer(make_host):
    seen: list[PeerId] = []

    async def pong(peer: PeerId, payload: bytes) -> bytes:
        seen.append(peer)
        return b"pong:" + payload

    seed = os.urandom(32)
    server = await make_host(pong)
    client = await make_host(seed=seed)

    assert client.peer_id == Identity.from_seed(seed).peer_id
    (addr,) = server.addrs
    assert addr.endswith(f"/p2p/{server.peer_id}") and "/tcp/0/" not in addr

    assert await client.connect(addr) == server.peer_id
    assert await client.request(server.peer_id, b"ping") == b"pong:ping"
    assert seen == [client.peer_id]
    assert client.connected_peers() == [server.peer_id]
    assert server.connected_peers() == [client.peer_id]


async def test_a_requester_may_close_its_write_side_after_its_frame(make_host):
    """A half-close after a whole frame is the normal end of the request, not a cancellation."""
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_echo(peer: PeerId, payload: bytes) -> bytes:
        started.set()
        await release.wait()
        return payload

    server, client = await make_host(slow_echo), await make_host()
    await client.connect(server.addrs[0])
    stream = await RawStream.open(client, server.peer_id)
    await stream.write(encode_frame(b"then I closed"))
    await stream.close_write()
    await started.wait()  # the handler runs with the requester's side already closed
    release.set()
    received, was_reset = await stream.read_to_end()
    assert received == encode_frame(b"then I closed") and not was_reset


async def test_three_hosts_each_request_reaches_the_right_handler(make_host):
    async def whoami(peer: PeerId, payload: bytes) -> bytes:
        return str(peer).encode() + b"|" + payload

    a, b, c = await make_host(whoami), await make_host(whoami), await make_host(whoami)
    await a.connect(c.addrs[0])
    await b.connect(c.addrs[0])

    from_a, from_b = await asyncio.gather(*(host.request(c.peer_id, b"x" * 100) for host in (a, b)))
    assert from_a == str(a.peer_id).encode() + b"|" + b"x" * 100
    assert from_b == str(b.peer_id).encode() + b"|" + b"x" * 100
    # c never learnt a's address: it answers over the connection a opened.
    assert await c.request(a.peer_id, b"back") == str(c.peer_id).encode() + b"|back"
    assert sorted(map(str, c.connected_peers())) == sorted([str(a.peer_id), str(b.peer_id)])


async def test_many_concurrent_requests_share_one_connection(make_host):
    server = await make_host(limits=TransportLimits(max_streams_per_peer=64))
    client = await make_host()
    await client.connect(server.addrs[0])
    payloads = [os.urandom(200 + i) for i in range(40)]
    responses = await asyncio.gather(*(client.request(server.peer_id, p) for p in payloads))
    assert responses == payloads
    assert client.connected_peers() == [server.peer_id]


async def test_large_payload_round_trip(make_host):
    server, client = await make_host(), await make_host()
    await client.connect(server.addrs[0])
    payload = os.urandom(1024 * 1024)
    assert await client.request(server.peer_id, payload) == payload


async def test_connect_to_an_address_that_is_another_key_raises_peer_id_mismatch(make_host):
    a, b = await make_host(), await make_host()
    impostor_claim = Identity.generate().peer_id
    with pytest.raises(PeerIdMismatch):
        await a.connect(f"{transport_part(b.addrs[0])}/p2p/{impostor_claim}")
    assert a.connected_peers() == []
    # The same address under the right id still works.
    assert await a.connect(b.addrs[0]) == b.peer_id


async def test_request_without_any_known_address_fails_to_dial(make_host):
    client = await make_host()
    with pytest.raises(DialFailed, match="no known address"):
        await client.request(Identity.generate().peer_id, b"hello")


async def test_request_to_a_dead_address_gives_up_after_the_dial_timeout(make_host):
    client = await make_host(limits=TransportLimits(dial_timeout_s=0.4))
    nobody = Identity.generate().peer_id
    client.add_address(nobody, ["/ip4/127.0.0.1/tcp/1"])
    with pytest.raises(DialFailed):
        await client.request(nobody, b"hello")


async def test_request_times_out_and_the_responders_handler_is_cancelled(make_host):
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(peer: PeerId, payload: bytes) -> bytes:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b""

    server, client = await make_host(stuck), await make_host()
    await client.connect(server.addrs[0])
    with pytest.raises(RequestTimeout):
        await client.request(server.peer_id, b"slow", timeout=0.5)
    assert started.is_set()
    async with asyncio.timeout(5):
        await cancelled.wait()


async def test_a_response_above_the_requesters_max_frame_is_refused(make_host):
    async def big(peer: PeerId, payload: bytes) -> bytes:
        return b"y" * 5000

    server = await make_host(big)
    client = await make_host(limits=TransportLimits(max_frame=4096))
    await client.connect(server.addrs[0])
    with pytest.raises(FrameTooLarge):
        await client.request(server.peer_id, b"small")
    with pytest.raises(ValueError, match="max_frame"):
        await client.request(server.peer_id, b"z" * 4097)


async def test_a_peer_without_the_smp_protocol_refuses(make_host):
    server, client = await make_host(), await make_host()

    async def drop_smp(libp2p_host) -> None:
        libp2p_host.remove_stream_handler(SMP_PROTOCOL_ID)

    await server.call_in_libp2p(drop_smp)
    await client.connect(server.addrs[0])
    with pytest.raises(ProtocolRefused):
        await client.request(server.peer_id, b"hello")


async def test_restarted_peer_is_redialled_with_the_same_identity(make_host):
    seed = os.urandom(32)
    server = await make_host(seed=seed)
    client = await make_host()
    await client.connect(server.addrs[0])
    assert await client.request(server.peer_id, b"before") == b"before"

    port = server.addrs[0].split("/tcp/")[1].split("/")[0]
    await server.close()
    # Dials fail while the server is down; request() keeps trying with backoff.
    pending = asyncio.create_task(client.request(server.peer_id, b"after"))
    restarted = await make_host(seed=seed, listen=[f"/ip4/127.0.0.1/tcp/{port}"])
    assert restarted.peer_id == server.peer_id
    assert await pending == b"after"
    assert client.connected_peers() == [server.peer_id]


async def test_a_taken_port_is_refused(make_host):
    from secondme.protocol.transport import ListenFailed

    first = await make_host()
    port = first.addrs[0].split("/tcp/")[1].split("/")[0]
    with pytest.raises(ListenFailed):
        await make_host(listen=[f"/ip4/127.0.0.1/tcp/{port}"])


def test_fast_limits_are_valid():
    assert FAST_LIMITS.first_byte_timeout_s < FAST_LIMITS.request_timeout_s
    with pytest.raises(ValueError):
        TransportLimits(max_streams_per_peer=0)
    assert LOOPBACK.endswith("/tcp/0")
