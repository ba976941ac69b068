"""The plain-torch BERT encoder gives the shipped model's sentence-transformers vectors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from secondme.node.models import locate
from secondme.node.models.bert import BertSentenceEncoder, describes_mean_pooled_bert
from secondme.node.models.embedder import Embedder

TEXTS = [
    "",
    "Where does my sister Ana live? She moved to Porto in 2019.",
    "café naïve Ünïcödé 日本語 🎉",
    "word " * 600,  # over the 256-token limit: truncated the same way
    "The quick brown fox jumps over the lazy dog. " * 12,
    "a",
]


@pytest.fixture(scope="module")
def folder():
    return locate.embedder_path("")


def test_the_shipped_model_takes_the_fast_path(folder):
    assert describes_mean_pooled_bert(folder)
    assert isinstance(Embedder(folder).encoder, BertSentenceEncoder)


def test_vectors_and_token_counts_match_sentence_transformers(folder):
    from sentence_transformers import SentenceTransformer

    ours = Embedder(folder, batch_size=4)
    reference = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    expected = reference.encode(TEXTS, batch_size=4, normalize_embeddings=True)
    got = ours.embed(TEXTS)
    assert got.shape == expected.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert ours.max_tokens == reference.max_seq_length
    for text in TEXTS:
        counted = len(reference.tokenizer.encode(text, add_special_tokens=False))
        assert ours.count_tokens(text) == counted
    # One text alone (a query) is the same vector as inside a batch of others.
    assert np.abs(ours.embed([TEXTS[1]])[0] - got[1]).max() < 1e-5


def test_another_pooling_is_left_to_sentence_transformers(folder, tmp_path):
    other = tmp_path / "cls-pooled"
    shutil.copytree(folder, other)
    pooling = other / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert not describes_mean_pooled_bert(other)
    embedder = Embedder(other)
    assert not isinstance(embedder.encoder, BertSentenceEncoder)
    mean = Embedder(folder).embed(TEXTS[1:2])
    assert np.abs(embedder.embed(TEXTS[1:2]) - mean).max() > 1e-3  # really CLS pooling
