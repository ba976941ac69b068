"""Background tasks that cannot fail unseen.

A bare ``asyncio.create_task`` keeps no reference (the task may be collected mid-run) and, when
its owner later cancels it under ``suppress(Exception)``, its failure is never heard of. A
:class:`Supervisor` holds the tasks of one service: it keeps them referenced, logs a task's
failure with its traceback the moment it ends, and cancels and awaits them all on close.
Unlike :class:`asyncio.TaskGroup`, one task's failure does not cancel its siblings: a failed
discovery refresh must not stop a group delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class Supervisor:
    """The background tasks of one owner (a service), logged under its name."""

    def __init__(self, owner: str, logger: logging.Logger | None = None) -> None:
        self.owner = owner
        self._log = logger or log
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run ``work`` until it ends or :meth:`close`; a failure is logged, never dropped.

        After :meth:`close` (a request that arrived while the node stops), the task is made
        cancelled before it runs a step."""
        task = asyncio.get_running_loop().create_task(work, name=f"{self.owner}: {name}")
        if self._closed:
            task.cancel()
            return task
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._log.error("%s failed: %s", task.get_name(), error, exc_info=error)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel every task still running and wait until all have ended."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
