"""Sentence embeddings from a local sentence-transformers folder, batched, normalised."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Embedder:
    """Wraps one SentenceTransformer; thread-compatible, not re-entrant (callers serialise)."""

    def __init__(self, path: Path, *, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no bars in the daemon's log

        self.path = path
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension())
        self._tokenizer = self._model.tokenizer
        self.max_tokens = int(self._model.max_seq_length)

    @property
    def model_id(self) -> str:
        """Names the model by folder and weights size, so a swapped model is noticed."""
        weights = sorted(p.stat().st_size for p in self.path.glob("*.safetensors"))
        digest = hashlib.sha256(f"{self.path.resolve()}|{weights}".encode()).hexdigest()[:12]
        return f"{self.path.name}-{self.dimension}-{digest}"

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)
