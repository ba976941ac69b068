"""Messages of an exported conversation → a chat document whose turns carry stable ids."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from secondme.node.memory.parsers import ParsedDocument, TextBuilder, clean_title, normalize


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message as an export states it."""

    speaker: str
    text: str
    time: str | None = None
    """ISO 8601, as precise as the export (WhatsApp: minutes)."""
    id: str | None = None
    """The export's own id where it has one (Telegram, ChatGPT, email); else derived."""


def message_ids(key: str, messages: Sequence[Message]) -> list[str]:
    """A stable id per message: the export's own, else a hash of the conversation, time,
    speaker and text, with the occurrence number of identical messages (two "ok" in one minute
    are two messages, and stay two in a newer export that holds the same history)."""
    seen: Counter[tuple[str | None, str, str]] = Counter()
    ids = []
    for message in messages:
        if message.id:
            ids.append(f"{key}#{message.id}")
            continue
        what = (message.time, message.speaker, message.text.strip())
        seen[what] += 1
        digest = hashlib.sha256(
            "\x1f".join(
                (key, message.time or "", message.speaker, what[2], str(seen[what]))
            ).encode()
        ).hexdigest()[:24]
        ids.append(digest)
    return ids


def conversation_document(
    key: str, title: str | None, messages: Iterable[Message], date: str | None = None
) -> ParsedDocument:
    """``Speaker: text`` per message (the lines after a message's first indented), each
    message one segment with its speaker, time, number in the conversation and stable id;
    empty messages are dropped."""
    kept = [m for m in messages if normalize(m.text).strip() and m.speaker.strip()]
    builder = TextBuilder()
    for number, (message, msg_id) in enumerate(
        zip(kept, message_ids(key, kept), strict=True), start=1
    ):
        speaker = " ".join(normalize(message.speaker).split())
        builder.add(
            f"{speaker}: {_indented(message.text.strip())}",
            sep="\n",
            speaker=speaker,
            time=message.time,
            turn=number,
            id=msg_id,
        )
    return replace(builder.build("chat", clean_title(title), date), key=key)


def _indented(text: str) -> str:
    """A message's lines after its first, indented: a line of a message can then never be
    taken for another speaker's turn (``Name: ...`` at the start of a line)."""
    return "\n".join(
        line if i == 0 or not line.strip() else f"  {line.lstrip()}"
        for i, line in enumerate(normalize(text).split("\n"))
    )


def speakers_and_span(messages: Sequence[Message]) -> tuple[int, str | None, str | None]:
    """How many people speak, and the first and last message times (for :class:`Found`)."""
    times = sorted(m.time for m in messages if m.time)
    people = len({" ".join(m.speaker.split()).casefold() for m in messages if m.speaker.strip()})
    return people, (times[0] if times else None), (times[-1] if times else None)
