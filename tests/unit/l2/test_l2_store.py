"""L2 records over a real SQLite file, the preset arithmetic, and the resource checks."""

from __future__ import annotations

import pytest

from secondme.node.core.db import Database
from secondme.node.core.errors import NotEnoughResources
from secondme.node.l2 import resources
from secondme.node.l2.presets import PRESETS, TrainSettings, settings_for
from secondme.node.l2.store import L2Store
from secondme.node.l2.synth import Sample, SynthReport

MB = resources.MB


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "node.db")
    yield L2Store(db)
    db.close()


def _report() -> SynthReport:
    report = SynthReport()
    report.samples = [
        Sample(
            kind="qa", question="Q1?", answer="A1", sources=("c1",), method="model", rejected="x"
        ),
        Sample(
            kind="heldout", question="Q2?", answer="A2", sources=("c1", "c2"), method="own words"
        ),
    ]
    report.drop("duplicate question")
    return report


def test_a_dataset_keeps_every_sample_with_its_sources(store):
    version = store.add_dataset("job1", ["cello"], _report())
    dataset = store.dataset()
    assert dataset["version"] == version and dataset["excluded_topics"] == ["cello"]
    assert dataset["counts"] == {"qa": 1, "heldout": 1, "pairs": 1}
    assert dataset["dropped"] == {"duplicate question": 1}
    samples = store.samples(version)
    assert [s["sources"] for s in samples] == [["c1"], ["c1", "c2"]]
    assert store.samples(version, "heldout")[0]["question"] == "Q2?"
    assert store.add_dataset("job2", [], _report()) == version + 1


def test_jobs_left_running_become_interrupted(store):
    store.create_job("j1", {"settings": {}})
    store.update_job("j1", stage="sft", stages={"synth": {"seconds": 1.0}})
    assert store.running_job()["id"] == "j1"
    assert store.interrupt_running() == ["j1"]
    job = store.job("j1")
    assert job["state"] == "interrupted" and job["stage"] == "sft"
    assert job["stages"] == {"synth": {"seconds": 1.0}}
    assert store.running_job() is None
    assert store.job("j")["id"] == "j1"  # by prefix


def test_activation_history_rolls_back_step_by_step(store):
    for adapter_id in ("a1", "a2"):
        store.add_adapter(
            adapter_id=adapter_id,
            base_model="m.gguf",
            dataset=1,
            job_id=adapter_id,
            path=f"/x/{adapter_id}.gguf",
            size=10,
            metrics={},
            settings={},
        )
    assert store.previous_adapter() == (False, None)
    store.activate("a1")
    store.activate("a2")
    assert store.active_adapter() == "a2"
    assert store.previous_adapter() == (True, "a1")
    store.undo_active()
    assert store.active_adapter() == "a1"
    assert store.previous_adapter() == (True, None)
    store.undo_active()
    assert store.active_adapter() is None
    assert store.adapter("a") is None  # ambiguous prefix
    assert store.adapter("a2")["path"] == "/x/a2.gguf"


def test_presets_and_overrides():
    quick = settings_for("quick", steps=6)
    assert quick.sft_steps == 6 and quick.dpo_steps == 2 and quick.save_steps == 3
    assert settings_for("full", epochs=2).epochs == 2 and settings_for("full").sft_steps == 0
    assert TrainSettings.from_json(PRESETS["quick"].to_json()) == PRESETS["quick"]
    with pytest.raises(ValueError, match="not both"):
        settings_for("quick", steps=1, epochs=1)
    with pytest.raises(ValueError, match="unknown preset"):
        settings_for("huge")


def test_resource_check_names_the_shortfall(tmp_path):
    needs = resources.Needs(disk=500 * MB, memory=2000 * MB)
    resources.check(needs, tmp_path, free_disk=600 * MB, free_memory=3000 * MB)
    with pytest.raises(NotEnoughResources, match=r"needs about 500 MB free .* has 100 MB"):
        resources.check(needs, tmp_path, free_disk=100 * MB, free_memory=3000 * MB)
    with pytest.raises(NotEnoughResources, match="memory to train: it needs about 2000 MB"):
        resources.check(needs, tmp_path, free_disk=600 * MB, free_memory=1000 * MB)


def test_estimate_grows_a_quantized_model_and_reuses_a_made_base(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"\0" * MB)
    fresh = resources.estimate(gguf, None)
    assert fresh.disk >= 8 * MB and fresh.memory >= 9 * 8 * MB
    base = tmp_path / "base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(b"\0" * (2 * MB))
    cached = resources.estimate(gguf, base)
    assert cached.disk < fresh.disk
