"""L2's records in ``node.db``: datasets and their samples, training jobs, adapters, and which
adapter serves. Each method is one transaction, so a killed daemon leaves whole records."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from secondme.node.core.db import Database
from secondme.node.l2.synth import SynthReport


class L2Store:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- datasets -----------------------------------------------------------------------------

    def add_dataset(self, job_id: str, excluded: Sequence[str], report: SynthReport) -> int:
        """Store a synthesis whole (dataset row and every sample); returns its version."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO l2_datasets (created_at, job_id, excluded, counts, dropped) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    time.time(),
                    job_id,
                    json.dumps(list(excluded)),
                    json.dumps(report.counts()),
                    json.dumps(report.dropped),
                ),
            )
            version = int(cursor.lastrowid)
            conn.executemany(
                "INSERT INTO l2_samples (version, id, kind, question, answer, rejected, context, "
                "fact, topic, sources, method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        version,
                        s.id,
                        s.kind,
                        s.question,
                        s.answer,
                        s.rejected,
                        s.context,
                        s.fact,
                        s.topic,
                        json.dumps(list(s.sources)),
                        s.method,
                    )
                    for s in report.samples
                ],
            )
        return version

    def dataset(self, version: int | None = None) -> dict[str, Any] | None:
        """A dataset's summary (the newest without ``version``), or None."""
        if version is None:
            row = self._db.query_one("SELECT * FROM l2_datasets ORDER BY version DESC LIMIT 1")
        else:
            row = self._db.query_one("SELECT * FROM l2_datasets WHERE version = ?", (version,))
        if row is None:
            return None
        return {
            "version": row["version"],
            "created_at": row["created_at"],
            "job_id": row["job_id"],
            "excluded_topics": json.loads(row["excluded"]),
            "counts": json.loads(row["counts"]),
            "dropped": json.loads(row["dropped"]),
        }

    def samples(self, version: int, kind: str | None = None) -> list[dict[str, Any]]:
        where, params = ("AND kind = ?", (version, kind)) if kind else ("", (version,))
        rows = self._db.query(
            f"SELECT * FROM l2_samples WHERE version = ? {where} ORDER BY rowid", params
        )
        return [
            {
                "id": r["id"],
                "kind": r["kind"],
                "question": r["question"],
                "answer": r["answer"],
                "rejected": r["rejected"],
                "context": r["context"],
                "fact": r["fact"],
                "topic": r["topic"],
                "sources": json.loads(r["sources"]),
                "method": r["method"],
            }
            for r in rows
        ]

    # -- jobs ---------------------------------------------------------------------------------

    def create_job(self, job_id: str, params: dict[str, Any]) -> None:
        now = time.time()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO l2_jobs (id, state, stage, params, created_at, updated_at) "
                "VALUES (?, 'running', 'queued', ?, ?, ?)",
                (job_id, json.dumps(params), now, now),
            )

    def update_job(self, job_id: str, **values: Any) -> None:
        """Set columns of a job (``stages`` and ``params`` as JSON); always touches updated_at."""
        encoded = {k: json.dumps(v) if k in ("stages", "params") else v for k, v in values.items()}
        encoded["updated_at"] = time.time()
        assignments = ", ".join(f"{column} = ?" for column in encoded)
        with self._db.transaction() as conn:
            conn.execute(
                f"UPDATE l2_jobs SET {assignments} WHERE id = ?", (*encoded.values(), job_id)
            )

    def job(self, job_id: str | None = None) -> dict[str, Any] | None:
        """A job by id (or id prefix), or the newest without one."""
        if job_id is None:
            row = self._db.query_one("SELECT * FROM l2_jobs ORDER BY created_at DESC LIMIT 1")
        else:
            row = self._db.query_one(
                "SELECT * FROM l2_jobs WHERE id = ? OR id LIKE ? ORDER BY created_at DESC LIMIT 1",
                (job_id, job_id + "%"),
            )
        return _job(row) if row else None

    def running_job(self) -> dict[str, Any] | None:
        row = self._db.query_one("SELECT * FROM l2_jobs WHERE state = 'running' LIMIT 1")
        return _job(row) if row else None

    def interrupt_running(self) -> list[str]:
        """Jobs left 'running' by a daemon that died: now 'interrupted', to be resumed."""
        rows = self._db.query("SELECT id FROM l2_jobs WHERE state = 'running'")
        for row in rows:
            self.update_job(row["id"], state="interrupted")
        return [r["id"] for r in rows]

    # -- adapters -----------------------------------------------------------------------------

    def add_adapter(
        self,
        *,
        adapter_id: str,
        base_model: str,
        dataset: int,
        job_id: str,
        path: str,
        size: int,
        metrics: dict[str, Any],
        settings: dict[str, Any],
        scope: dict[str, Any] | None = None,
    ) -> None:
        """Record an adapter; ``scope`` is what it learned from (none recorded: all of memory,
        so it serves the owner only)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO l2_adapters (id, base_model, dataset, job_id, path, bytes, metrics, "
                "settings, created_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    adapter_id,
                    base_model,
                    dataset,
                    job_id,
                    path,
                    size,
                    json.dumps(metrics),
                    json.dumps(settings),
                    time.time(),
                    json.dumps(scope or {"all": True}),
                ),
            )

    def adapters(self) -> list[dict[str, Any]]:
        rows = self._db.query("SELECT * FROM l2_adapters ORDER BY created_at")
        return [_adapter(r) for r in rows]

    def adapter(self, wanted: str) -> dict[str, Any] | None:
        """An adapter by id or unambiguous id prefix."""
        rows = self._db.query(
            "SELECT * FROM l2_adapters WHERE id = ? OR id LIKE ?", (wanted, wanted + "%")
        )
        exact = [r for r in rows if r["id"] == wanted]
        if exact or len(rows) == 1:
            return _adapter((exact or rows)[0])
        return None

    # -- what serves --------------------------------------------------------------------------

    def active_adapter(self) -> str | None:
        """The id of the adapter in use, None for the base model alone."""
        row = self._db.query_one(
            "SELECT adapter_id FROM l2_active WHERE undone = 0 ORDER BY seq DESC LIMIT 1"
        )
        return row["adapter_id"] if row else None

    def activate(self, adapter_id: str | None) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO l2_active (adapter_id, at) VALUES (?, ?)", (adapter_id, time.time())
            )

    def previous_adapter(self) -> tuple[bool, str | None]:
        """(whether there is anything to roll back, what would serve after it)."""
        rows = self._db.query(
            "SELECT seq, adapter_id FROM l2_active WHERE undone = 0 ORDER BY seq DESC LIMIT 2"
        )
        if not rows:
            return False, None
        return True, (rows[1]["adapter_id"] if len(rows) > 1 else None)

    def undo_active(self) -> None:
        """Undo the newest activation: the one before it serves again."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE l2_active SET undone = 1 WHERE seq = "
                "(SELECT MAX(seq) FROM l2_active WHERE undone = 0)"
            )


def _job(row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "state": row["state"],
        "stage": row["stage"],
        "params": json.loads(row["params"]),
        "dataset": row["dataset"],
        "adapter_id": row["adapter_id"],
        "stages": json.loads(row["stages"]),
        "error": row["error"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _adapter(row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "base_model": row["base_model"],
        "dataset": row["dataset"],
        "job_id": row["job_id"],
        "path": row["path"],
        "bytes": row["bytes"],
        "metrics": json.loads(row["metrics"]),
        "settings": json.loads(row["settings"]),
        "created_at": row["created_at"],
        "scope": json.loads(row["scope"]),
    }
