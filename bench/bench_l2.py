"""L2 training cost and effect on a realistic memory, through a real daemon and the real CLI.

A synthetic personal corpus (``tests/l1_corpus.py``) of ``--mb`` megabytes is ingested into a
fresh node (L1 off, so only L2 uses the model), then ``train --preset P`` runs for each preset.
Printed per stage: seconds, samples/s and the worker's peak RSS; the daemon's peak RSS; the
held-out scores before and after (mean log-likelihood per token of the owner's own answers, and
facts recalled).

Baselines in the same process, so the ratios say what the pipeline costs beyond the work itself:
- synthesis against bare llama.cpp doing the same model calls (three chat completions of the
  same sizes per example) with nothing around them;
- SFT against a bare peft + torch loop (forward, backward, optimizer step) at the same batch
  size, sequence length and LoRA settings, on the base model the job made.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report
from secondme.node.l2.presets import settings_for
from secondme.node.models.locate import chat_model_path
from tests.e2e.harness import NodeProcess, edit_config, run_cli, start_node
from tests.l1_corpus import OWNER, make_corpus_bytes


def prepare(root: Path, mb: float) -> NodeProcess:
    data_dir = root / "node"
    run_cli(data_dir, "init", "--name", OWNER)
    edit_config(data_dir, memory={"l1_enabled": False})
    node = start_node(data_dir)
    notes = root / "notes"
    notes.mkdir()
    for doc in make_corpus_bytes(int(mb * 1024 * 1024)):
        (notes / doc.name).write_text(doc.text)
    started = time.perf_counter()
    node.cli("ingest", str(notes), timeout=3600)
    print(f"ingested {mb} MB in {time.perf_counter() - started:.1f} s", flush=True)
    return node


def peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def bare_synthesis(examples: int) -> float:
    """Seconds per example for the same three model calls, bare llama.cpp."""
    from llama_cpp import Llama

    llama = Llama(model_path=str(chat_model_path("")), n_ctx=2048, verbose=False)
    note = " ".join(doc.text for doc in make_corpus_bytes(4000))[:700]
    calls = [
        ([{"role": "user", "content": f"Note:\n{note}\n\nWrite one question."}], 48),
        ([{"role": "user", "content": f"My notes:\n{note}\n\nQuestion: What?\nAnswer."}], 96),
        ([{"role": "user", "content": "What did you do on Sunday?"}], 96),
    ]
    started = time.perf_counter()
    for _ in range(examples):
        for messages, max_tokens in calls:
            llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.7)
    return (time.perf_counter() - started) / examples


def bare_sft_step(base: Path, preset: str, steps: int, length: int) -> float:
    """Median seconds of a bare LoRA training step at the preset's batch size and ``length``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from secondme.node.l2.trainer import pick_device, set_threads

    settings = settings_for(preset)
    set_threads(pick_device())
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(
            r=settings.lora_r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=list(settings.target_modules),
            task_type="CAUSAL_LM",
        ),
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch = torch.randint(0, 1000, (settings.batch_size, length))
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model(input_ids=batch, labels=batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def train(node: NodeProcess, preset: str, extra: list[str]) -> dict:
    started = time.perf_counter()
    result = node.cli("train", "--preset", preset, *extra, "--json", timeout=6 * 3600)
    job = json.loads(result.stdout)["job"]
    job["wall_s"] = time.perf_counter() - started
    return job


def rows_for(preset: str, job: dict, node: NodeProcess, args: argparse.Namespace) -> list:
    stages = job["stages"]
    rows = [("job", f"{job['id']} {job['state']} in {job['wall_s']:.1f} s")]
    for name in ("synth", "base", "sft", "dpo", "export", "eval", "swap"):
        facts = stages.get(name, {})
        parts = [f"{facts.get('seconds', '-')} s"]
        if facts.get("samples_per_s"):
            parts.append(f"{facts['samples_per_s']} samples/s")
        if facts.get("steps"):
            parts.append(f"{facts['steps']} steps")
        if facts.get("peak_rss_mb"):
            parts.append(f"worker peak RSS {facts['peak_rss_mb']} MB")
        rows.append((name, ", ".join(parts)))
    rows.append(("daemon peak RSS", f"{peak_rss_mb(node.process.pid)} MB"))
    evaluation = stages["eval"]
    for when in ("before", "after"):
        score = evaluation[when]
        recall = score.get("fact_recall")
        rows.append(
            (
                f"held-out {when}",
                f"log-lik/token {score['answer_logprob']:.3f}, facts recalled "
                + (f"{recall:.0%}" if recall is not None else "-")
                + f" ({score['questions']} questions)",
            )
        )
    synth = stages["synth"]
    examples = sum(v for k, v in synth["counts"].items() if k in ("qa", "heldout"))
    bare = bare_synthesis(args.baseline_examples)
    ours = synth["seconds"] / max(1, examples)
    rows.append(
        ("synthesis s/example", f"{ours:.2f} (bare llama.cpp {bare:.2f}, {ours / bare:.2f}x)")
    )
    sft = stages["sft"]
    if sft.get("steps"):
        per_step = sft["seconds"] / sft["steps"]
        length = min(settings_for(preset).max_length, args.baseline_length)
        bare_step = bare_sft_step(Path(stages["base"]["path"]), preset, 3, length)
        rows.append(
            (
                "SFT s/step (incl. load)",
                f"{per_step:.2f} (bare peft step at {length} tokens {bare_step:.2f}, "
                f"{per_step / bare_step:.2f}x)",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=2.0, help="corpus size in MB")
    parser.add_argument("--presets", default="quick,full")
    parser.add_argument(
        "--full-args", default="", help="extra train args for full, e.g. '--samples 96 --steps 30'"
    )
    parser.add_argument("--baseline-examples", type=int, default=3)
    parser.add_argument("--baseline-length", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-l2-") as tmp:
        node = prepare(Path(tmp), args.mb)
        try:
            for preset in args.presets.split(","):
                extra = args.full_args.split() if preset == "full" else []
                job = train(node, preset, extra)
                title = f"L2 {preset} preset{' ' + ' '.join(extra) if extra else ''}, {args.mb} MB"
                report(title, rows_for(preset, job, node, args))
        finally:
            node.terminate()


if __name__ == "__main__":
    main()
