"""An L2 adapter answers a peer only within a grant that covers all it learned, through real
daemons, libp2p, llama.cpp and training: an adapter trained on all of memory never answers a
`travel` grantee (the base model does, and the audit says so); an adapter trained with
``--tags travel`` does, from data drawn only from travel notes; the owner may keep using the
all-memory adapter while the travel one answers peers."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.e2e import harness
from tests.l1_corpus import OWNER, make_documents

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

TRAVEL_TOPICS = ("hiking", "sailing", "photography")
HEALTH_TOPICS = ("nursing",)
PRIVATE_TOPICS = ("family", "cello")
TRAIN = ("--steps", "1", "--json")


def p2p_addr(node: harness.NodeProcess) -> str:
    return json.loads((node.data_dir / "daemon.json").read_text())["p2p"][0]


def last_ask(alice: harness.NodeProcess) -> dict:
    entries = alice.cli_json("audit", "--peer", "bob", "--limit", "5")
    asked = [e for e in entries if e["request"] == "ask" and e["decision"] == "allowed"]
    assert asked, entries
    return asked[0]


def chunks_tagged(alice: harness.NodeProcess, tag: str) -> set[str]:
    with sqlite3.connect(f"file:{alice.data_dir / 'node.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE EXISTS (SELECT 1 FROM json_each(d.tags) WHERE value = ?)",
            (tag,),
        ).fetchall()
    return {chunk for (chunk,) in rows}


def train(alice: harness.NodeProcess, *args: str) -> dict:
    done = json.loads(alice.cli("train", *args, *TRAIN, timeout=900).stdout)["job"]
    assert done["state"] == "done", done
    return done


def test_an_adapter_answers_peers_only_within_a_grant_that_covers_its_training(
    tmp_path, start_node
):
    harness.run_cli(tmp_path / "alice", "init", "--name", OWNER)
    harness.edit_config(tmp_path / "alice", memory={"l1_enabled": False})
    alice = start_node(tmp_path / "alice")
    bob = start_node(tmp_path / "bob", "--name", "Bob")
    alice.cli("peers", "add", p2p_addr(bob), "--name", "bob")
    bob.cli("peers", "add", p2p_addr(alice), "--name", "alice")

    notes = tmp_path / "notes"
    for doc in make_documents(per_topic=2, seed=11):
        if doc.topic not in TRAVEL_TOPICS + HEALTH_TOPICS + PRIVATE_TOPICS:
            continue
        tag = (
            "travel"
            if doc.topic in TRAVEL_TOPICS
            else "health"
            if doc.topic in HEALTH_TOPICS
            else "private"
        )
        (notes / tag).mkdir(parents=True, exist_ok=True)
        (notes / tag / doc.name).write_text(doc.text)
    for tag in ("travel", "health", "private"):
        alice.cli("ingest", str(notes / tag), "--tag", tag)
    travel = chunks_tagged(alice, "travel")
    assert travel and chunks_tagged(alice, "health")

    everything = train(alice, "--samples", "4")
    alice.cli("grant", "bob", "--ability", "chat/ask", "--tags", "travel", "--expires", "1h")
    question = "Where did you go sailing?"
    bob.cli_json("ask", "alice", question)
    assert last_ask(alice)["model"] == "base"  # the all-memory adapter stayed with its owner

    scoped = train(alice, "--tags", "travel", "--samples", "8")
    data = alice.cli_json("train", "data", "--version", str(scoped["dataset"]))
    sources = {chunk for sample in data["samples"] for chunk in sample["sources"]}
    assert sources and sources <= travel  # nothing but travel notes reached its data

    models = {a["id"]: a for a in alice.cli_json("model", "list")["adapters"]}
    assert models[everything["id"]]["serves"] == "you only"
    assert "peers whose grant covers" in models[scoped["id"]]["serves"]
    assert "tags travel" in alice.cli("model", "list").stdout

    bob.cli_json("ask", "alice", question)
    assert last_ask(alice)["model"] == scoped["id"]

    # The owner's own chat goes back to the all-memory adapter; peers keep the travel one.
    alice.cli("model", "use", everything["id"])
    bob.cli_json("ask", "alice", question)
    assert last_ask(alice)["model"] == scoped["id"]
    assert f"answered by {scoped['id']}" in alice.cli("audit", "--peer", "bob").stdout

    # A group turn follows the same rule: Alice joins Bob's group by a travel-scoped grant.
    alice.cli("grant", "bob", "--ability", "group/join", "--tags", "travel", "--expires", "1h")
    created = bob.cli_json("group", "create", "trips", "--members", "alice", "--topic", "sailing")
    assert created["invitations"][alice.peer_id].startswith("accepted")
    bob.cli("group", "discuss", "trips", "Where should we sail next?", "--rounds", "1")
    turns = [
        e
        for e in alice.cli_json("audit", "--peer", "bob", "--limit", "50")
        if e["request"] == "group.turn" and e["decision"] == "allowed"
    ]
    assert turns and turns[0]["model"] == scoped["id"], turns
    assert turns[0]["grant_id"]  # the join grant it was re-authorised by
