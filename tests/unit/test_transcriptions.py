"""The background transcription queue: bytes kept until transcribed, progress while it runs,
a failure kept with its reason, a stop resumed at the next start."""

from __future__ import annotations

import asyncio
import stat
import threading

import pytest

from secondme.node.core.db import Database
from secondme.node.core.errors import ParseError
from secondme.node.memory.transcriptions import TranscriptionQueue


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "node.db")
    yield database
    database.close()


async def test_a_recording_waits_on_disk_and_goes_once_transcribed(tmp_path, db):
    seen: list[tuple[str, bytes]] = []
    halfway, go_on = threading.Event(), threading.Event()
    fractions: list[float] = []

    def run(job, data, progress):
        progress(0.5)
        halfway.set()
        go_on.wait(10)
        seen.append((job.path, data))

    queue = TranscriptionQueue(tmp_path / "queue", db, run)
    job = queue.add("/rec/talk.ogg", b"OggS sound", ["talks"], 1.5e9, "Me", 600.0)
    kept = tmp_path / "queue" / job.file
    assert kept.read_bytes() == b"OggS sound"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert queue.add("/rec/talk.ogg", b"OggS sound", [], None, None, 600.0) == job  # not twice
    other = queue.add("/rec/talk.ogg", b"OggS another talk", [], None, None, 300.0)
    assert other.id != job.id  # another recording of the same name is its own
    queue.start()
    await asyncio.to_thread(halfway.wait, 10)
    running, waiting = queue.status()
    fractions.append(running["progress"])
    assert running["state"] == "running" and fractions == [0.5]
    assert waiting["state"] == "pending" and waiting["progress"] is None
    go_on.set()
    assert await queue.wait_idle(10)
    assert seen == [("/rec/talk.ogg", b"OggS sound"), ("/rec/talk.ogg", b"OggS another talk")]
    assert queue.status() == [] and not kept.exists()
    await queue.close()


async def test_a_failure_is_kept_with_its_reason_and_the_queue_goes_on(tmp_path, db):
    def run(job, data, progress):
        if job.path.endswith("bad.mp3"):
            raise ParseError(f"{job.path}: not a readable recording")
        if job.path.endswith("odd.mp3"):
            raise ValueError("odd frame")

    queue = TranscriptionQueue(tmp_path / "queue", db, run)
    bad = queue.add("/rec/bad.mp3", b"junk", [], None, None, 90.0)
    queue.add("/rec/odd.mp3", b"ID3 odd", [], None, None, 90.0)
    queue.add("/rec/good.mp3", b"ID3 sound", [], None, None, 90.0)
    queue.start()
    assert await queue.wait_idle(10)
    failed = {job["path"]: job for job in queue.status()}
    assert set(failed) == {"/rec/bad.mp3", "/rec/odd.mp3"}  # good.mp3 went through
    assert all(job["state"] == "failed" for job in failed.values())
    assert "bad.mp3: not a readable recording" in failed["/rec/bad.mp3"]["error"]
    assert "odd" in failed["/rec/odd.mp3"]["error"]  # a bug in one job stops only that job
    assert not (tmp_path / "queue" / bad.file).exists()  # no copy of a failed recording kept
    await queue.close()


async def test_a_stop_interrupts_the_running_one_and_the_next_start_resumes_it(tmp_path, db):
    started = threading.Event()

    def endless(job, data, progress):
        started.set()
        while True:
            progress(0.1)  # raises once the queue stops

    queue = TranscriptionQueue(tmp_path / "queue", db, endless)
    job = queue.add("/rec/long.wav", b"RIFF sound", [], None, None, 3600.0)
    queue.start()
    await asyncio.to_thread(started.wait, 10)
    await asyncio.wait_for(queue.close(), 10)
    assert (tmp_path / "queue" / job.file).exists()

    done: list[str] = []
    again = TranscriptionQueue(tmp_path / "queue", db, lambda j, d, p: done.append(j.path))
    again.start()
    assert await again.wait_idle(10)
    assert done == ["/rec/long.wav"] and again.status() == []
    await again.close()
