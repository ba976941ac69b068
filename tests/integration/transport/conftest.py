"""Real SMP hosts on loopback (libp2p side in a thread each), closed after every test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF, StreamReset
from libp2p.peer.id import ID

from secondme.protocol.identity import PeerId
from secondme.protocol.transport import SMP_PROTOCOL_ID, Handler, SmpHost, TransportLimits

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
FAST_LIMITS = TransportLimits(
    first_byte_timeout_s=0.3, request_timeout_s=5.0, dial_timeout_s=3.0, max_streams_per_peer=4
)
"""Short timeouts so that failure paths finish quickly; generous enough for a loaded machine."""


async def echo(peer: PeerId, payload: bytes) -> bytes:
    return payload


HostFactory = Callable[..., Awaitable[SmpHost]]


@pytest.fixture
async def make_host() -> AsyncIterator[HostFactory]:
    """Start hosts on demand: ``await make_host(handler, seed=..., listen=..., limits=...)``."""
    hosts: list[SmpHost] = []

    async def start(
        handler: Handler = echo,
        *,
        seed: bytes | None = None,
        listen: Sequence[str] = (LOOPBACK,),
        limits: TransportLimits = FAST_LIMITS,
        **options,
    ) -> SmpHost:
        """``options``: the host's ``is_trusted`` and ``refuse``."""
        host = SmpHost(seed or os.urandom(32), list(listen), handler, limits=limits, **options)
        hosts.append(host)
        await host.start()
        return host

    try:
        yield start
    finally:
        for host in hosts:
            await host.close()


class RawStream:
    """A py-libp2p stream driven from the test's loop: a peer that does not follow the rules."""

    def __init__(self, host: SmpHost, stream: INetStream) -> None:
        self._host = host
        self._stream = stream

    @classmethod
    async def open(cls, host: SmpHost, peer: PeerId, protocol: str = SMP_PROTOCOL_ID) -> RawStream:
        async def open_stream(libp2p_host: IHost) -> INetStream:
            return await libp2p_host.new_stream(ID(peer.multihash), [TProtocol(protocol)])

        return cls(host, await host.call_in_libp2p(open_stream))

    @classmethod
    async def open_unnegotiated(cls, host: SmpHost, peer: PeerId) -> RawStream:
        """A yamux stream on which not even the protocol is negotiated."""

        async def open_stream(libp2p_host: IHost) -> INetStream:
            return await libp2p_host.get_network().new_stream(ID(peer.multihash))

        return cls(host, await host.call_in_libp2p(open_stream))

    async def write(self, data: bytes) -> None:
        await self._host.call_in_libp2p(lambda _: self._stream.write(data))

    async def close_write(self) -> None:
        await self._host.call_in_libp2p(lambda _: self._stream.close())

    async def read_to_end(self) -> tuple[bytes, bool]:
        """Everything the other side sends, and whether it ended by resetting the stream."""

        async def read(_: IHost) -> tuple[bytes, bool]:
            received = b""
            try:
                while chunk := await self._stream.read(65536):
                    received += chunk
            except StreamEOF:
                pass
            except StreamReset:
                return received, True
            # py-libp2p may report a reset as EOF; the yamux stream knows which it was.
            return received, bool(getattr(self._stream.muxed_stream, "reset_received", False))

        return await self._host.call_in_libp2p(read)

    async def reset_by_peer(self, timeout: float = 5.0) -> bool:
        """Whether the other side resets the stream within ``timeout`` (even after sending EOF:
        a reset then shows only in the yamux stream's flag)."""

        async def flag(_: IHost) -> bool:
            return bool(getattr(self._stream.muxed_stream, "reset_received", False))

        async with asyncio.timeout(timeout):
            while not await self._host.call_in_libp2p(flag):
                await asyncio.sleep(0.02)  # polling a flag the libp2p thread sets
        return True
