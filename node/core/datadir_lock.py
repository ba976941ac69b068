"""One daemon per data dir: an exclusive ``flock`` held for the daemon's whole life.

The kernel drops the lock when the process dies, even by SIGKILL, so a crashed daemon never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from secondme.node.core.config import DataDir
from secondme.node.core.errors import DataDirLocked


class DataDirLock:
    def __init__(self, data_dir: DataDir) -> None:
        self._data_dir = data_dir
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self._data_dir.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _recorded_pid(self._data_dir.daemon_record)
            who = f" (pid {holder})" if holder else ""
            raise DataDirLocked(
                f"another secondme-node daemon{who} is already running on {self._data_dir.root}; "
                "stop it with `secondme-node stop` or use another --data-dir"
            ) from None
        self._fd = fd

    def is_held(self) -> bool:
        """Whether some process holds the lock now (e.g. a daemon that is still stopping)."""
        try:
            fd = os.open(self._data_dir.lock, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops a lock we may have just taken
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _recorded_pid(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
