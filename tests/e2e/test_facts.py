"""Facts that change, through real daemons: a move closes the old home, `--at` looks back, the
profile says where the owner lives now, and a peer's profile states only facts in its scope."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from tests.e2e import harness

pytestmark = pytest.mark.slow

OWNER = "Maria Costa"
HOME_NOTE = "# Home\nI live in Porto. The river light in the evening is my favourite thing.\n"
WORK_NOTE = "# Work\nI work at Quanto Labs. My team builds tools for field biologists.\n"
CHAT = [
    {"speaker": speaker, "text": text, "time": f"2026-03-20T10:0{minute}:00Z"}
    for minute, speaker, text in (
        (0, "Maria", "Big news: I moved to Lisbon in March."),
        (5, "Caroline", "I went to a support group yesterday."),
        (6, "Caroline", "My sister Ana says hi."),
    )
]


def p2p_addr(node: harness.NodeProcess) -> str:
    return json.loads((node.data_dir / "daemon.json").read_text())["p2p"][0]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Maria (a note of 2025 saying where she lives, a chat of March 2026 saying she moved, both
    tagged ``private``; a note tagged ``work``) and Bob, who knows her."""
    root = tmp_path_factory.mktemp("facts")
    started = []
    try:
        harness.init_greedy(root / "maria", "--name", OWNER, "--public", "name")
        maria = harness.start_node(root / "maria", wait=False)
        started.append(maria)
        bob = harness.start_node(root / "bob", "--name", "Bob", wait=False)
        started.append(bob)
        for node in started:
            harness.wait_until_ready(node)
        files = root / "files"
        files.mkdir()
        home = files / "home.md"
        home.write_text(HOME_NOTE)
        written = datetime(2025, 6, 1, 9, tzinfo=UTC).timestamp()
        os.utime(home, (written, written))  # the note's only date: its file time, June 2025
        chat = files / "chat-with-caroline.jsonl"
        chat.write_text("".join(json.dumps(turn) + "\n" for turn in CHAT))
        work = files / "work.md"
        work.write_text(WORK_NOTE)
        maria.cli("ingest", str(home), str(chat), "--tag", "private")
        maria.cli("ingest", str(work), "--tag", "work")
        maria.cli("memory", "status", "--wait", "600")
        maria.cli("peers", "add", p2p_addr(bob), "--name", "bob")
        bob.cli("peers", "add", p2p_addr(maria), "--name", "maria")
        yield maria, bob
    finally:
        for node in started:
            node.terminate()


def homes(facts: list[dict]) -> dict[str, dict]:
    return {f["object"]: f for f in facts if f["predicate"] == "lives_in" and f["owner"]}


def test_a_move_closes_the_old_home_and_at_looks_back(nodes):
    maria, _ = nodes
    now = maria.cli_json("memory", "facts")["facts"]
    assert set(homes(now)) == {"Lisbon"}
    lisbon = homes(now)["Lisbon"]
    assert lisbon["valid_from"].startswith("2026-03") and lisbon["valid_to"] is None
    assert lisbon["turns"] is not None  # it came from a chat: the turns are named

    everything = maria.cli_json("memory", "facts", "--all")["facts"]
    porto = homes(everything)["Porto"]
    assert porto["valid_from"].startswith("2025-06")
    assert porto["valid_to"].startswith("2026-03") and porto["closed_by"] == lisbon["id"]

    then = maria.cli_json("memory", "facts", "--at", "2025-09-01")["facts"]
    assert set(homes(then)) == {"Porto"}
    shown = maria.cli("memory", "facts", "--all").stdout
    assert "I lived in Porto (from 2025-06" in shown and "ended by: I live in Lisbon" in shown

    # The other speaker's "I" is hers, not Maria's.
    caroline = maria.cli_json("memory", "facts", "--about", "Caroline")["facts"]
    assert {(f["predicate"], f["object"]) for f in caroline} >= {
        ("did", "went to a support group"),
        ("sister", "Ana"),
    }
    assert all(not f["owner"] for f in caroline)

    bad = maria.cli("memory", "facts", "--at", "the day after never", check=False)
    assert bad.returncode != 0 and "cannot read 'the day after never' as a date" in bad.stderr
    assert maria.cli_json("status")["pid"]  # the node keeps running


def test_the_profile_states_the_current_home(nodes):
    maria, _ = nodes
    profile = maria.cli_json("memory", "profile")
    assert "I live in Lisbon" in profile["first_person"]
    assert f"{OWNER} lives in Lisbon" in profile["third_person"]
    assert "live in Porto" not in profile["first_person"]


def test_a_peers_profile_states_no_fact_from_outside_its_scope(nodes):
    """The attack: Bob, granted the profile over ``work`` only, reads it hoping to learn where
    Maria lives (a private chat and note)."""
    maria, bob = nodes
    grant = maria.cli_json(
        "grant", "bob", "--ability", "profile/read", "--tags", "work", "--profile",
        "--expires", "1h",
    )  # fmt: skip
    try:
        biography = bob.cli_json("profile", "maria")["biography"] or ""
        assert "I work at Quanto Labs" in biography  # the facts in scope are there
        for secret in ("Lisbon", "Porto", "Caroline", "support group"):
            assert secret not in biography, (secret, biography)
    finally:
        maria.cli("revoke", grant["id"])
