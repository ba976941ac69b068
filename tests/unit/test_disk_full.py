"""A full disk is told apart from other failures, however deep in a chain it was raised."""

from __future__ import annotations

import errno
import sqlite3

from secondme.node.core.errors import DiskFull, disk_full


def _raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise RuntimeError("storing the chunks failed") from exc
    except RuntimeError as outer:
        return outer


def test_enospc_and_sqlite_full_are_disk_full(tmp_path):
    assert isinstance(disk_full(OSError(errno.ENOSPC, "No space left on device")), DiskFull)
    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (x)")
    db.execute("PRAGMA max_page_count = 2")  # a database that cannot grow: SQLITE_FULL
    try:
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 10)
    except sqlite3.OperationalError as exc:
        full = disk_full(exc)
    assert full is not None and full.code == "disk_full" and full.status == 507
    assert "free some space" in full.message and "intact" in full.message


def test_found_through_the_chain_and_in_a_stores_message():
    assert disk_full(_raised_from(OSError(errno.ENOSPC, "no space"))) is not None
    assert disk_full(_raised_from(ValueError("Service internal error: No space left on device")))


def test_other_failures_are_not_disk_full():
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None
    assert disk_full(_raised_from(KeyError("chunk"))) is None
    assert disk_full(sqlite3.OperationalError("database is locked")) is None
