"""Test-only hooks: hold points and records, so a test can catch a daemon at a known moment.

A test that must kill the daemon *between* two steps (five documents committed and the sixth not,
one L1 job done and the next running, an SFT checkpoint written and training not yet on) cannot
win that race by polling: on a fast machine the work is over before the poll looks. So the code
calls a named hold point at that moment, and a test can make the process wait there.

Everything here is off unless the environment variable :data:`HOOKS_ENV` names a folder; without
it every call returns at once and no file is read or written. It is for the project's own tests
and never meant for a node that serves anyone: a process that finds it set says so in its log.

Theory of operation (one folder, shared by the test and the processes it starts):

- Hold points. ``hold("ingest.commit")`` (``await hold_async(...)`` on the event loop) counts
  its passes in this process. A test arms a point by writing the file ``<point>`` holding N into
  the folder; the N-th pass writes ``<point>.reached`` and waits until ``<point>.release``
  exists (a test usually kills the process instead). Unarmed points pass straight through.
- Records. ``record("model.prompt", value)`` appends ``value`` as one JSON line to
  ``<name>.jsonl``: what a test must see and no API shows (the prompt each generation got).

:class:`HookFolder` is the test's side of the same folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HOOKS_ENV = "SECONDME_TEST_HOOKS"
"""Names the hooks folder; unset (the default) turns every hook off."""
POLL_S = 0.05

_passes: Counter[str] = Counter()
_lock = threading.Lock()
_announced = False


def _folder() -> Path | None:
    global _announced
    value = os.environ.get(HOOKS_ENV)
    if not value:
        return None
    if not _announced:
        _announced = True
        log.warning("test hooks are on (%s=%s): for the project's tests only", HOOKS_ENV, value)
    return Path(value)


def _arrive(point: str) -> Path | None:
    """Count a pass of ``point``; the release file to wait for when this pass is held."""
    folder = _folder()
    if folder is None:
        return None
    with _lock:
        _passes[point] += 1
        count = _passes[point]
    armed = folder / point
    if not armed.is_file() or armed.read_text().strip() != str(count):
        return None
    log.warning("test hook: holding at %s (pass %d)", point, count)
    (folder / f"{point}.reached").write_text(str(os.getpid()))
    return folder / f"{point}.release"


def hold(point: str) -> None:
    """Wait here if a test armed ``point`` for this pass (blocking: threads and workers)."""
    release = _arrive(point)
    while release is not None and not release.exists():
        time.sleep(POLL_S)


async def hold_async(point: str) -> None:
    """:func:`hold` for code on the event loop: the loop keeps serving while this waits."""
    release = _arrive(point)
    while release is not None and not release.exists():
        await asyncio.sleep(POLL_S)


def record(name: str, value: Any) -> None:
    """Append ``value`` to the ``name`` record if hooks are on."""
    folder = _folder()
    if folder is None:
        return
    line = json.dumps(value) + "\n"
    with _lock, (folder / f"{name}.jsonl").open("a") as out:
        out.write(line)


class HookFolder:
    """The test's side: arm hold points, see them reached, release them, read records."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        """The variables that turn the hooks on in a process started with them."""
        return {HOOKS_ENV: str(self.folder)}

    def arm(self, point: str, at: int = 1) -> None:
        """Hold the ``at``-th pass of ``point`` (in each process that passes it)."""
        (self.folder / point).write_text(str(at))

    def reached(self, point: str) -> bool:
        return (self.folder / f"{point}.reached").exists()

    def release(self, point: str) -> None:
        (self.folder / f"{point}.release").touch()

    def records(self, name: str) -> list[Any]:
        path = self.folder / f"{name}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]
