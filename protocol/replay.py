"""The replay window: each (peer, nonce) is accepted once, and only while its timestamp is fresh.

An SMP request carries the sender's timestamp and a random 16-byte nonce, both under its
signature. A receiver accepts a request only if

1. the timestamp is within ``skew_ms`` (default 120 s) of its own clock, in either direction;
   further away is :class:`StaleMessage`; and
2. it has not accepted the same nonce from the same peer before; otherwise
   :class:`ReplayedMessage`.

Rule 1 is what lets rule 2 forget: a nonce needs remembering only while its message could still
pass rule 1, that is until ``timestamp + skew``, at most ``2 × skew`` after it was first seen
(a timestamp ``skew`` ahead of our clock; one further ahead is refused and not remembered, so a
forward-dated nonce pins memory for at most that long). The lower edge of rule 1 uses the
latest time the clock has ever shown, not the current reading, so a clock stepping backwards
cannot reopen the window for nonces already forgotten.

Memory is bounded by caps, because peer ids cost nothing to make. The node sorts the sender
of each request into one of two classes (it trusts the peers it gave a live grant; everyone
else is a *stranger*): a trusted peer may hold ``max_per_peer`` live nonces, a stranger one
256th of ``max_total``, all strangers together a quarter of it, and the whole window
``max_total``. So throwaway identities fill at most the strangers' quarter, never the room of
the peers the node trusts. At a cap the window *refuses* the new request
(:class:`RateLimited` for the one peer over its share, :class:`Busy` when the strangers' share
or the whole table is full) with the time until room frees up, instead of forgetting old nonces
early: forgetting would let exactly the replays through that the window exists to stop.
"""

from __future__ import annotations

import heapq

from secondme.protocol.clock import Clock
from secondme.protocol.errors import Busy, RateLimited, ReplayedMessage, StaleMessage
from secondme.protocol.identity import PeerId

DEFAULT_SKEW_MS = 120_000
DEFAULT_MAX_PER_PEER = 4_096
DEFAULT_MAX_TOTAL = 65_536
STRANGERS_PART = 4
"""All strangers together hold at most ``max_total // STRANGERS_PART`` nonces."""
STRANGER_PART = 256
"""Each stranger holds at most ``max_total // STRANGER_PART`` nonces (at least one)."""

_Entry = tuple[int, int, PeerId, bytes]
"""(expiry, insertion sequence, peer, nonce): the sequence breaks ties, peer ids have no order."""


class ReplayWindow:
    """Remembers recent (peer, nonce) pairs; ``check`` accepts each pair once."""

    __slots__ = (
        "_by_peer",
        "_clock",
        "_latest_ms",
        "_max_per_peer",
        "_max_total",
        "_sequence",
        "_skew_ms",
        "_strangers",
        "_trusted",
    )

    def __init__(
        self,
        clock: Clock,
        *,
        skew_ms: int = DEFAULT_SKEW_MS,
        max_per_peer: int = DEFAULT_MAX_PER_PEER,
        max_total: int = DEFAULT_MAX_TOTAL,
    ) -> None:
        if skew_ms <= 0 or max_per_peer <= 0 or max_total <= 0:
            raise ValueError("skew and caps must be positive")
        self._clock = clock
        self._skew_ms = skew_ms
        self._max_per_peer = max_per_peer
        self._max_total = max_total
        self._by_peer: dict[PeerId, dict[bytes, int]] = {}
        # One heap per class, soonest expiry first.
        self._trusted: list[_Entry] = []
        self._strangers: list[_Entry] = []
        self._sequence = 0
        self._latest_ms = clock.now_ms()

    @property
    def skew_ms(self) -> int:
        return self._skew_ms

    @property
    def max_per_stranger(self) -> int:
        return max(1, self._max_total // STRANGER_PART)

    @property
    def max_strangers(self) -> int:
        """How many nonces all strangers together may hold."""
        return max(1, self._max_total // STRANGERS_PART)

    def __len__(self) -> int:
        """How many nonces are remembered now."""
        return len(self._trusted) + len(self._strangers)

    def held_by_strangers(self) -> int:
        return len(self._strangers)

    def check(
        self, peer: PeerId, nonce: bytes, timestamp_ms: int, *, stranger: bool = False
    ) -> None:
        """Accept and remember this message, or raise why not.

        ``stranger``: the sender is not a peer the node trusts, so the strangers' caps apply.
        Raises :class:`StaleMessage`, :class:`ReplayedMessage`, :class:`RateLimited` (this peer
        holds its share) or :class:`Busy` (the strangers hold theirs, or the window holds
        ``max_total``); a refused message is not remembered.
        """
        now = self._clock.now_ms()
        self._latest_ms = max(self._latest_ms, now)
        self._forget_expired()
        if timestamp_ms > now + self._skew_ms:
            raise StaleMessage(
                f"timestamp {timestamp_ms} is {timestamp_ms - now} ms ahead of this node's clock"
            )
        if timestamp_ms < self._latest_ms - self._skew_ms:
            raise StaleMessage(
                f"timestamp {timestamp_ms} is {self._latest_ms - timestamp_ms} ms old"
            )
        seen = self._by_peer.get(peer, {})
        if nonce in seen:
            raise ReplayedMessage(f"nonce {nonce.hex()} from {peer} was already used")
        if len(seen) >= (self.max_per_stranger if stranger else self._max_per_peer):
            raise RateLimited(
                f"{peer} has {len(seen)} requests in the replay window",
                retry_after_ms=self._until(min(seen.values())),
            )
        if stranger and len(self._strangers) >= self.max_strangers:
            raise Busy(
                f"strangers hold {len(self._strangers)} requests in the replay window",
                retry_after_ms=self._until(self._strangers[0][0]),
            )
        if len(self) >= self._max_total:
            soonest = min(heap[0][0] for heap in (self._trusted, self._strangers) if heap)
            raise Busy(
                f"the replay window holds {len(self)} requests",
                retry_after_ms=self._until(soonest),
            )
        expiry = timestamp_ms + self._skew_ms
        self._by_peer.setdefault(peer, seen)[nonce] = expiry
        heap = self._strangers if stranger else self._trusted
        heapq.heappush(heap, (expiry, self._sequence, peer, nonce))
        self._sequence += 1

    def _until(self, expiry: int) -> int:
        """Milliseconds until the nonce expiring at ``expiry`` is forgotten."""
        return expiry - self._latest_ms + 1

    def _forget_expired(self) -> None:
        """Drop every nonce whose message is stale by now, so it could never pass again."""
        for heap in (self._trusted, self._strangers):
            while heap and heap[0][0] < self._latest_ms:
                _, _, peer, nonce = heapq.heappop(heap)
                seen = self._by_peer[peer]
                del seen[nonce]
                if not seen:
                    del self._by_peer[peer]
