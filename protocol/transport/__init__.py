"""SMP over libp2p: Noise-authenticated, yamux-multiplexed request/response streams.

The node uses :class:`SmpHost` (asyncio) and the errors of :mod:`.errors`; py-libp2p and trio
stay inside this package.
"""

from secondme.protocol.transport.errors import (
    DialFailed,
    HostClosed,
    HostStateError,
    ListenFailed,
    PeerIdMismatch,
    ProtocolRefused,
    RequestTimeout,
    StreamReset,
)
from secondme.protocol.transport.host import SMP_PROTOCOL_ID, Handler, SmpHost, TransportLimits

__all__ = [
    "SMP_PROTOCOL_ID",
    "DialFailed",
    "Handler",
    "HostClosed",
    "HostStateError",
    "ListenFailed",
    "PeerIdMismatch",
    "ProtocolRefused",
    "RequestTimeout",
    "SmpHost",
    "StreamReset",
    "TransportLimits",
]
