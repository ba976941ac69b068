"""One note of an Obsidian vault (a markdown file with front matter, ``#tags`` and ``[[links]]``).

Theory of operation: a vault is a folder of markdown files; the ingestor sends each ``.md`` here
on its own, named by its path. A note is markdown, so after this module's own pass the plain
markdown parser (:func:`~secondme.node.memory.parsers.parse_markdown`) makes its text and
segments. The pass, line by line and outside code (fenced blocks and inline code spans):

- the YAML front matter at the top is taken off the text and read: ``tags``/``tag`` (a list or a
  string), ``aliases``/``alias``, ``date``, else ``created``;
- ``[[Note]]``, ``[[Note|shown text]]``, ``[[Note#Heading]]`` become the text a reader sees (the
  alias, else the note's name) and ``Note`` a link; ``![[Note]]`` (a note shown inside this one)
  is a link too, ``![[photo.png]]`` (an attachment) is not;
- a markdown link to a note of the vault (``[text](Other%20note.md)``, Obsidian's form without
  wikilinks) is a link too, though it alone does not make a file a note;
- ``#tag`` and ``#nested/tag`` after a space or at a line's start are tags (lower-case, without
  ``#``); a heading's ``# `` is not, nor ``page#part`` in a URL, nor an all-number ``#42``.

A daily note's date comes from its file name (``2024-03-05.md``, ``2024-03-05 Tuesday.md``)
when the front matter names none. The note's key is ``note:`` + its path as given and its title
is its file name without suffix: the name that other notes' links use. ``sniff`` claims a
markdown file only when it has any of these (front matter tags or aliases, a wikilink, a tag),
so a plain markdown file is read by the plain parser exactly as before.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date
from pathlib import PurePath
from urllib.parse import unquote

import yaml

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports.found import Found, Imported
from secondme.node.memory.parsers import decode_text, normalize, parse_markdown
from secondme.node.memory.timeline import parse_time

SUFFIXES = frozenset({".md", ".markdown"})
_SNIFF_BYTES = 64 * 1024
_FRONT_MATTER_MAX = 16 * 1024
"""Front matter longer than this is not read as YAML (no note's metadata is so long)."""
_LINK_MAX = 500
"""A ``[[`` whose ``]]`` is further than this along the line is not a link."""
_TAG_CHARS = frozenset("_-/")
_NAMES_MAX = 1000


class _Pass:
    """What one pass over a note's body found, and the body as a reader sees it."""

    def __init__(self, *, markdown_links: bool) -> None:
        self.lines: list[str] = []
        self.tags: dict[str, None] = {}
        self.links: dict[str, None] = {}
        self.wikilinks = 0
        self.markdown_links = markdown_links
        """Also ``[text](Other%20note.md)`` (Obsidian without wikilinks): read, not sniffed,
        since any README links its neighbours that way."""

    def link(self, name: str) -> None:
        if len(self.links) < _NAMES_MAX:
            self.links.setdefault(name, None)

    def tag(self, tag: str) -> None:
        if len(self.tags) < _NAMES_MAX:
            self.tags.setdefault(tag.lower(), None)


def _front_matter(text: str) -> tuple[str | None, str]:
    """(front matter, body) of a note that opens with a ``---`` line; (None, text) otherwise."""
    if not text.startswith("---\n"):
        return None, text
    end = 4
    while True:
        line_end = text.find("\n", end)
        line = text[end:] if line_end < 0 else text[end:line_end]
        if line.rstrip() in ("---", "..."):
            return text[4:end], ("" if line_end < 0 else text[line_end + 1 :])
        if line_end < 0:
            return None, text
        end = line_end + 1


def _strings(value: object) -> list[str]:
    """A front matter field as strings: a list of scalars, or one string split at commas and
    spaces (``tags: a, b`` and ``tags: a b`` are both Obsidian's)."""
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list):
        return [
            str(v).strip() for v in value if isinstance(v, str | int | float) and str(v).strip()
        ]
    return []


def _read_front_matter(raw: str) -> tuple[dict, str | None]:
    """The front matter's mapping, and a note when it could not be read."""
    if len(raw) > _FRONT_MATTER_MAX:
        return {}, "front matter too long to read; left out"
    try:
        value = yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError, RecursionError):
        return {}, "front matter is not valid YAML; left out"
    return (value, None) if isinstance(value, dict) else ({}, None)


def _code_span_end(line: str, start: int) -> int:
    """Where the inline code span opening at ``start`` ends; where its run of backticks ends
    when nothing closes it (then the backticks are plain text)."""
    run = start
    while run < len(line) and line[run] == "`":
        run += 1
    ticks = line[start:run]
    close = line.find(ticks, run)
    return run if close < 0 else close + len(ticks)


def _wikilink(inner: str, embed: bool, found: _Pass) -> str:
    """The text a reader sees for ``[[inner]]``; records the note it links to."""
    target, _, alias = inner.partition("|")
    target, _, heading = target.partition("#")
    name = target.strip().replace("\\", "/").rsplit("/", 1)[-1].strip()
    suffix = PurePath(name).suffix.lower() if name else ""
    if suffix in SUFFIXES:
        name = name[: -len(suffix)]
    elif suffix and embed:
        return alias.strip() or name  # an attachment shown in the note, not a note
    if name:
        found.link(name)
        found.wikilinks += 1
    heading = heading.strip().lstrip("^")
    shown = f"{name} > {heading}" if name and heading else (name or heading)
    return alias.strip() or shown


def _markdown_link(target: str, found: _Pass) -> None:
    """A markdown link's target that is a note of the vault (a relative ``.md`` path)."""
    # ``<a path with spaces.md>``, else a path and perhaps ``"a title"`` after it.
    target = target.strip()
    bare = target[1:].split(">", 1)[0] if target.startswith("<") else target.split(" ", 1)[0]
    path = unquote(bare.split("#", 1)[0])
    if not path or "://" in path or path.startswith(("mailto:", "/")):
        return
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    suffix = PurePath(name).suffix.lower()
    if suffix in SUFFIXES and name[: -len(suffix)].strip():
        found.link(name[: -len(suffix)].strip())


def _tag_end(line: str, start: int) -> int:
    end = start + 1
    while end < len(line) and (line[end].isalnum() or line[end] in _TAG_CHARS):
        end += 1
    return end


def _scan_line(line: str, found: _Pass) -> str:
    out: list[str] = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "`":
            end = _code_span_end(line, i)
            out.append(line[i:end])
            i = end
            continue
        elif line.startswith("[[", i) or line.startswith("![[", i):
            embed = ch == "!"
            open_at = i + 2 + embed
            close = line.find("]]", open_at, open_at + _LINK_MAX)
            inner = line[open_at:close] if close >= 0 else ""
            if close < 0 or "[[" in inner or not inner.strip():
                out.append(line[i:open_at])
                i = open_at
                continue
            out.append(_wikilink(inner, embed, found))
            i = close + 2
            continue
        elif found.markdown_links and line.startswith("](", i):
            close = line.find(")", i + 2, i + 2 + _LINK_MAX)
            if close > 0:
                _markdown_link(line[i + 2 : close], found)
            out.append(ch)
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            end = _tag_end(line, i)
            tag = line[i + 1 : end].strip("/")
            if tag and not all(c.isdigit() or c in _TAG_CHARS for c in tag):
                found.tag(tag)
            out.append(line[i:end])
            i = end
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _scan(body: str, *, markdown_links: bool = False) -> _Pass:
    """Tags and links of a note's body, and the body with links shown as their text."""
    found = _Pass(markdown_links=markdown_links)
    fence: str | None = None
    for line in body.split("\n"):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            found.lines.append(line)
        elif stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            found.lines.append(line)
        else:
            found.lines.append(_scan_line(line, found))
    return found


def _day_from_name(name: str) -> str | None:
    """``2024-03-05`` of a daily note named ``2024-03-05.md`` or ``2024-03-05 Tuesday.md``."""
    stem = PurePath(name).stem
    head, rest = stem[:10], stem[10:]
    if len(head) != 10 or (rest and rest[0] not in " _-.,"):
        return None
    with contextlib.suppress(ValueError):
        if head[4] == "-" and head[7] == "-":
            return date.fromisoformat(head).isoformat()
    return None


def _metadata_hints(raw: str) -> bool:
    """The front matter names tags or aliases (looked at cheaply, without YAML)."""
    for line in raw.split("\n"):
        key = line.split(":", 1)[0].strip().lower()
        if ":" in line and key in ("tags", "tag", "aliases", "alias"):
            return True
    return False


def sniff(name: str, data: bytes) -> bool:
    """A markdown file with Obsidian's marks: front matter tags or aliases, a wikilink or a
    ``#tag``. Other markdown is left to the plain parser."""
    if PurePath(name).suffix.lower() not in SUFFIXES or b"\x00" in data[:_SNIFF_BYTES]:
        return False
    head = normalize(data[:_SNIFF_BYTES].decode("utf-8", errors="replace")).lstrip("\ufeff")
    raw, body = _front_matter(head)
    if raw is not None and _metadata_hints(raw):
        return True
    found = _scan(body)
    return bool(found.links or found.tags or found.wikilinks)


def read(name: str, data: bytes) -> Imported:
    """The note ``name`` (its path in the vault) as one document with tags, links and date."""
    if not data.strip():
        raise ParseError(f"{name}: file is empty")
    text = normalize(decode_text(name, data)).lstrip("\ufeff")
    raw, body = _front_matter(text)
    meta, note = _read_front_matter(raw) if raw is not None else ({}, None)
    found = _scan(body, markdown_links=True)
    for tag in _strings(meta.get("tags", meta.get("tag"))):
        found.tag(tag.lstrip("#"))
    aliases = _strings(meta.get("aliases", meta.get("alias")))
    when = parse_time(meta.get("date")) or _day_from_name(name) or parse_time(meta.get("created"))
    rendered = "\n".join(found.lines)
    if rendered.strip():
        doc = parse_markdown(name, rendered.encode("utf-8"))
    else:
        doc = parse_markdown(name, PurePath(name).stem.encode("utf-8"))
    tags = tuple(t for t in found.tags if t)
    links = tuple(found.links)
    doc = replace(
        doc,
        kind="note",
        title=PurePath(name).stem or doc.title,
        date=when,
        key=f"note:{name}",
        tags=tags,
        links=links,
        notes=doc.notes + ((note,) if note else ()),
    )
    details = [
        f"{len(tags)} tag{'s' * (len(tags) != 1)}",
        f"{len(links)} link{'s' * (len(links) != 1)}",
    ]
    if aliases:
        details.append(f"also called {', '.join(aliases[:5])}")
    summary = Found(
        what="Obsidian note" if found.wikilinks else "note",
        first=when,
        last=when,
        details=tuple(details),
    )
    return Imported(found=summary, documents=(doc,), notes=tuple(f"{name}: {n}" for n in doc.notes))
