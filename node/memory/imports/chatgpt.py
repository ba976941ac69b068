"""ChatGPT "Export data": ``conversations.json`` (alone, or inside the export's zip).

Theory of operation: the file is a list of conversations, each a tree: ``mapping`` holds every
node (``{"message", "parent", "children"}``), because editing a prompt or regenerating an answer
starts a branch. Only the path actually taken is kept: from ``current_node`` up the ``parent``
links to the root, reversed. Along it, the owner's and the model's turns are kept
(``author.role`` ``user`` and ``assistant`` speaking to ``all``); system and tool messages, the
ones marked hidden, and non-text parts (images, files) are left out.

Speakers are literal: the owner's turns are ``User`` and the model's ``ChatGPT``. Which speaker
is the owner is not decided here: the ingestor marks it through the document's ``me``.

One document per conversation, keyed ``chatgpt:<conversation id>``; message ids are the
export's node ids, so a later export of the same conversation adds only the new turns. A
conversation that cannot be read is one note; the others go on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import archive
from secondme.node.memory.imports.conversation import (
    Message,
    conversation_document,
    speakers_and_span,
)
from secondme.node.memory.imports.found import Found, Imported
from secondme.node.memory.parsers import ParsedDocument, json_value

SNIFF_BYTES = 8192
USER = "User"
"""How the owner's own turns are named: the exporting person is the one asking."""
SPEAKERS = {"user": USER, "assistant": "ChatGPT"}
"""The speaker each kept role is given."""
_TEXT_CONTENT = ("text", "multimodal_text")


class _BadConversation(ParseError):
    """One conversation of an export cannot be read."""


def _time(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        return None


def _path(mapping: dict, current: object) -> list[dict]:
    """The nodes from the root to ``current`` (the branch the conversation ended on)."""
    path = []
    seen = set()
    node_id = current
    while isinstance(node_id, str) and node_id not in seen:
        seen.add(node_id)
        node = mapping.get(node_id)
        if not isinstance(node, dict):
            break
        path.append(node)
        node_id = node.get("parent")
    path.reverse()
    return path


def _message(node: dict, node_id: str) -> Message | None:
    """A user's or assistant's visible text turn, or None."""
    message = node.get("message")
    if not isinstance(message, dict):
        return None
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    if role not in SPEAKERS or message.get("recipient", "all") != "all":
        return None
    metadata = message.get("metadata")
    if isinstance(metadata, dict) and metadata.get("is_visually_hidden_from_conversation"):
        return None
    content = message.get("content")
    if not isinstance(content, dict) or content.get("content_type", "text") not in _TEXT_CONTENT:
        return None
    parts = content.get("parts")
    texts = [p for p in parts if isinstance(p, str)] if isinstance(parts, list) else []
    text = "\n".join(t for t in texts if t.strip()).strip()
    if not text:
        return None
    native = message.get("id") or node_id
    return Message(
        speaker=SPEAKERS[role],
        text=text,
        time=_time(message.get("create_time")),
        id=str(native),
    )


def _conversation(item: object, where: str) -> tuple[ParsedDocument | None, list[Message]]:
    if not isinstance(item, dict):
        raise _BadConversation(f"{where}: not a conversation object")
    mapping = item.get("mapping")
    conversation_id = item.get("conversation_id") or item.get("id")
    if not isinstance(mapping, dict):
        raise _BadConversation(f"{where}: no 'mapping'")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise _BadConversation(f"{where}: no conversation id")
    current = item.get("current_node")
    if current not in mapping:
        raise _BadConversation(f"{where}: 'current_node' is not in its 'mapping'")
    messages = []
    for node in _path(mapping, current):
        node_id = node.get("id")
        message = _message(node, node_id if isinstance(node_id, str) else "")
        if message is not None:
            messages.append(message)
    if not messages:
        return None, []
    title = item.get("title")
    key = f"chatgpt:{conversation_id}"
    created = _time(item.get("create_time")) or messages[0].time
    doc = conversation_document(
        key, title if isinstance(title, str) else "ChatGPT conversation", messages, created
    )
    return replace(doc, me=USER), messages


def _looks_like_export(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return (
        text.startswith("[")
        and '"mapping"' in text
        and '"create_time"' in text
        and ('"children"' in text or '"current_node"' in text)
    )


def _is_conversations(member: str) -> bool:
    return archive.basename(member) == "conversations.json"


def sniff(name: str, data: bytes) -> bool:
    """ChatGPT's ``conversations.json``, or the export's zip that holds it."""
    if archive.is_zip(data):
        try:
            found = [m for m in archive.names(name, data) if _is_conversations(m)]
            return any(_looks_like_export(archive.head(name, data, m, SNIFF_BYTES)) for m in found)
        except ParseError:
            return False
    return _looks_like_export(data[:SNIFF_BYTES])


def read(name: str, data: bytes) -> Imported:
    """One document per conversation; a conversation that cannot be read is a note."""
    notes: list[str] = []
    if archive.is_zip(data):
        unpacked = archive.members(name, data, _is_conversations)
        notes.extend(unpacked.notes)
        if not unpacked.files:
            raise ParseError(f"{name}: no conversations.json in the archive")
        data = next(iter(unpacked.files.values()))
    value = json_value(name, data)
    if not isinstance(value, list):
        raise ParseError(f"{name}: not a ChatGPT export: expected a list of conversations")
    documents = []
    messages: list[Message] = []
    empty = 0
    for number, item in enumerate(value, start=1):
        try:
            doc, turns = _conversation(item, f"conversation {number}")
        except _BadConversation as exc:
            notes.append(f"{name}: {exc}; skipped")
            continue
        if doc is None:
            empty += 1
            continue
        documents.append(doc)
        messages.extend(turns)
    if not documents:
        raise ParseError(f"{name}: no conversations with text in the ChatGPT export")
    _, first, last = speakers_and_span(messages)
    found = Found(
        what="ChatGPT export",
        items=len(documents),
        item_noun="conversations",
        messages=len(messages),
        first=first,
        last=last,
        details=(f"{empty:,} empty conversation{'s' if empty != 1 else ''}",) if empty else (),
    )
    return Imported(found=found, documents=tuple(documents), notes=tuple(notes))
