"""How fast each class of peer may ask: trusted peers and strangers have separate token buckets.

Peer ids cost nothing to make, so any per-peer limit alone is beaten by many identities: about
330 fresh ones, each spending its burst, used to fill the one replay window, after which every
peer was ``busy`` for minutes. The node therefore sorts peers into two classes with a predicate
it supplies (it trusts the peers it gave a live grant; see ``node/p2p/trust.py``):

* a **trusted** peer gets the full budget: a large burst and rate, in a table of buckets that
  strangers cannot crowd, and the replay window's full per-peer share;
* a **stranger** gets a smaller burst and rate, in a table of its own, and the small replay
  shares of :class:`~secondme.protocol.replay.ReplayWindow` (a 256th of the window each, a
  quarter for all strangers together).

A flood of strangers therefore ends in ``rate_limited`` or ``busy`` for strangers only; a
trusted peer is refused only for what it sends itself. The transport applies the same two
classes to connections, streams and buffers
(:class:`~secondme.protocol.transport.TransportLimits`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from secondme.protocol.clock import Clock
from secondme.protocol.identity import PeerId
from secondme.protocol.ratelimit import TokenBucketLimiter


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """The request rate of one class of peers."""

    rate_per_s: float
    """Requests a second each peer may send once its burst is spent."""
    burst: int
    """Requests each peer may send at once."""
    tracked_peers: int
    """Peers of the class whose token buckets are tracked at once (busy ones are kept)."""

    def __post_init__(self) -> None:
        for name in ("rate_per_s", "burst", "tracked_peers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Budget.{name} must be positive")


TRUSTED_BUDGET = Budget(rate_per_s=50, burst=200, tracked_peers=10_000)
STRANGER_BUDGET = Budget(rate_per_s=10, burst=40, tracked_peers=4_096)


class PeerBudgets:
    """A token bucket table for trusted peers and one for strangers.

    ``is_trusted`` is asked once per request; it must be cheap.
    """

    __slots__ = ("_is_trusted", "_limiters")

    def __init__(
        self,
        clock: Clock,
        is_trusted: Callable[[PeerId], bool],
        *,
        trusted: Budget = TRUSTED_BUDGET,
        stranger: Budget = STRANGER_BUDGET,
    ) -> None:
        self._is_trusted = is_trusted
        self._limiters = {
            trust: TokenBucketLimiter(
                clock, rate_per_s=b.rate_per_s, burst=b.burst, max_peers=b.tracked_peers
            )
            for trust, b in ((True, trusted), (False, stranger))
        }

    def admit(self, peer: PeerId) -> bool:
        """Take one request from ``peer``'s bucket; True if ``peer`` is a stranger.

        Raises :class:`~secondme.protocol.errors.RateLimited` (this peer must wait) or
        :class:`~secondme.protocol.errors.Busy` (its class's table of buckets is full).
        """
        trusted = bool(self._is_trusted(peer))
        self._limiters[trusted].acquire(peer)
        return not trusted
