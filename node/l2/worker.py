"""The training worker: one process per job, started by the daemon, stage by stage.

``python -m secondme.node.l2.worker JOB_DIR`` reads ``job.json`` (settings, model paths) and
``data.json`` (the synthesized examples) and runs base → sft → dpo → export → eval. Each stage
leaves its result in the job folder before the next starts, and a stage whose result is there is
skipped, so running the worker again on the same folder resumes where a kill stopped it (SFT and
DPO also resume from their last checkpoint). Progress goes to stdout as one JSON object per line;
library chatter goes to stderr. Torch lives only in this process, so the daemon's memory stays
small and a crash here never takes the daemon down. The worker dies with the daemon.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from secondme.node.core.fsutil import atomic_write
from secondme.node.core.testing_hooks import hold
from secondme.node.l2.presets import TrainSettings

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the daemon that started it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the daemon died before prctl took effect
        os._exit(1)


def peak_rss_mb() -> int:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def emit(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(value, indent=1).encode())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


class Stage:
    """Times a stage and reports its start and end."""

    def __init__(self, name: str, summary: dict[str, Any]) -> None:
        self.name = name
        self.summary = summary

    def __enter__(self) -> dict[str, Any]:
        emit({"event": "stage", "stage": self.name})
        self.started = time.perf_counter()
        self.facts: dict[str, Any] = {}
        return self.facts

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.facts.setdefault("seconds", round(time.perf_counter() - self.started, 2))
            self.facts["peak_rss_mb"] = peak_rss_mb()
            self.summary[self.name] = self.facts
            emit({"event": "stage_done", "stage": self.name, **self.facts})


def run(job_dir: Path) -> dict[str, Any]:
    from secondme.node.l2 import gguf_adapter, trainer

    spec = read_json(job_dir / "job.json")
    data = read_json(job_dir / "data.json")
    settings = TrainSettings.from_json(spec["settings"])
    base_gguf = Path(spec["base_gguf"])
    summary: dict[str, Any] = read_json(job_dir / "stages.json") or {}

    def progress(event: dict[str, Any]) -> None:
        emit({"event": "progress", **event})
        if "checkpoint" in event:
            hold("l2.checkpoint")  # tests kill here: a checkpoint written, training not on yet

    def save() -> None:
        write_json(job_dir / "stages.json", summary)

    with Stage("base", summary) as facts:
        if spec.get("base_hf"):
            base = Path(spec["base_hf"])
        else:
            base = trainer.make_base(base_gguf, Path(spec["base_cache"]))
        facts["path"] = str(base)
        facts["device"] = trainer.pick_device()
    save()

    with Stage("sft", summary) as facts:
        sft = trainer.run_sft(base, data["sft"], job_dir / "sft", settings, progress)
        facts.update(sft.to_json())
        facts["adapter"] = str(sft.adapter)
    save()

    final = sft.adapter
    with Stage("dpo", summary) as facts:
        if data["pairs"]:
            dpo = trainer.run_dpo(
                base, sft.adapter, data["pairs"], job_dir / "dpo", settings, progress
            )
            facts.update(dpo.to_json())
            facts["adapter"] = str(dpo.adapter)
            final = dpo.adapter
        else:
            facts["skipped"] = "no preference pairs"
    save()

    exported = job_dir / "export" / "adapter.gguf"
    with Stage("export", summary) as facts:
        info = read_json(job_dir / "export" / "info.json")
        if info is None or not exported.is_file():
            written = gguf_adapter.export_lora(final, base_gguf, exported)
            gguf_adapter.check_adapter(base_gguf, exported)
            info = {"bytes": written.bytes, "tensors": written.tensors, "rank": written.rank}
            write_json(job_dir / "export" / "info.json", info)
        facts.update(info)
    save()

    with Stage("eval", summary) as facts:
        before = read_json(job_dir / "eval_before.json")
        if before is None:
            before = trainer.evaluate(base, None, data["heldout"], settings)
            write_json(job_dir / "eval_before.json", before)
        after = read_json(job_dir / "eval_after.json")
        if after is None:
            after = trainer.evaluate(base, final, data["heldout"], settings)
            write_json(job_dir / "eval_after.json", after)
        facts.update({"before": before, "after": after})
    save()

    result = {
        "adapter": str(exported),
        "metrics": {"before": before, "after": after},
        "stages": summary,
        "base_model": str(base),
    }
    write_json(job_dir / "result.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m secondme.node.l2.worker JOB_DIR", file=sys.stderr)
        return 2
    die_with_parent()
    job_dir = Path(args[0])
    try:
        run(job_dir)
    except Exception as exc:  # the daemon shows this line as the job's error
        emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        raise
    emit({"event": "finished"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
