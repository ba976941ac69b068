"""Frames on an SMP stream: an unsigned-varint length prefix, then that many payload bytes.

Sans-IO: :class:`FrameDecoder` takes bytes as they arrive (whole, or one at a time) and hands out
complete payloads; it never buffers more than one maximum-size frame plus a prefix, so a peer
cannot make it hold unbounded memory. The varint is the unsigned LEB128 used across libp2p
(7 bits per byte, least significant group first, high bit = more bytes follow), minimally
encoded, at most 9 bytes.

A prefix is judged once its last byte is in (or its ninth byte says more follow), in this
order: longer than 9 bytes is ``malformed``; not minimal is ``malformed``; a length above the
limit is ``frame_too_large``. So a prefix both non-minimal and too large is ``malformed``, the
same whether the bytes arrive whole or one at a time.
"""

from __future__ import annotations

from secondme.protocol.errors import FrameTooLarge, MalformedFrame

MAX_FRAME_SIZE = 4 * 1024 * 1024
"""The largest payload one frame may carry (4 MiB)."""
_MAX_VARINT_BYTES = 9


def encode_uvarint(value: int) -> bytes:
    if value < 0:
        raise ValueError("uvarint cannot encode a negative number")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_frame(payload: bytes, *, max_size: int = MAX_FRAME_SIZE) -> bytes:
    if len(payload) > max_size:
        raise FrameTooLarge(
            f"payload of {len(payload)} bytes exceeds the {max_size}-byte frame limit"
        )
    return encode_uvarint(len(payload)) + payload


class FrameDecoder:
    """Bytes in, whole frame payloads out."""

    def __init__(self, *, max_size: int = MAX_FRAME_SIZE) -> None:
        self._max_size = max_size
        self._buffer = bytearray()
        self._length: int | None = None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def pending_length(self) -> int | None:
        """The payload length of the frame being read, once its whole prefix has arrived (so a
        reader can reserve room for it before the payload comes); ``None`` before that."""
        return self._length

    def receive_data(self, data: bytes) -> None:
        """Take the next bytes of the stream; raises as soon as the prefix is invalid.

        The bound on what stays buffered (the current frame, plus at most one more prefix and
        frame) is checked after every call, including the first, whose bytes may hold the
        prefix and far more than a frame.
        """
        self._buffer += data
        if self._length is None:
            self._read_prefix()
        if (
            self._length is not None
            and len(self._buffer) > self._length + _MAX_VARINT_BYTES + self._max_size
        ):
            raise FrameTooLarge("peer sent more than one frame's worth of data at once")

    def end_of_stream(self) -> None:
        """The peer closed its side; raises :class:`MalformedFrame` if a frame was cut short.

        A prefix or payload left half-read when the stream ends is a truncated frame, which
        ``next_frame`` alone cannot tell apart from bytes still on their way. Whole frames
        still buffered are not an error: ``next_frame`` hands them out afterwards.
        """
        if self._length is None and self._buffer:
            self._read_prefix()
            if self._length is None:
                raise MalformedFrame("stream ended inside a length prefix")
        if self._length is not None and len(self._buffer) < self._length:
            raise MalformedFrame(
                f"stream ended after {len(self._buffer)} of {self._length} payload bytes"
            )

    def _read_prefix(self) -> None:
        value = 0
        for index, byte in enumerate(self._buffer[:_MAX_VARINT_BYTES]):
            value |= (byte & 0x7F) << (7 * index)
            if byte & 0x80:
                continue
            if byte == 0 and index > 0:
                raise MalformedFrame("length prefix is not minimally encoded")
            if value > self._max_size:
                raise FrameTooLarge(
                    f"frame of {value} bytes exceeds the {self._max_size}-byte limit"
                )
            del self._buffer[: index + 1]
            self._length = value
            return
        if len(self._buffer) >= _MAX_VARINT_BYTES:
            raise MalformedFrame("length prefix longer than 9 bytes")

    def next_frame(self) -> bytes | None:
        """The next complete payload, or ``None`` until more data arrives."""
        if self._length is None:
            self._read_prefix()
            if self._length is None:
                return None
        if len(self._buffer) < self._length:
            return None
        payload = bytes(self._buffer[: self._length])
        del self._buffer[: self._length]
        self._length = None
        return payload
