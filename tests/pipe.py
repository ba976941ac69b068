"""SMP endpoints connected in memory, without libp2p: what httpx's ``MockTransport`` is to its
client, a :class:`Pipe` is to :class:`~secondme.node.p2p.service.P2PService`.

A :class:`Pipe` is a host factory (give it as ``P2PService(..., host=pipe)``); every host it made
and started reaches every other by peer id. A request runs the other service's ``serve`` on the
same asyncio loop, with the asker's peer id as the remote peer (what the Noise session proves on
a real host), and returns its frame; a streamed answer is pumped frame by frame in a task of its
own, as the real transport writes each frame as the handler yields it, and an asker that leaves
cancels that task. Errors are the transport's own: an unknown or stopped peer is
:class:`DialFailed`, a handler that raises resets the stream (:class:`StreamReset`), a slow one
times out (:class:`RequestTimeout`). Frame-level defences (length prefixes, per-peer stream and
buffer limits) are the real host's, tested in ``tests/integration/transport/``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.transport.admission import IsTrusted, trust_everyone
from secondme.protocol.transport.errors import DialFailed, RequestTimeout, StreamReset
from secondme.protocol.transport.inbound import Handler, Refuser
from secondme.protocol.transport.limits import TransportLimits

_END = object()


class Pipe:
    """The hosts of several services in one process, reachable by peer id."""

    def __init__(self) -> None:
        self._running: dict[PeerId, PipeHost] = {}

    def __call__(
        self,
        seed: bytes,
        listen: Sequence[str],
        handler: Handler,
        *,
        limits: TransportLimits | None = None,
        is_trusted: IsTrusted = trust_everyone,
        refuse: Refuser | None = None,
    ) -> PipeHost:
        return PipeHost(self, Identity.from_seed(seed).peer_id, handler, limits)

    def reach(self, peer: PeerId) -> PipeHost:
        host = self._running.get(peer)
        if host is None:
            raise DialFailed(f"{peer} is not listening on this pipe")
        return host

    def listen(self, host: PipeHost) -> None:
        self._running[host.peer_id] = host

    def leave(self, host: PipeHost) -> None:
        if self._running.get(host.peer_id) is host:
            del self._running[host.peer_id]


class PipeHost:
    """One service's end of a :class:`Pipe`; the :class:`~secondme.node.p2p.host.Host` interface."""

    def __init__(
        self, pipe: Pipe, peer_id: PeerId, handler: Handler, limits: TransportLimits | None
    ) -> None:
        self._pipe = pipe
        self.peer_id = peer_id
        self._handler = handler
        self._limits = limits or TransportLimits()
        self._connected: set[PeerId] = set()
        self._started = False

    @property
    def addrs(self) -> list[str]:
        return [f"/memory/p2p/{self.peer_id}"] if self._started else []

    async def start(self) -> list[str]:
        self._started = True
        self._pipe.listen(self)
        return self.addrs

    async def close(self) -> None:
        self._started = False
        self._pipe.leave(self)
        self._connected.clear()

    async def connect(self, multiaddr_text: str) -> PeerId:
        peer = PeerId.from_base58(multiaddr_text.rpartition("/p2p/")[2])
        self._pipe.reach(peer)
        self._connected.add(peer)
        return peer

    def add_address(self, peer: PeerId, multiaddrs: Sequence[str]) -> None:
        """Nothing to remember: the pipe finds a peer by its id."""

    def connected_peers(self) -> list[PeerId]:
        return sorted(self._connected, key=str)

    async def disconnect(self, peer: PeerId) -> None:
        self._connected.discard(peer)

    async def request(self, peer: PeerId, payload: bytes, *, timeout: float | None = None) -> bytes:
        async with contextlib.aclosing(self.request_stream(peer, payload, timeout=timeout)) as got:
            async for frame in got:
                return frame
        raise StreamReset(f"{peer} closed the stream without a response")

    async def request_stream(
        self, peer: PeerId, payload: bytes, *, timeout: float | None = None
    ) -> AsyncIterator[bytes]:
        if len(payload) > self._limits.max_frame:
            raise ValueError(f"a payload of {len(payload)} bytes is above max_frame")
        target = self._pipe.reach(peer)
        self._connected.add(peer)
        target._connected.add(self.peer_id)
        frames: asyncio.Queue[object] = asyncio.Queue()
        pump = asyncio.create_task(target._answer(self.peer_id, payload, frames))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._limits.request_timeout_s if timeout is None else timeout)
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(frames.get(), deadline - loop.time())
                except TimeoutError:
                    raise RequestTimeout(f"no response from {peer} within {timeout} s") from None
                if frame is _END:
                    break
                assert isinstance(frame, bytes)
                yield frame
            try:
                await pump
            except Exception as exc:
                raise StreamReset(f"the stream to {peer} was reset") from exc
        finally:
            if not pump.done():
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    async def _answer(self, asker: PeerId, payload: bytes, frames: asyncio.Queue[object]) -> None:
        """Serve one request from ``asker``: each frame into ``frames``, then the end."""
        try:
            answer = await self._handler(asker, payload)
            if isinstance(answer, bytes):
                frames.put_nowait(answer)
                return
            try:
                async for frame in answer:
                    frames.put_nowait(frame)
            finally:
                close = getattr(answer, "aclose", None)
                if close is not None:
                    await close()
        finally:
            frames.put_nowait(_END)
