"""Serving inbound SMP streams (trio side): one request frame in, the handler's frame out.

A handler may instead return an async iterator of frames (a streamed answer): each is written
as soon as the asyncio side produces it, the last one ends the stream.

A frame that cannot be read (a bad or too large length prefix, a frame cut short by the end of
the stream, or one that does not fit the :class:`~.admission.BufferBudget`) is answered by the
host's ``refuse`` callback, which signs the error frame the spec asks for; the payload is not
read, the stream is closed, and whatever the peer still sends is discarded for a bounded time
before a reset. Every other way a peer can misbehave ends in a reset of that one stream and at
most one log line: too many streams at once (fewer for a stranger), silence (first-byte
timeout), a slow request (request timeout), a handler that raises. A requester that resets its
stream while the handler runs gets the handler cancelled, so a peer that gave up costs nothing
more.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio
from libp2p.abc import INetStream
from libp2p.network.stream.exceptions import StreamEOF

from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.identity import PeerId
from secondme.protocol.transport.admission import BufferBudget, IsTrusted, Reservation
from secondme.protocol.transport.bridge import TrioBridge, unwrap_group
from secondme.protocol.transport.connections import ConnectionTable, from_libp2p
from secondme.protocol.transport.errors import HostClosed
from secondme.protocol.transport.limits import TransportLimits
from secondme.protocol.transport.streamio import (
    STREAM_ERRORS,
    FrameReader,
    NoFirstByte,
    reset_quietly,
    write_frame,
)

logger = logging.getLogger(__name__)

Handler = Callable[[PeerId, bytes], Awaitable[bytes | AsyncIterator[bytes]]]
Refuser = Callable[[PeerId, RemoteProtocolError], Awaitable[bytes | None]]
"""``(peer, why its frame cannot be read) -> the error frame to send``, or ``None`` to reset."""
_ABANDONED = object()
_CLOSE_TIMEOUT_S = 5.0
_DRAIN_CHUNK = 64 * 1024


class InboundServer:
    """The stream handler registered for ``/secondme/smp/1.0.0``."""

    def __init__(
        self,
        handler: Handler,
        limits: TransportLimits,
        bridge: TrioBridge,
        connections: ConnectionTable,
        *,
        is_trusted: IsTrusted,
        refuse: Refuser | None = None,
    ) -> None:
        self._handler = handler
        self._limits = limits
        self._bridge = bridge
        self._connections = connections
        self._is_trusted = is_trusted
        self._refuse = refuse
        self._buffers = BufferBudget(limits)
        self._open: Counter[PeerId] = Counter()

    async def on_stream(self, stream: INetStream) -> None:
        """Serve one inbound SMP stream; never raises, so one peer cannot hurt the host."""
        peer = from_libp2p(stream.muxed_conn.peer_id)
        trusted = self._is_trusted(peer)
        limit = (
            self._limits.max_streams_per_peer if trusted else self._limits.max_streams_per_stranger
        )
        if self._open[peer] >= limit:
            logger.warning("refused a stream from %s: %d already open (the limit)", peer, limit)
            await reset_quietly(stream)
            return
        self._open[peer] += 1
        self._connections.begin(peer)
        held = Reservation(self._buffers, trusted=trusted)
        answered = False
        try:
            with trio.move_on_after(self._limits.request_timeout_s) as overall:
                answered = await self._answer(stream, peer, held)
            if overall.cancelled_caught:
                logger.warning(
                    "a request from %s took over %g s; stream reset",
                    peer,
                    self._limits.request_timeout_s,
                )
        except NoFirstByte as exc:
            logger.info("a stream from %s sent nothing (%s); stream reset", peer, exc)
        except (*STREAM_ERRORS, HostClosed) as exc:
            logger.debug("a stream from %s failed: %r", peer, exc)
        except Exception as exc:
            logger.warning(
                "the SMP handler failed on a request from %s (%s: %s); stream reset",
                peer,
                type(exc).__name__,
                exc,
            )
        finally:
            held.release()
            self._open[peer] -= 1
            if self._open[peer] <= 0:
                del self._open[peer]
            self._connections.end(peer)
            if not answered:
                await reset_quietly(stream)

    async def _answer(self, stream: INetStream, peer: PeerId, held: Reservation) -> bool:
        """Read the request, ask the handler, write the response; False if there was none."""
        max_frame = self._limits.max_frame
        frames = FrameReader(stream, max_size=max_frame, reserve=held.reserve)
        try:
            payload = await frames.next(first_byte_timeout=self._limits.first_byte_timeout_s)
        except RemoteProtocolError as exc:
            return await self._refuse_frame(stream, peer, exc)
        if payload is None:
            return False
        response = await self._call_handler(stream, peer, payload)
        if response is _ABANDONED:
            return False
        if hasattr(response, "__anext__"):
            return await self._stream_answer(stream, peer, response)
        if not isinstance(response, bytes | bytearray | memoryview):
            raise TypeError(f"the handler returned {type(response).__name__}, not bytes")
        if len(response) > max_frame:
            raise ValueError(f"the handler returned {len(response)} bytes, above max_frame")
        await write_frame(stream, bytes(response), max_size=max_frame)
        await stream.close()
        return True

    async def _refuse_frame(
        self, stream: INetStream, peer: PeerId, error: RemoteProtocolError
    ) -> bool:
        """Answer a frame that cannot be read with the host's error frame, without reading its
        payload; False (reset the stream) when there is no error frame to send.

        After the error frame the stream is closed and what the peer still sends is read and
        dropped until it closes or resets its side (at most ``max_frame`` bytes, at most the
        first-byte timeout), so that a peer still writing can read the answer.
        """
        frame = None
        if self._refuse is not None:
            frame = await self._bridge.to_asyncio(self._refuse, peer, error)
        if frame is None:
            logger.info("a bad frame from %s (%s: %s); stream reset", peer, error.code, error)
            return False
        logger.info("a bad frame from %s (%s: %s); answered", peer, error.code, error)
        await write_frame(stream, frame, max_size=self._limits.max_frame)
        await stream.close()
        return await _drain(
            stream, max_bytes=self._limits.max_frame, timeout=self._limits.first_byte_timeout_s
        )

    async def _call_handler(self, stream: INetStream, peer: PeerId, payload: bytes) -> Any:
        """The handler's response, or ``_ABANDONED`` if the requester reset the stream meanwhile
        (the handler is then cancelled: a requester that gave up costs nothing more)."""
        response: Any = _ABANDONED
        error: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_on_reset, stream, nursery.cancel_scope)
                response = await self._bridge.to_asyncio(self._handler, peer, payload)
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            error = unwrap_group(group)
        if error is not None:
            raise error
        if response is _ABANDONED:
            logger.debug("%s reset its stream before the handler answered", peer)
        return response

    async def _stream_answer(
        self, stream: INetStream, peer: PeerId, frames: AsyncIterator[bytes]
    ) -> bool:
        """Write each frame the handler's iterator yields, as it yields it; False if the
        requester reset the stream first (the iterator is then closed, its work cancelled)."""
        max_frame = self._limits.max_frame
        finished = False
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_on_reset, stream, nursery.cancel_scope)
                while (frame := await self._bridge.to_asyncio(_next_frame, frames)) is not None:
                    if not isinstance(frame, bytes) or len(frame) > max_frame:
                        raise ValueError("a streamed answer frame is not bytes within max_frame")
                    await write_frame(stream, frame, max_size=max_frame)
                finished = True
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise unwrap_group(group) from None
        finally:
            if not finished:
                with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_TIMEOUT_S):
                    await self._bridge.to_asyncio(_close_frames, frames)
        if not finished:
            logger.debug("%s reset its stream during a streamed answer", peer)
            return False
        await stream.close()
        return True


async def _drain(stream: INetStream, *, max_bytes: int, timeout: float) -> bool:
    """Read and drop what the peer still sends; True once its side has ended (closed or
    reset), False if it sent more than ``max_bytes`` or kept it open beyond ``timeout``."""
    dropped = 0
    with trio.move_on_after(timeout):
        while dropped <= max_bytes:
            try:
                chunk = await stream.read(_DRAIN_CHUNK)
            except (StreamEOF, *STREAM_ERRORS):
                return True
            if not chunk:
                return True
            dropped += len(chunk)
    return False


async def _next_frame(frames: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(frames)
    except StopAsyncIteration:
        return None


async def _close_frames(frames: AsyncIterator[bytes]) -> None:
    close = getattr(frames, "aclose", None)
    if close is not None:
        await close()


async def _cancel_on_reset(stream: INetStream, scope: trio.CancelScope) -> None:
    """Cancel ``scope`` once the requester resets ``stream`` (or sends more than its frame).

    py-libp2p reports a reset stream as reset or as EOF depending on timing, so EOF is told
    apart from a clean half-close by the yamux stream's own flag.
    """
    try:
        extra = await stream.read(1)
    except StreamEOF:
        extra = b""
    except STREAM_ERRORS:
        scope.cancel()
        return
    if extra or getattr(stream.muxed_stream, "reset_received", False):
        scope.cancel()
        return
    await trio.sleep_forever()
