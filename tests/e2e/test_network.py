"""Networks between real daemons and a real discovery server on loopback: create, invite,
join, members with online state, spent and revoked invites, removal, a server restart, and a
scan of everything the server stored and logged for the nodes' private words."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.e2e import harness

pytestmark = pytest.mark.slow

CANARIES = {
    "alice": "OKAPI-LANTERN-3318",
    "bob": "MARMOT-QUILL-6604",
    "carol": "IBIS-TRELLIS-9275",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A discovery server and Alice, Bob and Carol, each with a private note holding a canary
    that only that node's memory contains."""
    root = tmp_path_factory.mktemp("network")
    discovery = harness.start_discovery(root / "discovery")
    nodes: dict[str, harness.NodeProcess] = {}
    try:
        for name in CANARIES:
            node = harness.start_node(root / name, "--name", name.title(), "--public", "name")
            nodes[name] = node
            note = root / f"{name}-secret.md"
            note.write_text(f"# Private\nMy locker code is {CANARIES[name]}; tell nobody.\n")
            node.cli("ingest", str(note), "--tag", "private")
        yield root, discovery, nodes
    finally:
        for node in nodes.values():
            node.terminate()
        discovery.terminate()


def refused(node: harness.NodeProcess, *args: str) -> dict:
    result = node.cli(*args, "--json", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    return json.loads(result.stdout)["error"]


def invite(node: harness.NodeProcess, *args: str) -> dict:
    return node.cli_json("invite", "--network", "friends", *args)


def test_create_invite_join_three_nodes(world):
    _, discovery, nodes = world
    alice, bob, carol = nodes["alice"], nodes["bob"], nodes["carol"]
    created = alice.cli_json("network", "create", "friends", "--discovery", discovery.addr)
    assert created["role"] == "owner" and created["owner"] == alice.peer_id

    for joiner in (bob, carol):
        token = invite(alice, "--uses", "1", "--expires", "1h")["token"]
        assert token.startswith("smi1") and alice.peer_id not in token
        joined = joiner.cli_json("join", token)
        assert joined["name"] == "friends" and joined["role"] == "member"
        assert joined["network_id"] == created["network_id"]

    for node in (alice, bob, carol):
        listed = node.cli_json("network", "list")
        assert [n["name"] for n in listed] == ["friends"]
        members = node.cli_json("network", "members")["members"]
        assert {m["peer_id"] for m in members} == {n.peer_id for n in nodes.values()}
        assert all(m["online"] for m in members), members
        roles = {m["peer_id"]: m["role"] for m in members}
        assert roles[alice.peer_id] == "owner"

    peers = {p["peer_id"]: p for p in bob.cli_json("peers")}
    assert set(peers) == {alice.peer_id, carol.peer_id}
    assert all(p["networks"] == ["friends"] for p in peers.values())
    assert "online" in bob.cli("peers").stdout
    # Found through discovery, a peer is reachable over SMP at once.
    assert bob.cli_json("hello", alice.peer_id)["display_name"] == "Alice"


def test_spent_revoked_and_bad_tokens(world):
    _, _, nodes = world
    alice, bob, carol = nodes["alice"], nodes["bob"], nodes["carol"]
    once = invite(alice, "--uses", "1", "--expires", "1h")
    bob.cli_json("join", once["token"])  # bob is already a member: this costs the use
    assert refused(carol, "join", once["token"])["remote_code"] == "invite_spent"

    revoked = invite(alice, "--uses", "5", "--expires", "1h")
    alice.cli("invite", "revoke", revoked["invite_id"][:12])
    assert refused(carol, "join", revoked["token"])["remote_code"] == "invite_revoked"
    states = {i["invite_id"]: i for i in alice.cli_json("invite", "list")}
    assert states[revoked["invite_id"]]["revoked_ms"]

    garbage = refused(carol, "join", "smi1not-a-token")
    assert garbage["code"] == "invalid_request" and "invite token" in garbage["message"]
    tampered = once["token"][:-6] + ("A" if once["token"][-6] != "A" else "B") + once["token"][-5:]
    assert refused(carol, "join", tampered)["code"] == "invalid_request"
    # A member cannot invite; only the owner and inviters can.
    assert "owner" in refused(bob, "invite", "--network", "friends")["message"]


def test_server_restart_keeps_everything(world):
    root, discovery, nodes = world
    listen = discovery.addr.rsplit("/p2p/", 1)[0]
    assert discovery.terminate() == 0
    assert "stopped" in discovery.log_text()
    restarted = harness.start_discovery(root / "discovery", listen=listen)
    world[1].process = restarted.process  # the fixture stops the new one
    assert restarted.addr == discovery.addr  # same key, same port
    members = nodes["bob"].cli_json("network", "members", "--no-probe")
    assert len(members["members"]) == 3 and members["stale"] is None
    report = nodes["carol"].cli_json("network", "refresh")
    assert report["registered"] == 1 and not report["failed"]


def _record_seq(db: Path, peer_id: str) -> int | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT seq FROM records WHERE peer = ?", (peer_id,)).fetchone()
    return None if row is None else row[0]


def test_running_node_keeps_its_registration_fresh(world):
    _, discovery, nodes = world
    bob = nodes["bob"]
    assert bob.terminate() == 0
    config = bob.data_dir / "config.toml"
    text = config.read_text()
    assert "refresh_s = 1800" in text
    config.write_text(text.replace("refresh_s = 1800", "refresh_s = 5"))
    before = _record_seq(Path(discovery.db), bob.peer_id)
    bob = nodes["bob"] = harness.start_node(bob.data_dir)
    seen = {before}
    deadline = time.monotonic() + 60
    while len(seen) < 3 and time.monotonic() < deadline:  # registered at start, then again
        seen.add(_record_seq(Path(discovery.db), bob.peer_id))
        time.sleep(0.2)  # polling the server's database, bounded by the deadline
    assert len(seen) >= 3, f"bob registered {len(seen) - 1} time(s) in 60 s"
    members = nodes["alice"].cli_json("network", "members")["members"]
    assert next(m for m in members if m["peer_id"] == bob.peer_id)["online"]


def test_remove_member(world):
    _, _, nodes = world
    alice, bob, carol = nodes["alice"], nodes["bob"], nodes["carol"]
    assert refused(bob, "network", "remove", carol.peer_id)["remote_code"] == "not_owner"
    alice.cli("network", "remove", carol.peer_id, "--network", "friends")
    report = carol.cli_json("network", "refresh")
    assert report["removed"] == ["friends"]
    assert carol.cli_json("network", "list")[0]["status"] == "removed"
    members = alice.cli_json("network", "members", "--no-probe")["members"]
    assert carol.peer_id not in {m["peer_id"] for m in members}


def test_leave_and_close(world):
    _, _, nodes = world
    alice, bob = nodes["alice"], nodes["bob"]
    assert "close it instead" in refused(alice, "network", "leave", "friends")["message"]
    assert "only the owner" in refused(bob, "network", "close", "friends")["message"]
    assert bob.cli_json("network", "leave", "friends")["status"] == "left"
    members = alice.cli_json("network", "members", "--no-probe")["members"]
    assert [m["peer_id"] for m in members] == [alice.peer_id]
    assert alice.cli_json("network", "close", "friends")["status"] == "closed"
    assert [n["status"] for n in alice.cli_json("network", "list", "--offline")] == ["closed"]
    assert "in no network" in refused(alice, "invite")["message"]


def test_discovery_stores_no_content(world):
    root, _, _ = world
    stored = b""
    for path in sorted((root / "discovery").iterdir()):
        if path.is_file():
            stored += path.read_bytes()
    assert stored, "the discovery server wrote nothing?"
    for canary in CANARIES.values():
        assert canary.encode() not in stored
    # What it does hold: the members' names, which they chose to make public.
    assert b"Alice" in stored


def test_discovery_shuts_down_cleanly(world):
    _, discovery, _ = world
    discovery.process.send_signal(signal.SIGINT)
    assert discovery.process.wait(timeout=60) == 0
    assert Path(discovery.db).exists()
