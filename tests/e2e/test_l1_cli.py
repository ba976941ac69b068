"""L1 from the owner's side: a real daemon, the real CLI, killed mid-way and resumed."""

from __future__ import annotations

import pytest

from secondme.node.core.testing_hooks import HookFolder
from tests.e2e.harness import run_cli, wait_for
from tests.l1_corpus import OWNER, make_documents

pytestmark = pytest.mark.slow

DOCS = make_documents(per_topic=2)


def test_l1_from_the_cli_survives_a_kill(tmp_path, start_node):
    data_dir = tmp_path / "node"
    run_cli(data_dir, "init", "--name", OWNER)
    # The second L1 job waits once it is running: one done, one running, the rest pending.
    hooks = HookFolder(tmp_path / "hooks")
    hooks.arm("l1.job", at=2)
    node = start_node(data_dir, env=hooks.env)

    empty = node.cli_json("memory", "profile")
    assert empty["version"] == 0 and empty["first_person"] == ""
    assert node.cli_json("memory", "topics") == []
    assert "no profile yet" in node.cli("memory", "profile").stdout

    notes = tmp_path / "notes"
    notes.mkdir()
    for doc in DOCS:
        (notes / doc.name).write_text(doc.text)
    node.cli("ingest", str(notes))

    status = node.cli_json("memory", "status")
    assert set(status["counts"]) == {"pending", "running", "done", "failed"}
    assert status["progress"]["total"] >= len(DOCS)

    wait_for(lambda: hooks.reached("l1.job"))
    midway = node.cli_json("memory", "status")["counts"]
    # The second job is running and held; at most the first is over (done; or failed, if the
    # model's output was refused; or queued again, if newer work replaced it as it ran); the
    # documents' jobs wait.
    assert midway["running"] == 1 and midway["done"] + midway["failed"] <= 1, midway
    assert midway["pending"] >= len(DOCS) - 2, midway
    node.kill()

    node = start_node(data_dir)
    done = node.cli_json("memory", "status", "--wait", "600")
    assert done["counts"]["pending"] == 0 and done["counts"]["running"] == 0
    assert done["progress"]["done"] == done["progress"]["total"]
    assert done["records"]["insights"] == len(DOCS)
    text_status = node.cli("memory", "status").stdout
    assert "L1 idle" in text_status and f"{len(DOCS)} insights" in text_status
    # Each document's own L1 state, as the web app's documents table shows it.
    listed = node.cli_json("memory", "documents")
    assert len(listed) == len(DOCS)
    assert {d["l1"]["state"] for d in listed} <= {"done", "failed"}
    assert all(d["l1"]["error"] for d in listed if d["l1"]["state"] == "failed")
    assert sum(d["l1"]["state"] == "done" and d["l1"]["kind"] == "document" for d in listed) > 0

    topics = node.cli_json("memory", "topics")
    homes = {
        d["name"]: t["name"] for t in topics for d in t["documents"] if d["name"].endswith(".md")
    }
    assert homes["hiking-01.md"] == homes["hiking-02.md"]
    assert homes["hiking-01.md"] != homes["nursing-01.md"]
    assert "confidence" in node.cli("memory", "topics").stdout

    profile = node.cli_json("memory", "profile")
    assert profile["version"] >= 1 and OWNER in profile["third_person"]
    assert node.cli_json("memory", "profile", "--version", "1")["version"] == 1
    missing = node.cli("memory", "profile", "--version", "999", check=False)
    assert missing.returncode != 0 and "no profile version 999" in missing.stderr

    ana = {e["name"]: e for e in node.cli_json("memory", "entities", "--name", "Ana")}
    assert "Porto" in ana and any(r["other"] == "Porto" for r in ana["Ana"]["relations"])
    assert "lives in Porto" in node.cli("memory", "entities", "--name", "Ana").stdout

    shown = node.cli_json("memory", "show", str(notes / "hiking-01.md"))
    assert shown["insight"]["title"] and shown["insight"]["key_points"]
    assert "Summary:" in node.cli("memory", "show", str(notes / "hiking-01.md")).stdout

    l1_hits = node.cli_json("search", "--layer", "l1", "Where does my sister live?")
    assert l1_hits and {h["layer"] for h in l1_hits} == {"l1"}
    both = node.cli_json("search", "--layer", "all", "--k", "20", "Where does my sister live?")
    assert {h["layer"] for h in both} == {"l0", "l1"}
    assert "L1 " in node.cli("search", "--layer", "l1", "sister Porto").stdout

    answer = node.cli_json("chat", "Where does my sister Ana live?")
    layers = [s["layer"] for s in answer["sources"]]
    assert layers[0] == "l1" and "l0" in layers  # L1 first (facts about Ana), L0 for detail
    kinds = {s["kind"] for s in answer["sources"] if s["layer"] == "l1"}
    assert "fact" in kinds, answer["sources"]

    nursing = next(t for t in topics if homes["nursing-01.md"] == t["name"])
    forgot = node.cli_json("memory", "forget", nursing["name"], "--yes")
    assert {d["name"] for d in forgot["forgot_documents"]} == {"nursing-01.md", "nursing-02.md"}
    names = {d["name"] for d in node.cli_json("memory", "documents")}
    assert not {"nursing-01.md", "nursing-02.md"} & names
    assert nursing["id"] not in {t["id"] for t in node.cli_json("memory", "topics")}
    unknown = node.cli("memory", "forget", "no such thing", "--yes", check=False)
    assert unknown.returncode != 0 and "no document or topic" in unknown.stderr
    assert node.terminate() == 0
