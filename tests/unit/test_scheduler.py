import pytest

from secondme.node.models.scheduler import FairQueue


def test_requesters_take_turns():
    queue: FairQueue[str] = FairQueue()
    for n in range(3):
        queue.push("owner", f"o{n}")
    queue.push("peer", "p0")
    queue.push("group", "g0")
    order = [queue.pop() for _ in range(len(queue))]
    assert order == ["o0", "p0", "g0", "o1", "o2"]


def test_fifo_within_a_requester_and_removal():
    queue: FairQueue[str] = FairQueue()
    queue.push("a", "1")
    queue.push("a", "2")
    queue.push("a", "3")
    assert queue.remove("a", "2")
    assert not queue.remove("a", "missing")
    assert not queue.remove("nobody", "1")
    assert [queue.pop(), queue.pop()] == ["1", "3"]
    assert len(queue) == 0


def test_pop_from_empty_raises():
    with pytest.raises(IndexError):
        FairQueue().pop()
