"""The limits a host puts on its peers and on itself, in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, fields

from secondme.protocol.framing import MAX_FRAME_SIZE


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportLimits:
    """Bounds on what one peer, every stranger together and everyone together can cost this
    host, and on how long this host waits.

    A *stranger* is a peer the host's ``is_trusted`` predicate does not vouch for (the node
    trusts the peers it gave a live grant); peer ids cost nothing, so strangers share bounded
    pools and cannot use up the room of trusted peers. Without a predicate every peer gets the
    trusted limits. Defaults suit a node on a home connection talking to a few dozen peers;
    tests shrink them.
    """

    max_frame: int = MAX_FRAME_SIZE
    """Largest request or response payload, in bytes; a bigger inbound frame is refused with
    ``frame_too_large`` from its length prefix alone."""
    first_byte_timeout_s: float = 10.0
    """How long an inbound stream may stay silent before it is reset, so a peer cannot hold
    streams open for free. (Before the protocol is negotiated, py-libp2p's own negotiation
    timeout applies: this value rounded down to whole seconds, at least 1.)"""
    request_timeout_s: float = 30.0
    """Whole-request bound: inbound, from stream open to response written (the handler
    included); outbound, the default for :meth:`SmpHost.request` (dialling included)."""
    max_streams_per_peer: int = 16
    """Concurrent inbound SMP streams one trusted peer may have; the next one is reset at once."""
    max_streams_per_stranger: int = 4
    """The same for each stranger."""
    max_connections: int = 256
    """Connections open at once, both directions, everyone; py-libp2p closes the one over."""
    max_stranger_connections: int = 64
    """Inbound connections from strangers open at once, all of them together; a stranger's
    connection over this (or over the per-address cap) is closed as soon as it is made."""
    max_stranger_connections_per_ip: int = 16
    """Inbound connections from strangers at one remote IP address."""
    max_buffered_bytes: int = 64 * 1024 * 1024
    """Bytes of inbound request frames being read at once, everyone together: a frame is
    counted in full from its length prefix, and one that does not fit is refused ``busy``."""
    max_stranger_buffered_bytes: int = 16 * 1024 * 1024
    """The part of ``max_buffered_bytes`` all strangers together may hold."""
    idle_connection_timeout_s: float = 300.0
    """A connection with no stream in flight for this long is closed; a request redials."""
    dial_timeout_s: float = 10.0
    """How long to keep trying to connect (with backoff between tries) before giving up."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value <= 0:
                raise ValueError(f"TransportLimits.{field.name} must be positive, not {value}")
