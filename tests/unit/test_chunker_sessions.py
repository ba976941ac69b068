"""Chat chunks: windows of whole turns within one session, overlapping by exactly one turn."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from secondme.node.memory.chunker import Chunk, chunk_document
from secondme.node.memory.parsers import ParsedDocument, Segment, parse_document


def word_count(text: str) -> int:
    return len(text.split())


def chat(turns: list[dict]) -> ParsedDocument:
    return parse_document("chat.jsonl", "\n".join(json.dumps(t) for t in turns).encode())


def turns_in(doc: ParsedDocument, chunk: Chunk) -> list[Segment]:
    return [s for s in doc.segments if s.start < chunk.end and s.end > chunk.start]


@st.composite
def conversations(draw: st.DrawFn) -> list[dict]:
    """Turns of 1 to 25 words in runs of sessions; words are numbered so every turn differs."""
    sessions = draw(st.lists(st.integers(1, 8), min_size=1, max_size=5))
    turns = []
    word = 0
    for number, length in enumerate(sessions):
        for _ in range(length):
            size = draw(st.integers(1, 25))
            text = " ".join(f"w{word + i}" for i in range(size))
            word += size
            speaker = draw(st.sampled_from(["Ann", "Bob"]))
            turns.append({"speaker": speaker, "text": text, "session": f"s{number}"})
    return turns


@settings(max_examples=200, deadline=None)
@given(turns=conversations(), max_tokens=st.integers(8, 60), data=st.data())
def test_chat_chunks_hold_whole_turns_of_one_session_overlapping_by_one(
    turns: list[dict], max_tokens: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(1, max_tokens - 1), label="overlap")
    doc = chat(turns)
    chunks = chunk_document(doc, word_count, max_tokens=max_tokens, overlap_tokens=overlap)
    fits = {s.turn: word_count(s.text) <= max_tokens for s in doc.segments}
    for chunk in chunks:
        inside = turns_in(doc, chunk)
        assert {s.session for s in inside} == {chunk.session}, "a chunk crosses a session"
        assert chunk.turn_first == inside[0].turn and chunk.turn_last == inside[-1].turn
        for segment in inside:
            if fits[segment.turn]:
                assert chunk.start <= segment.start and segment.end <= chunk.end, "turn split"
    for before, after in itertools.pairwise(chunks):
        shared = {s.turn for s in turns_in(doc, before)} & {s.turn for s in turns_in(doc, after)}
        if before.session != after.session:
            assert not shared and after.start > before.end
            continue
        last = turns_in(doc, before)[-1]
        if not (fits[last.turn] and all(fits[s.turn] for s in turns_in(doc, after))):
            continue  # pieces of a cut turn overlap by a piece, as the text chunker does
        assert len(shared) <= 1
        new = [s for s in turns_in(doc, after) if s.turn not in shared]
        room = word_count(last.text) + word_count(new[0].text) <= max_tokens
        assert shared == ({last.turn} if room else set()), (before, after)
        if shared:
            assert after.start == last.start


def test_turn_too_big_is_cut_and_its_pieces_keep_the_turn() -> None:
    long_text = " ".join(f"w{i}." for i in range(80))
    doc = chat(
        [
            {"speaker": "Ann", "text": "hello", "time": "2026-05-14T18:00:00"},
            {"speaker": "Bob", "text": long_text, "time": "2026-05-14T18:01:00"},
            {"speaker": "Ann", "text": "bye", "time": "2026-05-14T18:02:00"},
        ]
    )
    chunks = chunk_document(doc, word_count, max_tokens=20, overlap_tokens=5)
    pieces = [c for c in chunks if c.turn_first == c.turn_last == 2]
    assert len(pieces) > 2
    assert all(c.speakers == ("Bob",) and c.time_start == "2026-05-14T18:01:00" for c in pieces)
    assert all(c.session == "1" for c in chunks)


def test_sessions_come_from_the_export_or_from_gaps_in_time() -> None:
    doc = chat(
        [
            {"speaker": "Ann", "text": "morning", "time": "2026-05-14T08:00:00"},
            {"speaker": "Bob", "text": "hi", "time": "2026-05-14T09:00:00"},
            {"speaker": "Ann", "text": "evening now", "time": "2026-05-14T20:00:00"},
            {"speaker": "Bob", "text": "still here", "time": 1778788800},  # 19:20 UTC
            {"speaker": "Ann", "text": "named", "session": 7},
            {"speaker": "Bob", "text": "no time, same session"},
        ]
    )
    assert [s.session for s in doc.segments] == ["1", "1", "2", "2", "7", "7"]
    assert [s.turn for s in doc.segments] == [1, 2, 3, 4, 5, 6]
    chunks = chunk_document(doc, word_count, max_tokens=50, overlap_tokens=10)
    assert [(c.session, c.turn_first, c.turn_last) for c in chunks] == [
        ("1", 1, 2),
        ("2", 3, 4),
        ("7", 5, 6),
    ]


def test_session_gap_is_a_setting() -> None:
    lines = [
        {"speaker": "Ann", "text": "one", "time": "2026-05-14T08:00:00"},
        {"speaker": "Bob", "text": "two", "time": "2026-05-14T10:00:00"},
    ]
    data = "\n".join(json.dumps(t) for t in lines).encode()
    assert [s.session for s in parse_document("c.jsonl", data).segments] == ["1", "1"]
    tight = parse_document("c.jsonl", data, session_gap_hours=1)
    assert [s.session for s in tight.segments] == ["1", "2"]
