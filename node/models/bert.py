"""A BERT sentence encoder in plain torch, for sentence-transformers folders of BERT models.

The shipped embedder (all-MiniLM-L6-v2) is a six-layer BERT with mean pooling. Loading it
through sentence-transformers imports transformers, scikit-learn and torch's compiler stack:
about ten seconds before the first embedding on every daemon start, for what is a few matrix
products. This module reads the same ``config.json``, ``tokenizer.json`` and
``model.safetensors`` and computes the same vectors (mean of the last hidden states over the
real tokens, L2-normalised) with torch, safetensors and tokenizers alone. Folders it does not
describe (another architecture, another pooling) are left to sentence-transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def describes_mean_pooled_bert(folder: Path) -> bool:
    """Whether ``folder`` is a sentence-transformers BERT model this encoder reproduces."""
    try:
        config = json.loads((folder / "config.json").read_text())
        modules = json.loads((folder / "modules.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    chosen_pooling = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and kinds in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"])
        and chosen_pooling == {"pooling_mode_mean_tokens"}
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


class BertSentenceEncoder:
    """Token ids in, one unit vector per text out; thread-compatible, not re-entrant."""

    def __init__(self, folder: Path) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self._torch = torch
        config = json.loads((folder / "config.json").read_text())
        settings_path = folder / "sentence_bert_config.json"
        settings = json.loads(settings_path.read_text()) if settings_path.exists() else {}
        self.dimension = int(config["hidden_size"])
        self.max_tokens = int(settings.get("max_seq_length") or config["max_position_embeddings"])
        self.normalize = "Normalize" in (folder / "modules.json").read_text()
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config["layer_norm_eps"])
        weights = load_file(str(folder / "model.safetensors"))
        self._w = {name.removeprefix("bert."): tensor.float() for name, tensor in weights.items()}

        self.counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        pad_id = int(config.get("pad_token_id") or 0)
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=self.counter.id_to_token(pad_id))

    def count_tokens(self, text: str) -> int:
        return len(self.counter.encode(text, add_special_tokens=False).ids)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Vectors in the order of ``texts``; batches of similar length pad less."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._encode_batch([texts[i] for i in chosen])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        encodings = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool)
        w = self._w
        with torch.inference_mode():
            x = (
                w["embeddings.word_embeddings.weight"][ids]
                + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
                + w["embeddings.token_type_embeddings.weight"][0]
            )
            x = self._norm(x, "embeddings.LayerNorm")
            keys_mask = mask[:, None, None, :]  # padding is never attended to
            for layer in range(self._layers):
                x = self._layer(x, keys_mask, f"encoder.layer.{layer}.")
            weights = mask.unsqueeze(-1).float()
            pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy()

    def _linear(self, x, name: str):
        weight, bias = self._w[f"{name}.weight"], self._w[f"{name}.bias"]
        return self._torch.nn.functional.linear(x, weight, bias)

    def _norm(self, x, name: str):
        weight, bias = self._w[f"{name}.weight"], self._w[f"{name}.bias"]
        return self._torch.nn.functional.layer_norm(x, (x.shape[-1],), weight, bias, self._eps)

    def _layer(self, x, keys_mask, prefix: str):
        functional = self._torch.nn.functional
        batch, length, hidden = x.shape
        per_head = hidden // self._heads

        def heads(name: str):
            projected = self._linear(x, f"{prefix}attention.self.{name}")
            return projected.view(batch, length, self._heads, per_head).transpose(1, 2)

        attended = functional.scaled_dot_product_attention(
            heads("query"), heads("key"), heads("value"), attn_mask=keys_mask
        )
        attended = attended.transpose(1, 2).reshape(batch, length, hidden)
        x = self._norm(
            x + self._linear(attended, f"{prefix}attention.output.dense"),
            f"{prefix}attention.output.LayerNorm",
        )
        inner = functional.gelu(self._linear(x, f"{prefix}intermediate.dense"))  # exact GELU
        x = x + self._linear(inner, f"{prefix}output.dense")
        return self._norm(x, f"{prefix}output.LayerNorm")
