"""Chunker: exact spans, token limits, coverage, overlap, chat turns, and speed."""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secondme.node.memory.chunker import Chunk, approximate_tokens, chunk_document
from secondme.node.memory.parsers import ParsedDocument, Segment, parse_document


def word_count(text: str) -> int:
    return len(text.split())


def with_special_tokens(text: str) -> int:
    """Like a tokenizer called with special tokens: two extra for [CLS] and [SEP]."""
    return len(text.split()) + 2


def assert_chunk_invariants(
    doc: ParsedDocument, chunks: list[Chunk], count: Callable[[str], int], max_tokens: int
) -> None:
    """Spans are exact, ordered, bounded, trimmed, and cover every non-whitespace character."""
    covered_to = 0
    previous_start = -1
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert count(chunk.text) <= max_tokens or len(chunk.text) == 1, chunk
        assert chunk.start > previous_start
        assert doc.text[covered_to : chunk.start].strip() == "", "text left out before chunk"
        previous_start = chunk.start
        covered_to = max(covered_to, chunk.end)
    assert doc.text[covered_to:].strip() == ""
    if doc.text.strip():
        assert chunks


def make_doc(paragraphs: list[str], kind: str = "text") -> ParsedDocument:
    text = "\n\n".join(paragraphs)
    segments = []
    pos = 0
    for paragraph in paragraphs:
        segments.append(Segment(text=paragraph, start=pos, end=pos + len(paragraph)))
        pos += len(paragraph) + 2
    return ParsedDocument(kind=kind, title=None, text=text, segments=tuple(segments))


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(f"w{rng.randrange(1000)}" for _ in range(words)).capitalize() + "."


# --- approximate_tokens -------------------------------------------------------------------------


def test_approximate_tokens_follows_its_documented_rule() -> None:
    assert approximate_tokens("") == 0
    assert approximate_tokens("   \n ") == 0
    assert approximate_tokens("one two three four five six seven eight nine ten") == 13
    assert approximate_tokens("Hello, world!") == 3 + 2
    assert approximate_tokens("a" * 64) == 16
    assert approximate_tokens("我喜欢猫") == 4


def test_approximate_tokens_is_additive_over_whitespace() -> None:
    rng = random.Random(11)
    alphabet = ["word", "x", "3.14", "don't", "日本", "a" * 30, ",", "!!"]
    for _ in range(300):
        a = " ".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        b = " ".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        assert approximate_tokens(a + "\n\n" + b) <= approximate_tokens(a) + approximate_tokens(b)


# --- limits and arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1), (10, 11)])
def test_nonsense_limits_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_document(make_doc(["text"]), max_tokens=max_tokens, overlap_tokens=overlap)


def test_segments_that_do_not_match_the_text_are_refused() -> None:
    doc = ParsedDocument(
        kind="text",
        title=None,
        text="hello world",
        segments=(Segment(text="hello", start=6, end=11),),
    )
    with pytest.raises(ValueError, match="does not match"):
        chunk_document(doc)


def test_empty_document_gives_no_chunks() -> None:
    assert chunk_document(ParsedDocument(kind="text", title=None, text="", segments=())) == []


def test_text_outside_segments_is_still_covered() -> None:
    text = "lost intro\n\nkept paragraph\n\nlost outro"
    doc = ParsedDocument(
        kind="text",
        title=None,
        text=text,
        segments=(Segment(text="kept paragraph", start=12, end=26),),
    )
    chunks = chunk_document(doc, word_count, max_tokens=2, overlap_tokens=0)
    assert [c.text for c in chunks] == ["lost intro", "kept paragraph", "lost outro"]


# --- packing and splitting ----------------------------------------------------------------------


def test_small_paragraphs_are_packed_whole() -> None:
    paragraphs = [f"Paragraph {i} has exactly six words." for i in range(10)]
    doc = make_doc(paragraphs)
    chunks = chunk_document(doc, word_count, max_tokens=20, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, word_count, 20)
    assert [c.text.count("Paragraph") for c in chunks] == [3, 3, 3, 1]
    ends = {s.end for s in doc.segments}
    starts = {s.start for s in doc.segments}
    assert all(c.start in starts and c.end in ends for c in chunks)


def test_large_paragraph_is_split_at_sentence_ends() -> None:
    rng = random.Random(5)
    paragraph = " ".join(sentence(rng, rng.randrange(3, 9)) for _ in range(40))
    doc = make_doc([paragraph])
    chunks = chunk_document(doc, word_count, max_tokens=25, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, word_count, 25)
    assert len(chunks) > 5
    assert all(c.text.endswith(".") and c.text[0].isupper() for c in chunks)


def test_sentence_without_ends_is_split_between_words() -> None:
    words = [f"word{i}" for i in range(500)]
    doc = make_doc([" ".join(words)])
    chunks = chunk_document(doc, word_count, max_tokens=30, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, word_count, 30)
    assert [word_count(c.text) for c in chunks] == [30] * 16 + [20]
    assert " ".join(c.text for c in chunks) == doc.text


def test_lines_are_used_when_a_block_has_no_sentences() -> None:
    rows = [f"name: person {i}; city: town {i}" for i in range(30)]
    doc = make_doc(["\n".join(rows)], kind="csv")
    chunks = chunk_document(doc, word_count, max_tokens=20, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, word_count, 20)
    assert all(c.text.startswith("name:") and re.search(r"town \d+$", c.text) for c in chunks)


def test_a_word_longer_than_the_limit_is_cut_between_characters() -> None:
    blob = "x" * 1000
    doc = make_doc([f"before {blob} after"])
    chunks = chunk_document(doc, approximate_tokens, max_tokens=50, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, approximate_tokens, 50)
    assert "".join(c.text for c in chunks if "x" in c.text and " " not in c.text) == blob


def test_counter_overhead_is_not_charged_per_piece() -> None:
    doc = make_doc(["one two three"] * 22)
    chunks = chunk_document(doc, with_special_tokens, max_tokens=32, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, with_special_tokens, 32)
    assert [with_special_tokens(c.text) for c in chunks] == [32, 32, 2 + 3 * 2]


def test_a_counter_that_is_not_additive_still_bounds_chunks() -> None:
    doc = make_doc(["abcde"] * 30)
    chunks = chunk_document(doc, len, max_tokens=40, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, len, 40)
    assert [c.text.count("abcde") for c in chunks] == [6, 6, 6, 6, 6]


# --- overlap ------------------------------------------------------------------------------------


def test_next_chunk_repeats_the_trailing_sentences() -> None:
    rng = random.Random(9)
    paragraph = " ".join(sentence(rng, 5) for _ in range(30))
    doc = make_doc([paragraph])
    chunks = chunk_document(doc, word_count, max_tokens=30, overlap_tokens=10)
    assert_chunk_invariants(doc, chunks, word_count, 30)
    for before, after in itertools.pairwise(chunks):
        shared = doc.text[after.start : before.end]
        assert after.start < before.end
        assert 5 <= word_count(shared) <= 10
        assert doc.text[after.start - 2 : after.start] == ". "


def test_overlap_falls_back_to_words_when_a_sentence_is_too_long() -> None:
    doc = make_doc([" ".join(f"w{i}" for i in range(100))])
    chunks = chunk_document(doc, word_count, max_tokens=30, overlap_tokens=8)
    assert_chunk_invariants(doc, chunks, word_count, 30)
    for before, after in itertools.pairwise(chunks):
        assert word_count(doc.text[after.start : before.end]) == 8


def test_overlap_spans_whole_paragraphs_when_they_fit() -> None:
    doc = make_doc([f"Short paragraph {i}." for i in range(12)])
    chunks = chunk_document(doc, word_count, max_tokens=12, overlap_tokens=3)
    assert_chunk_invariants(doc, chunks, word_count, 12)
    starts = {s.start for s in doc.segments}
    for before, after in itertools.pairwise(chunks):
        assert after.start in starts
        assert word_count(doc.text[after.start : before.end]) == 3


def test_no_overlap_when_asked_for_none() -> None:
    rng = random.Random(2)
    doc = make_doc([" ".join(sentence(rng, 6) for _ in range(20))])
    chunks = chunk_document(doc, word_count, max_tokens=20, overlap_tokens=0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))


# --- chat ---------------------------------------------------------------------------------------


def chat_doc(turns: list[tuple[str, str, str | None]]) -> ParsedDocument:
    lines = "\n".join(
        json.dumps({"speaker": s, "text": t} | ({"time": tm} if tm else {})) for s, t, tm in turns
    )
    return parse_document("chat.jsonl", lines.encode())


def test_chat_chunks_keep_turns_whole_with_speakers_and_times() -> None:
    rng = random.Random(4)
    speakers = ["Ann", "Bob", "Cleo"]
    turns = [
        (
            rng.choice(speakers),
            sentence(rng, rng.randrange(2, 12)),
            f"2024-01-01T10:{i:02d}:00" if i % 3 else None,
        )
        for i in range(60)
    ]
    doc = chat_doc(turns)
    chunks = chunk_document(doc, word_count, max_tokens=40, overlap_tokens=10)
    assert_chunk_invariants(doc, chunks, word_count, 40)
    turn_starts = {s.start for s in doc.segments}
    turn_ends = {s.end for s in doc.segments}
    for chunk in chunks:
        assert chunk.start in turn_starts and chunk.end in turn_ends
        inside = [s for s in doc.segments if chunk.start <= s.start and s.end <= chunk.end]
        expected_speakers = list(dict.fromkeys(s.speaker for s in inside))
        assert list(chunk.speakers) == expected_speakers
        times = [s.time for s in inside if s.time]
        assert (chunk.time_start, chunk.time_end) == (
            (times[0], times[-1]) if times else (None, None)
        )
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "chat chunks overlap by at least one turn"


def test_chat_overlap_keeps_one_turn_even_above_the_overlap_budget() -> None:
    turns = [("Ann" if i % 2 else "Bob", "word " * 12 + f"turn{i}", None) for i in range(6)]
    doc = chat_doc(turns)
    chunks = chunk_document(doc, word_count, max_tokens=30, overlap_tokens=5)
    assert_chunk_invariants(doc, chunks, word_count, 30)
    assert [c.text.count("turn") for c in chunks] == [2, 2, 2, 2, 2]
    assert all(c.speakers in {("Bob", "Ann"), ("Ann", "Bob")} for c in chunks)


def test_only_an_oversized_turn_is_split() -> None:
    long_turn = " ".join(sentence(random.Random(1), 8) for _ in range(12))
    t1, t2, t3 = "2026-01-01T10:00:00", "2026-01-01T10:01:00", "2026-01-01T10:02:00"
    doc = chat_doc([("Ann", "Short hello.", t1), ("Bob", long_turn, t2), ("Ann", "Bye.", t3)])
    chunks = chunk_document(doc, word_count, max_tokens=30, overlap_tokens=0)
    assert_chunk_invariants(doc, chunks, word_count, 30)
    bob = doc.segments[1]
    pieces = [c for c in chunks if c.start < bob.end and c.end > bob.start]
    assert len(pieces) > 1
    assert all(c.speakers for c in chunks)
    assert chunks[0].time_start == t1 and chunks[-1].time_end == t3
    assert sum(1 for c in chunks if "Short hello." in c.text) == 1


# --- properties over random documents (hypothesis) ------------------------------------------

_PIECES = [
    "word",
    "Word.",
    "end!",
    "why?",
    "ok",
    "日本語の文。",
    "a" * 45,
    "  ",
    "\n",
    "\n\n",
    "\n \n",
    "\t",
    "x",
    "(quoted.)",
    '"Said."',
    "3.14",
    "—",
    "…",
    "Dr.",
    "e.g.",
    "…   ",
]
_COUNTERS: list[Callable[[str], int]] = [approximate_tokens, word_count, with_special_tokens, len]


@st.composite
def documents(draw: st.DrawFn) -> ParsedDocument:
    """Random text, with random segments: some cover whitespace, some leave text out."""
    parts = draw(st.lists(st.sampled_from(_PIECES) | st.text(max_size=12), max_size=300))
    text = " ".join(parts)
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    segments = [
        Segment(text=text[a:b], start=a, end=b, speaker=draw(st.sampled_from(["A", "B", None])))
        for a, b in zip(cuts[::2], cuts[1::2], strict=False)
    ]
    kind = draw(st.sampled_from(["text", "chat"]))
    return ParsedDocument(kind=kind, title=None, text=text, segments=tuple(segments))


@settings(max_examples=300, deadline=None)
@given(doc=documents(), count=st.sampled_from(_COUNTERS), data=st.data())
def test_random_documents_keep_every_invariant(
    doc: ParsedDocument, count: Callable[[str], int], data: st.DataObject
) -> None:
    max_tokens = data.draw(st.integers(count("") + 1, 60), label="max_tokens")
    overlap = data.draw(st.integers(0, max_tokens - 1), label="overlap")
    chunks = chunk_document(doc, count, max_tokens=max_tokens, overlap_tokens=overlap)
    assert_chunk_invariants(doc, chunks, count, max_tokens)
    for chunk in chunks:
        speakers = {s.speaker for s in doc.segments if s.start < chunk.end and s.end > chunk.start}
        assert set(chunk.speakers) <= speakers


# --- speed --------------------------------------------------------------------------------------


def test_counter_sees_about_linear_text() -> None:
    rng = random.Random(6)
    paragraphs = [
        " ".join(sentence(rng, rng.randrange(4, 30)) for _ in range(rng.randrange(1, 30)))
        for _ in range(300)
    ]
    doc = make_doc(paragraphs)
    seen = 0

    def counting(text: str) -> int:
        nonlocal seen
        seen += len(text)
        return approximate_tokens(text)

    chunks = chunk_document(doc, counting, max_tokens=120, overlap_tokens=30)
    assert_chunk_invariants(doc, chunks, approximate_tokens, 120)
    assert seen < 8 * len(doc.text)


def test_five_megabytes_of_text_chunk_in_seconds() -> None:
    rng = random.Random(12)
    vocabulary = ["the", "of", "and", "to", "in", "is", "was", "he", "for", "it", "with", "as"]
    vocabulary += [f"name{i}" for i in range(200)]
    paragraphs = []
    size = 0
    while size < 5_000_000:
        paragraph = " ".join(
            " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(5, 25))) + "."
            for _ in range(rng.randrange(1, 12))
        )
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    data = "\n\n".join(paragraphs).encode()
    began = time.perf_counter()
    doc = parse_document("big.txt", data)
    chunks = chunk_document(doc)
    elapsed = time.perf_counter() - began
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert chunks[-1].end == len(doc.text.rstrip())


def test_one_five_megabyte_line_without_spaces_chunks_in_seconds() -> None:
    doc = make_doc(["y" * 5_000_000])
    began = time.perf_counter()
    chunks = chunk_document(doc, max_tokens=200, overlap_tokens=40)
    elapsed = time.perf_counter() - began
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert all(approximate_tokens(c.text) <= 200 for c in chunks)
    assert chunks[-1].end == 5_000_000
