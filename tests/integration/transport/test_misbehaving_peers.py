"""Peers that break the rules get an error frame or their stream reset; the host keeps serving
everyone else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.framing import encode_frame, encode_uvarint
from secondme.protocol.identity import PeerId
from secondme.protocol.transport import StreamReset, TransportLimits
from tests.integration.transport.conftest import FAST_LIMITS, RawStream

pytestmark = pytest.mark.timeout(60)

TRANSPORT_LOGGER = "secondme.protocol.transport"


async def test_a_silent_stream_is_reset_after_the_first_byte_timeout(make_host):
    server = await make_host()
    silent, polite = await make_host(), await make_host()
    await silent.connect(server.addrs[0])
    await polite.connect(server.addrs[0])

    opened_at = time.monotonic()
    stream = await RawStream.open(silent, server.peer_id)
    assert await polite.request(server.peer_id, b"meanwhile") == b"meanwhile"

    received, was_reset = await stream.read_to_end()
    assert received == b"" and was_reset
    assert time.monotonic() - opened_at >= FAST_LIMITS.first_byte_timeout_s * 0.9
    assert await polite.request(server.peer_id, b"after") == b"after"


async def test_a_stream_that_never_negotiates_is_reset_too(make_host):
    server, silent = await make_host(), await make_host()
    await silent.connect(server.addrs[0])
    stream = await RawStream.open_unnegotiated(silent, server.peer_id)
    received, was_reset = await stream.read_to_end()
    # py-libp2p's negotiation timeout: first_byte_timeout_s in whole seconds, at least 1.
    assert was_reset and received in (b"", encode_frame(b"/multistream/1.0.0\n"))
    assert await silent.request(server.peer_id, b"still fine") == b"still fine"


BAD_FRAMES = [
    pytest.param(encode_uvarint(1025) + b"x" * 100, "frame_too_large", id="length-above-max-frame"),
    pytest.param(b"\x80\x00", "malformed", id="non-minimal-length"),
    pytest.param(b"\xff" * 9, "malformed", id="endless-length"),
]


async def refuse_with_code(peer: PeerId, error: RemoteProtocolError) -> bytes:
    """Stands for the node's signed error frame: the transport only moves its bytes."""
    return f"refused {peer}: {error.code}".encode()


@pytest.mark.parametrize(("garbage", "code"), BAD_FRAMES)
async def test_bad_framing_is_answered_with_the_error_frame(make_host, garbage, code):
    server = await make_host(
        limits=TransportLimits(max_frame=1024, first_byte_timeout_s=5), refuse=refuse_with_code
    )
    client = await make_host()
    await client.connect(server.addrs[0])

    stream = await RawStream.open(client, server.peer_id)
    await stream.write(garbage)
    received, _ = await stream.read_to_end()
    assert received == encode_frame(f"refused {client.peer_id}: {code}".encode())
    assert await client.request(server.peer_id, b"still there") == b"still there"


async def test_a_peer_that_leaves_its_side_open_after_the_error_frame_is_reset(make_host):
    limits = TransportLimits(max_frame=1024, first_byte_timeout_s=0.5)
    server = await make_host(limits=limits, refuse=refuse_with_code)
    client = await make_host()
    await client.connect(server.addrs[0])

    stream = await RawStream.open(client, server.peer_id)
    await stream.write(encode_uvarint(1 << 20) + bytes(512))  # and then neither more nor EOF
    opened_at = time.monotonic()
    received, _ = await stream.read_to_end()  # the error frame, then the server's half-close
    assert received == encode_frame(f"refused {client.peer_id}: frame_too_large".encode())
    assert await stream.reset_by_peer()
    assert time.monotonic() - opened_at >= limits.first_byte_timeout_s * 0.9
    assert await client.request(server.peer_id, b"still there") == b"still there"


async def test_a_peer_that_keeps_writing_after_the_error_frame_is_reset(make_host):
    limits = TransportLimits(max_frame=1024, first_byte_timeout_s=5)
    server = await make_host(limits=limits, refuse=refuse_with_code)
    client = await make_host()
    await client.connect(server.addrs[0])

    stream = await RawStream.open(client, server.peer_id)
    await stream.write(encode_uvarint(1 << 20))
    opened_at = time.monotonic()
    received, _ = await stream.read_to_end()
    assert received == encode_frame(f"refused {client.peer_id}: frame_too_large".encode())
    with contextlib.suppress(Exception):  # the reset may cut the write short
        await stream.write(bytes(64 * 1024))
    assert await stream.reset_by_peer()
    assert time.monotonic() - opened_at < limits.first_byte_timeout_s  # bytes, not time, ended it
    assert await client.request(server.peer_id, b"still there") == b"still there"


@pytest.mark.parametrize(("garbage", "code"), BAD_FRAMES)
async def test_bad_framing_resets_the_stream_of_a_host_without_error_frames(
    make_host, garbage, code
):
    server = await make_host(limits=TransportLimits(max_frame=1024, first_byte_timeout_s=5))
    client = await make_host()
    await client.connect(server.addrs[0])

    stream = await RawStream.open(client, server.peer_id)
    await stream.write(garbage)
    received, was_reset = await stream.read_to_end()
    assert received == b"" and was_reset
    assert await client.request(server.peer_id, b"still there") == b"still there"


async def test_a_truncated_frame_is_answered_malformed(make_host):
    server, client = await make_host(refuse=refuse_with_code), await make_host()
    await client.connect(server.addrs[0])

    stream = await RawStream.open(client, server.peer_id)
    await stream.write(encode_frame(b"0123456789")[:-3])
    await stream.close_write()
    received, was_reset = await stream.read_to_end()
    assert received == encode_frame(f"refused {client.peer_id}: malformed".encode())
    assert not was_reset
    assert await client.request(server.peer_id, b"ok") == b"ok"


async def test_a_refusal_without_an_error_frame_resets_the_stream(make_host):
    async def over_its_rate(peer: PeerId, error: RemoteProtocolError) -> None:
        return None

    server, client = await make_host(refuse=over_its_rate), await make_host()
    await client.connect(server.addrs[0])
    stream = await RawStream.open(client, server.peer_id)
    await stream.write(encode_frame(b"0123456789")[:-3])
    await stream.close_write()
    received, was_reset = await stream.read_to_end()
    assert received == b"" and was_reset


async def test_a_failing_handler_resets_that_stream_only(make_host, caplog):
    async def fragile(peer: PeerId, payload: bytes) -> bytes:
        if payload == b"boom":
            raise RuntimeError("handler bug")
        return payload

    server, client = await make_host(fragile), await make_host()
    await client.connect(server.addrs[0])
    with caplog.at_level(logging.WARNING, logger=TRANSPORT_LOGGER):
        with pytest.raises(StreamReset):
            await client.request(server.peer_id, b"boom")
        assert await client.request(server.peer_id, b"fine") == b"fine"
    failures = [r for r in caplog.records if "handler bug" in r.getMessage()]
    assert len(failures) == 1 and "\n" not in failures[0].getMessage()


async def test_streams_over_the_per_peer_limit_are_refused_without_stalling_others(make_host):
    limit = 2
    entered = asyncio.Condition()
    inside = 0
    release = asyncio.Event()
    greedy_peer: list[PeerId] = []

    async def hold_greedy(peer: PeerId, payload: bytes) -> bytes:
        nonlocal inside
        if peer in greedy_peer:
            async with entered:
                inside += 1
                entered.notify_all()
            await release.wait()
        return payload

    server = await make_host(hold_greedy, limits=TransportLimits(max_streams_per_peer=limit))
    greedy, other = await make_host(), await make_host()
    greedy_peer.append(greedy.peer_id)
    await greedy.connect(server.addrs[0])
    await other.connect(server.addrs[0])

    held = [asyncio.create_task(greedy.request(server.peer_id, b"%d" % i)) for i in range(limit)]
    async with entered:
        await entered.wait_for(lambda: inside == limit)
    with pytest.raises(StreamReset):
        await greedy.request(server.peer_id, b"one too many")
    assert await other.request(server.peer_id, b"not stalled") == b"not stalled"

    release.set()
    assert await asyncio.gather(*held) == [b"0", b"1"]
    assert await greedy.request(server.peer_id, b"room again") == b"room again"


async def test_a_requester_that_gives_up_cancels_the_handler_and_keeps_the_connection(make_host):
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(peer: PeerId, payload: bytes) -> bytes:
        if payload != b"never mind":
            return payload
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return payload

    server, client = await make_host(slow), await make_host()
    await client.connect(server.addrs[0])
    # Repeated, because a cancellation landing inside a py-libp2p write used to break the
    # Noise session (and so the connection) about once in a hundred tries.
    for attempt in range(20):
        started.clear()
        cancelled.clear()
        request = asyncio.create_task(client.request(server.peer_id, b"never mind"))
        await started.wait()
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        async with asyncio.timeout(5):
            await cancelled.wait()
        assert await client.request(server.peer_id, b"%d" % attempt) == b"%d" % attempt
    assert client.connected_peers() == [server.peer_id]
