"""A mailbox file (``.mbox``: a Google Takeout's Gmail, a Thunderbird or ``mail`` folder) → one
document per email.

Theory of operation: the file is cut into messages at its "From " separator lines by hand (the
standard library's :mod:`mailbox` wants a path, and this module only sees bytes): a separator is
a line starting ``From `` that has a sender and a year in it and is followed by a header line, so
an unquoted "From here on..." in a body does not cut a message in two. Each message is unquoted
the mboxrd way (``>From `` → ``From ``) and read by :class:`email.parser.BytesParser` (the
classic policy; headers are decoded here). A message that cannot be read is one line in
``Imported.notes``; the rest goes on.

An email's document is ``From: NAME / To: ... / Subject: ...`` and then what the sender wrote:
the text/plain body (else the HTML one as text), without quoted replies (``>`` lines, the
attribution line that introduces them, Outlook's "Original Message" block) and without the
signature after the RFC 3676 ``-- `` line. The header block and every paragraph are segments
spoken by the sender at the email's time, in the thread (``session``) of the first message it
refers to. A body in a broken or unknown charset is decoded with replacement and says so in the
document's notes. Its key is ``email:`` + the Message-ID, else a hash of sender, date and subject.
"""

from __future__ import annotations

import email.utils
import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from pathlib import PurePath

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports.found import Found, Imported
from secondme.node.memory.imports.mail_text import body_text
from secondme.node.memory.parsers import (
    SUPPORTED_SUFFIXES,
    ParsedDocument,
    TextBuilder,
    clean_title,
    normalize,
    short_reason,
)
from secondme.node.memory.spans import paragraphs

_SNIFF_BYTES = 4096
_FROM_LINE_MAX = 1000
_HEADER_NAME_MAX = 76
_HEADER_VALUE_MAX = 4000
"""Header values longer than this are cut: no sender or subject needs more."""
_NAMES_SHOWN = 10
"""Recipients named in the ``To:`` line; the rest are counted."""

_PARSER = BytesParser(policy=compat32)
"""The classic policy: headers stay raw text, decoded here (the modern policy's header
objects take most of the time of a large mailbox)."""


# --- cutting the file into messages --------------------------------------------------------------


def _header_line(line: bytes) -> bool:
    """``Name: value``: a header field name is printable ASCII without a colon or a space."""
    colon = line.find(b":", 0, _HEADER_NAME_MAX + 1)
    return colon > 0 and all(33 <= byte <= 126 for byte in line[:colon])


def _from_line(line: bytes) -> bool:
    """An mbox separator: ``From <sender> <asctime date>``: a sender and some digits."""
    if not line.startswith(b"From ") or len(line) > _FROM_LINE_MAX:
        return False
    parts = line[5:].split()
    return len(parts) >= 2 and any(ch in b"0123456789" for ch in line[5:])


def _line_at(data: bytes, start: int) -> tuple[bytes, int]:
    """The line starting at ``start`` (without its end) and where the next one starts."""
    end = data.find(b"\n", start)
    if end < 0:
        return data[start:].rstrip(b"\r"), len(data)
    return data[start:end].rstrip(b"\r"), end + 1


def _separator_at(data: bytes, start: int) -> bool:
    line, after = _line_at(data, start)
    if not _from_line(line):
        return False
    following, _ = _line_at(data, after)
    return _header_line(following)


def split_mbox(data: bytes) -> list[tuple[bytes, bytes]]:
    """(separator line, message bytes) per message, in file order; text before the first
    separator is not a message and is dropped."""
    starts = [0] if _separator_at(data, 0) else []
    pos = data.find(b"\nFrom ")
    while pos >= 0:
        if _separator_at(data, pos + 1):
            starts.append(pos + 1)
        pos = data.find(b"\nFrom ", pos + 1)
    messages = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(data)
        line, body_start = _line_at(data, start)
        messages.append((line, _unquote(data[body_start:end])))
    return messages


def _unquote(message: bytes) -> bytes:
    """mboxrd/mboxo: a body line ``>From `` (any number of ``>``) loses one ``>``."""
    if b">From " not in message:
        return message
    lines = message.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
            lines[i] = line[1:]
    return b"\n".join(lines)


def sniff(name: str, data: bytes) -> bool:
    """An mbox: it opens with a separator line followed by headers. Files with a suffix the
    plain parsers read (``.txt``, ``.md``, ...) are left to them."""
    if PurePath(name).suffix.lower() in SUPPORTED_SUFFIXES:
        return False
    head = data[:_SNIFF_BYTES].lstrip(b"\r\n")
    return _separator_at(head, 0)


# --- headers -----------------------------------------------------------------------------------


def _raw_header(message: Message, field: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == field.lower():
            return str(value)[:_HEADER_VALUE_MAX]
    return None


def _unescaped(text: str) -> str:
    """Raw 8-bit header bytes (which the parser keeps as surrogates) read as UTF-8, the way
    RFC 6532 writes them, else as Windows-1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", errors="surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _decoded_words(raw: str) -> str:
    """RFC 2047 encoded words (``=?utf-8?q?...?=``) decoded; the raw text where they are
    broken or name a charset that does not exist."""
    raw = _unescaped(raw)
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # decode_header and make_header raise assorted types on broken words
        return raw


def _header(message: Message, field: str) -> str | None:
    """A header decoded, else None."""
    raw = _raw_header(message, field)
    if raw is None:
        return None
    text = " ".join(normalize(_decoded_words(raw)).split())
    return text or None


def _addresses(message: Message, field: str) -> list[tuple[str, str]]:
    """(display name, address) per mailbox of an address header, as well as it can be read:
    the list is split before its names are decoded, so a comma in a name splits nothing."""
    raw = _raw_header(message, field)
    if not raw:
        return []
    found = email.utils.getaddresses([" ".join(_unescaped(raw).split())])
    return [
        (" ".join(normalize(_decoded_words(n)).split()), a.strip().lower())
        for n, a in found
        if n.strip() or a.strip()
    ]


def _person(name: str, address: str) -> str:
    return name or address or "unknown sender"


def _date(message: Message, separator: bytes) -> str | None:
    """The Date header as ISO 8601 with its zone; else the separator line's date (no zone)."""
    raw = _raw_header(message, "Date")
    if raw:
        try:
            moment = email.utils.parsedate_to_datetime(" ".join(raw.split()))
        except (TypeError, ValueError, IndexError, OverflowError):
            moment = None
        if moment is not None and 1900 <= moment.year <= 2200:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)  # "-0000": UTC, source zone unknown
            return moment.isoformat(timespec="seconds")
    words = separator.decode("ascii", errors="replace").split()
    try:
        moment = datetime.strptime(" ".join(words[-5:]), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return moment.isoformat(timespec="seconds")


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    ident = value.strip().split()[0].strip("<>")
    return ident or None


def _thread_root(message: Message, own: str | None) -> str | None:
    """The first message a reply refers to (References' first id, else In-Reply-To)."""
    for field in ("References", "In-Reply-To"):
        if ident := _message_id(_header(message, field)):
            return ident
    return own


# --- one email ---------------------------------------------------------------------------------


def _named(people: list[tuple[str, str]]) -> str:
    shown = [_person(n, a) for n, a in people[:_NAMES_SHOWN]]
    more = len(people) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _email_document(
    separator: bytes, message: Message
) -> tuple[ParsedDocument, set[str], int] | None:
    """The email's document, the people in it, and its attachments left unread; None for a
    message without a single readable header (not an email)."""
    senders = _addresses(message, "From")
    recipients = _addresses(message, "To") + _addresses(message, "Cc")
    subject = _header(message, "Subject")
    when = _date(message, separator)
    own_id = _message_id(_header(message, "Message-ID"))
    if not (senders or recipients or subject or own_id or _raw_header(message, "Date")):
        return None
    sender = _person(*senders[0]) if senders else "unknown sender"
    body = body_text(message)
    if own_id is None:
        # Without a Message-ID, the email is what it says: two undated notes from one sender
        # with one subject are still two emails.
        digest = "\x1f".join((sender, when or "", subject or "", body.text)).encode()
        key = "email:sha256:" + hashlib.sha256(digest).hexdigest()[:32]
    else:
        key = f"email:{own_id}"
    thread = _thread_root(message, own_id)

    builder = TextBuilder()
    header = [f"From: {sender}"]
    if recipients:
        header.append(f"To: {_named(recipients)}")
    header.append(f"Subject: {subject or '(no subject)'}")
    number = 0

    def add(text: str, sep: str) -> None:
        nonlocal number
        builder.add(text, sep=sep, speaker=sender, time=when, session=thread, id=f"{key}#{number}")
        number += 1

    add("\n".join(header), "\n\n")
    text = normalize(body.text)
    for start, end in paragraphs(text):
        add(text[start:end], "\n\n")
    doc = builder.build("email", clean_title(subject), when)
    people = {a or n.casefold() for n, a in senders + recipients if a or n}
    return replace(doc, key=key, notes=body.notes), people, body.attachments


def _instant(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read(name: str, data: bytes) -> Imported:
    """Every email of the mailbox ``name``; raises ParseError when it holds none."""
    messages = split_mbox(data)
    if not messages:
        raise ParseError(f"{name}: not a mailbox: no 'From ' separator line followed by headers")
    documents: list[ParsedDocument] = []
    notes: list[str] = []
    people: set[str] = set()
    keys: set[str] = set()
    attachments = duplicates = damaged = 0
    for number, (separator, raw) in enumerate(messages, start=1):
        try:
            made = _email_document(separator, _PARSER.parsebytes(raw))
        except Exception as exc:  # the email package raises assorted types on hostile input
            notes.append(f"{name}: email {number}: cannot be read ({short_reason(exc)}); skipped")
            continue
        if made is None:
            notes.append(f"{name}: email {number}: no readable headers; skipped")
            continue
        doc, in_it, left = made
        if doc.key in keys:
            duplicates += 1
            continue
        keys.add(doc.key or "")
        documents.append(doc)
        people |= in_it
        attachments += left
        damaged += bool(doc.notes)
    if not documents:
        raise ParseError(f"{name}: no email in the mailbox could be read")
    times = sorted((d.date for d in documents if d.date), key=_instant)
    details = []
    if attachments:
        details.append(f"{attachments:,} attachment{'s' * (attachments != 1)} not read")
    if damaged:
        details.append(f"{damaged:,} with damaged text")
    if duplicates:
        details.append(f"{duplicates:,} duplicate{'s' * (duplicates != 1)} left out")
    found = Found(
        what="mailbox",
        items=len(documents),
        item_noun="emails",
        people=len(people),
        first=times[0] if times else None,
        last=times[-1] if times else None,
        details=tuple(details),
    )
    return Imported(found=found, documents=tuple(documents), notes=tuple(notes))
