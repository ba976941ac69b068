"""Which importer reads a file: each format is asked in turn whether the content is its own."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from secondme.node.memory.imports import chatgpt, mbox, notes, photos, telegram, voice, whatsapp
from secondme.node.memory.imports.found import Imported

FORMATS: tuple[ModuleType, ...] = (whatsapp, telegram, chatgpt, mbox, photos, voice, notes)
"""In the order they are asked: the most particular content first, plain notes last."""

MEDIA_SUFFIXES: frozenset[str] = frozenset(
    {".zip", ".mbox", ".jpg", ".jpeg", ".png", ".heic", ".heif"}
    | {".mp3", ".m4a", ".ogg", ".opus", ".oga", ".wav"}
)
"""Suffixes only an importer reads (no plain parser has them): folders are searched for them."""


def importer_for(name: str, data: bytes) -> Callable[[str, bytes], Imported] | None:
    """The ``read`` of the first format that claims the content, or None (a plain file)."""
    for module in FORMATS:
        if module.sniff(name, data):
            return module.read
    return None


def read_import(name: str, data: bytes) -> Imported | None:
    """The file read by the importer that claims it; None when none does."""
    reader = importer_for(name, data)
    return reader(name, data) if reader is not None else None
