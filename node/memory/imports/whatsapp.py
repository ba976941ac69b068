"""WhatsApp "Export chat": the ``.txt`` (``_chat.txt`` on iOS, ``WhatsApp Chat with NAME.txt`` on
Android) and the ``.zip`` that holds it beside the media.

Theory of operation: every message starts a line with its date and time, in the phone's locale:

    [31/12/2023, 21:04:05] Name: text          iOS
    31/12/2023, 21:04 - Name: text             Android
    12/31/23, 9:04 PM - Name: text             Android, US (U+202F may stand before "PM")
    31.12.23, 21:04 - Name: text               dotted dates

A line without such a header continues the message before it (multi-line messages). Whether a
date is day/month or month/day is decided once for the whole file: a first number above 12
anywhere means day first, a second above 12 means month first; where no date shows it, the
order in which the dates run forward wins, and where that is a tie too, the order the format
implies (12-hour clock with slashes: US month first; else day first), with a note.

What WhatsApp wrote rather than a person is not kept as anyone's words: lines without a speaker
(Android's "X added Y", the encryption notice), iOS lines whose text starts with U+200E (iOS
marks its own "image omitted", "<attached: …>" and notices so), Android's whole-line ``<…>``
placeholders ("<Media omitted>") and ``FILE (file attached)`` lines. Media are counted in
:class:`Found`, a caption after an attachment is kept. These are rules of the format, not lists
of words, so they hold in every language the app speaks.

The chat's identity (``whatsapp:`` key) is the contact or group name from the file name
("WhatsApp Chat with X", "WhatsApp Chat - X"), else the name iOS writes as the speaker of its
notices (the chat's own name), else the sorted participants.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import archive
from secondme.node.memory.imports.conversation import (
    Message,
    conversation_document,
    speakers_and_span,
)
from secondme.node.memory.imports.found import Found, Imported
from secondme.node.memory.parsers import ParsedDocument, decode_text, normalize

SNIFF_BYTES = 4096
_SPEAKER_MAX = 100
"""A ``: `` further into the line than this is part of a notice, not the end of a name."""

_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_HEADER = re.compile(
    r"[\u200e\u200f\ufeff]{0,3}(\[)?"
    r"(\d{1,4})([./-]) ?(\d{1,2})[./-] ?(\d{1,4})\.?"
    r"(?:,[ \u00a0]?|[ \u00a0])"
    r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"(?:[ \u00a0\u202f]?([AaPp])\.?[ \u00a0\u202f]?[Mm]\.?)?"
    r"(?:\] ?| [-–] )"
)
"""A message header; bounded repeats only, so matching a line cannot backtrack over its length."""
_ATTACHED = re.compile(r"\S[^\n]{0,200}\.[A-Za-z0-9]{2,5} \([^()\n]{1,40}\)")
"""Android's ``IMG-20231231-WA0001.jpg (file attached)`` in any language."""
_NAME_PREFIXES = ("whatsapp chat with ", "whatsapp chat - ", "whatsapp chat – ")
_COPY_SUFFIX = re.compile(r" ?\(\d{1,3}\)$")


@dataclass(slots=True)
class _Entry:
    """One header line and its continuation lines, before the file's date order is known."""

    fields: tuple[int, int, int]
    year_first: bool
    clock: tuple[int, int, int | None, str | None]
    bracket: bool
    line: str
    """The whole header line, as written."""
    first: str
    more: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Chat:
    messages: list[Message]
    speakers: set[str]
    """Everyone who sent something, media included."""
    media: int
    system_speaker: str | None
    notes: tuple[str, ...]


@functools.lru_cache(maxsize=1024)
def _clean_name(name: str) -> str:
    """A speaker as a person reads it: no direction marks, single spaces, no ``~`` that
    WhatsApp puts before names not in the phone's contacts."""
    name = "".join(ch for ch in name if ch not in _MARKS)
    name = " ".join(unicodedata.normalize("NFC", name).replace("\u202f", " ").split())
    return name.lstrip("~").strip()


def _header(line: str) -> tuple[re.Match[str], str] | None:
    match = _HEADER.match(line)
    return (match, line[match.end() :]) if match else None


def _entries(text: str) -> tuple[list[_Entry], int]:
    """Header lines with their continuations; and how many lines came before the first one."""
    entries: list[_Entry] = []
    preamble = 0
    for line in text.split("\n"):
        found = _header(line)
        if found is None:
            if entries:
                entries[-1].more.append(line)
            elif line.strip():
                preamble += 1
            continue
        match, rest = found
        a, b, c = (int(match.group(i)) for i in (2, 4, 5))
        second = match.group(8)
        entries.append(
            _Entry(
                fields=(a, b, c),
                year_first=len(match.group(2)) == 4,
                clock=(
                    int(match.group(6)),
                    int(match.group(7)),
                    int(second) if second else None,
                    match.group(9),
                ),
                bracket=match.group(1) is not None,
                line=line,
                first=rest,
            )
        )
    return entries, preamble


def _year(value: int) -> int:
    return 2000 + value if value < 100 else value


def _date(entry: _Entry, day_first: bool) -> tuple[int, int, int]:
    a, b, c = entry.fields
    if entry.year_first:
        return _year(a), b, c
    return (_year(c), b, a) if day_first else (_year(c), a, b)


def _when(entry: _Entry, day_first: bool) -> str | None:
    """The entry's time as ISO 8601 (local, as the export writes it); None if impossible."""
    hour, minute, second, half = entry.clock
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half in "Pp" else 0)
    try:
        year, month, day = _date(entry, day_first)
        return datetime(year, month, day, hour, minute, second or 0).isoformat()
    except ValueError:
        return None


def _backward_steps(entries: list[_Entry], day_first: bool) -> int:
    steps = 0
    previous = None
    for entry in entries:
        try:
            year, month, day = _date(entry, day_first)
            current = (year, month, day) if 1 <= month <= 12 and 1 <= day <= 31 else None
        except ValueError:
            current = None
        if current is not None:
            if previous is not None and current < previous:
                steps += 1
            previous = current
    return steps


def _day_first(entries: list[_Entry]) -> tuple[bool, str | None]:
    """Whether dates are day/month, decided for the whole file; and a note if assumed."""
    ambiguous = [e for e in entries if not e.year_first]
    day_evidence = sum(1 for e in ambiguous if e.fields[0] > 12 >= e.fields[1])
    month_evidence = sum(1 for e in ambiguous if e.fields[1] > 12 >= e.fields[0])
    if day_evidence or month_evidence or not ambiguous:
        return day_evidence >= month_evidence, None
    by_day, by_month = _backward_steps(ambiguous, True), _backward_steps(ambiguous, False)
    if by_day != by_month:
        day_first = by_day < by_month
        how = "the order of the messages"
    else:
        twelve_hour = sum(1 for e in ambiguous if e.clock[3] is not None) * 2 > len(ambiguous)
        day_first = not twelve_hour
        how = "the date format"
    order = "day/month" if day_first else "month/day"
    return day_first, f"no date shows whether days or months come first: read as {order} from {how}"


def _media_line(line: str, ios: bool) -> bool:
    """Whether a message's first line is WhatsApp's stand-in for a photo, video, file or sticker."""
    stripped = line.strip().strip(_MARKS).strip()
    if stripped.startswith("<") and stripped.endswith(">"):
        return True
    if stripped.endswith(">") and "<" in stripped and ": " in stripped[stripped.rfind("<") :]:
        return True
    if _ATTACHED.fullmatch(stripped):
        return True
    return ios and line.startswith("\u200e") and len(stripped.split()) <= 3


def _strip_edit_mark(text: str) -> str:
    """Android appends ``<This message was edited>`` (in the phone's language) to edited text."""
    body = text.rstrip()
    if body.endswith(">") and (start := body.rfind("<")) > 0 and body[start - 1].isspace():
        mark = body[start + 1 : -1]
        if mark and len(mark) <= 60 and ":" not in mark and body[:start].strip():
            return body[:start].rstrip()
    return text


def _chat(text: str) -> _Chat:
    entries, preamble = _entries(text)
    day_first, order_note = _day_first(entries)
    messages: list[Message] = []
    media = 0
    bad_dates = 0
    system_speaker: str | None = None
    speakers: set[str] = set()
    notes = [order_note] if order_note else []
    for entry in entries:
        when = _when(entry, day_first)
        if when is None:
            if messages:
                bad_dates += 1
                extra = "\n".join([entry.line, *entry.more])
                messages[-1] = replace(messages[-1], text=f"{messages[-1].text}\n{extra}")
            continue
        speaker, sep, first = entry.first.partition(": ")
        if not sep and entry.first.endswith(":") and entry.more:
            speaker, sep, first = entry.first[:-1], ":", ""
        if not sep or len(speaker) > _SPEAKER_MAX or not _clean_name(speaker):
            continue
        speaker = _clean_name(speaker)
        ios = entry.bracket
        if _media_line(first, ios):
            speakers.add(speaker)
            media += 1
            caption = "\n".join(entry.more).strip()
            if caption:
                messages.append(Message(speaker=speaker, text=caption, time=when))
            continue
        if ios and first.startswith("\u200e"):
            system_speaker = system_speaker or speaker
            continue
        body = _strip_edit_mark("\n".join([first, *entry.more]))
        speakers.add(speaker)
        messages.append(Message(speaker=speaker, text=body.strip(), time=when))
    if bad_dates:
        notes.append(
            f"{bad_dates} line(s) with an impossible date were kept as text of the message before"
        )
    if preamble:
        notes.append(f"{preamble} line(s) before the first message were skipped")
    return _Chat(messages, speakers, media, system_speaker, tuple(notes))


def _name_from_file(name: str) -> str | None:
    """The contact or group in ``WhatsApp Chat with X.txt`` / ``WhatsApp Chat - X.zip``."""
    stem = archive.basename(name)
    for suffix in (".txt", ".zip"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = _COPY_SUFFIX.sub("", stem)
    lowered = stem.casefold()
    for prefix in _NAME_PREFIXES:
        if lowered.startswith(prefix) and (rest := _clean_name(stem[len(prefix) :])):
            return rest
    return None


def _identity(names: list[str], chat: _Chat) -> tuple[str, str]:
    """(key, title) of a chat: named by a file name, by iOS's notices, else by who speaks."""
    for candidate in names:
        if (found := _name_from_file(candidate)) is not None:
            return f"whatsapp:chat:{found.casefold()}", found
    if chat.system_speaker:
        return f"whatsapp:chat:{chat.system_speaker.casefold()}", chat.system_speaker
    people = sorted({m.speaker.casefold() for m in chat.messages})
    shown = sorted({m.speaker for m in chat.messages})
    return f"whatsapp:people:{'|'.join(people)}", ", ".join(shown)


def _looks_like_chat(head: bytes, whole: bool) -> bool:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [line for line in text.replace("\r", "").split("\n") if line.strip()]
    if not whole and len(lines) > 1:
        lines = lines[:-1]
    if not lines or _header(lines[0]) is None:
        return False
    rests = [found[1] for line in lines if (found := _header(line)) is not None]
    said = any(0 < rest.find(": ") <= _SPEAKER_MAX for rest in rests)
    return said and (len(rests) >= 2 or whole)


def _chat_members(name: str, data: bytes) -> list[str]:
    """The members of a zip that hold a WhatsApp chat."""
    found = []
    for member in archive.names(name, data):
        if archive.basename(member).lower().endswith(".txt"):
            head = archive.head(name, data, member, SNIFF_BYTES)
            if _looks_like_chat(head, len(head) < SNIFF_BYTES):
                found.append(member)
    return found


def sniff(name: str, data: bytes) -> bool:
    """A WhatsApp chat text (starts with a message header), or a zip holding one; a zip named
    like an export is claimed even when it holds none, so that reading it says why."""
    if archive.is_zip(data):
        try:
            if _chat_members(name, data):
                return True
        except ParseError:
            pass
        return "whatsapp" in archive.basename(name).casefold()
    return _looks_like_chat(data[:SNIFF_BYTES], len(data) <= SNIFF_BYTES)


def _document(key: str, title: str, chat: _Chat) -> ParsedDocument:
    first = min((m.time for m in chat.messages if m.time), default=None)
    doc = conversation_document(key, f"WhatsApp chat with {title}", chat.messages, first)
    return replace(doc, notes=chat.notes)


def read(name: str, data: bytes) -> Imported:
    """The chat(s) in a WhatsApp export; ParseError naming ``name`` if there is none."""
    texts: list[tuple[list[str], str]] = []
    notes: list[str] = []
    other_files = 0
    if archive.is_zip(data):
        wanted = set(_chat_members(name, data))
        unpacked = archive.members(name, data, lambda member: member in wanted)
        notes.extend(unpacked.notes)
        other_files = len(unpacked.others)
        sole = len(unpacked.files) == 1
        for member, raw in unpacked.files.items():
            try:
                texts.append(([member, name] if sole else [member], decode_text(member, raw)))
            except ParseError as exc:
                notes.append(f"{name}: {exc.message}")
        if not texts:
            why = "".join(f"; {note.removeprefix(f'{name}: ')}" for note in notes)
            raise ParseError(f"{name}: no readable WhatsApp chat in the archive{why}")
    else:
        texts.append(([name], decode_text(name, data)))
    documents = []
    messages: list[Message] = []
    media = 0
    speakers: set[str] = set()
    for names, text in texts:
        chat = _chat(normalize(text))
        if not chat.messages:
            notes.append(f"{names[0]}: no messages found in the WhatsApp chat")
            continue
        key, title = _identity(names, chat)
        documents.append(_document(key, title, chat))
        messages.extend(chat.messages)
        speakers |= {s.casefold() for s in chat.speakers}
        media += chat.media
    if not documents:
        raise ParseError(f"{name}: no messages found in the WhatsApp chat")
    _, first, last = speakers_and_span(messages)
    details = []
    if media:
        details.append(f"{media:,} media message{'s' if media != 1 else ''} (not imported)")
    if other_files:
        details.append(f"{other_files:,} other file{'s' if other_files != 1 else ''} in the zip")
    found = Found(
        what="WhatsApp chat" if len(documents) == 1 else "WhatsApp chats",
        items=len(documents) if len(documents) > 1 else None,
        item_noun="chats",
        people=len(speakers),
        messages=len(messages),
        first=first,
        last=last,
        details=tuple(details),
    )
    return Imported(found=found, documents=tuple(documents), notes=tuple(notes))
