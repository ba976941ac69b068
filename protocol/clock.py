"""Time as a parameter: every expiry decision in ``protocol/`` reads a :class:`Clock`.

Replay windows, clock-skew checks and token buckets would otherwise call ``time.time()`` deep
inside their logic, and their tests would have to sleep. Passing the clock in lets tests move
time by hand (:class:`ManualClock`) and keeps the logic free of I/O, like the rest of the
package.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in whole milliseconds since the Unix epoch.

    Wall time, not monotonic time, because SMP compares it with timestamps set by other nodes.
    Users of a clock must therefore survive it stepping backwards.
    """

    def now_ms(self) -> int: ...


class SystemClock:
    """The host's wall clock."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to, for tests and test vectors."""

    __slots__ = ("_now_ms",)

    def __init__(self, now_ms: int = 0) -> None:
        self._now_ms = now_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        """Move forward by ``ms`` milliseconds (a negative value steps back, as NTP may)."""
        self._now_ms += ms

    def set(self, now_ms: int) -> None:
        self._now_ms = now_ms
