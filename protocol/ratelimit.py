"""Per-peer token buckets: each peer may send ``burst`` requests at once, then ``rate`` a second.

A bucket holds up to ``burst`` tokens, refills at ``rate_per_s``, and each request takes
``cost`` tokens; a request that finds too few is refused with :class:`RateLimited` and the time
until enough have refilled. Tokens are exact fractions, so that time is not off by a rounding
millisecond. Time comes from the injected clock; if it steps backwards the bucket simply does
not refill until the clock has caught up.

At most ``max_peers`` buckets are kept. A bucket that has refilled completely carries no
information (a new bucket would be the same), so idle peers are dropped, least recently seen
first, on every call. If the table is still full of busy peers, a new peer is refused with
:class:`Busy` rather than forgetting a busy peer's debt, since forgetting would hand a fresh
burst to anyone who could crowd the table.

Peer ids cost nothing to make, so this bounds what one identity can ask; bounding the whole node
is a matter for a limiter with a single key, or for the node's work queue.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from fractions import Fraction

from secondme.protocol.clock import Clock
from secondme.protocol.errors import Busy, RateLimited
from secondme.protocol.identity import PeerId

DEFAULT_MAX_PEERS = 10_000


class _Bucket:
    __slots__ = ("tokens", "updated_ms")

    def __init__(self, tokens: Fraction, updated_ms: int) -> None:
        self.tokens = tokens
        self.updated_ms = updated_ms


class TokenBucketLimiter:
    """Token buckets keyed by peer id."""

    __slots__ = ("_buckets", "_burst", "_clock", "_max_peers", "_rate_per_ms")

    def __init__(
        self,
        clock: Clock,
        *,
        rate_per_s: float,
        burst: int,
        max_peers: int = DEFAULT_MAX_PEERS,
    ) -> None:
        if rate_per_s <= 0 or burst <= 0 or max_peers <= 0:
            raise ValueError("rate, burst and max_peers must be positive")
        self._clock = clock
        self._rate_per_ms = Fraction(rate_per_s) / 1000
        self._burst = burst
        self._max_peers = max_peers
        self._buckets: OrderedDict[PeerId, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        """How many peers are tracked now."""
        return len(self._buckets)

    def acquire(self, peer: PeerId, cost: int = 1) -> None:
        """Take ``cost`` tokens from ``peer``'s bucket, or raise :class:`RateLimited` (the peer
        must wait) or :class:`Busy` (the table is full of other busy peers)."""
        if not 0 < cost <= self._burst:
            raise ValueError(f"cost must be between 1 and the burst ({self._burst})")
        now = self._clock.now_ms()
        self._drop_idle(now, keep=peer)
        bucket = self._buckets.get(peer)
        if bucket is None:
            if len(self._buckets) >= self._max_peers:
                oldest = next(iter(self._buckets.values()))
                raise Busy(
                    f"tracking {len(self._buckets)} busy peers",
                    retry_after_ms=self._ms_until(oldest, self._burst, now),
                )
            bucket = self._buckets[peer] = _Bucket(Fraction(self._burst), now)
        else:
            self._refill(bucket, now)
            self._buckets.move_to_end(peer)
        if bucket.tokens < cost:
            raise RateLimited(
                f"{peer} is over {float(self._rate_per_ms * 1000):g} requests a second",
                retry_after_ms=self._ms_until(bucket, cost, now),
            )
        bucket.tokens -= cost

    def _refill(self, bucket: _Bucket, now: int) -> None:
        elapsed = max(0, now - bucket.updated_ms)
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate_per_ms)
        bucket.updated_ms = max(bucket.updated_ms, now)

    def _ms_until(self, bucket: _Bucket, tokens: int, now: int) -> int:
        """Milliseconds from ``now`` until ``bucket`` holds ``tokens`` (at least 1)."""
        self._refill(bucket, now)
        missing = max(Fraction(0), tokens - bucket.tokens)
        return max(1, math.ceil(missing / self._rate_per_ms) + bucket.updated_ms - now)

    def _drop_idle(self, now: int, *, keep: PeerId) -> None:
        """Forget least-recently-seen peers whose buckets are full again."""
        while self._buckets:
            peer, bucket = next(iter(self._buckets.items()))
            if peer == keep:
                return
            self._refill(bucket, now)
            if bucket.tokens < self._burst:
                return
            del self._buckets[peer]
