"""ChatGPT exports: the path actually taken through each conversation tree, one document each."""

from __future__ import annotations

import json

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import chatgpt
from secondme.node.memory.parsers import ParsedDocument
from tests.imports_fixtures.chats import Expected, chatgpt_conversation, dumps
from tests.imports_fixtures.ordinary import ordinary_files
from tests.unit.imports.test_archive import make_zip
from tests.unit.test_parsers import assert_segments_are_exact

SEEDS = (7, 2024)


def kept(doc: ParsedDocument) -> list[tuple[str | None, str, str | None, str | None]]:
    assert_segments_are_exact(doc)
    return [
        (s.speaker, s.text.split(": ", 1)[1].replace("\n  ", "\n"), s.time, s.id)
        for s in doc.segments
    ]


def wanted(expected: Expected, key: str) -> list[tuple[str, str, str, str]]:
    return [(m.speaker, m.text, m.time, f"{key}#{m.id}") for m in expected.messages]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_path_taken_is_kept_and_branches_tools_and_hidden_are_not(seed: int) -> None:
    conversations = [chatgpt_conversation(seed + i, turns=6 + i) for i in range(5)]
    data = dumps([c for c, _ in conversations])
    assert chatgpt.sniff("conversations.json", data)
    imported = chatgpt.read("conversations.json", data)
    assert len(imported.documents) == 5
    branched = 0
    for doc, (conversation, expected) in zip(imported.documents, conversations, strict=True):
        key = f"chatgpt:{conversation['conversation_id']}"
        assert doc.key == key
        assert doc.title == conversation["title"]
        assert kept(doc) == wanted(expected, key)
        branched += sum(len(n["children"]) > 1 for n in conversation["mapping"].values())
        assert "regenerated" not in doc.text and "results..." not in doc.text
    assert branched  # abandoned branches were in the fixtures
    found = imported.found
    total = sum(len(e.messages) for _, e in conversations)
    assert found.line().startswith(f"ChatGPT export: 5 conversations, {total} messages, ")


@pytest.mark.parametrize("seed", SEEDS)
def test_a_later_export_keeps_the_ids_and_adds_the_new_turns(seed: int) -> None:
    early, _ = chatgpt_conversation(seed, turns=4)
    late, _ = chatgpt_conversation(seed, turns=9)
    early_ids = [s.id for s in chatgpt.read("c.json", dumps([early])).documents[0].segments]
    late_doc = chatgpt.read("c.json", dumps([late])).documents[0]
    late_ids = [s.id for s in late_doc.segments]
    assert late_ids[: len(early_ids)] == early_ids and len(late_ids) > len(early_ids)
    assert late_doc.key == f"chatgpt:{early['conversation_id']}"


def test_the_export_zip_is_read_too() -> None:
    conversation, expected = chatgpt_conversation(1, turns=3)
    zipped = make_zip({"conversations.json": dumps([conversation]), "chat.html": b"<html>",
                       "user.json": b"{}", "../escape.json": b"[]"})  # fmt: skip
    assert chatgpt.sniff("export.zip", zipped)
    imported = chatgpt.read("export.zip", zipped)
    key = f"chatgpt:{conversation['conversation_id']}"
    assert kept(imported.documents[0]) == wanted(expected, key)
    assert len(imported.notes) == 1 and "unsafe paths" in imported.notes[0]


def test_a_conversation_that_cannot_be_read_is_a_note_and_the_others_go_on() -> None:
    good, expected = chatgpt_conversation(5, turns=3)
    broken = dict(good, conversation_id="c2", id="c2", current_node="nowhere")
    data = dumps([broken, "junk", good, dict(good, mapping=None)])
    imported = chatgpt.read("conversations.json", data)
    [doc] = imported.documents
    assert kept(doc) == wanted(expected, f"chatgpt:{good['conversation_id']}")
    assert len(imported.notes) == 3
    assert imported.notes[0].startswith("conversations.json: conversation 1: 'current_node'")


def test_a_parent_cycle_ends() -> None:
    conversation, _ = chatgpt_conversation(2, turns=2)
    mapping = conversation["mapping"]
    root = next(n for n in mapping.values() if n["parent"] is None)
    root["parent"] = conversation["current_node"]
    doc = chatgpt.read("c.json", dumps([conversation])).documents[0]
    assert doc.segments


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'[{"title": "x", "create_time": 1.5, "mapping": {"a": {"children": [', "invalid JSON"),
        (b'[{"title": "x", "create_time": 1.5, "mapping": {}, "current_node": null}]',
         "no conversations with text"),
    ],
)  # fmt: skip
def test_bad_input_is_one_parse_error(data: bytes, reason: str) -> None:
    assert chatgpt.sniff("conversations.json", data)
    with pytest.raises(ParseError, match=rf"^conversations\.json: {reason}"):
        chatgpt.read("conversations.json", data)


def test_a_truncated_export_is_a_parse_error_naming_the_file() -> None:
    data = dumps([chatgpt_conversation(1, turns=5)[0]])
    cut = data[: len(data) // 2]
    assert chatgpt.sniff("conversations.json", cut)
    with pytest.raises(ParseError, match=r"^conversations\.json: invalid JSON at line"):
        chatgpt.read("conversations.json", cut)


@pytest.mark.parametrize("name", [n for n, _ in ordinary_files()])
def test_ordinary_files_are_not_claimed(name: str) -> None:
    assert not chatgpt.sniff(name, dict(ordinary_files())[name])


def test_other_apps_exports_are_not_claimed() -> None:
    assert not chatgpt.sniff("result.json", json.dumps({"messages": [], "id": 1}).encode())
    assert not chatgpt.sniff("x.zip", make_zip({"result.json": b"{}"}))
