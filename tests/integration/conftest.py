"""Fixtures several integration tests share because they are slow to make."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def l2_base(tmp_path_factory):
    """The Hugging Face base model L2 makes from the shipped GGUF (about 40 s), made once."""
    from secondme.node.l2.trainer import make_base
    from secondme.node.models import locate

    return make_base(locate.chat_model_path(""), tmp_path_factory.mktemp("l2") / "base")


@pytest.fixture(scope="session")
def shared_embedder():
    """The real MiniLM embedder, loaded once for the tests that take it from here."""
    from secondme.node.models import locate
    from secondme.node.models.embedder import Embedder

    return Embedder(locate.embedder_path(""))
