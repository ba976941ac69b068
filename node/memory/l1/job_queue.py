"""The L1 work queue in SQLite (``l1_jobs``): one row per kind of work and target.

A job is identified by (kind, target) and carries the ``version`` of the input it was queued
for (a document's content hash, or a fresh id for forced work), so a run that finishes after the
input changed cannot mark the newer request done. Jobs survive a restart: :meth:`JobQueue.resume`
puts back what a stopped daemon left running.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from secondme.node.core.db import Database

JOB_ORDER = ("document", "topics", "topic", "profile", "summary", "entity_types")
"""Kinds of L1 work, in the order the worker takes them: cheap and foundational first."""
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Job:
    kind: str
    target: str
    version: str
    attempts: int

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


class JobQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(
        self, kind: str, target: str = "", version: str = "", *, force: bool = False
    ) -> None:
        """Queue work; a job already done for this ``version`` is left alone unless ``force``.

        A forced job gets a fresh version, so that a run of it already under way cannot mark
        the new request done when it finishes.
        """
        if force:
            version = uuid.uuid4().hex
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT state, version FROM l1_jobs WHERE kind = ? AND target = ?", (kind, target)
            ).fetchone()
            unchanged = row is not None and not force and row["version"] == version
            if unchanged and row["state"] in ("pending", "running", "done"):
                return
            conn.execute(
                "INSERT INTO l1_jobs (kind, target, state, version, attempts, error, queued_at) "
                "VALUES (?, ?, 'pending', ?, 0, NULL, ?) ON CONFLICT(kind, target) DO UPDATE SET "
                "state = 'pending', version = excluded.version, attempts = 0, error = NULL, "
                "queued_at = excluded.queued_at, started_at = NULL, finished_at = NULL",
                (kind, target, version, time.time()),
            )

    def resume(self) -> int:
        """Jobs left running by a stopped daemon go back to pending; returns how many."""
        with self._db.transaction() as conn:
            return conn.execute(
                "UPDATE l1_jobs SET state = 'pending', started_at = NULL WHERE state = 'running'"
            ).rowcount

    def next(self) -> Job | None:
        """The pending job to run next: by :data:`JOB_ORDER`, then oldest first."""
        order = " ".join(f"WHEN '{kind}' THEN {i}" for i, kind in enumerate(JOB_ORDER))
        row = self._db.query_one(
            f"SELECT * FROM l1_jobs WHERE state = 'pending' "
            f"ORDER BY CASE kind {order} ELSE 99 END, queued_at, target LIMIT 1"
        )
        if row is None:
            return None
        return Job(row["kind"], row["target"], row["version"], row["attempts"])

    def has_pending(self, *kinds: str) -> bool:
        marks = ",".join("?" * len(kinds))
        row = self._db.query_one(
            f"SELECT COUNT(*) AS n FROM l1_jobs WHERE state IN ('pending', 'running') "
            f"AND kind IN ({marks})",
            kinds,
        )
        return bool(row["n"])

    def mark_running(self, job: Job) -> None:
        self._set_state(job, "state = 'running', started_at = ?", (time.time(),))

    def mark_done(self, job: Job) -> None:
        self._set_state(job, "state = 'done', error = NULL, finished_at = ?", (time.time(),))

    def mark_failed(self, job: Job, error: str, *, final: bool = False) -> str:
        """Count a failed attempt; after :data:`MAX_ATTEMPTS` (or at once when ``final``) the
        job stays failed. Returns the new state."""
        attempts = MAX_ATTEMPTS if final else job.attempts + 1
        state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        self._set_state(
            job,
            "state = ?, attempts = ?, error = ?, finished_at = ?",
            (state, attempts, error, time.time()),
        )
        return state

    def _set_state(self, job: Job, assignments: str, values: tuple) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"UPDATE l1_jobs SET {assignments} WHERE kind = ? AND target = ? AND version = ?",
                (*values, job.kind, job.target, job.version),
            )

    def drop(self, target: str) -> None:
        """Forget every job for ``target`` (a document that is gone)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM l1_jobs WHERE target = ?", (target,))

    def list(self) -> list[dict]:
        rows = self._db.query("SELECT * FROM l1_jobs ORDER BY queued_at, kind, target")
        return [
            {
                "kind": r["kind"],
                "target": r["target"],
                "state": r["state"],
                "attempts": r["attempts"],
                "error": r["error"],
                "queued_at": r["queued_at"],
                "started_at": r["started_at"],
                "finished_at": r["finished_at"],
            }
            for r in rows
        ]
