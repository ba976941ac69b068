"""What an import found, as the one line the owner reads after it."""

from __future__ import annotations

from dataclasses import dataclass

from secondme.node.memory.parsers import ParsedDocument


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """A summary of one imported file, e.g. ``WhatsApp chat: 2 people, 3,214 messages,
    2021-03-02 – 2024-11-30``."""

    what: str
    """The format as a person names it: "WhatsApp chat", "mailbox", "photo"."""
    items: int | None = None
    """Conversations, emails or notes, where one file holds several."""
    item_noun: str = ""
    """What the items are called in the plural: "chats", "conversations", "emails"."""
    people: int | None = None
    messages: int | None = None
    first: str | None = None
    """The earliest time in it (ISO 8601); only its day is shown."""
    last: str | None = None
    details: tuple[str, ...] = ()
    """Anything else worth a word: "taken near Lisbon, PT", "1 min 12 s of speech"."""

    def line(self) -> str:
        parts = []
        if self.items is not None:
            parts.append(f"{self.items:,} {self.item_noun}".strip())
        if self.people is not None:
            parts.append(f"{self.people:,} {'person' if self.people == 1 else 'people'}")
        if self.messages is not None:
            parts.append(f"{self.messages:,} {'message' if self.messages == 1 else 'messages'}")
        days = [t[:10] for t in (self.first, self.last) if t]
        if days:
            parts.append(days[0] if days[0] == days[-1] else f"{days[0]} – {days[-1]}")
        parts.extend(self.details)
        return f"{self.what}: {', '.join(parts)}" if parts else self.what

    def to_json(self) -> dict:
        return {
            "what": self.what,
            "items": self.items,
            "people": self.people,
            "messages": self.messages,
            "first": self.first,
            "last": self.last,
            "details": list(self.details),
            "line": self.line(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Imported:
    """Everything one file held: its documents, each with a ``key``, and what was found."""

    found: Found
    documents: tuple[ParsedDocument, ...]
    notes: tuple[str, ...] = ()
    """One line per part that could not be read (the rest was): shown to the owner."""
