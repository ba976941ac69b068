"""``train`` and ``model``: L2, the owner's own model, trained from their memory."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import NodeClient
from secondme.node.core.errors import NodeError

_POLL_S = 0.5
_STAGE_NAMES = {
    "synth": "synthesize data",
    "base": "prepare base model",
    "sft": "LoRA SFT",
    "dpo": "DPO",
    "export": "export to GGUF",
    "eval": "evaluate",
    "swap": "swap into the daemon",
}


class JobFailed(NodeError):
    code = "training_failed"


@click.group(invoke_without_command=True)
@click.option(
    "--preset",
    type=click.Choice(["quick", "full"]),
    help="quick (default): minutes on a CPU; full: longer, every layer.",
)
@click.option("--steps", type=click.IntRange(min=1), help="SFT optimizer steps (DPO gets a third).")
@click.option(
    "--epochs",
    type=click.FloatRange(min=0, min_open=True),
    help="Train for epochs instead of steps.",
)
@click.option(
    "--samples",
    type=click.IntRange(4, 20_000),
    help="Questions about you to synthesize (default: the preset's, 48 for quick).",
)
@click.option(
    "--exclude-topic",
    "exclude_topics",
    multiple=True,
    help="Keep an L1 topic (name) out of training (repeatable).",
)
@click.option(
    "--tags",
    "tags",
    help="Learn only from documents with any of these tags (comma-separated): an adapter that "
    "may answer peers whose grant covers them. Without --tags or --topics the adapter learns "
    "all of memory and answers only you.",
)
@click.option(
    "--topics",
    "topics",
    help="Learn only from these L1 topics (names or ids, comma-separated); see --tags.",
)
@click.option("--dry-run", is_flag=True, help="Only synthesize the training data and print it.")
@click.option(
    "--resume", "resume", is_flag=True, help="Continue the newest interrupted or failed job."
)
@click.option("--job", "job_id", help="With --resume: the job to continue.")
@click.option("--detach", is_flag=True, help="Start the job and return; `train status` follows it.")
@data_dir_option
@json_option
@click.pass_context
def train(ctx: click.Context, preset, steps, epochs, samples, exclude_topics, tags, topics,
          dry_run, resume, job_id, detach: bool, data_dir: Path | None,
          as_json: bool) -> None:  # fmt: skip
    """Train your own model (L2) from your memory and serve it, without a restart.

    Stages: synthesize questions about you answered from your memory (with preference pairs),
    LoRA SFT, DPO, export to GGUF, evaluate before and after, swap into the daemon. A job killed
    at any stage continues with `train --resume`. `train --dry-run` shows what it would learn
    from; `model rollback` undoes a swap.

    An adapter answers peers only when their grant covers everything it learned: train one with
    `--tags public` (say) for that, and `model list` shows whom each adapter may answer.
    """
    if ctx.invoked_subcommand is not None:
        return
    if steps is not None and epochs is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    api = client(data_dir)
    if resume:
        started = api.post("/api/train", {"resume": True, "job": job_id})
    else:
        body: dict[str, Any] = {
            "exclude_topics": list(exclude_topics),
            "tags": _split(tags),
            "topics": _split(topics),
            "dry_run": dry_run,
        }
        if preset:
            body["preset"] = preset
        if steps is not None:
            body["steps"] = steps
        if epochs is not None:
            body["epochs"] = epochs
        if samples is not None:
            body["samples"] = samples
        started = api.post("/api/train", body)
    job = started["job"]
    if detach:
        if as_json:
            print_json(started)
        else:
            click.echo(f"training job {job['id']} started; follow it with `train status`")
        return
    try:
        job = _follow(api, job["id"], quiet=as_json)
    except KeyboardInterrupt:
        click.echo(f"\nstopped watching; job {job['id']} goes on (`train status`)", err=True)
        sys.exit(130)
    if as_json:
        result: dict[str, Any] = {"job": job}
        if job["params"].get("dry_run") and job["dataset"]:
            result["data"] = api.get("/api/train/data", version=job["dataset"])
        print_json(result)
    else:
        if job["params"].get("dry_run") and job["dataset"]:
            _print_data(api.get("/api/train/data", version=job["dataset"]))
        _print_job(job)
    if job["state"] != "done":
        raise JobFailed(
            f"job {job['id']} {job['state']}: {job.get('error') or 'see `train status`'}"
        )


def _split(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _follow(api: NodeClient, job_id: str, *, quiet: bool) -> dict[str, Any]:
    """Poll the job until it ends, drawing a bar per stage on stderr."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet, transient=False) as bars:
        tasks: dict[str, TaskID] = {}
        while True:
            job = api.get("/api/train/status", job=job_id)["job"]
            _draw(bars, tasks, job)
            if job["state"] != "running":
                return job
            time.sleep(_POLL_S)


def _draw(bars: Progress, tasks: dict[str, TaskID], job: dict[str, Any]) -> None:
    def task_for(stage: str) -> TaskID:
        if stage not in tasks:
            tasks[stage] = bars.add_task(_STAGE_NAMES.get(stage, stage), total=None, note="")
        return tasks[stage]

    progress = job.get("progress") or {}
    stage = progress.get("stage") or job["stage"]
    for name, facts in job["stages"].items():  # finished stages: full bars and their time
        task = task_for(name)
        total = bars.tasks[task].total or 1
        seconds = facts.get("seconds")
        bars.update(task, total=total, completed=total, note=f"{seconds} s" if seconds else "")
    if stage in job["stages"] or stage == "queued" or job["state"] != "running":
        return
    task = task_for(stage)
    total, step = progress.get("total"), progress.get("step")
    note = f"loss {progress['loss']:.3f}" if isinstance(progress.get("loss"), float) else ""
    bars.update(task, total=total or None, completed=step or 0, note=note)


def _print_job(job: dict[str, Any]) -> None:
    click.echo(f"job {job['id']}: {job['state']} (stage {job['stage']})")
    for name, facts in job["stages"].items():
        extra = []
        if facts.get("samples_per_s"):
            extra.append(f"{facts['samples_per_s']} samples/s")
        if "counts" in facts:
            extra.append(", ".join(f"{k} {v}" for k, v in facts["counts"].items()))
        if facts.get("resumed_from_step"):
            extra.append(f"resumed from step {facts['resumed_from_step']}")
        if facts.get("skipped"):
            extra.append(f"skipped: {facts['skipped']}")
        seconds = facts.get("seconds")
        click.echo(
            f"  {_STAGE_NAMES.get(name, name):<22} {seconds if seconds is not None else '-':>7} s"
            + (f"  {'; '.join(extra)}" if extra else "")
        )
    evaluation = job["stages"].get("eval")
    if evaluation:
        before, after = evaluation["before"], evaluation["after"]
        click.echo(
            f"  held-out answers, mean log-likelihood per token: {before['answer_logprob']:.3f} "
            f"before, {after['answer_logprob']:.3f} after"
        )
        if before.get("fact_recall") is not None:
            click.echo(
                f"  facts recalled: {before['fact_recall']:.0%} before, "
                f"{after['fact_recall']:.0%} after"
            )
    if job["state"] == "done" and job.get("adapter_id"):
        click.echo(f"  now serving adapter {job['adapter_id']} (`model rollback` undoes it)")
    if job.get("error"):
        click.echo(f"  error: {job['error']}")


def _print_data(data: dict[str, Any]) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
    click.echo(f"training data version {data['version']}: {counts}")
    if data["excluded_topics"]:
        click.echo(f"  excluded topics: {', '.join(data['excluded_topics'])}")
    for sample in data["samples"]:
        click.echo(f"\n[{sample['kind']}] Q: {sample['question']}")
        click.echo(f"  A ({sample['method']}): {sample['answer']}")
        if sample["rejected"]:
            click.echo(f"  rather than: {sample['rejected']}")
        click.echo(
            f"  from: {', '.join(sample['sources'])}"
            + (f" (topic {sample['topic']})" if sample["topic"] else "")
        )
    if data["dropped"]:
        click.echo("\n" + "; ".join(f"{reason}: {n}" for reason, n in data["dropped"].items()))


@train.command("status")
@click.option("--job", "job_id", help="A job id (default: the newest).")
@data_dir_option
@json_option
def train_status(job_id: str | None, data_dir: Path | None, as_json: bool) -> None:
    """Where the newest training job stands: state, stage, progress, figures per stage."""
    status = client(data_dir).get("/api/train/status", **({"job": job_id} if job_id else {}))
    if as_json:
        print_json(status)
        return
    job = status["job"]
    if job is None:
        click.echo("no training job yet: run `secondme-node train`")
        return
    _print_job(job)
    progress = job.get("progress") or {}
    if job["state"] == "running" and progress.get("total"):
        click.echo(f"  {progress['stage']}: {progress.get('step', 0)}/{progress['total']}")


@train.command("cancel")
@data_dir_option
def train_cancel(data_dir: Path | None) -> None:
    """Stop the running job (it can still be resumed with `train --resume --job ID`)."""
    job = client(data_dir).post("/api/train/cancel")["job"]
    click.echo(f"job {job['id']} cancelled at stage {job['stage']}")


@train.command("data")
@click.option("--version", type=int, help="A dataset version (default: the newest).")
@data_dir_option
@json_option
def train_data(version: int | None, data_dir: Path | None, as_json: bool) -> None:
    """The synthesized training data, each example with the memories it came from."""
    data = client(data_dir).get("/api/train/data", **({"version": version} if version else {}))
    print_json(data) if as_json else _print_data(data)


@click.group()
def model() -> None:
    """The models that answer as you: base models and L2 adapters."""


@model.command("list")
@data_dir_option
@json_option
def model_list(data_dir: Path | None, as_json: bool) -> None:
    """Base models and adapters (training data version, metrics, date, what each learned from
    and whom it may answer); * marks the one your own chat uses."""
    models = client(data_dir).get("/api/models")
    if as_json:
        print_json(models)
        return
    for base in models["base_models"]:
        click.echo(f"base {base['name']} ({base['format']}) {base['path']}")
    if not models["adapters"]:
        click.echo("no adapters yet: `secondme-node train` makes one")
    for a in models["adapters"]:
        after = a["metrics"].get("after", {})
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a["created_at"]))
        score = after.get("answer_logprob")
        click.echo(
            f"{'*' if a['active'] else ' '} {a['id']}  data v{a['dataset']}  {when}  "
            f"{a['bytes'] // 1024} KiB"
            + (f"  held-out log-lik {score:.3f}" if score is not None else "")
        )
        click.echo(f"    learned from {a['learned_from']}; answers {a['serves']}")
    if models["active"] is None:
        click.echo("serving: the base model alone")


def _print_serving(models: dict[str, Any]) -> None:
    click.echo(f"now serving: {models['active'] or 'the base model alone'}")


@model.command("use")
@click.argument("adapter")
@data_dir_option
def model_use(adapter: str, data_dir: Path | None) -> None:
    """Serve ADAPTER (an id or its start, or `base`) from the next answer on."""
    _print_serving(client(data_dir).post("/api/models/use", {"adapter": adapter}))


@model.command("rollback")
@data_dir_option
def model_rollback(data_dir: Path | None) -> None:
    """Serve what served before the current adapter."""
    _print_serving(client(data_dir).post("/api/models/rollback"))


@model.command("probe")
@click.argument("prompt")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100))
@data_dir_option
@json_option
def model_probe(prompt: str, top: int, data_dir: Path | None, as_json: bool) -> None:
    """The serving model's most likely next tokens after PROMPT: what an adapter changed."""
    found = client(data_dir).post("/api/models/probe", {"prompt": prompt, "top": top})
    if as_json:
        print_json(found)
        return
    for item in found["tokens"]:
        click.echo(f"{item['logprob']:8.3f}  {item['token']!r}")


COMMANDS = (train, model)
