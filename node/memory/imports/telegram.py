"""Telegram Desktop "Export chat history" / "Export Telegram data" as machine-readable JSON
(``result.json``).

Theory of operation: the file is either one chat (``{"name", "type", "id", "messages": [...]}``)
or a whole account (``{"about", "personal_information", ..., "chats": {"list": [...]},
"left_chats": {"list": [...]}}``). Every chat becomes one document keyed ``telegram:<chat id>``,
so a single-chat export and a full export of the same chat meet, and every message keeps
Telegram's own id (ids are per chat, so the key and the id together are stable).

Quirks of the format handled here: ``text`` is a string or a list of parts, each a string or an
entity object (``{"type": "bold", "text": ...}``, links with ``href``, mentions); the parts'
texts are joined. ``date`` is local time without a zone (kept as written; ``date_unixtime`` is
the fallback). Service messages (joins, calls, pins) are dropped; media messages keep their
caption and are counted; ``from`` may be null for a deleted account (``from_id`` then names it).
A chat that cannot be read is one note; the other chats go on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports.conversation import (
    Message,
    conversation_document,
    speakers_and_span,
)
from secondme.node.memory.imports.found import Found, Imported
from secondme.node.memory.parsers import ParsedDocument, json_value

SNIFF_BYTES = 8192
_MEDIA_FIELDS = (
    "photo",
    "file",
    "media_type",
    "sticker_emoji",
    "location_information",
    "contact_information",
    "poll",
)
_CHAT_TYPES = (
    '"personal_chat"',
    '"private_group"',
    '"private_supergroup"',
    '"public_supergroup"',
    '"private_channel"',
    '"public_channel"',
    '"bot_chat"',
    '"saved_messages"',
)
"""The chat types Telegram Desktop writes: a single-chat export names one near its top."""


class _BadChat(ParseError):
    """One chat of an export cannot be read."""


def _text(value: object) -> str:
    """A message's ``text``: a string, or a list of strings and entity objects, joined."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return ""
    parts = []
    for part in value:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            text = part["text"]
            href = part.get("href")
            if isinstance(href, str) and href and href not in text:
                text = f"{text} ({href})"
            parts.append(text)
    return "".join(parts)


def _time(message: dict) -> str | None:
    raw = message.get("date")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw).isoformat(timespec="seconds")
        except ValueError:
            pass
    unix = message.get("date_unixtime")
    try:
        return datetime.fromtimestamp(int(unix), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _speaker(message: dict) -> str:
    name = message.get("from")
    if isinstance(name, str) and name.strip():
        return " ".join(name.split())
    sender = message.get("from_id")
    return f"Deleted account {sender}" if sender else "Deleted account"


def _is_media(message: dict) -> bool:
    return any(message.get(field) for field in _MEDIA_FIELDS)


def _chat(chat: object, where: str) -> tuple[ParsedDocument | None, list[Message], int, int]:
    """One chat → (document or None if it holds no text, its messages, media, people)."""
    if not isinstance(chat, dict):
        raise _BadChat(f"{where}: not a chat object")
    chat_id = chat.get("id")
    raw_messages = chat.get("messages")
    if chat_id is None or isinstance(chat_id, bool | dict | list):
        raise _BadChat(f"{where}: the chat has no id")
    if not isinstance(raw_messages, list):
        raise _BadChat(f"{where}: the chat has no message list")
    key = f"telegram:{chat_id}"
    messages = []
    media = 0
    senders = set()
    for raw in raw_messages:
        if not isinstance(raw, dict) or raw.get("type", "message") != "message":
            continue
        speaker = _speaker(raw)
        senders.add(speaker.casefold())
        text = _text(raw.get("text")).strip()
        if _is_media(raw):
            media += 1
        if not text:
            continue
        native = raw.get("id")
        messages.append(
            Message(
                speaker=speaker,
                text=text,
                time=_time(raw),
                id=str(native) if isinstance(native, int | str) and native != "" else None,
            )
        )
    if not messages:
        return None, [], media, len(senders)
    name = chat.get("name")
    title = name if isinstance(name, str) and name.strip() else _untitled(chat)
    doc = conversation_document(key, f"Telegram chat: {title}", messages, messages[0].time)
    return doc, messages, media, len(senders)


def _untitled(chat: dict) -> str:
    kind = chat.get("type")
    return "Saved messages" if kind == "saved_messages" else f"chat {chat.get('id')}"


def _chats(name: str, value: object) -> tuple[list[object], bool]:
    """The chat objects of an export, and whether it is a full (account) export."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        return [value], False
    if isinstance(value, dict) and ("chats" in value or "left_chats" in value):
        chats: list[object] = []
        for section in ("chats", "left_chats"):
            part = value.get(section)
            listed = part.get("list") if isinstance(part, dict) else None
            if isinstance(listed, list):
                chats.extend(listed)
        return chats, True
    raise ParseError(f"{name}: not a Telegram export: no 'messages' or 'chats' in it")


def sniff(name: str, data: bytes) -> bool:
    """Telegram Desktop's JSON: a chat with typed messages, or an account export."""
    head = data[:SNIFF_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not head.startswith("{"):
        return False
    if '"about"' in head and ('"personal_information"' in head or '"chats": {' in head):
        return True
    if '"messages"' not in head:
        return False
    return '"date_unixtime"' in head or (
        '"from_id"' in head and any(t in head for t in _CHAT_TYPES)
    )


def _account_name(value: object) -> str | None:
    """The exporting person's name, as their messages show it, from a whole-account export's
    ``personal_information``; None for a single chat's export."""
    info = value.get("personal_information") if isinstance(value, dict) else None
    if not isinstance(info, dict):
        return None
    parts = [info.get(k) for k in ("first_name", "last_name")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return name or None


def read(name: str, data: bytes) -> Imported:
    """One document per chat of a Telegram export; a chat that cannot be read is a note."""
    value = json_value(name, data)
    chats, full = _chats(name, value)
    documents = []
    messages: list[Message] = []
    notes = []
    media = 0
    empty = 0
    for number, chat in enumerate(chats, start=1):
        try:
            doc, chat_messages, chat_media, _ = _chat(chat, f"chat {number}")
        except _BadChat as exc:
            notes.append(f"{name}: {exc}; skipped")
            continue
        media += chat_media
        if doc is None:
            empty += 1
            continue
        documents.append(doc)
        messages.extend(chat_messages)
    if not documents:
        raise ParseError(f"{name}: no messages with text in the Telegram export")
    if (owner := _account_name(value)) is not None:
        documents = [replace(doc, me=owner) for doc in documents]
    people, first, last = speakers_and_span(messages)
    details = []
    if media:
        details.append(f"{media:,} media message{'s' if media != 1 else ''}")
    if empty:
        details.append(f"{empty:,} chat{'s' if empty != 1 else ''} without text")
    found = Found(
        what="Telegram export" if full else "Telegram chat",
        items=len(documents) if full else None,
        item_noun="chats",
        people=people,
        messages=len(messages),
        first=first,
        last=last,
        details=tuple(details),
    )
    return Imported(found=found, documents=tuple(documents), notes=tuple(notes))
