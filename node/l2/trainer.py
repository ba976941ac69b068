"""L2 training stages: a HF base from the shipped GGUF, LoRA SFT, DPO on top, a cheap evaluation.

A worker process calls these one stage at a time, each into its own folder:

1. `make_base` turns the GGUF that llama.cpp serves into a float32 Hugging Face folder once,
   because trl/peft train HF models. It is built in ``<out>.partial`` and renamed, so a folder
   that exists is complete.
2. `run_sft` trains a LoRA adapter on the owner's self-Q&A (loss on the answers only).
3. `run_dpo` continues *that* adapter with preference pairs; the reference is the SFT adapter
   itself (trl keeps a frozen copy of it), so DPO only moves the model away from where SFT left it.
4. `evaluate` scores a base or base+adapter on held-out questions: answer likelihood, fact recall.

The training stages survive being killed: they checkpoint every ``save_steps`` into
``<out>/checkpoints`` and resume from the newest complete checkpoint. ``<out>/result.json`` is
written last and marks the stage done; a call that finds it returns it without training.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

from secondme.node.core.errors import TrainerError
from secondme.node.core.fsutil import atomic_write
from secondme.node.l2.presets import TrainSettings

Progress = Callable[[dict], None]

_CHECKPOINT_PREFIX = "checkpoint-"
_GENERATION_TOKENS = 48
_EVAL_BATCH = 8


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _StageResult:
    adapter: Path
    steps: int  # optimizer steps reached (the global step at the end)
    resumed_from_step: int  # 0 for a fresh run
    seconds: float  # wall time of this call: loading, training and saving
    samples_per_s: float  # SFT rows or DPO pairs per second of this call's training loop
    final_loss: float | None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["adapter"] = str(self.adapter)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(
            **{**{k: v for k, v in data.items() if k in fields}, "adapter": Path(data["adapter"])}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SftResult(_StageResult):
    """The outcome of LoRA SFT, as stored in ``result.json``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DpoResult(_StageResult):
    """The outcome of DPO on top of the SFT adapter, as stored in ``result.json``."""


R = TypeVar("R", bound=_StageResult)


# ---- device and base --------------------------------------------------------------------------


def pick_device() -> str:
    """The best local device; training works (slowly) without any accelerator."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def set_threads(device: str) -> None:
    """All cores but one for CPU work, or ``SECONDME_L2_THREADS``.

    torch's threads wait on each other at every operation, so one busy core (the node's own
    llama.cpp answering a chat, another job) stalls them all: on a shared 2-core machine two threads
    measured ~7x slower per step than one. Leaving a core free keeps training predictable.
    """
    import torch

    if device != "cpu":
        return
    configured = os.environ.get("SECONDME_L2_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        threads = int(configured)
    else:
        threads = max(1, (os.cpu_count() or 1) - 1)
    torch.set_num_threads(threads)


def _is_model_dir(path: Path) -> bool:
    has_weights = any(
        (path / name).is_file()
        for name in (
            "model.safetensors",
            "model.safetensors.index.json",
            "pytorch_model.bin",
            "pytorch_model.bin.index.json",
        )
    )
    return (
        (path / "config.json").is_file()
        and has_weights
        and (path / "tokenizer_config.json").is_file()
    )


def _require_model_dir(path: Path) -> None:
    if not _is_model_dir(path):
        raise TrainerError(
            f"{path} is not a Hugging Face model folder (config.json, weights and tokenizer); "
            "build it with make_base"
        )


def make_base(gguf_path: Path, out_dir: Path) -> Path:
    """A float32 HF copy of ``gguf_path`` in ``out_dir``; built once, atomically, then reused."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    if _is_model_dir(out_dir):
        return out_dir
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise TrainerError(f"no GGUF file at {gguf_path}")
    partial = out_dir.parent / (out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, local_files_only=True
        )
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32, local_files_only=True
        )
    except Exception as exc:
        raise TrainerError(f"cannot load {gguf_path} with transformers: {exc}") from exc
    if not tokenizer.chat_template:
        raise TrainerError(f"{gguf_path} carries no chat template; L2 trains on chat turns")
    # The weights are dequantized to float32 already; without this save_pretrained refuses a
    # "quantized" model, and the config would claim GGUF quantization on reload.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    if out_dir.exists():  # an incomplete leftover from outside this function
        shutil.rmtree(out_dir)
    os.replace(partial, out_dir)
    return out_dir


def _load_tokenizer(base_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise TrainerError(f"the tokenizer in {base_dir} has no chat template")
    return tokenizer


def _load_model(base_dir: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    # float32 weights; on CUDA the trainer's bf16 autocast does the mixed precision.
    return AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=torch.float32, local_files_only=True
    )


# ---- shared stage machinery -------------------------------------------------------------------


def _checkpoint_step(path: Path) -> int:
    suffix = path.name.removeprefix(_CHECKPOINT_PREFIX)
    return int(suffix) if suffix.isdigit() else -1


def _latest_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint; a newer one lacking trainer_state.json died mid-save."""
    if not checkpoints.is_dir():
        return None
    found = sorted(
        (p for p in checkpoints.iterdir() if p.is_dir() and _checkpoint_step(p) >= 0),
        key=_checkpoint_step,
        reverse=True,
    )
    for path in found:
        if (path / "trainer_state.json").is_file():
            return path
        shutil.rmtree(path, ignore_errors=True)  # half-written: the trainer would rewrite it anyway
    return None


def _read_result(out_dir: Path, cls: type[R]) -> R | None:
    path = out_dir / "result.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    # The folder may have moved since; the adapter always sits beside result.json.
    return cls.from_json({**data, "adapter": str(out_dir / "adapter")})


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())


def _common_args(
    settings: TrainSettings, out_dir: Path, device: str, max_steps: int, lr: float
) -> dict[str, Any]:
    """TrainingArguments shared by SFT and DPO, in the names trl 1.16's configs accept."""
    import torch

    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    return {
        "output_dir": str(out_dir / "checkpoints"),
        "max_steps": max_steps if max_steps > 0 else -1,
        "num_train_epochs": settings.epochs,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "learning_rate": lr,
        "max_length": settings.max_length,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": 2,
        "report_to": [],
        "disable_tqdm": True,
        # trl defaults both to True; a small model needs no activation recomputation, CPU no bf16.
        # (transformers 5 renamed gradient_checkpointing; the old name only warns.)
        "activation_checkpointing": False,
        "bf16": bf16,
        "fp16": False,
        "use_cpu": device == "cpu",
        "dataloader_pin_memory": device == "cuda",
    }


def _progress_callback(stage: str, progress: Progress) -> Any:
    """A TrainerCallback that reports each logged step and each checkpoint to ``progress``."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.first_step: int | None = None  # where this run began (not 0 after a resume)
            self.started = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            if self.first_step is None:
                self.first_step, self.started = state.global_step, time.monotonic()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return  # the end-of-training summary carries train_loss instead
            done = state.global_step - (self.first_step or 0)
            elapsed = time.monotonic() - self.started if self.first_step is not None else 0.0
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
            progress(
                {
                    "stage": stage,
                    "step": state.global_step,
                    "total": state.max_steps,
                    "loss": float(logs["loss"]),
                    "samples_per_s": round(done * per_step / elapsed, 3) if elapsed else 0.0,
                }
            )

        def on_save(self, args, state, control, **kwargs):
            progress({"stage": stage, "checkpoint": state.global_step})

    return ProgressCallback()


def _final_loss(log_history: list[dict[str, Any]]) -> float | None:
    for entry in reversed(log_history):
        if "loss" in entry and math.isfinite(entry["loss"]):
            return float(entry["loss"])
    return None


def _train_and_finish(
    trainer: Any, out_dir: Path, cls: type[R], started: float, samples_per_step: int
) -> R:
    """Train (resuming if a checkpoint exists), save the adapter atomically, write result.json."""
    checkpoint = _latest_checkpoint(out_dir / "checkpoints")
    resumed_from = _checkpoint_step(checkpoint) if checkpoint else 0
    train_started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_seconds = time.monotonic() - train_started
    steps = int(trainer.state.global_step)

    adapter = out_dir / "adapter"
    tmp = out_dir / "adapter.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    # Only the trained adapter: DPO also holds trl's frozen "ref" copy of the SFT adapter.
    trainer.model.save_pretrained(tmp, selected_adapters=["default"], save_embedding_layers=False)
    if adapter.exists():  # a run that died between this rename and result.json
        shutil.rmtree(adapter)
    os.replace(tmp, adapter)

    result = cls(
        adapter=adapter,
        steps=steps,
        resumed_from_step=resumed_from,
        seconds=round(time.monotonic() - started, 3),
        samples_per_s=round((steps - resumed_from) * samples_per_step / train_seconds, 3)
        if train_seconds > 0
        else 0.0,
        final_loss=_final_loss(trainer.state.log_history),
    )
    _write_json_atomic(out_dir / "result.json", result.to_json())
    # result.json marks the stage done; the checkpoints (optimizer state too) are dead weight now.
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    return result


def _lora_config(settings: TrainSettings) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=list(settings.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def _message(item: Any, where: str) -> dict[str, str]:
    if not isinstance(item, dict) or not isinstance(item.get("content"), str) or "role" not in item:
        raise TrainerError(f"{where}: a message must be {{'role': ..., 'content': str}}")
    return {"role": str(item["role"]), "content": item["content"]}


def _sft_examples(rows: list[dict]) -> list[dict[str, Any]]:
    """Conversations as trl prompt/completion pairs, so the loss covers the last answer only.

    SmolLM2's chat template has no ``{% generation %}`` markers, so trl's ``assistant_only_loss`` is
    unavailable; trl masks the prompt of prompt/completion data instead (``completion_only_loss``).
    """
    if not rows:
        raise TrainerError("no SFT rows to train on")
    examples = []
    for i, row in enumerate(rows):
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list) or len(messages) < 2:
            raise TrainerError(f"SFT row {i}: needs 'messages' with a prompt and an answer")
        turns = [_message(m, f"SFT row {i}") for m in messages]
        if turns[-1]["role"] != "assistant" or not turns[-1]["content"].strip():
            raise TrainerError(
                f"SFT row {i}: the last message must be a non-empty assistant answer"
            )
        examples.append({"prompt": turns[:-1], "completion": turns[-1:]})
    return examples


def _dpo_examples(pairs: list[dict]) -> list[dict[str, Any]]:
    if not pairs:
        raise TrainerError("no preference pairs to train on")
    examples = []
    for i, pair in enumerate(pairs):
        where = f"DPO pair {i}"
        if not isinstance(pair, dict) or not all(
            isinstance(pair.get(k), list) and pair.get(k) for k in ("prompt", "chosen", "rejected")
        ):
            raise TrainerError(f"{where}: needs non-empty 'prompt', 'chosen' and 'rejected' lists")
        example = {
            k: [_message(m, where) for m in pair[k]] for k in ("prompt", "chosen", "rejected")
        }
        for k in ("chosen", "rejected"):
            if example[k][-1]["role"] != "assistant":
                raise TrainerError(f"{where}: '{k}' must end with an assistant message")
        examples.append(example)
    return examples


# ---- stages -----------------------------------------------------------------------------------


def run_sft(
    base_dir: Path, rows: list[dict], out_dir: Path, settings: TrainSettings, progress: Progress
) -> SftResult:
    """LoRA SFT of ``base_dir`` on conversational rows; resumable, done once result.json exists."""
    base_dir, out_dir = Path(base_dir), Path(out_dir)
    if (done := _read_result(out_dir, SftResult)) is not None:
        return done
    started = time.monotonic()
    examples = _sft_examples(rows)
    _require_model_dir(base_dir)

    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    device = pick_device()
    set_threads(device)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = SFTConfig(
        **_common_args(settings, out_dir, device, settings.sft_steps, settings.sft_lr),
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=_load_model(base_dir),
        args=config,
        train_dataset=Dataset.from_list(examples),  # in memory: no cache files anywhere
        processing_class=_load_tokenizer(base_dir),
        peft_config=_lora_config(settings),
        callbacks=[_progress_callback("sft", progress)],
    )
    return _train_and_finish(
        trainer, out_dir, SftResult, started, settings.batch_size * settings.grad_accum
    )


def run_dpo(
    base_dir: Path,
    sft_adapter: Path,
    pairs: list[dict],
    out_dir: Path,
    settings: TrainSettings,
    progress: Progress,
) -> DpoResult:
    """DPO that continues the SFT adapter, so ``out_dir/adapter`` holds SFT and DPO in one LoRA.

    Given a PEFT model and no ``ref_model``, trl 1.16 copies the loaded adapter into a frozen "ref"
    adapter and uses it as the reference, i.e. the reference is the SFT model, not the bare base.
    """
    base_dir, sft_adapter, out_dir = Path(base_dir), Path(sft_adapter), Path(out_dir)
    if (done := _read_result(out_dir, DpoResult)) is not None:
        return done
    started = time.monotonic()
    examples = _dpo_examples(pairs)
    _require_model_dir(base_dir)
    if not (sft_adapter / "adapter_config.json").is_file():
        raise TrainerError(f"{sft_adapter} is not a PEFT adapter folder; run SFT first")

    from datasets import Dataset
    from peft import PeftModel
    from trl import DPOConfig, DPOTrainer

    device = pick_device()
    set_threads(device)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = PeftModel.from_pretrained(_load_model(base_dir), sft_adapter, is_trainable=True)
    config = DPOConfig(
        **_common_args(settings, out_dir, device, settings.dpo_steps, settings.dpo_lr),
        beta=settings.dpo_beta,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=config,
        train_dataset=Dataset.from_list(examples),
        processing_class=_load_tokenizer(base_dir),
        callbacks=[_progress_callback("dpo", progress)],
    )
    return _train_and_finish(
        trainer, out_dir, DpoResult, started, settings.batch_size * settings.grad_accum
    )


# ---- evaluation -------------------------------------------------------------------------------


def _chat_prompt(row: dict) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    return [*messages, {"role": "user", "content": row["question"]}]


def _answer_ids(tokenizer: Any, row: dict, max_length: int) -> tuple[list[int], int]:
    """Token ids of prompt+answer and where the answer starts, cut to ``max_length``.

    The answer is what the chat template adds after the generation prompt, up to and including
    the end-of-turn token (the newline after it is template filler, not the answer).
    """
    prompt = _chat_prompt(row)
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
    full_ids = tokenizer.apply_chat_template(
        [*prompt, {"role": "assistant", "content": row["answer"]}], tokenize=True
    )
    prompt_ids, full_ids = _plain_ids(prompt_ids), _plain_ids(full_ids)
    start = 0
    while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
        start += 1
    eos = tokenizer.eos_token_id
    end = len(full_ids)
    if eos is not None and eos in full_ids[start:]:
        end = len(full_ids) - full_ids[::-1].index(eos)
    ids = full_ids[:end]
    if len(ids) > max_length:  # keep the answer; drop the start of the prompt
        cut = len(ids) - max_length
        ids, start = ids[cut:], max(1, start - cut)
    return ids, start


def _plain_ids(encoded: Any) -> list[int]:
    """apply_chat_template returns a list or a BatchEncoding depending on the tokenizer."""
    if isinstance(encoded, list):
        return encoded
    return list(encoded["input_ids"])


def _answer_logprobs(model: Any, tokenizer: Any, rows: list[dict], max_length: int) -> list[float]:
    import torch

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    scores: list[float] = []
    for first in range(0, len(rows), _EVAL_BATCH):
        encoded = [_answer_ids(tokenizer, r, max_length) for r in rows[first : first + _EVAL_BATCH]]
        width = max(len(ids) for ids, _ in encoded)
        input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        attention = torch.zeros_like(input_ids)
        scored = torch.zeros_like(input_ids, dtype=torch.bool)
        for i, (ids, start) in enumerate(encoded):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
            scored[i, start : len(ids)] = True
        input_ids, attention, scored = input_ids.to(device), attention.to(device), scored.to(device)
        logits = model(input_ids=input_ids, attention_mask=attention).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        token_logprobs = logprobs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
        mask = scored[:, 1:]
        per_row = (token_logprobs * mask).sum(-1) / mask.sum(-1).clamp(min=1)
        scores.extend(per_row.tolist())
    return scores


def _fact_recall(model: Any, tokenizer: Any, rows: list[dict]) -> float | None:
    with_fact = [r for r in rows if r.get("fact")]
    if not with_fact:
        return None
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    hits = 0
    for first in range(0, len(with_fact), _EVAL_BATCH):
        batch = with_fact[first : first + _EVAL_BATCH]
        texts = [
            tokenizer.apply_chat_template(
                _chat_prompt(r), add_generation_prompt=True, tokenize=False
            )
            for r in batch
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            device
        )
        out = model.generate(
            **enc,
            max_new_tokens=_GENERATION_TOKENS,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        answers = tokenizer.batch_decode(
            out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
        hits += sum(r["fact"].lower() in a.lower() for r, a in zip(batch, answers, strict=True))
    return hits / len(with_fact)


def evaluate(
    base_dir: Path, adapter: Path | None, heldout: list[dict], settings: TrainSettings
) -> dict[str, Any]:
    """How well base (+adapter) knows held-out answers: per-token log-likelihood, fact recall."""
    import torch

    base_dir = Path(base_dir)
    if not heldout:
        raise TrainerError("no held-out questions to evaluate on")
    for i, row in enumerate(heldout):
        if not isinstance(row.get("question"), str) or not isinstance(row.get("answer"), str):
            raise TrainerError(f"held-out row {i}: needs 'question' and 'answer' strings")
    _require_model_dir(base_dir)
    device = pick_device()
    set_threads(device)
    tokenizer = _load_tokenizer(base_dir)
    model = _load_model(base_dir)
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise TrainerError(f"{adapter} is not a PEFT adapter folder")
        # Merged weights run as fast as the base; the adapter is not trained further here.
        model = PeftModel.from_pretrained(model, Path(adapter)).merge_and_unload()
    model.to(device).eval()
    with torch.no_grad():
        logprobs = _answer_logprobs(model, tokenizer, heldout, settings.max_length)
        recall = _fact_recall(model, tokenizer, heldout)
    return {
        "answer_logprob": sum(logprobs) / len(logprobs),
        "fact_recall": recall,
        "questions": len(heldout),
    }
