"""The L1 work queue in a real SQLite file: versions, order, retries, restarts."""

from __future__ import annotations

import pytest

from secondme.node.core.db import Database
from secondme.node.memory.l1.job_queue import MAX_ATTEMPTS, JobQueue


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "node.db")
    yield database
    database.close()


def test_a_job_done_for_a_version_is_not_queued_again(db):
    jobs = JobQueue(db)
    jobs.enqueue("document", "d1", "hash1")
    job = jobs.next()
    jobs.mark_running(job)
    jobs.mark_done(job)
    jobs.enqueue("document", "d1", "hash1")
    assert jobs.next() is None
    jobs.enqueue("document", "d1", "hash2")  # the file changed
    assert jobs.next().version == "hash2"


def test_running_jobs_resume_after_a_stop(db):
    jobs = JobQueue(db)
    jobs.enqueue("document", "d1", "h")
    jobs.mark_running(jobs.next())
    assert jobs.next() is None
    assert JobQueue(db).resume() == 1  # a new daemon on the same file
    assert jobs.next().target == "d1"


def test_jobs_come_in_stage_order(db):
    jobs = JobQueue(db)
    jobs.enqueue("profile", force=True)
    jobs.enqueue("topics", force=True)
    jobs.enqueue("document", "d2", "h")
    kinds = []
    while (job := jobs.next()) is not None:
        kinds.append(job.kind)
        jobs.mark_done(job)
    assert kinds == ["document", "topics", "profile"]


def test_failures_are_retried_a_bounded_number_of_times_then_kept_with_the_reason(db):
    jobs = JobQueue(db)
    jobs.enqueue("summary", "d1", "h")
    states = []
    for _ in range(MAX_ATTEMPTS):
        job = jobs.next()
        states.append(jobs.mark_failed(job, "model output rejected: boom"))
    assert states == ["pending"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert jobs.next() is None
    [row] = jobs.list()
    assert (row["state"], row["error"], row["attempts"]) == (
        "failed",
        "model output rejected: boom",
        MAX_ATTEMPTS,
    )


def test_a_request_made_while_the_job_runs_is_not_lost(db):
    jobs = JobQueue(db)
    jobs.enqueue("topics", force=True)
    running = jobs.next()
    jobs.mark_running(running)
    jobs.enqueue("topics", force=True)  # a document was forgotten meanwhile
    jobs.mark_done(running)
    again = jobs.next()
    assert again is not None and again.kind == "topics" and again.version != running.version
