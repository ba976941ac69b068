"""Imports through the real embedder and store: items by source key, newer exports adding only
their new messages, the owner named with ``me``.

The format here is a stand-in registered for the test (a JSON list of conversations), so that
the ingest rules are tested apart from any app's quirks; each real format is imported through
the daemon in ``tests/e2e/test_imports.py``.
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import pytest

from secondme.node.memory.imports import detect
from secondme.node.memory.imports.conversation import (
    Message,
    conversation_document,
    speakers_and_span,
)
from secondme.node.memory.imports.found import Found, Imported
from tests.integration.test_memory import open_memory

pytestmark = pytest.mark.slow

WORDS = (
    "harbour lantern quilt orchard violin pepper glacier meadow ferry saffron "
    "canyon biscuit compass thistle walnut kettle comet pebble tulip marble"
).split()


def _read(name: str, data: bytes) -> Imported:
    chats = json.loads(data)
    docs, messages = [], []
    for chat in chats:
        found = [Message(speaker=s, text=t, time=w) for w, s, t in chat["messages"]]
        messages += found
        docs.append(conversation_document(f"test:{chat['id']}", chat["id"], found))
    people, first, last = speakers_and_span(messages)
    found = Found(what="test chat", people=people, messages=len(messages), first=first, last=last)
    return Imported(found=found, documents=tuple(docs))


@pytest.fixture
def test_format(monkeypatch):
    module = SimpleNamespace(sniff=lambda name, data: name.endswith(".convo"), read=_read)
    monkeypatch.setattr(detect, "FORMATS", (module, *detect.FORMATS))
    return module


def _chat(seed: int, n: int, chat_id: str = "c1") -> dict:
    rng = random.Random(seed)
    people = rng.sample(["Ana", "Bongani", "Chiara", "Dmitri", "Eun-ji", "Farid"], 2)
    messages = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        messages.append([f"2024-03-{1 + i // 4:02d}T{8 + i % 4}:15:00", people[i % 2], text])
    return {"id": chat_id, "messages": messages}


def _export(*chats: dict) -> bytes:
    return json.dumps(list(chats)).encode()


@pytest.mark.parametrize("seed", [1, 2])
async def test_newer_export_adds_only_its_new_messages(
    tmp_path, shared_embedder, test_format, seed
):
    memory, db = open_memory(tmp_path, shared_embedder, l1_enabled=False)
    full = _chat(seed, 40)
    early = {"id": "c1", "messages": full["messages"][:25]}
    first = await memory.ingest("/exports/chat.convo", _export(early))
    assert first.status == "added" and first.new_messages == 25
    assert first.found["messages"] == 25
    doc = memory.documents.get(first.doc_id)
    before = {c.id: c.text for c in memory.documents.chunks_of(doc.id)}

    # A later export, under another file name, holds the early messages and 15 more.
    later = await memory.ingest("/exports/chat (1).convo", _export(full))
    assert later.status == "updated" and later.new_messages == 15
    assert later.doc_id == first.doc_id
    assert len(memory.documents.list()) == 1
    after = memory.documents.chunks_of(doc.id)
    assert {c.id: c.text for c in after if c.id in before} == before  # old chunks untouched
    assert len(memory.documents.message_ids(doc.id)) == 40
    joined = "\n".join(c.text for c in after)
    for _, speaker, text in full["messages"]:
        assert joined.count(f"{speaker}: {text}") >= 1
    # Each message once, but for the one turn a chat chunk repeats from the one before.
    new_text = "\n".join(c.text for c in after if c.id not in before)
    for _, speaker, text in full["messages"][26:]:
        assert new_text.count(f"{speaker}: {text}") == 1

    again = await memory.ingest("/exports/chat (2).convo", _export(full))
    assert again.status == "unchanged" and again.new_messages == 0
    assert len(memory.documents.chunks_of(doc.id)) == len(after)

    last_said = full["messages"][-1][2]
    hits = await memory.search(last_said, k=3)
    assert any(last_said in h.text for h in hits)
    memory.close()
    db.close()


async def test_each_conversation_of_an_export_is_its_own_document(
    tmp_path, shared_embedder, test_format
):
    memory, db = open_memory(tmp_path, shared_embedder, l1_enabled=False)
    one, two = _chat(3, 6, "alpha"), _chat(4, 9, "beta")
    result = await memory.ingest("/exports/all.convo", _export(one, two), ["friends"])
    assert result.status == "added" and len(result.documents) == 2
    paths = sorted(d.path for d in memory.documents.list())
    assert paths == ["/exports/all.convo#test:alpha", "/exports/all.convo#test:beta"]
    assert all(d.tags == ("friends",) for d in memory.documents.list())
    # A newer export where only one conversation grew changes only that one.
    two["messages"].append(["2024-04-01T10:00:00", two["messages"][0][1], "see you at the ferry"])
    result = await memory.ingest("/exports/all-2.convo", _export(one, two), ["friends"])
    statuses = {d.path.rsplit(":", 1)[1]: d.status for d in result.documents}
    assert statuses == {"alpha": "unchanged", "beta": "updated"}
    assert result.new_messages == 1
    memory.close()
    db.close()


async def test_me_names_the_owner_among_the_speakers(tmp_path, shared_embedder, test_format):
    memory, db = open_memory(tmp_path, shared_embedder, l1_enabled=False)
    chat = _chat(5, 6)
    speaker = chat["messages"][0][1]
    result = await memory.ingest("/exports/chat.convo", _export(chat), me=speaker)
    assert memory.documents.get(result.doc_id).me == speaker and not result.notes
    # A name that is no speaker is kept (the owner may know better) but said.
    result = await memory.ingest("/exports/chat.convo", _export(chat), me="Nobody Here")
    assert result.status == "replaced"
    assert any("'Nobody Here' is not a speaker" in n for n in result.notes)
    memory.close()
    db.close()


async def test_retagging_a_conversation_keeps_what_only_an_older_export_held(
    tmp_path, shared_embedder, test_format
):
    """An export that starts later than the first one, then the same one with another tag: the
    early messages only the first export held stay, under the new tag, and the new messages
    are numbered after the turns the document holds."""
    memory, db = open_memory(tmp_path, shared_embedder, l1_enabled=False)
    full = _chat(6, 40)
    early = {"id": "c1", "messages": full["messages"][:25]}
    window = {"id": "c1", "messages": full["messages"][10:]}
    await memory.ingest("/exports/one.convo", _export(early), ["family"])
    result = await memory.ingest("/exports/two.convo", _export(window), ["family"])
    assert result.status == "updated" and result.new_messages == 15
    doc_id = result.doc_id
    turns = [c.turn_last for c in memory.documents.chunks_of(doc_id) if c.turn_last]
    assert max(turns) == 40  # numbered on from turn 25, not again from 16

    retagged = await memory.ingest("/exports/two.convo", _export(window), ["close family"])
    assert retagged.status == "replaced" and retagged.new_messages == 0
    doc = memory.documents.get(doc_id)
    assert doc.tags == ("close family",)
    assert len(memory.documents.message_ids(doc_id)) == 40
    first_said = full["messages"][0][2]
    hits = await memory.search(first_said, k=3, tags=["close family"])
    assert any(first_said in h.text for h in hits)
    assert not await memory.search(first_said, k=3, tags=["family"])
    assert memory.store.count() == memory.documents.counts()["chunks"]  # old points collected
    memory.close()
    db.close()
