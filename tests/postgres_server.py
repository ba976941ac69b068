"""A real, throwaway PostgreSQL server for tests.

``PostgresServer`` runs ``initdb`` into a fresh temporary directory and starts ``postgres`` on a
free loopback port with its unix socket inside that directory, so it touches nothing of the
machine's own PostgreSQL. PostgreSQL refuses to run as root, so when the tests run as root the
binaries run as an unprivileged user (``nobody``) through ``setpriv`` (or ``runuser``), and the
temporary directory is handed to that user. Readiness is polled (``pg_ctl start -w``), never
slept for; a start that fails raises with the server's own log in the message. The cluster
lives in ``/dev/shm`` when that has room (else the temp dir; ``$PG_TEST_TMPDIR`` overrides),
and runs with ``fsync=off``: it is thrown away after the tests. ``$PG_BINDIR`` names the
binaries' directory if they are not in a usual place.

Use it as a context manager::

    with PostgresServer() as server:
        url = server.fresh_database()  # postgresql://postgres@127.0.0.1:PORT/test_1
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
START_ATTEMPTS = 3
"""A start is retried on a new port only when the port was taken between probe and bind."""

SHM_MIN_FREE = 1 << 30
"""Put the cluster in /dev/shm only with this much room there (Docker gives it 64 MiB)."""

SUPERUSER = "postgres"
UNPRIVILEGED_USER = "nobody"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


class PostgresStartError(RuntimeError):
    """initdb or the server failed; the message carries PostgreSQL's own output."""


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    ``$PG_BINDIR`` first, then ``/usr/local/bin``, then the newest ``/usr/lib/postgresql/*/bin``,
    then ``$PATH``.
    """
    candidates = [os.environ.get("PG_BINDIR", ""), "/usr/local/bin"]
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates += reversed(versions)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if not candidate:
            continue
        bindir = Path(candidate)
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresUnavailable(
        "no PostgreSQL binaries (initdb, pg_ctl, postgres) in $PG_BINDIR, /usr/local/bin, "
        "/usr/lib/postgresql/*/bin or $PATH"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _others_can_enter(path: Path) -> bool:
    """Whether a user other than the owner may traverse every directory down to ``path``."""
    path = path.resolve()
    return all(part.stat().st_mode & 0o001 for part in (path, *path.parents))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; ``start()`` and ``stop()`` it, or use
    it as a context manager."""

    def __init__(self, *, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.root: Path | None = None
        self.port: int | None = None
        self._running = False
        self._counter = itertools.count(1)
        self._counter_lock = threading.Lock()
        self._demote: list[str] = []
        self._uid: int | None = None
        self._gid: int | None = None
        self._in_memory = False

    # -- paths ----------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def url(self, dbname: str = "postgres") -> str:
        """A URL for ``dbname`` over TCP on 127.0.0.1 as the superuser (trust auth)."""
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        if self._running:
            return self
        self._prepare_user()
        base = self._temp_base()
        self._in_memory = base.startswith("/dev/shm")
        self.root = Path(tempfile.mkdtemp(prefix="pg-test-", dir=base))
        try:
            self.socket_dir.mkdir()
            if self._uid is not None:
                os.chown(self.root, self._uid, self._gid)
                os.chown(self.socket_dir, self._uid, self._gid)
            self._initdb()
            self._start_server()
        except BaseException:
            if (self.data_dir / "postmaster.pid").exists():  # interrupted while it started
                self._stop_immediately()
            self._remove_root()
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are cut) and delete its directory."""
        try:
            if self._running:
                self._running = False
                result = self._run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "stop",
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(STOP_TIMEOUT_S),
                    ],
                    timeout=STOP_TIMEOUT_S + 10,
                )
                if result.returncode != 0:
                    # Never leave a server behind: an immediate stop cannot be refused.
                    self._stop_immediately()
        finally:
            self._remove_root()
            self.port = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ------------------------------------------------------------------------

    def fresh_database(self, prefix: str = "test") -> str:
        """Create a new, empty database and return its URL."""
        import psycopg

        with self._counter_lock:
            name = f"{prefix}_{next(self._counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            # FILE_COPY copies template1's files and checkpoints, cheap with fsync off in
            # memory; WAL_LOG (the default) writes the whole template to the WAL instead, which
            # is the faster of the two on a disk.
            strategy = "FILE_COPY" if self._in_memory else "WAL_LOG"
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY {strategy}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database behind ``url``, cutting any sessions still connected to it."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- internals ------------------------------------------------------------------------

    def _prepare_user(self) -> None:
        """Pick how to drop root: initdb and postgres refuse to run as uid 0."""
        if os.geteuid() != 0:
            self._demote, self._uid, self._gid = [], None, None
            return
        try:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            self._uid, self._gid = entry.pw_uid, entry.pw_gid
        except KeyError:
            self._uid = self._gid = 65534
        setpriv = shutil.which("setpriv")
        runuser = shutil.which("runuser")
        if setpriv:
            self._demote = [
                setpriv,
                f"--reuid={self._uid}",
                f"--regid={self._gid}",
                "--clear-groups",
                "--",
            ]
        elif runuser:
            self._demote = [runuser, "-u", UNPRIVILEGED_USER, "--"]
        else:
            raise PostgresUnavailable(
                "running as root, and neither setpriv nor runuser is there to start PostgreSQL "
                "as an unprivileged user"
            )

    def _temp_base(self) -> str:
        """Where the cluster's directory goes.

        ``/dev/shm`` when it is a roomy memory file system (every ``CREATE DATABASE`` writes
        megabytes; in memory a fresh database takes milliseconds), else the usual temp dir,
        unless the unprivileged user could not reach into it (a root-only ``$TMPDIR``): then
        ``/tmp``. Kept short, too: the unix socket's path must fit in about 100 bytes.
        """
        if os.environ.get("PG_TEST_TMPDIR"):
            return os.environ["PG_TEST_TMPDIR"]
        candidates = ["/dev/shm", tempfile.gettempdir(), "/tmp"]
        for index, base in enumerate(candidates):
            if not os.path.isdir(base) or not os.access(base, os.W_OK | os.X_OK):
                continue
            if index == 0:
                stats = os.statvfs(base)
                if stats.f_bavail * stats.f_frsize < SHM_MIN_FREE:
                    continue
            if self._uid is not None and not _others_can_enter(Path(base)):
                continue
            return base
        return tempfile.gettempdir()

    def _run(self, argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.root),
            "TZ": "UTC",
        }
        return subprocess.run(
            self._demote + argv,
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self) -> None:
        result = self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            timeout=START_TIMEOUT_S,
        )
        if result.returncode != 0:
            raise PostgresStartError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def _start_server(self) -> None:
        failure = ""
        for _attempt in range(START_ATTEMPTS):
            self.port = _free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-c port={self.port}",
                    f"-c unix_socket_directories='{self.socket_dir}'",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                    "-c shared_buffers=32MB",
                    "-c logging_collector=off",
                ]
            )
            if self.log_file.exists():
                self.log_file.unlink()
            result = self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-o",
                    options,
                ],
                timeout=START_TIMEOUT_S + 10,
            )
            if result.returncode == 0:
                return
            log = _read(self.log_file)
            failure = (
                f"PostgreSQL did not start on 127.0.0.1:{self.port} "
                f"(pg_ctl exit {result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                f"--- server log ---\n{log}"
            )
            # pg_ctl may give up while the postmaster still lives: make sure it is gone.
            self._stop_immediately()
            if "Address already in use" not in log:
                break
        self.port = None
        raise PostgresStartError(failure)

    def _stop_immediately(self) -> None:
        """Stop without a shutdown checkpoint; a no-op when no server runs."""
        pg_ctl = str(self.bindir / "pg_ctl")
        self._run(
            [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"],
            timeout=STOP_TIMEOUT_S + 10,
        )

    def _remove_root(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
