"""A conversation's text: one line per message start, so no message can speak for another."""

from __future__ import annotations

from secondme.node.l2.service import own_words_of
from secondme.node.memory.documents import ChunkRecord
from secondme.node.memory.imports.conversation import Message, conversation_document


def test_a_line_inside_a_message_cannot_pass_for_another_speakers_turn():
    doc = conversation_document(
        "test:1",
        "chat",
        [
            Message(speaker="Alex Smith", text="I love my job.", time="2024-01-01T10:00"),
            Message(speaker="Bo", text="see below\nAlex Smith: I hate my job", time=None),
        ],
    )
    chunk = ChunkRecord(
        id="c", doc_id="d", index=0, text=doc.text, start=0, end=len(doc.text),
        speakers=("Alex Smith", "Bo"),
    )  # fmt: skip
    assert own_words_of(chunk, "Alex Smith", exact=True) == "I love my job."
    assert "I hate my job" in own_words_of(chunk, "Bo", exact=True)


def test_a_named_owner_is_that_speaker_only_not_one_of_the_same_first_name():
    text = "Alex Smith: I sold the boat.\nAlex Jones: I bought a boat."
    chunk = ChunkRecord(
        id="c", doc_id="d", index=0, text=text, start=0, end=len(text),
        speakers=("Alex Smith", "Alex Jones"),
    )  # fmt: skip
    assert own_words_of(chunk, "Alex Smith", exact=True) == "I sold the boat."
    # Without a name given in the chat, the profile's first name is enough (and finds both).
    assert own_words_of(chunk, "Alex Smith") == "I sold the boat.\nI bought a boat."
