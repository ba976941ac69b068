"""Real daemon processes on temporary data dirs, driven through the real CLI and HTTP API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import tomli_w

CLI = str(Path(sys.executable).with_name("secondme-node"))
START_TIMEOUT = 120.0


def run_cli(
    data_dir: Path,
    *args: str,
    check: bool = True,
    timeout: float = 300,
    input_text: str | None = None,
    on: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; ``on`` is a command prefix that places it (``ip netns exec HOST``)."""
    result = subprocess.run(
        [*on, CLI, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        env={**os.environ, "SECONDME_HOME": str(data_dir)},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"secondme-node {' '.join(args)} exited {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


def edit_config(data_dir: Path, **sections: dict) -> None:
    """Change settings in a node's ``config.toml``: ``edit_config(d, memory={"l1_enabled": 0})``."""
    path = data_dir / "config.toml"
    config = tomllib.loads(path.read_text())
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    path.write_text(tomli_w.dumps(config))


def init_greedy(data_dir: Path, *init_args: str) -> None:
    """``init`` a node whose model decodes greedily (temperature 0): the answers a test reads
    are then the same on every run of this build, not a draw."""
    run_cli(data_dir, "init", *init_args)
    edit_config(data_dir, models={"temperature": 0.0})


def wait_for(predicate, timeout: float = 300.0):
    """Poll ``predicate`` until it returns something true (bounded; no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def cli_json(data_dir: Path, *args: str, on: Sequence[str] = ()) -> object:
    return json.loads(run_cli(data_dir, *args, "--json", on=on).stdout)


@dataclass
class NodeProcess:
    data_dir: Path
    process: subprocess.Popen
    log_path: Path
    api_url: str = ""
    token: str = ""
    peer_id: str = ""
    extra: dict = field(default_factory=dict)
    on: Sequence[str] = ()
    """The command prefix that places the node's CLI beside it (its network namespace)."""

    def http(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.token if token is None else token}"},
            timeout=120,
        )

    def cli(self, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        return run_cli(self.data_dir, *args, on=self.on, **kwargs)

    def cli_json(self, *args: str) -> object:
        return cli_json(self.data_dir, *args, on=self.on)

    def login_url(self) -> str:
        """A one-time login link to the web app, as ``secondme-node open`` prints it."""
        return self.cli_json("open", "--no-browser")["url"]

    def browser_login(self) -> tuple[httpx.Client, str]:
        """An HTTP client that logged in like a browser (a session cookie), and the CSRF token
        the page holds; the caller closes the client."""
        client = httpx.Client(base_url=self.api_url, timeout=60)
        first = client.get(self.login_url())
        assert first.status_code == 303 and first.headers["location"] == "/", first
        page = client.get("/").text
        marker = 'name="csrf-token" content="'
        assert marker in page, page[:500]
        csrf = page.split(marker, 1)[1].split('"', 1)[0]
        assert csrf and csrf != "__CSRF_TOKEN__", csrf
        return client, csrf

    def stderr_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def mcp_stdio(data_dir: Path):
    """An MCP stdio client transport to ``secondme-node mcp --data-dir data_dir``."""
    from mcp.client.stdio import StdioServerParameters, stdio_client

    server = StdioServerParameters(
        command=CLI,
        args=["mcp", "--data-dir", str(data_dir)],
        env={**os.environ, "SECONDME_HOME": str(data_dir)},
    )
    return stdio_client(server)


def start_node(
    data_dir: Path,
    *args: str,
    wait: bool = True,
    launcher: Sequence[str] = (CLI,),
    on: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> NodeProcess:
    """Start ``secondme-node start`` and wait until it has written daemon.json (bound, ready).

    ``launcher`` is the command that stands for ``secondme-node`` (e.g. a wrapper script);
    ``on`` a prefix that places it (``ip netns exec HOST``); ``env`` extra variables."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}.stderr.log"
    log = log_path.open("ab")
    process = subprocess.Popen(
        [*on, *launcher, "start", "--data-dir", str(data_dir), "--api-port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env={**os.environ, "SECONDME_HOME": str(data_dir), **(env or {})},
    )
    node = NodeProcess(data_dir, process, log_path, on=tuple(on))
    return wait_until_ready(node) if wait else node


def wait_until_ready(node: NodeProcess) -> NodeProcess:
    """Wait until the node's daemon has written daemon.json (bound, ready); fill in its API
    address, token and peer ID."""
    record = node.data_dir / "daemon.json"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise AssertionError(f"daemon exited {node.process.returncode}:\n{node.stderr_text()}")
        info = json.loads(record.read_text()) if record.exists() else {}
        if info.get("pid") == node.process.pid:
            node.api_url = info["api_url"]
            node.peer_id = info["peer_id"]
            node.token = (node.data_dir / "api.token").read_text().strip()
            return node
        time.sleep(0.05)  # polling for readiness, bounded by the deadline
    node.process.kill()
    raise AssertionError(f"daemon not ready in {START_TIMEOUT} s:\n{node.stderr_text()}")


DISCOVERY = str(Path(sys.executable).with_name("secondme-discovery"))


@dataclass
class DiscoveryProcess:
    process: subprocess.Popen
    addr: str
    log_path: Path
    db: str

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def start_discovery(
    root: Path,
    *,
    db: str | None = None,
    listen: str = "/ip4/127.0.0.1/tcp/0",
    key: Path | None = None,
    on: Sequence[str] = (),
) -> DiscoveryProcess:
    """Start ``secondme-discovery`` and wait until it prints the address it listens on."""
    root.mkdir(parents=True, exist_ok=True)
    db = db or str(root / "discovery.db")
    out_path = root / "discovery.out"
    log_path = root / "discovery.log"
    out_path.write_text("")
    args = [*on, DISCOVERY, "--listen", listen, "--db", db, "--log-file", str(log_path)]
    args += ["--key", str(key or root / "discovery.key")]
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=out_path.open("w"), stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text() if log_path.exists() else ""
            raise AssertionError(f"secondme-discovery exited {process.returncode}:\n{log}")
        lines = out_path.read_text().split()
        if lines:
            return DiscoveryProcess(process, lines[0], log_path, db)
        time.sleep(0.05)  # polling for readiness, bounded by the deadline
    process.kill()
    raise AssertionError("secondme-discovery did not start within 60 s")
