"""The supervisor of a service's background tasks: failures are logged, not dropped."""

from __future__ import annotations

import asyncio
import logging

import pytest

from secondme.node.core.tasks import Supervisor


async def test_a_failed_task_is_logged_with_its_name_and_its_siblings_go_on(caplog) -> None:
    tasks = Supervisor("network")
    sibling_may_end = asyncio.Event()

    async def fails() -> None:
        raise ValueError("discovery answered nonsense")

    async def sibling() -> str:
        await sibling_may_end.wait()
        return "done"

    with caplog.at_level(logging.ERROR, logger="secondme.node.core.tasks"):
        failing = tasks.spawn(fails(), name="refresh")
        other = tasks.spawn(sibling(), name="deliver")
        with pytest.raises(ValueError):
            await failing
    assert [r.getMessage() for r in caplog.records] == [
        "network: refresh failed: discovery answered nonsense"
    ]
    assert caplog.records[0].exc_info is not None
    assert not other.done() and tasks.running == 1
    sibling_may_end.set()
    assert await other == "done"
    assert tasks.running == 0


async def test_close_cancels_and_waits_for_every_task(caplog) -> None:
    tasks = Supervisor("l1")
    started = asyncio.Event()
    ended: list[str] = []

    async def forever(name: str) -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            ended.append(name)

    first = tasks.spawn(forever("a"), name="a")
    second = tasks.spawn(forever("b"), name="b")
    await started.wait()
    with caplog.at_level(logging.ERROR):
        await tasks.close()
    assert sorted(ended) == ["a", "b"]
    assert first.cancelled() and second.cancelled()
    assert caplog.records == []  # a cancellation is not a failure


async def test_work_spawned_after_close_never_runs() -> None:
    tasks = Supervisor("groups")
    await tasks.close()
    ran: list[bool] = []

    async def work() -> None:
        ran.append(True)

    late = tasks.spawn(work(), name="late")
    with pytest.raises(asyncio.CancelledError):
        await late
    assert ran == [] and tasks.running == 0
