"""Chat exports in their apps' real formats, generated from a seed, with what a reader must find.

Every generator draws its events one after another from one ``random.Random(seed)``, so the
export of ``count`` messages is the beginning of the export of more: a "later export" of the
same chat. Each returns the file's bytes (or JSON value) and the messages a reader must keep,
as :class:`Expected` (speaker, text, time as ISO 8601 local or UTC, as the export states it).
"""

from __future__ import annotations

import io
import json
import random
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

NAMES = (
    "Ana Souza",
    "Kenji Watanabe",
    "Ngozi Okafor",
    "Søren Lindqvist",
    "Анна Петрова",
    "李伟",
    "Fatima Zahra Benali",
    "Oğuz Yılmaz",
    "Priya Raghunathan",
    "José María Iglesias",
    "Aroha Ngata",
    "Nguyễn Thị Mai",
    "Siobhán O'Connor",
    "Kwame Mensah",
    "Yael Cohen",
    "Mateus Ferreira",
    "Ilse de Vries",
    "Hiroshi Tanaka",
    "Leilani Kahale",
    "Dawit Bekele",
)
WORDS = (
    "tomorrow",
    "dinner",
    "train",
    "station",
    "grandma",
    "birthday",
    "cake",
    "meeting",
    "late",
    "rain",
    "beach",
    "tickets",
    "concert",
    "café",
    "Lisbon",
    "Osaka",
    "Lagos",
    "exam",
    "garden",
    "bike",
    "keys",
    "doctor",
    "Friday",
    "noon",
    "soup",
    "photos",
    "flight",
    "hotel",
    "dog",
    "walk",
    "movie",
    "book",
    "library",
    "market",
    "mangoes",
    "presentation",
    "deadline",
    "🎉",
    "😂",
    "ok",
    "sure",
    "maybe",
    "sorry",
    "thanks",
    "really",
    "again",
    "soon",
    "home",
)
GROUPS = ("Family", "Book club 📚", "Climbing crew", "Flat 3B", "Dinner on Friday")


@dataclass(frozen=True, slots=True)
class Said:
    speaker: str
    text: str
    time: str
    id: str | None = None


@dataclass(slots=True)
class Expected:
    """What a reader must find: the kept messages in order, and what it must count or drop."""

    messages: list[Said] = field(default_factory=list)
    media: int = 0
    system: int = 0
    speakers: set[str] = field(default_factory=set)
    """Everyone who sent something, media included."""


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 9))]
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + rng.choice(("", ".", "!", "?", " 👍"))


def message_text(rng: random.Random) -> str:
    """One to four lines; some lines blank-free, none starting like a header."""
    lines = [sentence(rng) for _ in range(rng.choice((1, 1, 1, 2, 3, 4)))]
    return "\n".join(lines)


def people(rng: random.Random, count: int) -> list[str]:
    return rng.sample(NAMES, count)


# --- WhatsApp -----------------------------------------------------------------------------------

WHATSAPP_LOCALES = ("ios", "android", "us", "dots", "ios_us")
"""ios: ``[31/12/2023, 21:04:05] A: x``; android: ``31/12/2023, 21:04 - A: x``;
us: ``12/31/23, 9:04 PM - A: x`` (U+202F before PM); dots: ``31.12.23, 21:04 - A: x``;
ios_us: ``[12/31/23, 9:04:05 PM] A: x``."""


def _twelve(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d}", "AM" if moment.hour < 12 else "PM"


def whatsapp_stamp(moment: datetime, locale: str) -> str:
    """The line start WhatsApp writes for a message at ``moment`` in ``locale``."""
    d, m, y = moment.day, moment.month, moment.year
    if locale == "ios":
        return f"[{d:02d}/{m:02d}/{y}, {moment:%H:%M:%S}] "
    if locale == "android":
        return f"{d:02d}/{m:02d}/{y}, {moment:%H:%M} - "
    if locale == "dots":
        return f"{d:02d}.{m:02d}.{y % 100:02d}, {moment:%H:%M} - "
    clock, half = _twelve(moment)
    if locale == "us":
        return f"{m}/{d}/{y % 100:02d}, {clock}\u202f{half} - "
    if locale == "ios_us":
        return f"[{m}/{d}/{y % 100:02d}, {clock}:{moment.second:02d}\u202f{half}] "
    raise ValueError(locale)


def whatsapp_chat(
    seed: int,
    *,
    locale: str,
    count: int,
    group: bool = False,
    start: datetime = datetime(2021, 3, 2, 8, 30, 15),
    step_minutes: tuple[int, int] = (1, 3000),
) -> tuple[bytes, Expected, str]:
    """A chat of ``count`` events (messages, media, notices) as WhatsApp exports it; the bytes,
    what a reader keeps, and the chat's name (the contact, or the group)."""
    rng = random.Random(seed)
    members = people(rng, rng.randint(3, 5) if group else 2)
    chat_name = rng.choice(GROUPS) if group else members[1]
    ios = locale.startswith("ios")
    seconds = ios
    expected = Expected()
    lines: list[str] = []
    moment = start
    stamp = whatsapp_stamp(moment, locale)
    notice = (
        "Messages and calls are end-to-end encrypted. No one outside of this chat can read them."
    )
    lines.append(f"\u200e{stamp}{chat_name}: \u200e{notice}" if ios else f"{stamp}{notice}")
    expected.system += 1
    for _ in range(count):
        moment += timedelta(minutes=rng.randint(*step_minutes), seconds=rng.randint(0, 59))
        if not seconds:
            moment = moment.replace(second=0)
        stamp = whatsapp_stamp(moment, locale)
        speaker = rng.choice(members)
        roll = rng.random()
        if roll < 0.08:
            expected.media += 1
            expected.speakers.add(speaker)
            if ios:
                kind = rng.choice(("image", "video", "sticker", "GIF", "audio"))
                lines.append(f"\u200e{stamp}{speaker}: \u200e{kind} omitted")
            else:
                lines.append(f"{stamp}{speaker}: <Media omitted>")
        elif roll < 0.12:
            expected.media += 1
            expected.speakers.add(speaker)
            caption = sentence(rng)
            number = rng.randint(1, 9999)
            when = moment.strftime("%Y-%m-%d-%H-%M-%S")
            if ios:
                lines.append(
                    f"\u200e{stamp}{speaker}: \u200e<attached: {number:08d}-PHOTO-{when}.jpg>"
                )
            else:
                lines.append(
                    f"{stamp}{speaker}: IMG-{moment:%Y%m%d}-WA{number:04d}.jpg (file attached)"
                )
            lines.append(caption)
            expected.messages.append(Said(speaker, caption, moment.isoformat()))
        elif roll < 0.15 and group:
            expected.system += 1
            newcomer = rng.choice(NAMES)
            if ios:
                lines.append(
                    f"\u200e{stamp}{chat_name}: \u200e{speaker} added {newcomer} to the group"
                )
            else:
                lines.append(f"{stamp}{speaker} added {newcomer}")
        else:
            text = message_text(rng)
            expected.speakers.add(speaker)
            lines.append(f"{stamp}{speaker}: {text}")
            expected.messages.append(Said(speaker, text, moment.isoformat()))
    return ("\n".join(lines) + "\n").encode(), expected, chat_name


def whatsapp_file_name(chat_name: str, locale: str) -> str:
    """The name the export gets: ``_chat.txt`` inside iOS zips, else ``WhatsApp Chat with X``."""
    return "_chat.txt" if locale.startswith("ios") else f"WhatsApp Chat with {chat_name}.txt"


def whatsapp_zip(seed: int, chat: bytes, chat_member: str, media_files: int = 3) -> bytes:
    """The zip the app shares: the chat text beside (random) media files."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(chat_member, chat)
        for number in range(media_files):
            archive.writestr(f"{number:08d}-PHOTO-2021-03-02.jpg", rng.randbytes(2000))
    return buffer.getvalue()


# --- Telegram -----------------------------------------------------------------------------------


def _telegram_text(rng: random.Random, text: str) -> tuple[object, list[dict], str]:
    """A message's ``text`` as Telegram writes it (a plain string, or parts with entities), its
    ``text_entities``, and the text a reader must find."""
    if rng.random() < 0.6:
        return text, [{"type": "plain", "text": text}], text
    words = text.split(" ")
    cut = rng.randint(1, len(words))
    head, tail = " ".join(words[:cut]), " ".join(words[cut:])
    entity = rng.choice(
        (
            {"type": "bold", "text": head},
            {"type": "italic", "text": head},
            {"type": "mention", "text": "@" + head.replace(" ", "_")},
            {"type": "code", "text": head},
        )
    )
    parts: list[object] = [entity]
    if tail:
        parts.append(" " + tail)
    joined = "".join(p if isinstance(p, str) else p["text"] for p in parts)
    return parts, [{"type": "plain", "text": joined}], joined


def telegram_chat(
    seed: int,
    *,
    count: int,
    chat_id: int | None = None,
    group: bool = False,
    start: datetime = datetime(2022, 5, 14, 9, 0, 0),
) -> tuple[dict, Expected]:
    """One chat as Telegram Desktop's ``result.json`` for a single chat."""
    rng = random.Random(seed)
    members = people(rng, rng.randint(3, 6) if group else 2)
    user_ids = {name: rng.randint(10_000_000, 999_999_999) for name in members}
    chat_id = chat_id if chat_id is not None else rng.randint(1_000_000, 9_999_999_999)
    name = rng.choice(GROUPS) if group else members[1]
    expected = Expected()
    messages: list[dict] = []
    moment = start
    next_id = rng.randint(1, 5000)
    for _ in range(count):
        moment += timedelta(minutes=rng.randint(1, 2000), seconds=rng.randint(0, 59))
        speaker = rng.choice(members)
        message: dict = {
            "id": next_id,
            "type": "message",
            "date": moment.isoformat(),
            "date_unixtime": str(int(moment.replace(tzinfo=UTC).timestamp())),
            "from": speaker,
            "from_id": f"user{user_ids[speaker]}",
        }
        next_id += rng.randint(1, 3)
        roll = rng.random()
        if roll < 0.1:
            expected.system += 1
            message = {key: message[key] for key in ("id", "type", "date", "date_unixtime")} | {
                "type": "service",
                "actor": speaker,
                "actor_id": message["from_id"],
                "action": rng.choice(("phone_call", "pin_message", "invite_members")),
                "text": "",
                "text_entities": [],
            }
        elif roll < 0.2:
            expected.media += 1
            caption = sentence(rng) if rng.random() < 0.5 else ""
            message["photo"] = "(File not included. Change data exporting settings to download.)"
            message["width"], message["height"] = 1280, 960
            message["text"] = caption
            message["text_entities"] = [{"type": "plain", "text": caption}] if caption else []
            if caption:
                expected.messages.append(
                    Said(speaker, caption, moment.isoformat(), str(message["id"]))
                )
        else:
            text = message_text(rng)
            if rng.random() < 0.1:
                message["edited"] = (moment + timedelta(minutes=2)).isoformat()
            message["text"], message["text_entities"], text = _telegram_text(rng, text)
            expected.messages.append(Said(speaker, text, moment.isoformat(), str(message["id"])))
        messages.append(message)
    chat = {
        "name": name,
        "type": "private_group" if group else "personal_chat",
        "id": chat_id,
        "messages": messages,
    }
    return chat, expected


def telegram_export(chats: list[dict]) -> dict:
    """A full account export ("Export Telegram data") holding ``chats``; the last one left."""
    return {
        "about": "Here is the data you requested. Remember: Telegram is ad free...",
        "personal_information": {
            "user_id": 12345,
            "first_name": "Me",
            "last_name": "",
            "phone_number": "+00 000 000 0000",
            "bio": "",
        },
        "contacts": {"about": "This is your contact list.", "list": []},
        "chats": {"about": "This page lists all chats from this export.", "list": chats[:-1]},
        "left_chats": {"about": "This page lists chats you left.", "list": chats[-1:]},
    }


# --- ChatGPT ------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _gpt_node(
    node_id: str,
    parent: str | None,
    role: str | None,
    text: object,
    when: float | None,
    **extra: object,
) -> dict:
    message = None
    if role is not None:
        message = {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": when,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": role == "assistant" or None,
            "weight": 1.0,
            "metadata": {},
            "recipient": "all",
            "channel": None,
        } | extra
    return {"id": node_id, "message": message, "parent": parent, "children": []}


def chatgpt_conversation(
    seed: int, *, turns: int, start: float = 1_700_000_000.25
) -> tuple[dict, Expected]:
    """One conversation as in ``conversations.json``: a tree with a hidden system message, a
    regenerated answer (an abandoned branch), an image part and a tool call off the path."""
    rng = random.Random(seed)
    expected = Expected()
    mapping: dict[str, dict] = {}
    when = start
    conversation_id = _uuid(rng)
    title = " ".join(rng.choice(WORDS) for _ in range(3)).capitalize()

    def add(parent: str | None, role: str | None, text: object, **extra: object) -> str:
        nonlocal when
        node_id = _uuid(rng)
        when += rng.uniform(1, 600)
        stamp = when if role is not None else None
        mapping[node_id] = _gpt_node(node_id, parent, role, text, stamp, **extra)
        if parent is not None:
            mapping[parent]["children"].append(node_id)
        return node_id

    def said(speaker: str, node_id: str, text: str) -> None:
        stamp = mapping[node_id]["message"]["create_time"]
        moment = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
        expected.messages.append(Said(speaker, text, moment, node_id))

    root = add(None, None, None)
    current = add(root, "system", "", metadata={"is_visually_hidden_from_conversation": True})
    expected.system += 1
    for turn in range(turns):
        question = message_text(rng)
        current = add(current, "user", question)
        said("User", current, question)
        if turn == 0:
            mapping[current]["message"]["content"] = {
                "content_type": "multimodal_text",
                "parts": [
                    {"content_type": "image_asset_pointer", "asset_pointer": "file-service://x"},
                    question,
                ],
            }
        if rng.random() < 0.3:
            tool = add(current, "assistant", "search('x')", recipient="browser")
            current = add(tool, "tool", "results...")
            expected.system += 2
        if rng.random() < 0.4:
            add(current, "assistant", "An answer that was regenerated: " + sentence(rng))
        answer = message_text(rng)
        current = add(current, "assistant", answer)
        said("ChatGPT", current, answer)
    return (
        {
            "title": title,
            "create_time": start,
            "update_time": when,
            "mapping": mapping,
            "moderation_results": [],
            "current_node": current,
            "plugin_ids": None,
            "conversation_id": conversation_id,
            "conversation_template_id": None,
            "gizmo_id": None,
            "is_archived": False,
            "safe_urls": [],
            "id": conversation_id,
        },
        expected,
    )


def dumps(value: object) -> bytes:
    """JSON as the apps write it: indented, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, indent=1).encode()
