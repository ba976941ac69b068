"""File bytes → text plus the segments that chunking must keep whole.

Theory of operation: every parser turns one uploaded file into a :class:`ParsedDocument`, whose
``text`` is what search results quote and whose ``segments`` are the units a chunk boundary should
not cut through (a paragraph, a block of table rows, one chat turn). Segments are exact spans:
``text[s.start:s.end] == s.text`` always, they appear in order without overlapping, and every
non-whitespace character of ``text`` lies inside one; only whitespace lies between them.

The format comes from the file name's suffix, never from sniffing the bytes, so that a person can
predict what happens to a file. Everything a file can do wrong is an owner-facing error naming the
file: :class:`UnsupportedFormat` for a suffix with no parser, :class:`ParseError` for corrupt,
binary, or empty content. Third-party parsers (pypdf, python-docx) raise all kinds of exceptions on
hostile input; they are translated here, at the boundary, and nothing else escapes.

No parser may take time or memory out of proportion to the input: regular expressions here never
backtrack over a run of input, tree walks are iterative, zip archives are checked for bombs before
they are opened, and flattened JSON paths are capped in length.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import PurePath

import docx
import pypdf
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
from bs4.element import PreformattedString
from docx.table import Table
from docx.text.paragraph import Paragraph

from secondme.node.core.errors import ParseError, UnsupportedFormat
from secondme.node.memory.spans import paragraphs, trimmed
from secondme.node.memory.timeline import gap_hours, parse_time


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One unit of a document that chunking must not split across speakers: a paragraph, a table
    row block, or a chat turn."""

    text: str
    start: int
    end: int
    speaker: str | None = None
    time: str | None = None
    """When a chat turn was sent, ISO 8601; None where the export gives no readable time."""
    session: str | None = None
    """The conversation a chat turn belongs to: the export's own, or numbered by time gaps."""
    turn: int | None = None
    """A chat turn's number in the export, from 1."""
    id: str | None = None
    """An imported message's stable id: the same message in a newer export has the same id."""
    at: float | None = None
    """Seconds into a recording where this segment was said (voice notes)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedDocument:
    """The extracted text of one file, with its segments as exact spans into ``text``."""

    kind: str
    title: str | None
    text: str
    segments: tuple[Segment, ...]
    date: str | None = None
    """The document's own date (ISO 8601) as its metadata or front matter states it."""
    notes: tuple[str, ...] = ()
    """What the owner should know about how the file was read (nothing was lost, but...)."""
    key: str | None = None
    """An imported item's identity across exports (``whatsapp:…``, ``email:<message-id>``):
    a newer export of the same chat finds the document this one made. None for plain files."""
    tags: tuple[str, ...] = ()
    """Tags the item gives itself (a note's ``#tags`` and front matter ``tags``)."""
    links: tuple[str, ...] = ()
    """Names of other notes this one links to (wikilinks): relations in L1."""
    me: str | None = None
    """The speaker who is the exporting person, where the export says (ChatGPT's user)."""


CSV_ROWS_PER_SEGMENT = 20
"""Rows of a CSV (or of a DOCX table) kept together in one segment."""

_BINARY_SHARE = 0.05
"""Text whose share of control or undecodable characters exceeds this is taken for binary data."""

_DAMAGED_UTF8_SHARE = 0.01
"""Up to this share of invalid UTF-8 is damage in a UTF-8 file; more means another encoding."""

_ZIP_MAX_INFLATION = 50
_ZIP_SLACK = 16 * 1024 * 1024
"""A DOCX may unpack to at most 50 times its size plus 16 MiB; more is a zip bomb."""

_JSON_PATH_MAX = 200
"""Flattened JSON paths longer than this keep only their tail, so deep nesting cannot blow up."""

_SUSPECT_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_DROPPED_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s{0,5}=\s{0,5}["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE
)


# --- text assembly ------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Unify line breaks to ``\\n`` and drop control characters, so all formats read alike."""
    breaks = {"\r\n": "\n", "\r": "\n", "\x0b": "\n", "\x85": "\n", "\u2028": "\n"}
    text = _LINE_BREAKS.sub(lambda m: breaks.get(m.group(), "\n\n"), text)
    return _DROPPED_CHARS.sub("", text)


def _document(
    kind: str, title: str | None, text: str, spans: list[tuple[int, int]], date: str | None = None
) -> ParsedDocument:
    segments = tuple(Segment(text=text[a:b], start=a, end=b) for a, b in spans)
    return ParsedDocument(kind=kind, title=title, text=text, segments=segments, date=date)


_FRONT_MATTER_LINES = 40
_DATE_LINE = re.compile(r"(?:date|created|published)[^\S\n]*:[^\S\n]*+(.{1,80})", re.IGNORECASE)


def _front_matter_date(text: str) -> str | None:
    """The ``date:`` of a front matter block (``---`` lines) at the top of a text, if readable."""
    lines = text.lstrip("\ufeff").split("\n", _FRONT_MATTER_LINES + 1)
    if not lines or lines[0].strip() not in ("---", "+++"):
        return None
    for line in lines[1:_FRONT_MATTER_LINES]:
        if line.strip() in ("---", "+++", "..."):
            break
        if (match := _DATE_LINE.fullmatch(line.strip())) is not None:
            return parse_time(match.group(1).strip().strip("\"'"))
    return None


class TextBuilder:
    """Joins extracted pieces into one text while recording each piece's exact span."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._segments: list[Segment] = []
        self._length = 0

    def add(
        self,
        text: str,
        *,
        sep: str = "\n\n",
        speaker: str | None = None,
        time: str | None = None,
        session: str | None = None,
        turn: int | None = None,
        id: str | None = None,
        at: float | None = None,
    ) -> None:
        """Append ``text`` as one segment; blank pieces are skipped."""
        text = normalize(text).strip()
        if not text:
            return
        if self._parts:
            self._parts.append(sep)
            self._length += len(sep)
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        self._segments.append(
            Segment(
                text=text,
                start=start,
                end=self._length,
                speaker=speaker,
                time=time,
                session=session,
                turn=turn,
                id=id,
                at=at,
            )
        )

    def build(self, kind: str, title: str | None, date: str | None = None) -> ParsedDocument:
        return ParsedDocument(
            kind=kind,
            title=title,
            text="".join(self._parts),
            segments=tuple(self._segments),
            date=date,
        )


def clean_title(title: str | None) -> str | None:
    if title is None:
        return None
    return " ".join(title.split()) or None


def short_reason(exc: BaseException) -> str:
    """A one-line, bounded description of a third-party exception for an owner-facing message."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --- decoding -----------------------------------------------------------------------------------


def decode_text(name: str, data: bytes, legacy: str = "cp1252") -> str:
    """Bytes → str: a BOM decides, then UTF-8, then ``legacy``; binary junk is refused."""
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        text = data.decode("utf-32", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    elif b"\x00" in data:
        raise ParseError(f"{name}: looks like binary data, not text")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
            if text.count("\ufffd") > len(text) * _DAMAGED_UTF8_SHARE:
                text = data.decode(legacy, errors="replace")
    if len(_SUSPECT_CHARS.findall(text)) > len(text) * _BINARY_SHARE:
        raise ParseError(f"{name}: looks like binary data, not text")
    return text


# --- plain text and markdown --------------------------------------------------------------------


def _parse_text(name: str, data: bytes) -> ParsedDocument:
    text = normalize(decode_text(name, data))
    return _document("text", None, text, paragraphs(text), _front_matter_date(text))


def _markdown_heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line, or None; parsed by hand to avoid regex backtracking."""
    body = line.lstrip(" ")
    if len(line) - len(body) > 3 or not body.startswith("#"):
        return None
    level = len(body) - len(body.lstrip("#"))
    rest = body[level:]
    if level > 6 or (rest and rest[0] not in " \t"):
        return None
    rest = rest.strip()
    closed = rest.rstrip("#")
    if not closed or closed[-1] in " \t":
        rest = closed.strip()
    return level, rest


def parse_markdown(name: str, data: bytes) -> ParsedDocument:
    """Markdown stays as written (headings carry meaning); a heading always opens a new segment.

    Public for importers that read a dialect of it (note vaults) after their own pass."""
    text = normalize(decode_text(name, data))
    spans: list[tuple[int, int]] = []
    title: str | None = None
    block_start: int | None = None
    block_end = 0
    fence: str | None = None
    pos = 0

    def close() -> None:
        nonlocal block_start
        if block_start is not None and (span := trimmed(text, block_start, block_end)):
            spans.append(span)
        block_start = None

    for line in text.split("\n"):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
        elif stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif not stripped:
            close()
        elif (heading := _markdown_heading(line)) is not None:
            close()
            level, heading_text = heading
            if title is None and level == 1 and heading_text:
                title = heading_text
        if stripped:
            if block_start is None:
                block_start = pos
            block_end = pos + len(line)
        pos += len(line) + 1
    close()
    return _document("markdown", clean_title(title), text, spans, _front_matter_date(text))


# --- PDF ----------------------------------------------------------------------------------------


def _parse_pdf(name: str, data: bytes) -> ParsedDocument:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(f"{name}: cannot read PDF: it is encrypted with a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
        created = _pdf_date(metadata)
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many unrelated types on damaged files; all mean this
        raise ParseError(f"{name}: cannot read PDF: {short_reason(exc)}") from exc
    builder = TextBuilder()
    for page in pages:
        page_text = normalize(page)
        for a, b in paragraphs(page_text):
            builder.add(page_text[a:b])
    parsed = builder.build("pdf", clean_title(title if isinstance(title, str) else None), created)
    if not parsed.text:
        raise ParseError(f"{name}: PDF has no extractable text (scanned images are not supported)")
    return parsed


def _pdf_date(metadata: object) -> str | None:
    """The PDF's creation date; a malformed one is no date, never an unreadable file."""
    if metadata is None:
        return None
    try:
        return parse_time(metadata.creation_date)  # type: ignore[attr-defined]
    except Exception:  # pypdf raises assorted types on a malformed date string
        return None


# --- DOCX ---------------------------------------------------------------------------------------


def _check_zip(name: str, data: bytes, what: str) -> None:
    """Refuse archives that are not zips or would unpack far beyond their size (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ParseError(f"{name}: cannot read {what}: not a valid {what} file") from exc
    if unpacked > len(data) * _ZIP_MAX_INFLATION + _ZIP_SLACK:
        raise ParseError(f"{name}: cannot read {what}: it unpacks to {unpacked} bytes")


def _docx_style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _docx_table_rows(table: Table) -> list[str]:
    """One ``a | b | c`` line per non-empty row; a merged cell is listed once, not per column,
    and empty trailing cells are left out."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            rows.append(" | ".join(cells))
    return rows


def _parse_docx(name: str, data: bytes) -> ParsedDocument:
    _check_zip(name, data, "DOCX")
    builder = TextBuilder()
    style_title: str | None = None
    heading_title: str | None = None
    try:
        document = docx.Document(io.BytesIO(data))
        properties_title = document.core_properties.title
        try:
            created = parse_time(document.core_properties.created)
        except Exception:  # python-docx raises on a malformed date; then there is none
            created = None
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                text = block.text
                style = _docx_style_name(block)
                if text.strip():
                    if style_title is None and style == "Title":
                        style_title = text
                    elif heading_title is None and style.startswith("Heading"):
                        heading_title = text
                builder.add(text)
            else:
                rows = _docx_table_rows(block)
                for i in range(0, len(rows), CSV_ROWS_PER_SEGMENT):
                    builder.add("\n".join(rows[i : i + CSV_ROWS_PER_SEGMENT]))
    except Exception as exc:  # python-docx and lxml raise many unrelated types on damaged files
        raise ParseError(f"{name}: cannot read DOCX: {short_reason(exc)}") from exc
    title = clean_title(properties_title) or clean_title(style_title) or clean_title(heading_title)
    return builder.build("docx", title, created)


# --- HTML ---------------------------------------------------------------------------------------

_HTML_NOISE = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "nav", "svg", "iframe"}
    | {"object", "canvas"}
)
_HTML_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog"}
    | {"div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "hr", "html", "legend", "li", "main", "ol"}
    | {"p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"}
)
_HTML_CELLS = frozenset({"td", "th"})


class _HtmlText:
    """Collects the text of the block being read, line by line, until a block boundary."""

    def __init__(self, builder: TextBuilder) -> None:
        self._builder = builder
        self._lines: list[list[str]] = [[]]

    def text(self, value: str) -> None:
        self._lines[-1].append(value)

    def line_break(self) -> None:
        self._lines.append([])

    def cell(self) -> None:
        """Separate table cells of one row, so a row reads as ``a | b | c``."""
        if "".join(self._lines[-1]).strip():
            self._lines[-1].append(" | ")

    def flush(self, preformatted: bool) -> None:
        if preformatted:
            lines = ["".join(parts).rstrip() for parts in self._lines]
            self._builder.add("\n".join(lines).strip("\n"))
        else:
            lines = [" ".join("".join(parts).split()) for parts in self._lines]
            self._builder.add("\n".join(line for line in lines if line))
        self._lines = [[]]


def _html_markup(name: str, data: bytes) -> str:
    """Decode HTML, honouring a ``<meta charset>`` when the bytes are not UTF-8."""
    legacy = "cp1252"
    if declared := _META_CHARSET.search(data[:4096]):
        with contextlib.suppress(LookupError):
            legacy = codecs.lookup(declared.group(1).decode("ascii")).name
    return decode_text(name, data, legacy)


def _parse_html(name: str, data: bytes) -> ParsedDocument:
    markup = _html_markup(name, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(markup, "html.parser")
    title_tag = soup.find("title") or soup.find("h1")
    title = clean_title(title_tag.get_text(" ")) if title_tag is not None else None

    builder = TextBuilder()
    collector = _HtmlText(builder)
    pre_depth = 0
    # Iterative walk: (children, closes a block, is <pre>) frames, so deep nesting cannot recurse.
    stack: list[tuple[Iterator[object], bool, bool]] = [(iter(soup.contents), False, False)]
    while stack:
        children, is_block, is_pre = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            if is_block:
                collector.flush(preformatted=pre_depth > 0)
            pre_depth -= is_pre
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):
                collector.text(str(node))
            continue
        if not isinstance(node, Tag) or node.name in _HTML_NOISE:
            continue
        if node.name == "br":
            collector.line_break()
            continue
        block = node.name in _HTML_BLOCKS
        if block:
            collector.flush(preformatted=pre_depth > 0)
        elif node.name in _HTML_CELLS:
            collector.cell()
        pre = node.name == "pre"
        pre_depth += pre
        stack.append((iter(node.contents), block, pre))
    collector.flush(preformatted=False)
    return builder.build("html", title, _html_date(soup))


_HTML_DATE_META = (
    "article:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.created",
    "dcterms.created",
    "dcterms.date",
    "pubdate",
    "publish_date",
    "og:published_time",
    "article:modified_time",
)
_HTML_TIME_SCAN = 50
"""``<time datetime>`` elements only count among the first tags, near the top of the page."""


def _html_date(soup: BeautifulSoup) -> str | None:
    """The page's date: a ``<meta>`` that names it, else an early ``<time datetime>``."""
    found: dict[str, str] = {}
    for meta in soup.find_all("meta", limit=200):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop")
        content = meta.get("content")
        if isinstance(key, str) and isinstance(content, str):
            found.setdefault(key.strip().lower(), content)
    for key in _HTML_DATE_META:
        if key in found and (when := parse_time(found[key])) is not None:
            return when
    for tag in soup.find_all(["time"], limit=_HTML_TIME_SCAN):
        value = tag.get("datetime")
        if isinstance(value, str) and (when := parse_time(value)) is not None:
            return when
    return None


# --- CSV ----------------------------------------------------------------------------------------


def _csv_delimiter(text: str) -> str:
    """Guess the delimiter from the first lines; the sample is small because the sniffer's
    regular expressions are quadratic in it."""
    sample = "\n".join(text[:8192].split("\n")[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _parse_csv(name: str, data: bytes) -> ParsedDocument:
    """Each row becomes ``col: value; col: value`` by the header row, rows grouped in segments."""
    text = normalize(decode_text(name, data))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_csv_delimiter(text))
    builder = TextBuilder()
    header: list[str] | None = None
    group: list[str] = []
    rows = 0
    try:
        for row in reader:
            cells = [" ".join(cell.split()) for cell in row]
            if not any(cells):
                continue
            if header is None:
                header = [cell or f"column {i + 1}" for i, cell in enumerate(cells)]
                continue
            pairs = [
                f"{header[i] if i < len(header) else f'column {i + 1}'}: {value}"
                for i, value in enumerate(cells)
                if value
            ]
            group.append("; ".join(pairs))
            rows += 1
            if len(group) == CSV_ROWS_PER_SEGMENT:
                builder.add("\n".join(group), sep="\n")
                group = []
    except csv.Error as exc:
        raise ParseError(f"{name}: cannot read CSV at line {reader.line_num}: {exc}") from exc
    if group:
        builder.add("\n".join(group), sep="\n")
    if rows == 0 and header is not None:
        builder.add("; ".join(header))
    return builder.build("csv", None)


# --- JSON and chat exports ----------------------------------------------------------------------


def _json_scalar(value: object) -> str | None:
    """How a JSON leaf reads in text; None for an empty string or container (nothing to say)."""
    if isinstance(value, str):
        return value or None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def _turn_field(name: str, where: str, obj: dict, key: str) -> str | None:
    """A turn's field as text: strings and numbers are accepted, null means absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ParseError(f"{name}: {where}: '{key}' must be a string")
    return str(value)


@dataclass(frozen=True, slots=True)
class _ChatTurn:
    speaker: str
    text: str
    time: str | None
    session: str | None
    bad_time: bool = False
    """The turn gave a ``time`` that could not be read."""


def _turn(name: str, where: str, obj: object) -> _ChatTurn:
    """One chat turn object, or a ParseError saying what is wrong.

    A ``time`` that cannot be read as a time leaves the turn without one: the turn is kept.
    """
    if not isinstance(obj, dict):
        raise ParseError(f"{name}: {where}: expected an object with 'speaker' and 'text'")
    for key in ("speaker", "text"):
        if key not in obj:
            raise ParseError(f"{name}: {where}: missing '{key}'")
    speaker = " ".join(normalize(_turn_field(name, where, obj, "speaker") or "").split())
    if not speaker:
        raise ParseError(f"{name}: {where}: 'speaker' is empty")
    text = _turn_field(name, where, obj, "text") or ""
    raw_time = obj.get("time")
    time = parse_time(raw_time) if isinstance(raw_time, str | int | float) else None
    bad_time = time is None and raw_time not in (None, "")
    session = " ".join((_turn_field(name, where, obj, "session") or "").split())
    return _ChatTurn(speaker, text, time, session or None, bad_time)


def _is_turn(obj: object) -> bool:
    return isinstance(obj, dict) and "speaker" in obj and "text" in obj


def _chat_lines(name: str, text: str) -> list[_ChatTurn]:
    """Turns of a JSON-lines chat export; a bad line is a ParseError naming its number."""
    turns = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"{name}: line {number}: invalid JSON at column {exc.colno}: {exc.msg}"
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"{name}: line {number}: invalid JSON: {short_reason(exc)}") from exc
        turns.append(_turn(name, f"line {number}", obj))
    return turns


def _chat_document(turns: list[_ChatTurn]) -> ParsedDocument:
    """One line ``speaker: text`` per turn, each turn its own segment with speaker, time, its
    session and its number in the export."""
    builder = TextBuilder()
    for number, turn in enumerate(turns, start=1):
        if normalize(turn.text).strip():
            builder.add(
                f"{turn.speaker}: {turn.text.strip()}",
                sep="\n",
                speaker=turn.speaker,
                time=turn.time,
                session=turn.session,
                turn=number,
            )
    doc = builder.build("chat", None)
    bad = [number for number, turn in enumerate(turns, start=1) if turn.bad_time]
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        note = f"{len(bad)} turn(s) have a time that cannot be read (turn {shown}); kept without"
        doc = replace(doc, notes=(note,))
    return doc


def assign_sessions(doc: ParsedDocument, gap_hours_limit: float) -> ParsedDocument:
    """Give every chat turn a session: its own, else the one before it, unless more than
    ``gap_hours_limit`` hours passed since the previous turn, which starts a new numbered one."""
    if doc.kind != "chat":
        return doc
    segments = []
    current: str | None = None
    numbered = 0
    last_time: str | None = None
    for segment in doc.segments:
        session = segment.session
        if session is None:
            gap = gap_hours(last_time, segment.time)
            if current is None or (gap is not None and gap > gap_hours_limit):
                numbered += 1
                current = str(numbered)
            session = current
        else:
            current = session
        last_time = segment.time or last_time
        segments.append(replace(segment, session=session))
    return replace(doc, segments=tuple(segments))


def _json_lines(path: str, value: object) -> Iterator[str]:
    """``path.to.key: value`` lines of a JSON value, depth-first, without recursion."""
    stack: list[tuple[str, object]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            children = [
                (_json_path(where, f".{key}" if where else str(key)), v) for key, v in node.items()
            ]
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([(_json_path(where, f"[{i}]"), v) for i, v in enumerate(node)]))
        elif (leaf := _json_scalar(node)) is not None:
            yield f"{where}: {leaf}" if where else leaf


def _json_path(parent: str, step: str) -> str:
    path = parent + step
    return path if len(path) <= _JSON_PATH_MAX else "…" + path[-(_JSON_PATH_MAX - 1) :]


def json_value(name: str, data: bytes) -> object:
    """The JSON document a file holds, or a ParseError naming the file and where it breaks."""
    try:
        return json.loads(decode_text(name, data))
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"{name}: invalid JSON: {short_reason(exc)}") from exc


def _parse_json(name: str, data: bytes) -> ParsedDocument:
    text = decode_text(name, data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            return _chat_document(_chat_lines(name, text))
        except ParseError:
            pass
        raise ParseError(
            f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"{name}: invalid JSON: {short_reason(exc)}") from exc

    if _is_turn(value):
        return _chat_document([_turn(name, "top-level object", value)])
    if isinstance(value, list) and value and all(_is_turn(item) for item in value):
        return _chat_document([_turn(name, f"item {i}", item) for i, item in enumerate(value)])

    builder = TextBuilder()
    items: list[tuple[str, object]]
    if isinstance(value, dict):
        items = [(_json_path("", str(key)), v) for key, v in value.items()]
    elif isinstance(value, list):
        items = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        items = [("", value)]
    for path, item in items:
        builder.add("\n".join(_json_lines(path, item)), sep="\n")
    title = value.get("title") if isinstance(value, dict) else None
    when = value.get("date") if isinstance(value, dict) else None
    return builder.build(
        "json",
        clean_title(title if isinstance(title, str) else None),
        parse_time(when) if isinstance(when, str | int | float) else None,
    )


def _parse_jsonl(name: str, data: bytes) -> ParsedDocument:
    return _chat_document(_chat_lines(name, decode_text(name, data)))


# --- entry point --------------------------------------------------------------------------------

_PARSERS: dict[str, Callable[[str, bytes], ParsedDocument]] = {
    ".txt": _parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".pdf": _parse_pdf,
    ".docx": _parse_docx,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".csv": _parse_csv,
    ".json": _parse_json,
    ".jsonl": _parse_jsonl,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_PARSERS)


def parse_document(name: str, data: bytes, *, session_gap_hours: float = 6.0) -> ParsedDocument:
    """Extract the text of the file ``name`` (only its suffix matters) from its bytes.

    Chat turns without a session of their own are grouped into sessions split where more than
    ``session_gap_hours`` pass between two turns.

    Raises :class:`UnsupportedFormat` for a suffix with no parser and :class:`ParseError` for
    content that is corrupt, binary, or empty; both messages start with ``name``.
    """
    suffix = PurePath(name).suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        shown = f"'{suffix}'" if suffix else "(no extension)"
        raise UnsupportedFormat(f"{name}: unsupported file type {shown} (supported: {supported})")
    if not data or data.isspace():
        raise ParseError(f"{name}: file is empty")
    parsed = parser(name, data)
    if not parsed.text.strip():
        raise ParseError(f"{name}: file is empty")
    return assign_sessions(parsed, session_gap_hours)
