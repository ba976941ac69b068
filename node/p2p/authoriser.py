"""The one thing :class:`~secondme.node.p2p.service.P2PService` asks before and after a handler:
may this request run, and how was it answered.

The endpoint owns the wire (frames, sessions, budgets); what a grant allows and what the audit
log says belong to whoever implements this interface (the node's access gate). Keeping it an
interface keeps ``p2p/`` below ``access/`` and lets tests put any authoriser in front of the
handlers.

The contract, for every request the endpoint could read:

- :meth:`~Authoriser.authorize` runs first; it returns the permit the handler runs with (``None``
  for a request that needs no grant) or raises a
  :class:`~secondme.protocol.errors.RemoteProtocolError` (the request is then refused).
- exactly one of :meth:`~Authoriser.allowed` (the answer went out, or the asker left during a
  streamed one) and :meth:`~Authoriser.refused` (an error frame went out) follows. A frame that
  could not be read at all is reported with :meth:`~Authoriser.refused` and ``incoming=None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from secondme.protocol.errors import SmpError
from secondme.protocol.grants import Permit
from secondme.protocol.identity import PeerId
from secondme.protocol.session import IncomingRequest


class Authoriser(Protocol):
    """Decides on each incoming request and records the decision."""

    def authorize(self, incoming: IncomingRequest) -> Permit | None:
        """The permit ``incoming`` runs under (``None``: its type needs no grant); raises a
        ``RemoteProtocolError`` (such as a ``GrantError``) to refuse it."""
        ...

    def allowed(
        self,
        incoming: IncomingRequest,
        permit: Permit | None,
        shared: Sequence[str] = (),
        *,
        message: str = "",
        model: str | None = None,
    ) -> None:
        """Record an answered request: under ``permit``, with what of the owner's memory it
        ``shared`` (by reference), a note, and the model that wrote the answer, if one did."""
        ...

    def refused(self, peer: PeerId, incoming: IncomingRequest | None, error: SmpError) -> None:
        """Record a refused request: ``incoming`` when it was read, else what ``error`` knows."""
        ...
