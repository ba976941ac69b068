"""Recordings too long to transcribe while the owner waits, transcribed in the background.

``ingest`` of a recording longer than ``memory.transcribe_wait_seconds`` keeps its bytes in the
data dir (written atomically, 0600) and a row in ``transcriptions``, and answers at once. One
worker transcribes the queue in order, reporting the fraction done, and ingests each transcript
as if the file had been sent again; then the row and the bytes go. A failure stays in the queue
with its reason (``memory status`` shows it; the copy of the recording is deleted, the owner
has the original); a stop interrupts the running one, which starts again at the next start:
nothing the owner gave is lost in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from secondme.node.core.db import Database
from secondme.node.core.errors import NodeError
from secondme.node.core.fsutil import atomic_write
from secondme.node.core.tasks import Supervisor

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcription:
    """One queued recording."""

    id: str
    path: str
    file: str
    tags: tuple[str, ...]
    mtime: float | None
    me: str | None
    seconds: float | None
    state: str  # "pending" | "failed"
    error: str | None

    def to_json(self, progress: float | None = None) -> dict:
        return {
            "id": self.id,
            "path": self.path,
            "seconds": self.seconds,
            "state": "running" if progress is not None else self.state,
            "progress": progress,
            "error": self.error,
        }


class Stopped(NodeError):
    """Raised into a running transcription when the node stops (it resumes at the next)."""


Run = Callable[[Transcription, bytes, Progress], object]
"""Transcribe and ingest one recording (blocking; runs in a thread)."""


class TranscriptionQueue:
    def __init__(self, folder: Path, db: Database, run: Run) -> None:
        self._folder = folder
        self._db = db
        self._run = run
        self._tasks = Supervisor("transcriptions", log)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._running: tuple[str, float] | None = None
        self._thread: asyncio.Future[object] | None = None
        self._stopping = False

    def add(
        self,
        path: str,
        data: bytes,
        tags: Sequence[str],
        mtime: float | None,
        me: str | None,
        seconds: float | None,
    ) -> Transcription:
        """Keep the recording until it is transcribed (blocking: call it in a thread); then
        :meth:`wake` the worker from the event loop. The same bytes already waiting are not
        kept twice."""
        digest = hashlib.sha256(data).hexdigest()
        waiting = self._db.query_one(
            "SELECT * FROM transcriptions WHERE content_hash = ? AND state = 'pending'", (digest,)
        )
        if waiting is not None:
            return _job(waiting)
        job_id = uuid.uuid4().hex
        file = f"{job_id}{PurePath(path).suffix.lower()[:8]}"
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(self._folder / file, data, mode=0o600)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO transcriptions (id, path, file, content_hash, tags, mtime, me, "
                "seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    path,
                    file,
                    digest,
                    json.dumps(list(tags)),
                    mtime,
                    me,
                    seconds,
                    time.time(),
                ),
            )
        return self._get(job_id)  # type: ignore[return-value]

    def wake(self) -> None:
        """Tell the worker that a recording waits (from the event loop's thread)."""
        self._idle.clear()
        self._wake.set()

    def status(self) -> list[dict]:
        """Every recording in the queue, the running one with its fraction done."""
        rows = self._db.query("SELECT * FROM transcriptions ORDER BY created_at")
        running = self._running
        return [
            _job(r).to_json(running[1] if running and running[0] == r["id"] else None) for r in rows
        ]

    def start(self) -> None:
        self._wake.set()  # whatever a previous run left pending
        self._tasks.spawn(self._work(), name="worker")

    async def wait_idle(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until nothing waits to be transcribed."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop the worker; a transcription under way stops at its next step (it stays
        queued), and one already past its transcript finishes storing it first."""
        self._stopping = True
        thread = self._thread
        await self._tasks.close()
        if thread is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await thread

    def _get(self, job_id: str) -> Transcription | None:
        row = self._db.query_one("SELECT * FROM transcriptions WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    def _next(self) -> Transcription | None:
        row = self._db.query_one(
            "SELECT * FROM transcriptions WHERE state = 'pending' ORDER BY created_at LIMIT 1"
        )
        return None if row is None else _job(row)

    async def _work(self) -> None:
        while True:
            job = self._next()
            if job is None:
                self._wake.clear()
                self._idle.set()
                await self._wake.wait()
                continue
            await self._one(job)

    async def _one(self, job: Transcription) -> None:
        path = self._folder / job.file
        self._running = (job.id, 0.0)

        def progress(fraction: float) -> None:
            if self._stopping:
                raise Stopped
            self._running = (job.id, max(0.0, min(1.0, fraction)))

        try:
            data = path.read_bytes()
            self._thread = asyncio.ensure_future(asyncio.to_thread(self._run, job, data, progress))
            await asyncio.shield(self._thread)
        except Stopped:
            return  # pending still: the next start transcribes it
        except Exception as exc:  # a job that fails must not stop the queue behind it
            if isinstance(exc, NodeError):
                message = exc.message
            elif isinstance(exc, OSError):
                message = f"{job.path}: {exc.strerror or exc}"
            else:
                log.error("transcription of %s failed", job.path, exc_info=exc)
                message = f"{job.path}: {type(exc).__name__}: {exc}"
            log.warning("transcription of %s failed: %s", job.path, message)
            with self._db.transaction() as conn:
                conn.execute(
                    "UPDATE transcriptions SET state = 'failed', error = ? WHERE id = ?",
                    (message, job.id),
                )
            path.unlink(missing_ok=True)  # the owner still has the file; no copy is kept
            return
        finally:
            self._running = None
            self._thread = None
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM transcriptions WHERE id = ?", (job.id,))
        path.unlink(missing_ok=True)
        log.info("transcribed %s", job.path)


def _job(row) -> Transcription:
    return Transcription(
        id=row["id"],
        path=row["path"],
        file=row["file"],
        tags=tuple(json.loads(row["tags"])),
        mtime=row["mtime"],
        me=row["me"],
        seconds=row["seconds"],
        state=row["state"],
        error=row["error"],
    )
