"""The limits a host puts on its peers and on itself, in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, fields

from secondme.protocol.framing import MAX_FRAME_SIZE


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportLimits:
    """Bounds on what one peer can cost this host, and on how long this host waits.

    Defaults suit a node on a home connection talking to a few dozen peers; tests shrink them.
    """

    max_frame: int = MAX_FRAME_SIZE
    """Largest request or response payload, in bytes; a bigger inbound frame resets the stream."""
    first_byte_timeout_s: float = 10.0
    """How long an inbound stream may stay silent before it is reset, so a peer cannot hold
    streams open for free. (Before the protocol is negotiated, py-libp2p's own negotiation
    timeout applies: this value rounded down to whole seconds, at least 1.)"""
    request_timeout_s: float = 30.0
    """Whole-request bound: inbound, from stream open to response written (the handler
    included); outbound, the default for :meth:`SmpHost.request` (dialling included)."""
    max_streams_per_peer: int = 16
    """Concurrent inbound SMP streams one peer may have; the next one is reset at once."""
    idle_connection_timeout_s: float = 300.0
    """A connection with no stream in flight for this long is closed; a request redials."""
    dial_timeout_s: float = 10.0
    """How long to keep trying to connect (with backoff between tries) before giving up."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value <= 0:
                raise ValueError(f"TransportLimits.{field.name} must be positive, not {value}")
