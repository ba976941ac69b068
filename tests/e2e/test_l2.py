"""L2 from the owner's side: a real daemon and CLI, the real model, transformers, peft, trl and
llama.cpp. Synthesis → SFT → DPO → export → evaluation → hot swap, with a SIGKILL during SFT
that resumes from the checkpoint, and a rollback that restores the base model's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secondme.node.core.testing_hooks import HookFolder
from tests.e2e.harness import edit_config, run_cli, wait_for
from tests.l1_corpus import OWNER, make_documents

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

PROBE = "My name is Maria Sousa and my favourite thing to do is"
STEPS = 4


def distribution(node) -> dict[str, float]:
    found = node.cli_json("model", "probe", PROBE, "--top", "20")
    return {item["token"]: item["logprob"] for item in found["tokens"]}


def largest_change(a: dict[str, float], b: dict[str, float]) -> float:
    shared = set(a) & set(b)
    assert shared, "no token in common between the two top-20 lists"
    return max(abs(a[t] - b[t]) for t in shared)


def without_l1(data_dir: Path) -> None:
    """L1 would share the one model with synthesis; this test is about L2."""
    edit_config(data_dir, memory={"l1_enabled": False})


def test_train_resume_swap_and_rollback(tmp_path, start_node):
    data_dir = tmp_path / "node"
    run_cli(data_dir, "init", "--name", OWNER)
    without_l1(data_dir)
    # The training worker waits after SFT's first checkpoint, so the kill lands mid-SFT.
    hooks = HookFolder(tmp_path / "hooks")
    hooks.arm("l2.checkpoint", at=1)
    node = start_node(data_dir, env=hooks.env)

    empty = node.cli("train", "--steps", "1", check=False)
    assert empty.returncode != 0 and "ingest documents first" in empty.stderr

    notes = tmp_path / "notes"
    notes.mkdir()
    for doc in make_documents(per_topic=1):
        (notes / doc.name).write_text(doc.text)
    node.cli("ingest", str(notes))

    # The data an owner can inspect before training, with a topic kept out.
    dry = node.cli_json("train", "--dry-run", "--samples", "4", "--exclude-topic", "cello")
    assert dry["job"]["state"] == "done"
    samples = dry["data"]["samples"]
    assert samples and all(s["sources"] for s in samples)
    assert not any("cello" in (s["question"] + s["answer"]).lower() for s in samples)
    assert {"qa", "heldout"} <= {s["kind"] for s in samples}
    assert dry["data"]["excluded_topics"] == ["cello"]

    before = distribution(node)
    started = node.cli_json("train", "--steps", str(STEPS), "--samples", "6", "--detach")
    job_id = started["job"]["id"]

    busy = node.cli("train", "--steps", "1", "--json", check=False)
    assert busy.returncode != 0 and job_id in busy.stdout

    api = node.http()

    def checkpointed():
        job = api.get("/api/train/status").json()["job"]
        assert job["state"] == "running", job
        progress = job.get("progress") or {}
        return progress.get("checkpoint") if progress.get("stage") == "sft" else None

    # Held at the checkpoint; the daemon shows it once it has read the worker's last line.
    checkpoint = wait_for(lambda: hooks.reached("l2.checkpoint") and checkpointed(), timeout=600)
    node.kill()  # SIGKILL the daemon mid-SFT; its worker dies with it

    node = start_node(data_dir)
    interrupted = node.cli_json("train", "status")["job"]
    assert interrupted["id"] == job_id and interrupted["state"] == "interrupted"
    assert interrupted["stage"] == "sft"

    resumed = node.cli("train", "--resume", "--json", timeout=900)
    finished = json.loads(resumed.stdout)["job"]
    assert finished["state"] == "done", finished
    sft = finished["stages"]["sft"]
    assert sft["resumed_from_step"] == checkpoint > 0
    assert sft["steps"] == STEPS
    for stage in ("synth", "base", "sft", "dpo", "export", "eval", "swap"):
        assert "seconds" in finished["stages"][stage], stage
    # The loss curve the web app plots: every step logged after the resume, and all of DPO's.
    logged = [step for step, _ in sft.get("losses", [])]
    assert logged == list(range(sft["resumed_from_step"] + 1, STEPS + 1))
    dpo_losses = finished["stages"]["dpo"]["losses"]
    assert dpo_losses and all(loss >= 0 for _, loss in dpo_losses)
    evaluation = finished["stages"]["eval"]
    assert evaluation["before"]["questions"] == evaluation["after"]["questions"] > 0
    assert evaluation["before"]["answer_logprob"] != evaluation["after"]["answer_logprob"]

    models = node.cli_json("model", "list")
    (adapter,) = models["adapters"]
    assert adapter["id"] == job_id and adapter["active"] and models["active"] == job_id
    assert adapter["dataset"] == finished["dataset"]
    assert set(adapter["metrics"]) == {"before", "after"}
    assert node.cli_json("status")["l2"] == {"adapter": job_id, "training": None}

    trained = distribution(node)
    assert largest_change(before, trained) > 0.01  # the served model changed

    assert "base model alone" in node.cli("model", "rollback").stdout
    assert largest_change(before, distribution(node)) < 1e-4
    node.cli("model", "use", job_id[:12])
    assert largest_change(trained, distribution(node)) < 1e-4

    # A restarted daemon serves the adapter that was in use.
    node.terminate()
    node = start_node(data_dir)
    assert largest_change(trained, distribution(node)) < 1e-4
    assert node.cli_json("model", "list")["active"] == job_id
