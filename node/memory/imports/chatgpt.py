"""Placeholder until the chatgpt importer lands."""

from __future__ import annotations

from secondme.node.memory.imports.found import Imported


def sniff(name: str, data: bytes) -> bool:
    return False


def read(name: str, data: bytes) -> Imported:
    raise NotImplementedError
