"""Spans of text, as (start, end) offsets into the text they came from.

Parsers and the chunker both cut text into pieces while keeping offsets into the original, so a
chunk can always be traced back to the exact characters it was made of. These are the cuts they
share: a span without its outer whitespace, the spans between separators, paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

BLANK_LINES = re.compile(r"\n[^\S\n]*+\n\s*+")
"""A paragraph break: a line holding only whitespace, and any whitespace after it."""


def trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span ``start:end`` without its outer whitespace, or None if nothing else is left."""
    piece = text[start:end]
    stripped = piece.lstrip()
    if not stripped:
        return None
    left = start + len(piece) - len(stripped)
    return left, left + len(stripped.rstrip())


def between(
    text: str, start: int, end: int, gaps: Iterable[re.Match[str]]
) -> list[tuple[int, int]]:
    """Non-blank spans of ``text[start:end]`` between the given separator matches."""
    spans = []
    pos = start
    for gap in gaps:
        if (span := trimmed(text, pos, gap.start())) is not None:
            spans.append(span)
        pos = gap.end()
    if (span := trimmed(text, pos, end)) is not None:
        spans.append(span)
    return spans


def paragraphs(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the blank-line separated paragraphs of ``text[start:end]``."""
    end = len(text) if end is None else end
    return between(text, start, end, BLANK_LINES.finditer(text, start, end))
