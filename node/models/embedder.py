"""Sentence embeddings from a local sentence-transformers folder, batched, normalised."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from secondme.node.models.bert import BertSentenceEncoder, describes_mean_pooled_bert

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUERY_CACHE = 128
"""Single texts (queries) whose embeddings are kept, newest used last."""


class LibraryEncoder:
    """A sentence-transformers folder :mod:`.bert` does not describe, through the library, with
    :class:`BertSentenceEncoder`'s interface."""

    def __init__(self, folder: Path) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no bars in the daemon's log
        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension())
        self.max_tokens = int(self._model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer.encode(text, add_special_tokens=False))

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)


class Embedder:
    """One sentence-transformers model: BERT ones through :mod:`.bert` (the shipped model:
    seconds sooner, the same vectors), others through the library itself. Thread-compatible,
    not re-entrant (callers serialise)."""

    def __init__(self, path: Path, *, batch_size: int = 64) -> None:
        self.path = path
        self.batch_size = batch_size
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoder: BertSentenceEncoder | LibraryEncoder = (
            BertSentenceEncoder(path) if describes_mean_pooled_bert(path) else LibraryEncoder(path)
        )
        self.dimension = self.encoder.dimension
        self.max_tokens = self.encoder.max_tokens

    @property
    def model_id(self) -> str:
        """Names the model by folder and weights size, so a swapped model is noticed."""
        weights = sorted(p.stat().st_size for p in self.path.glob("*.safetensors"))
        digest = hashlib.sha256(f"{self.path.resolve()}|{weights}".encode()).hexdigest()[:12]
        return f"{self.path.name}-{self.dimension}-{digest}"

    def count_tokens(self, text: str) -> int:
        return self.encoder.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:  # a query: often the same text twice in a row (search, then policy)
            cached = self._recent.get(texts[0])
            if cached is None:
                cached = self._encode(texts)
                self._recent[texts[0]] = cached
                if len(self._recent) > QUERY_CACHE:
                    self._recent.popitem(last=False)
            else:
                self._recent.move_to_end(texts[0])
            return cached.copy()
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(texts, self.batch_size)
