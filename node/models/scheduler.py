"""Fair order for work on the one model: round robin between requesters, FIFO within each.

Pure state, no I/O: the owner, each peer and each group get a turn in rotation, so one chatty
requester cannot starve the others however many requests it queues.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Generic, TypeVar

T = TypeVar("T")


class FairQueue(Generic[T]):
    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[T]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def push(self, requester: str, item: T) -> None:
        self._queues.setdefault(requester, deque()).append(item)

    def pop(self) -> T:
        """The next item: the head of the requester whose turn it is; raises IndexError if empty."""
        if not self._queues:
            raise IndexError("pop from an empty FairQueue")
        requester, queue = next(iter(self._queues.items()))
        item = queue.popleft()
        del self._queues[requester]
        if queue:
            self._queues[requester] = queue  # back of the rotation
        return item

    def remove(self, requester: str, item: T) -> bool:
        """Drop a queued item (its caller went away); False if it was not queued."""
        queue = self._queues.get(requester)
        if queue is None or item not in queue:
            return False
        queue.remove(item)
        if not queue:
            del self._queues[requester]
        return True
