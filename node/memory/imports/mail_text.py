"""What the sender of an email wrote: its body as text, without quoted replies or signature.

Theory of operation: of a MIME tree, the text a person reads is chosen the way a mail client
chooses it: in a ``multipart/alternative`` the plain text, else the HTML; in any other multipart
every inline text part in order; everything else (attachments, inline images) is counted, not
read. A part is decoded by its declared charset; an undeclared one is tried as UTF-8, then
Windows-1252; an unknown or violated one is decoded with replacement characters and a note.
HTML becomes text through the plain HTML parser, with ``<blockquote>`` turned into a quote mark
and ``<hr>`` into a separator line, so quotes are recognised in both forms alike.

What was quoted is cut by structure, not by words, so it works in any language: lines starting
with ``>``; the attribution line ending with ``:`` just before the first quoted block (with the
line before it when a long attribution was wrapped: one holding an address or a year); a
separator line of dashes or underscores followed by header lines (Outlook's "Original Message",
a forwarded message); the signature after the RFC 3676 ``-- `` line.
"""

from __future__ import annotations

import codecs
import re
import warnings
from dataclasses import dataclass
from email.message import Message

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from secondme.node.core.errors import ParseError
from secondme.node.memory.parsers import normalize, parse_document

_MAX_DEPTH = 20
"""Multiparts nested deeper than this are not read (no mail client nests so deep)."""
_CONTROL_SHARE = 0.05
_REPLACED_SHARE = 0.3
"""A text part with more control characters, or more replaced ones, than this is binary."""
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_HEADER_WORDS_MAX = 4
_SEPARATOR_LOOKAHEAD = 3


@dataclass(frozen=True, slots=True)
class Body:
    text: str
    notes: tuple[str, ...] = ()
    attachments: int = 0
    """Parts that are not text a person wrote (files, inline images): not read."""


@dataclass(slots=True)
class _Reading:
    texts: list[str]
    notes: list[str]
    attachments: int = 0


def body_text(message: Message) -> Body:
    """The text the sender wrote, with notes on how it was decoded."""
    reading = _Reading([], [])
    _read_part(message, reading, 0)
    text = "\n\n".join(strip_replies(t) for t in reading.texts)
    return Body(text.strip(), tuple(dict.fromkeys(reading.notes)), reading.attachments)


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or (
        part.get_filename() is not None and part.get_content_maintype() != "text"
    )


def _read_part(part: Message, reading: _Reading, depth: int) -> None:
    if depth > _MAX_DEPTH:
        reading.notes.append("parts nested too deep were not read")
        return
    if part.is_multipart():
        children = [p for p in part.get_payload() if isinstance(p, Message)]
        if part.get_content_subtype() == "alternative":
            chosen = _alternative(children)
            children = [chosen] if chosen is not None else []
        for child in children:
            _read_part(child, reading, depth + 1)
        return
    kind = part.get_content_type()
    if part.get_content_maintype() == "multipart":
        kind = "text/plain"  # a multipart without its boundary: its body is all there is
    if _is_attachment(part) or kind not in ("text/plain", "text/html"):
        reading.attachments += 1
        return
    text = _decoded(part, reading.notes)
    if kind == "text/html":
        text = html_to_text(text)
    if text.strip():
        reading.texts.append(text)


def _alternative(children: list[Message]) -> Message | None:
    """Of alternative renderings, the plain text one, else the richest one that holds text."""
    for wanted in ("text/plain", "text/html"):
        for child in children:
            if child.get_content_type() == wanted and not _is_attachment(child):
                return child
    nested = [c for c in children if c.is_multipart()]
    return nested[-1] if nested else None


def _decoded(part: Message, notes: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload:
        return ""
    charset = (part.get_content_charset() or "").strip()
    text = _decode(payload, charset, notes)
    controls = len(_CONTROL.findall(text))
    if controls > len(text) * _CONTROL_SHARE or text.count("\ufffd") > len(text) * _REPLACED_SHARE:
        notes.append("a text part looks like binary data; left out")
        return ""
    return normalize(text)


def _decode(payload: bytes, charset: str, notes: list[str]) -> str:
    """Bytes by the declared charset; undeclared or ASCII: UTF-8, else Windows-1252."""
    if charset in ("", "us-ascii", "ascii"):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("cp1252", errors="replace")
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):
        notes.append(
            f"unknown charset {charset[:40]!r}; read as UTF-8, damaged characters replaced"
        )
        return payload.decode("utf-8", errors="replace")
    try:
        return payload.decode(codec)
    except UnicodeDecodeError:
        notes.append(f"text is not valid {charset[:40]}; damaged characters replaced")
        return payload.decode(codec, errors="replace")


def html_to_text(markup: str) -> str:
    """An HTML body as paragraphs of text; a blockquote becomes a ``>`` line and a rule a
    separator line, so that :func:`strip_replies` recognises them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(markup, "html.parser")
    for quote in soup.find_all("blockquote"):
        marker = soup.new_tag("p")
        marker.string = ">"
        quote.replace_with(marker)
    for rule in soup.find_all("hr"):
        marker = soup.new_tag("p")
        marker.string = "_" * 32
        rule.replace_with(marker)
    try:
        return parse_document("body.html", str(soup).encode("utf-8")).text
    except ParseError:
        return ""


# --- what was quoted ---------------------------------------------------------------------------


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _separator(line: str) -> bool:
    """A line of dashes or underscores, perhaps with words inside: ``-----Original Message-----``,
    ``---------- Forwarded message ---------``, Outlook's ``________``."""
    stripped = line.strip()
    for mark in "-_":
        if len(stripped) >= 5 and stripped.startswith(mark * 3) and stripped.endswith(mark * 3):
            return True
    return False


def _header_like(line: str) -> bool:
    """``From: ...``: a few words, then a colon and a value."""
    name, colon, value = line.strip().partition(":")
    words = name.split()
    return bool(colon and value.strip() and 0 < len(words) <= _HEADER_WORDS_MAX) and not any(
        ch in name for ch in "<>@/"
    )


def _cut_forwarded(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if not _separator(line):
            continue
        after = [x for x in lines[i + 1 : i + 1 + 2 * _SEPARATOR_LOOKAHEAD] if x.strip()]
        if any(_header_like(x) for x in after[:_SEPARATOR_LOOKAHEAD]):
            return lines[:i]
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if line.rstrip() == "--":
            return lines[:i]
    return lines


def _drop_attribution(kept: list[str]) -> None:
    """Remove the line introducing a quote (``On <date>, <person> wrote:``) from the end of
    ``kept``, with the line before it when the attribution was wrapped in two."""
    while kept and not kept[-1].strip():
        kept.pop()
    if not kept or not kept[-1].rstrip().endswith(":"):
        return
    last = kept.pop()
    if len(kept) >= 1 and kept[-1].strip() and (len(kept) == 1 or not kept[-2].strip()):
        joined = kept[-1] + last
        if kept[-1].rstrip()[-1:] not in ".!?:" and (
            "@" in joined or sum(ch.isdigit() for ch in joined) >= 4
        ):
            kept.pop()


def strip_replies(text: str) -> str:
    """The text without what it quotes and without its signature."""
    lines = _cut_signature(_cut_forwarded(text.split("\n")))
    kept: list[str] = []
    seen_quote = False
    for line in lines:
        if _quoted(line):
            if not seen_quote:
                _drop_attribution(kept)
                seen_quote = True
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()
