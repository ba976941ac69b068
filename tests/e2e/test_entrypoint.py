"""The container entrypoint (``deploy/entrypoint.py``) on loopback: a discovery server, an
owner that creates the network and leaves an invite in the shared folder, and a member that
joins with it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import harness

pytestmark = pytest.mark.slow
ENTRYPOINT = Path(__file__).resolve().parents[2] / "deploy" / "entrypoint.py"


def _start(root: Path, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
    log = root / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), *args, "--shared", str(root / "shared"),
         "--state", str(root / name), "--ip", "127.0.0.1", "--port", "0"],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process, log


def _wait_for_line(process: subprocess.Popen, log: Path, text: str) -> None:
    def seen() -> bool:
        assert process.poll() is None, log.read_text()
        return text in log.read_text()

    harness.wait_for(seen, timeout=180)


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def test_owner_invites_and_member_joins_once(tmp_path):
    started = []
    try:
        discovery, log = _start(tmp_path, "disc", "discovery")
        started.append(discovery)
        _wait_for_line(discovery, log, "discovery server at /ip4/127.0.0.1/tcp/")
        owner, owner_log = _start(tmp_path, "alice", "node", "--name", "Alice", "--owner")
        member, member_log = _start(tmp_path, "bob", "node", "--name", "Bob")
        started += [owner, member]
        _wait_for_line(owner, owner_log, "Alice: in network friends")
        _wait_for_line(member, member_log, "Bob: in network friends")
        token = (tmp_path / "shared" / "invite.token").read_text().strip()
        assert token.startswith("smi1")
        members = harness.cli_json(tmp_path / "bob", "network", "members")["members"]
        assert {m["display_name"] for m in members} >= {"Alice", "Bob"}
        assert _stop(member) == 0  # SIGTERM reaches the node, which stops cleanly
        assert "Bob: in network friends (joined with the invite)" in member_log.read_text()
        assert _stop(owner) == 0
        discovery.kill()  # an entrypoint killed outright takes its server with it
        discovery.wait(timeout=30)
        harness.wait_for(lambda: not _running_under(tmp_path), timeout=30)
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()  # its server gets SIGTERM as the entrypoint dies
                process.wait(timeout=30)
    assert _running_under(tmp_path) == []  # no server outlived its entrypoint


def _running_under(root: Path) -> list[str]:
    """Command lines of the processes that name a path under ``root``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # it exited meanwhile
        if any(str(root).encode() in word for word in words):
            found.append(b" ".join(words).decode(errors="replace"))
    return found
