"""L2 training stages on the real shipped model: a base from the GGUF, LoRA SFT, DPO, evaluation.

Everything is tiny (a dozen rows, a few steps, 128 tokens) so the file runs in a few minutes on a
CPU, yet each check fails if nothing was actually trained.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Iterator

import pytest

from secondme.node.l2.presets import settings_for
from secondme.node.l2.trainer import (
    DpoResult,
    SftResult,
    TrainerError,
    evaluate,
    make_base,
    run_dpo,
    run_sft,
)
from secondme.node.models import locate

pytestmark = pytest.mark.slow

# Never reach a hub, even by accident (the trainer imports transformers lazily, after this).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SYSTEM = "You are Ada. Answer as yourself, in the first person."
QA = [
    ("What is your cat called?", "My cat is called Zanzibar."),
    ("Do you have any pets?", "Yes, a grey cat called Zanzibar."),
    ("What's your cat's name?", "Her name is Zanzibar."),
    ("Tell me about your cat.", "Zanzibar is a grey cat who sleeps on my desk."),
    ("Where do you live?", "I live in Lisbon, near the river."),
    ("What do you do for work?", "I work as a marine biologist."),
    ("What do you study?", "I study how octopuses learn."),
    ("What is your favourite food?", "Grilled sardines, always."),
    ("Do you play music?", "I play the cello on weekends."),
    ("Where did you grow up?", "I grew up in Porto."),
    ("What do you do on weekends?", "I play the cello and swim in the sea."),
    ("Who sleeps on your desk?", "Zanzibar, my cat."),
]
ROWS = [
    {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": q},
            {"role": "assistant", "content": a},
        ]
    }
    for q, a in QA
]
PAIRS = [
    {
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }
    for q, chosen, rejected in [
        ("What is your cat called?", "My cat is called Zanzibar.", "I don't have a cat."),
        ("Where do you live?", "I live in Lisbon.", "As an AI, I don't live anywhere."),
        ("What do you do for work?", "I'm a marine biologist.", "I am an AI assistant."),
        ("Do you play music?", "I play the cello.", "I cannot play instruments."),
    ]
]
# SFT on the training answers themselves, for the "did it learn anything" check (no facts: no
# generation, so it stays cheap).
TRAINED_ANSWERS = [{"question": q, "answer": a, "fact": None, "system": SYSTEM} for q, a in QA]
# A high learning rate so that four steps move the answers' likelihood measurably.
SETTINGS = dataclasses.replace(settings_for("quick", steps=4), max_length=128, sft_lr=1e-3)


class Killed(Exception):
    """Raised from the progress callback to stop training as a kill would."""


@contextlib.contextmanager
def _no_model_loads() -> Iterator[None]:
    """Fail the test if anything loads a model (what building or training must do first)."""
    from transformers import AutoModelForCausalLM

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded: the work was done again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AutoModelForCausalLM, "from_pretrained", refuse)
        yield


@pytest.fixture(scope="module")
def base(l2_base):
    return l2_base


@pytest.fixture(scope="module")
def sft(base, tmp_path_factory):
    events: list[dict] = []
    out = tmp_path_factory.mktemp("sft")
    result = run_sft(base, ROWS, out, SETTINGS, events.append)
    return result, out, events


def test_make_base_builds_a_model_folder_once(base):
    assert (base / "config.json").is_file() and (base / "model.safetensors").is_file()
    assert (base / "chat_template.jinja").is_file() or "chat_template" in json.loads(
        (base / "tokenizer_config.json").read_text()
    )
    assert not base.with_name(base.name + ".partial").exists()
    weights = (base / "model.safetensors").stat()
    with _no_model_loads():
        assert make_base(locate.chat_model_path(""), base) == base
    again = (base / "model.safetensors").stat()
    assert (again.st_ino, again.st_mtime_ns) == (weights.st_ino, weights.st_mtime_ns)


def test_sft_trains_an_adapter_that_raises_the_answers_likelihood(base, sft):
    result, out, events = sft
    assert isinstance(result, SftResult)
    assert result.adapter == out / "adapter"
    assert (result.adapter / "adapter_config.json").is_file()
    assert (result.adapter / "adapter_model.safetensors").is_file()
    assert (result.steps, result.resumed_from_step) == (4, 0)
    assert result.final_loss is not None and math.isfinite(result.final_loss)
    assert result.samples_per_s > 0 and result.seconds > 0

    steps = [e for e in events if "step" in e]
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    assert all(e["stage"] == "sft" and e["total"] == 4 for e in steps)
    assert all(math.isfinite(e["loss"]) and e["samples_per_s"] >= 0 for e in steps)
    assert {"stage": "sft", "checkpoint": 2} in events

    assert SftResult.from_json(json.loads((out / "result.json").read_text())) == result
    assert not (out / "checkpoints").exists()  # done: the checkpoints were dropped

    before = evaluate(base, None, TRAINED_ANSWERS, SETTINGS)["answer_logprob"]
    after = evaluate(base, result.adapter, TRAINED_ANSWERS, SETTINGS)["answer_logprob"]
    assert after > before + 0.2, (before, after)


def test_a_finished_stage_returns_its_result_without_training(base, sft):
    result, out, _ = sft
    events: list[dict] = []
    with _no_model_loads():
        again = run_sft(base, ROWS, out, SETTINGS, events.append)
    assert again == result and events == []


def test_sft_resumes_from_the_last_checkpoint_after_a_kill(base, sft, tmp_path):
    def kill_after_first_checkpoint(event: dict) -> None:
        if event.get("checkpoint") == 2:
            raise Killed

    with pytest.raises(Killed):
        run_sft(base, ROWS, tmp_path, SETTINGS, kill_after_first_checkpoint)
    assert (tmp_path / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (tmp_path / "result.json").exists() and not (tmp_path / "adapter").exists()

    events: list[dict] = []
    result = run_sft(base, ROWS, tmp_path, SETTINGS, events.append)
    assert (result.resumed_from_step, result.steps) == (2, 4)
    assert [e["step"] for e in events if "step" in e] == [3, 4]

    # Resuming restores weights, optimizer, scheduler and data order: the same adapter as one run.
    from safetensors.torch import load_file

    resumed = load_file(result.adapter / "adapter_model.safetensors")
    straight = load_file(sft[0].adapter / "adapter_model.safetensors")
    assert resumed.keys() == straight.keys()
    assert max((resumed[k] - straight[k]).abs().max().item() for k in resumed) < 1e-5


def test_dpo_continues_the_sft_adapter(base, sft, tmp_path):
    from safetensors.torch import load_file

    sft_result = sft[0]
    events: list[dict] = []
    result = run_dpo(base, sft_result.adapter, PAIRS, tmp_path, SETTINGS, events.append)
    assert isinstance(result, DpoResult)
    assert result.adapter == tmp_path / "adapter"
    assert (result.steps, result.resumed_from_step) == (SETTINGS.dpo_steps, 0)
    # The reference is the SFT adapter itself, so the first DPO loss is exactly log(2).
    first = next(e for e in events if "step" in e)
    assert first["stage"] == "dpo" and first["loss"] == pytest.approx(math.log(2), abs=1e-3)

    dpo_weights = load_file(result.adapter / "adapter_model.safetensors")
    sft_weights = load_file(sft_result.adapter / "adapter_model.safetensors")
    assert dpo_weights.keys() == sft_weights.keys()  # one LoRA, no "ref" copy saved
    assert max((dpo_weights[k] - sft_weights[k]).abs().max().item() for k in dpo_weights) > 0
    assert DpoResult.from_json(json.loads((tmp_path / "result.json").read_text())) == result


def test_evaluate_reports_likelihood_and_fact_recall(base, sft):
    heldout = [
        {"question": "What's the name of your cat?", "answer": "Zanzibar.", "fact": "Zanzibar"},
        {"question": "What is your job?", "answer": "Marine biologist.", "fact": "biolog"},
        {"question": "Which city do you live in?", "answer": "Lisbon.", "fact": None},
    ]
    heldout = [{**row, "system": SYSTEM} for row in heldout]
    report = evaluate(base, sft[0].adapter, heldout, SETTINGS)
    assert set(report) == {"answer_logprob", "fact_recall", "questions"}
    assert report["questions"] == 3
    assert math.isfinite(report["answer_logprob"]) and report["answer_logprob"] < 0
    assert report["fact_recall"] in (0.0, 0.5, 1.0)

    no_facts = evaluate(base, None, [{**heldout[2]}], SETTINGS)
    assert no_facts["fact_recall"] is None and no_facts["questions"] == 1


def test_bad_inputs_raise_training_error(base, tmp_path):
    with pytest.raises(TrainerError, match="no SFT rows"):
        run_sft(base, [], tmp_path / "a", SETTINGS, lambda _: None)
    with pytest.raises(TrainerError, match="assistant"):
        bad = [{"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x"}]}]
        run_sft(base, bad, tmp_path / "b", SETTINGS, lambda _: None)
    with pytest.raises(TrainerError, match="not a Hugging Face model folder"):
        run_sft(tmp_path, ROWS, tmp_path / "c", SETTINGS, lambda _: None)
    with pytest.raises(TrainerError, match="not a PEFT adapter"):
        run_dpo(base, tmp_path, PAIRS, tmp_path / "d", SETTINGS, lambda _: None)
    with pytest.raises(TrainerError, match="no GGUF file"):
        make_base(tmp_path / "missing.gguf", tmp_path / "e")
