"""Will a training run fit? Free disk and memory, checked before anything starts.

Estimates are deliberately generous: a run that stops half-way for lack of space wastes the
owner's time, one refused up front costs nothing. The figures come from the base model's size:
a float32 copy for training (a quantized GGUF grows about 8x), the optimizer and activations.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from secondme.node.core.errors import NotEnoughResources

MB = 1024 * 1024
_GGUF_TO_FP32 = 8  # a 4-bit GGUF dequantized to float32
_CHECKPOINT_MARGIN = 300 * MB  # adapters, checkpoints, the job's data and exports
_RAM_FACTOR = 9  # weights, activations, vocabulary logits, DPO's reference (5.0 GB seen, 540 MB)
_RAM_MARGIN = 512 * MB


@dataclass(frozen=True, slots=True)
class Needs:
    disk: int
    memory: int


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def estimate(base_gguf: Path, base_hf: Path | None) -> Needs:
    """Disk still to be written and memory to hold while training from these files."""
    if base_hf is not None and base_hf.is_dir():
        weights, to_write = folder_size(base_hf), 0
    else:
        weights = base_gguf.stat().st_size * _GGUF_TO_FP32
        to_write = weights
    return Needs(disk=to_write + _CHECKPOINT_MARGIN, memory=weights * _RAM_FACTOR + _RAM_MARGIN)


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes; None where there is no such file."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check(
    needs: Needs, where: Path, *, free_disk: int | None = None, free_memory: int | None = None
) -> None:
    """Raise :class:`NotEnoughResources` naming the shortfall; the free figures are read from
    the system unless given."""
    where.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(where).free if free_disk is None else free_disk
    memory = available_memory() if free_memory is None else free_memory
    if disk < needs.disk:
        raise NotEnoughResources(
            f"not enough disk to train: it needs about {needs.disk // MB} MB free in {where}, "
            f"which has {disk // MB} MB; free some space and run `train` again"
        )
    if memory is not None and memory < needs.memory:
        raise NotEnoughResources(
            f"not enough memory to train: it needs about {needs.memory // MB} MB, "
            f"{memory // MB} MB are available; close other programs or set l2.base_model to a "
            "smaller model"
        )
