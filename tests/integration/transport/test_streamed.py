"""Streamed answers between real hosts: frames arrive as the handler makes them, and a
requester that leaves early stops the handler's work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from secondme.protocol.identity import PeerId
from secondme.protocol.transport import StreamReset

pytestmark = pytest.mark.timeout(60)


async def test_frames_arrive_in_order_and_one_at_a_time(make_host):
    release = [asyncio.Event() for _ in range(3)]

    async def handler(peer: PeerId, payload: bytes) -> AsyncIterator[bytes]:
        async def frames() -> AsyncIterator[bytes]:
            for index, gate in enumerate(release):
                yield payload + b":%d" % index
                await gate.wait()  # the next frame waits until the requester saw this one
            yield b"final"

        return frames()

    server = await make_host(handler)
    client = await make_host()
    await client.connect(server.addrs[0])
    received = []
    async for frame in client.request_stream(server.peer_id, b"q"):
        received.append(frame)
        if len(received) <= len(release):
            release[len(received) - 1].set()
    assert received == [b"q:0", b"q:1", b"q:2", b"final"]


async def test_a_single_frame_answer_is_one_item(make_host):
    async def plain(peer: PeerId, payload: bytes) -> bytes:
        return b"only"

    server = await make_host(plain)
    client = await make_host()
    await client.connect(server.addrs[0])
    assert [frame async for frame in client.request_stream(server.peer_id, b"q")] == [b"only"]


async def test_leaving_early_cancels_the_handlers_stream(make_host):
    closed = asyncio.Event()

    async def endless(peer: PeerId, payload: bytes) -> AsyncIterator[bytes]:
        async def frames() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"more"
                    await asyncio.sleep(0)
            finally:
                closed.set()

        return frames()

    server = await make_host(endless)
    client = await make_host()
    await client.connect(server.addrs[0])
    stream = client.request_stream(server.peer_id, b"q")
    assert await anext(stream) == b"more"
    await stream.aclose()
    await asyncio.wait_for(closed.wait(), timeout=10)


async def test_a_handler_stream_that_fails_resets_the_stream(make_host):
    async def failing(peer: PeerId, payload: bytes) -> AsyncIterator[bytes]:
        async def frames() -> AsyncIterator[bytes]:
            yield b"first"
            raise RuntimeError("the model fell over")

        return frames()

    server = await make_host(failing)
    client = await make_host()
    await client.connect(server.addrs[0])
    received = []
    with pytest.raises(StreamReset):
        async for frame in client.request_stream(server.peer_id, b"q"):
            received.append(frame)
    assert received == [b"first"]
