"""Which peers this node trusts with the larger budget: those it gave a grant that is still live.

The transport and the SMP endpoint ask "is this peer trusted?" on every connection, stream and
request, the transport from its own (libp2p) thread, so the answer must be cheap and must not
touch the database there (a long write elsewhere would stall every connection). It comes from
a snapshot of the grant holders, a frozenset replaced whole; the asyncio side re-reads it from
the store, at most once every ``refresh_ms``, before it reads each request. A new grant (or a
revocation) therefore changes a peer's budget by its next request; it never changes what the
peer may *do*, which the access gate decides on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from secondme.protocol.clock import Clock
from secondme.protocol.identity import PeerId

REFRESH_MS = 1_000


class TrustedPeers:
    """A predicate ``peer -> bool`` over the peers holding a live grant of this node.

    ``holders(now_ms)`` returns their peer ids (base58); :meth:`refresh` calls it.
    """

    def __init__(
        self,
        holders: Callable[[int], Collection[str]],
        clock: Clock,
        *,
        refresh_ms: int = REFRESH_MS,
    ) -> None:
        self._holders = holders
        self._clock = clock
        self._refresh_ms = refresh_ms
        self._snapshot: frozenset[str] = frozenset()
        self._read_at: int | None = None

    def __call__(self, peer: PeerId) -> bool:
        """Thread-safe: reads the snapshot only."""
        return str(peer) in self._snapshot

    def refresh(self) -> None:
        """Re-read the holders if the snapshot is ``refresh_ms`` old (or the clock went back)."""
        now = self._clock.now_ms()
        if self._read_at is not None and 0 <= now - self._read_at < self._refresh_ms:
            return
        self._snapshot = frozenset(self._holders(now))
        self._read_at = now
