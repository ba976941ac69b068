"""Which importer reads a file: each format is asked in turn whether the content is its own."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import PurePath
from types import ModuleType

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import chatgpt, mbox, notes, photos, telegram, voice, whatsapp
from secondme.node.memory.imports.found import Imported
from secondme.node.models import speech

FORMATS: tuple[ModuleType, ...] = (whatsapp, telegram, chatgpt, mbox, photos, voice, notes)
"""In the order they are asked: the most particular content first, plain notes last."""

MEDIA_SUFFIXES: frozenset[str] = frozenset(
    {".zip", ".mbox", ".jpg", ".jpeg", ".png", ".heic", ".heif"}
    | {".mp3", ".m4a", ".m4b", ".mp4a", ".aac", ".3ga", ".ogg", ".opus", ".oga", ".wav", ".flac"}
)
"""Suffixes only an importer reads (no plain parser has them): folders are searched for them."""


def _format_of(name: str, data: bytes) -> ModuleType | None:
    """The first format that claims the content, or None (a plain file)."""
    return next((module for module in FORMATS if module.sniff(name, data)), None)


def importer_for(name: str, data: bytes) -> Callable[[str, bytes], Imported] | None:
    """The ``read`` of the first format that claims the content, or None (a plain file)."""
    module = _format_of(name, data)
    return None if module is None else module.read


_WHAT_SUFFIX_PROMISES = {
    ".zip": "a WhatsApp or ChatGPT export",
    ".mbox": "a mailbox (mbox)",
    ".jpg": "a JPEG image",
    ".jpeg": "a JPEG image",
    ".png": "a PNG image",
    ".heic": "a HEIC image",
    ".heif": "a HEIF image",
}


def read_import(
    name: str, data: bytes, progress: Callable[[float], None] | None = None
) -> Imported | None:
    """The file read by the importer that claims it; None when none does and a plain parser
    may read it by its suffix. A file whose suffix only an importer reads, and that none
    claims, is a ParseError saying what the suffix promised. ``progress`` hears the fraction
    done of a slow read (a recording's transcription)."""
    module = _format_of(name, data)
    if module is voice and progress is not None:
        return voice.read(name, data, progress)
    if module is not None:
        return module.read(name, data)
    suffix = PurePath(name).suffix.lower()
    if suffix in MEDIA_SUFFIXES and data.strip():
        promised = _WHAT_SUFFIX_PROMISES.get(suffix, "an audio recording")
        raise ParseError(f"{name}: the content is not {promised}, nor anything the node reads")
    return None


_KEYED_BY_BYTES: dict[ModuleType, str] = {photos: "photo", voice: "voice"}
"""Formats whose item is its bytes: the key is known before the (slow) read."""


def recording_seconds(name: str, data: bytes) -> float | None:
    """How long a recording says it is (from its header); None for anything else."""
    fmt = voice.container(name, data)
    return None if fmt is None else speech.declared_seconds(data, fmt=fmt)


def known_key(name: str, data: bytes) -> str | None:
    """The source key of a file whose only item is its bytes (a photo, a recording), without
    reading it; None for every other file."""
    for module, prefix in _KEYED_BY_BYTES.items():
        if module.sniff(name, data):
            return f"{prefix}:{hashlib.sha256(data).hexdigest()}"
    return None
