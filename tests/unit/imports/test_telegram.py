"""Telegram Desktop exports: one chat or a whole account, text parts joined, native ids."""

from __future__ import annotations

import json

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import telegram
from secondme.node.memory.parsers import ParsedDocument
from tests.imports_fixtures.chats import Expected, dumps, telegram_chat, telegram_export
from tests.imports_fixtures.ordinary import ordinary_files
from tests.unit.test_parsers import assert_segments_are_exact

SEEDS = (7, 2024)


def kept(doc: ParsedDocument) -> list[tuple[str | None, str, str | None]]:
    assert_segments_are_exact(doc)
    return [
        (s.speaker, s.text.split(": ", 1)[1].replace("\n  ", "\n"), s.time) for s in doc.segments
    ]


def wanted(expected: Expected) -> list[tuple[str, str, str]]:
    return [(m.speaker, m.text, m.time) for m in expected.messages]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("group", [False, True])
def test_one_chat_messages_speakers_and_times(seed: int, group: bool) -> None:
    chat, expected = telegram_chat(seed, count=150, group=group)
    data = dumps(chat)
    assert telegram.sniff("result.json", data)
    imported = telegram.read("result.json", data)
    [doc] = imported.documents
    assert kept(doc) == wanted(expected)
    assert any(isinstance(m["text"], list) for m in chat["messages"])  # entity parts were in it
    assert any("\n" in m.text for m in expected.messages)
    assert doc.key == f"telegram:{chat['id']}"
    assert doc.title == f"Telegram chat: {chat['name']}"
    found = imported.found
    assert found.messages == len(expected.messages)
    assert found.line().startswith(f"Telegram chat: {found.people} people, {found.messages:,}")
    assert f"{expected.media} media messages" in found.line()


@pytest.mark.parametrize("seed", SEEDS)
def test_native_ids_survive_a_later_export(seed: int) -> None:
    early, _ = telegram_chat(seed, count=40)
    late, _ = telegram_chat(seed, count=90)
    early_doc = telegram.read("result.json", dumps(early)).documents[0]
    late_doc = telegram.read("result.json", dumps(late)).documents[0]
    early_ids = [s.id for s in early_doc.segments]
    late_ids = [s.id for s in late_doc.segments]
    assert late_ids[: len(early_ids)] == early_ids and len(late_ids) > len(early_ids)
    native = {f"telegram:{early['id']}#{m['id']}" for m in early["messages"]}
    assert set(early_ids) <= native


@pytest.mark.parametrize("seed", SEEDS)
def test_full_export_is_one_document_per_chat_keyed_like_single_exports(seed: int) -> None:
    chats = [telegram_chat(seed + i, count=30 + i, group=i % 2 == 1) for i in range(4)]
    data = dumps(telegram_export([chat for chat, _ in chats]))
    assert telegram.sniff("result.json", data)
    imported = telegram.read("result.json", data)
    assert [d.key for d in imported.documents] == [f"telegram:{c['id']}" for c, _ in chats]
    for doc, (_, expected) in zip(imported.documents, chats, strict=True):
        assert kept(doc) == wanted(expected)
    single = telegram.read("result.json", dumps(chats[0][0])).documents[0]
    assert single.key == imported.documents[0].key and single.text == imported.documents[0].text
    assert imported.found.line().startswith("Telegram export: 4 chats, ")


def test_text_parts_are_joined_and_links_keep_their_target() -> None:
    chat = {
        "name": "Ana",
        "type": "personal_chat",
        "id": 42,
        "messages": [
            {"id": 1, "type": "message", "date": "2023-01-02T03:04:05", "from": "Ana",
             "from_id": "user1", "text": [
                 "See ", {"type": "text_link", "text": "this", "href": "https://ex.org/a"},
                 " and ", {"type": "link", "text": "https://ex.org/b"}, " with ",
                 {"type": "mention_name", "text": "Bo", "user_id": 2}, "!"]},
            {"id": 2, "type": "message", "date_unixtime": "1672628645", "from": None,
             "from_id": "user9", "text": "from a deleted account"},
            {"id": 3, "type": "service", "date": "2023-01-02T03:05:00", "actor": "Ana",
             "action": "pin_message", "text": ""},
            {"id": 4, "type": "message", "date": "2023-01-02T03:06:00", "from": "Ana",
             "file": "files/report.pdf", "media_type": "file", "text": ""},
        ],
    }  # fmt: skip
    imported = telegram.read("result.json", json.dumps(chat).encode())
    assert kept(imported.documents[0]) == [
        ("Ana", "See this (https://ex.org/a) and https://ex.org/b with Bo!", "2023-01-02T03:04:05"),
        ("Deleted account user9", "from a deleted account", "2023-01-02T03:04:05+00:00"),
    ]
    assert "1 media message" in imported.found.line()


def test_a_chat_that_cannot_be_read_is_a_note_and_the_others_go_on() -> None:
    good, expected = telegram_chat(3, count=20)
    export = telegram_export([good, {"name": "x", "id": 5, "messages": "oops"}, "junk"])
    export["chats"]["list"].append({"name": "no id", "messages": []})
    imported = telegram.read("result.json", dumps(export))
    assert [kept(d) for d in imported.documents] == [wanted(expected)]
    assert len(imported.notes) == 3
    assert all(note.startswith("result.json: chat ") for note in imported.notes)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"name": "A", "type": "personal_chat", "id": 1, "messages": [{"id": 1, "date_unixtime"',
         "invalid JSON at line 1"),
        (b'{"about": "x", "personal_information": {}, "chats": {"list": []}}', "no messages"),
        (b'{"about": "x", "personal_information": {}}', "not a Telegram export"),
    ],
)  # fmt: skip
def test_bad_input_is_one_parse_error(data: bytes, reason: str) -> None:
    assert telegram.sniff("result.json", data)
    with pytest.raises(ParseError, match=rf"^result\.json: {reason}"):
        telegram.read("result.json", data)


def test_a_truncated_export_is_a_parse_error_naming_the_file() -> None:
    chat, _ = telegram_chat(1, count=50)
    data = dumps(chat)
    cut = data[: len(data) // 2]
    assert telegram.sniff("result.json", cut)
    with pytest.raises(ParseError, match=r"^result\.json: invalid JSON"):
        telegram.read("result.json", cut)


@pytest.mark.parametrize("name", [n for n, _ in ordinary_files()])
def test_ordinary_files_are_not_claimed(name: str) -> None:
    assert not telegram.sniff(name, dict(ordinary_files())[name])
