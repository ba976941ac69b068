"""Export a PEFT LoRA adapter as a llama.cpp GGUF LoRA, so the owner's tuning runs on the base GGUF.

The format (llama.cpp ``src/llama-adapter.cpp``): KV ``general.type = "adapter"``,
``general.architecture`` equal to the base's, ``adapter.type = "lora"``, ``adapter.lora.alpha``
(f32), and per adapted base tensor ``W`` two tensors ``<W>.lora_a`` and ``<W>.lora_b``. llama.cpp
computes ``W·x + (alpha / rank) · B·(A·x)`` with ``rank = B.ne[0]`` (alpha 0 would mean scale 1),
and checks ``A.ne[0] == W.ne[0]`` (in), ``B.ne[1] == W.ne[1]`` (out), ``A.ne[1] == B.ne[0]``
(rank). ggml's ``ne`` lists axes innermost first, the reverse of numpy's ``shape``, so PEFT's
``lora_A.weight`` (r, in) and ``lora_B.weight`` (out, r) are written exactly as they are.

The permutation: llama.cpp's HF→GGUF conversion of a llama model reorders the rows of
``q_proj``/``k_proj`` inside each head from HF's rotary layout (pairs ``i, i + d/2``) to the
interleaved one (pairs ``2i, 2i+1``), and transformers undoes it when loading a GGUF. A LoRA
trained in HF therefore adds ``B·A`` in HF row order; since ``P·(B·A) = (P·B)·A``, permuting the
rows of B the same way (over ``n_head`` heads for q, ``n_head_kv`` for k) puts the update where the
GGUF's rows are. Other projections are not permuted.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from secondme.node.core.errors import AdapterExportError

# Architectures whose GGUF conversion permutes q/k rows, and so whose adapters this module can map.
_ROPE_PERMUTED = {gguf.MODEL_ARCH.LLAMA: (gguf.MODEL_TENSOR.ATTN_Q, gguf.MODEL_TENSOR.ATTN_K)}
_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<ab>[AB])\.weight$")


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What `export_lora` wrote; ``alpha`` is the value in the file (rsLoRA already folded in)."""

    path: Path
    architecture: str
    rank: int
    alpha: float
    tensors: int
    bytes: int


def export_lora(adapter_dir: Path, base_gguf: Path, out: Path) -> AdapterInfo:
    """Write the PEFT LoRA in ``adapter_dir`` as a GGUF LoRA for ``base_gguf``, atomically."""
    adapter_dir, base_gguf, out = Path(adapter_dir), Path(base_gguf), Path(out)
    rank, alpha = _read_config(adapter_dir)
    pairs = _read_weights(adapter_dir)
    arch_name, tensors = _map_to_base(pairs, rank, base_gguf)

    tmp = out.with_suffix(".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdapterExportError(f"cannot write {out}: {e}") from e
    writer = gguf.GGUFWriter(tmp, arch_name)
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        for name, array in tensors:
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except BaseException as e:
        writer.close()
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise AdapterExportError(f"cannot write {out}: {e}") from e
        raise
    return AdapterInfo(out, arch_name, rank, alpha, len(tensors), out.stat().st_size)


def _fsync_dir(path: Path) -> None:
    """Persist the rename itself, so a crash cannot bring back the old file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_adapter(base_gguf: Path, adapter_gguf: Path) -> None:
    """Load ``adapter_gguf`` onto ``base_gguf`` with llama.cpp, which validates names and shapes."""
    import llama_cpp  # heavy: only when asked

    for path in (base_gguf, adapter_gguf):
        if not Path(path).is_file():
            raise AdapterExportError(f"{path} does not exist")
    with _llama_log() as log:
        try:
            llm = llama_cpp.Llama(
                model_path=str(base_gguf), lora_path=str(adapter_gguf), n_ctx=64, verbose=False
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise AdapterExportError(f"llama.cpp cannot load adapter {adapter_gguf}: {e}") from e
    # llama-cpp-python tests the returned adapter pointer with `is None`, which a NULL ctypes
    # pointer is not, so it keeps a refused adapter silently: test the pointer ourselves.
    loaded = bool(getattr(llm, "_lora_adapter", True))  # absent: trust the constructor
    llm.close()
    if not loaded:
        why = next((line.strip() for line in reversed(log) if "fail" in line), "no reason logged")
        raise AdapterExportError(f"llama.cpp cannot load adapter {adapter_gguf}: {why}")


@contextlib.contextmanager
def _llama_log() -> Iterator[list[str]]:
    """Collect llama.cpp's log while loading; llama-cpp-python's level table is stale and drops
    its errors, so without this the reason an adapter is refused is lost."""
    import llama_cpp
    from llama_cpp import _logger

    lines: list[str] = []

    @llama_cpp.llama_log_callback
    def collect(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        lines.append(text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


def _read_config(adapter_dir: Path) -> tuple[int, float]:
    """Rank and the alpha llama.cpp must see; refuse what a single alpha/rank cannot express."""
    path = adapter_dir / "adapter_config.json"
    try:
        cfg = json.loads(path.read_text())
        rank, alpha = int(cfg["r"]), float(cfg["lora_alpha"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AdapterExportError(f"cannot read LoRA config {path}: {e}") from e
    unsupported = {
        "peft_type": cfg.get("peft_type", "LORA") != "LORA",
        "use_dora": bool(cfg.get("use_dora")),
        "rank_pattern": bool(cfg.get("rank_pattern")),
        "alpha_pattern": bool(cfg.get("alpha_pattern")),
        "bias": cfg.get("bias", "none") != "none" or bool(cfg.get("lora_bias")),
        "modules_to_save": bool(cfg.get("modules_to_save")),
        "fan_in_fan_out": bool(cfg.get("fan_in_fan_out")),
        "layer_replication": bool(cfg.get("layer_replication")),
    }
    bad = [k for k, v in unsupported.items() if v]
    if bad:
        raise AdapterExportError(f"{path}: llama.cpp LoRA cannot represent {', '.join(bad)}")
    if rank <= 0 or alpha <= 0:
        raise AdapterExportError(f"{path}: r and lora_alpha must be positive, got {rank}, {alpha}")
    if cfg.get("use_rslora"):
        # rsLoRA scales by alpha/sqrt(r); llama.cpp by alpha'/r, so alpha' = alpha·sqrt(r).
        alpha *= math.sqrt(rank)
    return rank, alpha


def _read_weights(adapter_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """PEFT module name → {"A": (r, in), "B": (out, r)} as float32."""
    from safetensors.torch import load_file  # torch reads bf16/fp16, which numpy cannot

    path = adapter_dir / "adapter_model.safetensors"
    try:
        state = load_file(path)
    except Exception as e:  # safetensors raises its own error types for garbled files
        raise AdapterExportError(f"cannot read LoRA weights {path}: {e}") from e
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        m = _KEY.match(key)
        if m is None:
            raise AdapterExportError(f"{path}: tensor {key!r} is not a plain LoRA A/B weight")
        pairs.setdefault(m["module"], {})[m["ab"]] = value.float().numpy()
    if not pairs:
        raise AdapterExportError(f"{path} holds no LoRA weights")
    return pairs


@dataclass(frozen=True, slots=True)
class _Base:
    """What mapping needs from a base GGUF: names, ggml shapes and rotary head counts."""

    arch_name: str
    names: gguf.TensorNameMap
    shapes: dict[str, tuple[int, ...]]  # ggml ne order
    heads: dict[gguf.MODEL_TENSOR, int]  # the rotary-permuted tensor kinds → heads in them


def _read_base(base_gguf: Path) -> _Base:
    """Read once per file version: GGUFReader parses every tokenizer string, seconds per call."""
    try:
        st = base_gguf.stat()
    except OSError as e:
        raise AdapterExportError(f"cannot read base GGUF {base_gguf}: {e}") from e
    return _read_base_cached(base_gguf.resolve(), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _read_base_cached(base_gguf: Path, _mtime_ns: int, _size: int) -> _Base:
    try:
        reader = gguf.GGUFReader(base_gguf)
        arch_name = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    except Exception as e:  # GGUFReader raises assorted errors on a file that is not GGUF
        raise AdapterExportError(f"cannot read base GGUF {base_gguf}: {e}") from e
    arch = next((a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name), None)
    if arch not in _ROPE_PERMUTED:
        raise AdapterExportError(f"{base_gguf}: architecture {arch_name!r} is not supported")

    def field(key: str, default: int | None = None) -> int:
        f = reader.fields.get(key.format(arch=arch_name))
        if f is None and default is not None:
            return default
        if f is None:
            raise AdapterExportError(f"{base_gguf} lacks {key.format(arch=arch_name)}")
        return int(f.contents())

    n_head = field(gguf.Keys.Attention.HEAD_COUNT)
    q, k = _ROPE_PERMUTED[arch]
    return _Base(
        arch_name=arch_name,
        names=gguf.TensorNameMap(arch, field(gguf.Keys.LLM.BLOCK_COUNT)),
        shapes={t.name: tuple(int(n) for n in t.shape) for t in reader.tensors},
        heads={q: n_head, k: field(gguf.Keys.Attention.HEAD_COUNT_KV, n_head)},
    )


def _map_to_base(
    pairs: dict[str, dict[str, np.ndarray]], rank: int, base_gguf: Path
) -> tuple[str, list[tuple[str, np.ndarray]]]:
    """Name, shape-check and permute every A/B pair against the base GGUF's tensors."""
    base = _read_base(base_gguf)
    out: list[tuple[str, np.ndarray]] = []
    for module, ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            missing = ({"A", "B"} - set(ab)).pop()
            raise AdapterExportError(f"LoRA module {module} lacks lora_{missing}")
        a, b = ab["A"], ab["B"]
        found = base.names.get_type_and_name(module)
        if found is None:
            raise AdapterExportError(f"LoRA module {module} has no {base.arch_name} GGUF tensor")
        kind, name = found[0], found[1] + ".weight"
        if name not in base.shapes:
            raise AdapterExportError(f"LoRA module {module} maps to {name}, absent in {base_gguf}")
        if len(base.shapes[name]) != 2 or kind == gguf.MODEL_TENSOR.TOKEN_EMBD:
            raise AdapterExportError(f"LoRA on {module} ({name}) is not supported")
        n_in, n_out = base.shapes[name]
        if a.shape != (rank, n_in) or b.shape != (n_out, rank):
            raise AdapterExportError(
                f"LoRA module {module}: A {a.shape}, B {b.shape} do not fit {name} "
                f"(out {n_out}, in {n_in}) at rank {rank}"
            )
        if kind in base.heads:
            b = _hf_rows_to_gguf(b, base.heads[kind])
        out += [(f"{name}.lora_a", np.ascontiguousarray(a)), (f"{name}.lora_b", b)]
    return base.arch_name, out


def _hf_rows_to_gguf(rows: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder each head's rows from HF's half-split rotary layout to GGUF's interleaved one."""
    n_rows = rows.shape[0]
    if n_rows % (2 * n_head):
        raise AdapterExportError(f"{n_rows} rows do not split into {n_head} rotary heads")
    half = n_rows // n_head // 2
    # GGUF row h·d + 2i + j is HF row h·d + j·(d/2) + i.
    return np.ascontiguousarray(
        rows.reshape(n_head, 2, half, -1).transpose(0, 2, 1, 3).reshape(rows.shape)
    )
