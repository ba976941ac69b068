"""What :class:`~secondme.node.p2p.service.P2PService` needs of a host: bytes to and from peers.

The daemon gives it :class:`~secondme.protocol.transport.host.SmpHost` (libp2p, in its own
thread); tests may give it a host that connects endpoints in memory, so that handlers, the
endpoint and the authoriser run together without sockets. A host is made by a
:data:`HostFactory`, since it needs the service's own callbacks: ``serve`` for every request
frame a peer sends, ``refuse`` for a frame that cannot be read, ``is_trusted`` for the peers that
get the larger budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from secondme.protocol.identity import PeerId
from secondme.protocol.transport.admission import IsTrusted, trust_everyone
from secondme.protocol.transport.inbound import Handler, Refuser
from secondme.protocol.transport.limits import TransportLimits


class Host(Protocol):
    """One identity's connections: requests out, the service's handler for requests in.

    Failures are :class:`~secondme.protocol.errors.TransportError` subclasses, as
    :class:`~secondme.protocol.transport.host.SmpHost` documents them.
    """

    @property
    def addrs(self) -> list[str]:
        """The addresses bound by :meth:`start`, each ending in ``/p2p/<peer id>``."""
        ...

    async def start(self) -> list[str]:
        """Start serving; returns the addresses bound."""
        ...

    async def close(self) -> None:
        """Stop serving and close every connection; idempotent."""
        ...

    async def connect(self, multiaddr_text: str) -> PeerId:
        """Connect to ``…/p2p/<id>``; returns that id once the peer proved it."""
        ...

    async def request(self, peer: PeerId, payload: bytes, *, timeout: float | None = None) -> bytes:
        """One request frame out, the response frame back."""
        ...

    def request_stream(
        self, peer: PeerId, payload: bytes, *, timeout: float | None = None
    ) -> AsyncIterator[bytes]:
        """One request frame out, each frame of a streamed answer back as it arrives."""
        ...

    def add_address(self, peer: PeerId, multiaddrs: Sequence[str]) -> None:
        """Remember where ``peer`` listens."""
        ...

    def connected_peers(self) -> list[PeerId]:
        """Peers with an open connection now."""
        ...

    async def disconnect(self, peer: PeerId) -> None:
        """Close the connections to ``peer``; a later request reconnects."""
        ...


class HostFactory(Protocol):
    """Makes the host for one identity (``seed``), listening on ``listen``; the signature of
    :class:`~secondme.protocol.transport.host.SmpHost`."""

    def __call__(
        self,
        seed: bytes,
        listen: Sequence[str],
        handler: Handler,
        *,
        limits: TransportLimits | None = None,
        is_trusted: IsTrusted = trust_everyone,
        refuse: Refuser | None = None,
    ) -> Host: ...
