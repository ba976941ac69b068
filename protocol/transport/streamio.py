"""One SMP frame in or out of a py-libp2p stream (trio side).

``stream.read(n)`` returns *up to* n bytes (whatever yamux has buffered), so a frame is read in
a loop that feeds :class:`~secondme.protocol.framing.FrameDecoder` until it yields one payload;
the decoder, not this loop, enforces the size limit, so a peer cannot make us buffer more than
one maximum-size frame.
"""

from __future__ import annotations

import logging

import trio
from libp2p.abc import INetStream
from libp2p.network.stream.exceptions import StreamEOF

from secondme.protocol.errors import MalformedFrame
from secondme.protocol.framing import FrameDecoder, encode_frame

logger = logging.getLogger(__name__)

_READ_CHUNK = 256 * 1024
"""Bytes asked for per read: yamux's default receive window, so a big frame needs few reads."""
_RESET_TIMEOUT_S = 1.0


class NoFirstByte(Exception):
    """The peer opened a stream and sent nothing within the first-byte timeout."""


async def read_frame(
    stream: INetStream, *, max_size: int, first_byte_timeout: float | None = None
) -> bytes | None:
    """The payload of the next frame, or ``None`` if the stream ended before its first byte.

    Raises :class:`NoFirstByte`, ``FrameTooLarge`` or ``MalformedFrame`` (truncated frame, bad
    prefix); libp2p stream errors (reset, ...) pass through for the caller to translate.
    """
    decoder = FrameDecoder(max_size=max_size)
    received = 0
    while (payload := decoder.next_frame()) is None:
        chunk = b""
        try:
            if received == 0 and first_byte_timeout is not None:
                with trio.move_on_after(first_byte_timeout) as waiting:
                    chunk = await stream.read(_READ_CHUNK)
                if waiting.cancelled_caught:
                    raise NoFirstByte(f"nothing received within {first_byte_timeout:g} s")
            else:
                chunk = await stream.read(_READ_CHUNK)
        except StreamEOF:
            chunk = b""
        if not chunk:
            if received == 0:
                return None
            raise MalformedFrame(f"the stream ended {received} bytes into a frame")
        received += len(chunk)
        decoder.receive_data(chunk)
    return payload


async def write_frame(stream: INetStream, payload: bytes, *, max_size: int) -> None:
    await stream.write(encode_frame(payload, max_size=max_size))


async def reset_quietly(stream: INetStream) -> None:
    """Reset ``stream``, even while being cancelled; a dead connection is not an error here."""
    with trio.CancelScope(shield=True), trio.move_on_after(_RESET_TIMEOUT_S):
        try:
            await stream.reset()
        except Exception as exc:
            logger.debug("resetting a stream failed: %r", exc)
