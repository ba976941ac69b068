"""Training presets: the knobs of one L2 run, with defaults that fit a small CPU.

`quick` is sized to finish in minutes on a 2-core CPU with the shipped 135M model; `full` trains
longer and on every linear layer, for a GPU or a patient owner. ``--steps`` and ``--epochs``
override the preset's length without touching the rest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from secondme.node.core.config import L2_PRESETS


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainSettings:
    preset: str
    samples: int  # self-Q&A examples to synthesize (preference pairs are made from a share of them)
    sft_steps: int  # optimizer steps of LoRA SFT; 0 means run `epochs` epochs instead
    dpo_steps: int  # optimizer steps of DPO; 0 means run `epochs` epochs instead
    epochs: float
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: tuple[str, ...]
    max_length: int  # tokens per example, prompt and answer together
    batch_size: int
    grad_accum: int
    sft_lr: float
    dpo_lr: float
    dpo_beta: float
    save_steps: int  # a checkpoint every this many steps, so that a killed run resumes
    heldout_share: float  # the share of synthesized questions kept out of training, for evaluation
    seed: int = 0

    def with_length(
        self, *, steps: int | None = None, epochs: float | None = None
    ) -> TrainSettings:
        """This preset run for ``steps`` SFT steps (DPO gets a third) or for ``epochs``."""
        if steps is not None and epochs is not None:
            raise ValueError("give --steps or --epochs, not both")
        if steps is not None:
            if steps < 1:
                raise ValueError("--steps must be at least 1")
            return dataclasses.replace(
                self,
                sft_steps=steps,
                dpo_steps=max(1, steps // 3),
                save_steps=max(1, min(self.save_steps, steps // 2 or 1)),
            )
        if epochs is not None:
            if epochs <= 0:
                raise ValueError("--epochs must be positive")
            return dataclasses.replace(self, sft_steps=0, dpo_steps=0, epochs=epochs)
        return self

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainSettings:
        return cls(**{**data, "target_modules": tuple(data["target_modules"])})


PRESETS: dict[str, TrainSettings] = {
    "quick": TrainSettings(
        preset="quick",
        samples=48,
        sft_steps=40,
        dpo_steps=12,
        epochs=1.0,
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.05,
        target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
        max_length=256,
        batch_size=4,
        grad_accum=1,
        sft_lr=5e-4,
        dpo_lr=5e-5,
        dpo_beta=0.1,
        save_steps=10,
        heldout_share=0.15,
    ),
    "full": TrainSettings(
        preset="full",
        samples=400,
        sft_steps=0,
        dpo_steps=0,
        epochs=3.0,
        lora_r=16,
        lora_alpha=32,
        lora_dropout=0.05,
        target_modules=(
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ),
        max_length=512,
        batch_size=8,
        grad_accum=2,
        sft_lr=2e-4,
        dpo_lr=5e-6,
        dpo_beta=0.1,
        save_steps=50,
        heldout_share=0.15,
    ),
}

if tuple(PRESETS) != L2_PRESETS:  # the config validates names without importing L2
    raise ImportError(f"presets {tuple(PRESETS)} differ from core.config.L2_PRESETS {L2_PRESETS}")


def settings_for(
    preset: str, *, steps: int | None = None, epochs: float | None = None
) -> TrainSettings:
    """The named preset with any length override; a clear error for an unknown name."""
    try:
        base = PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}") from None
    return base.with_length(steps=steps, epochs=epochs)
