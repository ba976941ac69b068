"""L2 learns the owner's voice from a chat only from the owner's own turns."""

from __future__ import annotations

from secondme.node.l2.service import own_words_of
from secondme.node.memory.documents import ChunkRecord


def _chunk(text: str, speakers: tuple[str, ...] = ()) -> ChunkRecord:
    return ChunkRecord(id="c", doc_id="d", index=0, text=text, start=0, end=len(text),
                       speakers=speakers)  # fmt: skip


def test_a_chat_chunk_gives_only_what_the_owner_wrote():
    text = (
        "Noor Haddad: I moved to Tromsø in May.\nKwame: I never liked the cold.\n"
        "Noor Haddad: The light is strange"
    )
    chunk = _chunk(text, ("Noor Haddad", "Kwame"))
    assert own_words_of(chunk, "Noor Haddad") == "I moved to Tromsø in May.\nThe light is strange"
    # Named by the profile's first name only, the owner is still found.
    assert own_words_of(chunk, "Noor") == "I moved to Tromsø in May.\nThe light is strange"
    assert own_words_of(chunk, "Kwame") == "I never liked the cold."


def test_a_chat_chunk_where_only_others_speak_gives_nothing():
    chunk = _chunk("Kwame: I never liked the cold.", ("Kwame",))
    assert own_words_of(chunk, "Noor Haddad") == ""


def test_writing_that_is_not_a_chat_is_all_the_owners():
    chunk = _chunk("Kwame said he never liked the cold.")
    assert own_words_of(chunk, "Noor Haddad") == chunk.text


def test_an_email_the_owner_sent_is_theirs_and_one_sent_to_them_is_not():
    body = "From: Noor Haddad <noor@example.org>\nSubject: Boat\n\nI sold the boat in May."
    assert own_words_of(_chunk(body, ("Noor Haddad",)), "Noor Haddad") == body
    assert own_words_of(_chunk(body, ("Noor Haddad",)), "Kwame Asante") == ""
