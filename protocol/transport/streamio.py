"""SMP frames in and out of a py-libp2p stream (trio side).

``stream.read(n)`` returns *up to* n bytes (whatever yamux has buffered), so frames are read in
a loop that feeds :class:`~secondme.protocol.framing.FrameDecoder` until it yields a payload;
the decoder, not this loop, enforces the size limit, so a peer cannot make us buffer more than
one maximum-size frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio
from libp2p.abc import INetStream
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.stream.exceptions import StreamEOF

from secondme.protocol.errors import MalformedFrame
from secondme.protocol.framing import FrameDecoder, encode_frame

logger = logging.getLogger(__name__)

STREAM_ERRORS = (BaseLibp2pError, OSError, trio.BrokenResourceError, trio.ClosedResourceError)
"""What a read or write on a stream raises when the peer resets it or the connection dies."""
_READ_CHUNK = 256 * 1024
"""Bytes asked for per read: yamux's default receive window, so a big frame needs few reads."""
_RESET_TIMEOUT_S = 1.0


class NoFirstByte(Exception):
    """The peer opened a stream and sent nothing within the first-byte timeout."""


class FrameReader:
    """Frames read one after another from one stream.

    Reads are chunked, so one read may return the end of a frame and the start of the next:
    the decoder (and its buffer) lives as long as the stream, not one frame.
    """

    def __init__(
        self,
        stream: INetStream,
        *,
        max_size: int,
        reserve: Callable[[int], None] | None = None,
    ) -> None:
        self._stream = stream
        self._decoder = FrameDecoder(max_size=max_size)
        self._reserve = reserve
        self._reserved = False

    async def next(self, *, first_byte_timeout: float | None = None) -> bytes | None:
        """The payload of the next frame, or ``None`` if the stream ended cleanly before it.

        Raises :class:`NoFirstByte` (nothing at all within ``first_byte_timeout``),
        ``FrameTooLarge`` or ``MalformedFrame`` (a truncated frame, a bad prefix), or whatever
        ``reserve`` raises when it is handed the frame's length as soon as the prefix is read
        (before the payload is); libp2p stream errors (reset, ...) pass through for the caller
        to translate.
        """
        received = self._decoder.buffered
        while (payload := self._decoder.next_frame()) is None:
            chunk = b""
            try:
                if received == 0 and first_byte_timeout is not None:
                    with trio.move_on_after(first_byte_timeout) as waiting:
                        chunk = await self._stream.read(_READ_CHUNK)
                    if waiting.cancelled_caught:
                        raise NoFirstByte(f"nothing received within {first_byte_timeout:g} s")
                else:
                    chunk = await self._stream.read(_READ_CHUNK)
            except StreamEOF:
                chunk = b""
            if not chunk:
                if received == 0:
                    return None
                raise MalformedFrame(f"the stream ended {received} bytes into a frame")
            received += len(chunk)
            self._decoder.receive_data(chunk)
            length = self._decoder.pending_length
            if self._reserve is not None and not self._reserved and length is not None:
                self._reserve(length)
                self._reserved = True
        self._reserved = False
        return payload


async def read_frame(
    stream: INetStream, *, max_size: int, first_byte_timeout: float | None = None
) -> bytes | None:
    """The one frame a stream carries (see :meth:`FrameReader.next`)."""
    return await FrameReader(stream, max_size=max_size).next(first_byte_timeout=first_byte_timeout)


async def write_frame(stream: INetStream, payload: bytes, *, max_size: int) -> None:
    await stream.write(encode_frame(payload, max_size=max_size))


async def reset_quietly(stream: INetStream) -> None:
    """Reset ``stream``, even while being cancelled; a dead connection is not an error here."""
    with trio.CancelScope(shield=True), trio.move_on_after(_RESET_TIMEOUT_S):
        try:
            await stream.reset()
        except Exception as exc:
            logger.debug("resetting a stream failed: %r", exc)
