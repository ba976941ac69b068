"""Time on memories: turn times, document dates, dates in the text resolved, and their order."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime

import pytest

from secondme.node.memory.parsers import Segment, parse_document
from secondme.node.memory.timeline import (
    DateMention,
    annotate,
    chunk_dates,
    chunk_time,
    epoch_seconds,
    file_time,
    find_dates,
    parse_time,
)

SENT = "2026-05-14T18:00:00"  # a Thursday


def resolved(text: str, reference: str = SENT) -> list[tuple[str, str, str]]:
    return [(m.text, m.date, m.granularity) for m in find_dates(text, reference)]


# --- resolving relative dates against the time of writing --------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I went to a support group yesterday", [("yesterday", "2026-05-13", "day")]),
        ("Last Tuesday we went hiking.", [("Last Tuesday", "2026-05-12", "day")]),
        ("Two weeks ago it rained all day.", [("Two weeks ago", "2026-04-30", "week")]),
        ("I moved to Lisbon in March.", [("in March", "2026-03-01", "month")]),
        ("We married on 3 May 2025.", [("on 3 May 2025", "2025-05-03", "day")]),
        ("She was born in 1990.", [("in 1990", "1990-01-01", "year")]),
        ("It happened last month.", [("last month", "2026-04-01", "month")]),
    ],
)
def test_relative_dates_resolve_against_the_time_of_writing(text, expected) -> None:
    assert resolved(text) == expected


def test_the_same_words_mean_another_day_in_another_message() -> None:
    assert resolved("yesterday", "2025-01-01T09:00:00") == [("yesterday", "2024-12-31", "day")]
    assert resolved("yesterday", "2026-05-14T18:00:00+02:00")[0][1] == "2026-05-13"


def test_offsets_point_at_the_words() -> None:
    text = "Hello. I went to a support group yesterday, and in March to Lisbon."
    for mention in find_dates(text, SENT):
        assert text[mention.start : mention.end] == mention.text


@pytest.mark.parametrize(
    "text",
    [
        "I may go now.",  # "may" the verb, "now"
        "She sat on the bench.",  # "sat": Saturday to dateparser
        "March forward, soldiers.",  # a capital that only opens the sentence
        "Her flat is on the 4th floor.",
        "Wait a second, I have 3 cats and 25 dogs.",  # sub-day units, bare numbers
        "Today is fine, see you today.",  # says nothing the message time does not
        "The meeting is at 10 and it took 2 hours.",
        "I stayed for 3 days and we talked for two weeks.",  # durations, not points in time
        "He is 25 years old.",
        "They will march on.",
        "We love it, we do.",  # "we" is an abbreviation of Wednesday to dateparser
        "She said the second one was better.",
    ],
)
def test_ordinary_prose_is_not_taken_for_dates(text) -> None:
    assert find_dates(text, SENT) == []


def test_false_positive_rate_on_plain_prose_is_low() -> None:
    """Sentences without any date: at most one in twenty may yield a mention."""
    prose = [
        "I may be late, so start without me.",
        "We should talk about the second draft.",
        "Now that the kids are asleep, I can read.",
        "Give me a minute to find my keys.",
        "The train takes about two hours from here.",
        "I have 3 brothers and 2 sisters.",
        "March forward and do not look back.",
        "She sat on the bench for a while.",
        "We ordered 12 pizzas for the party.",
        "Call me when you get a sec.",
        "The recipe needs 200 grams of flour.",
        "I will do it later today.",
        "That was a second chance for us.",
        "The score was 3 to 1 in the end.",
        "They may have missed the bus.",
        "We went through a lot together.",
        "Her flat is on the 4th floor.",
        "Let us meet at the usual place.",
        "I can't wait to see you.",
        "It takes years to learn the piano.",
    ]
    taken = [s for s in prose if find_dates(s, SENT)]
    assert len(taken) <= 1, taken


def test_no_reference_means_no_relative_dates() -> None:
    assert find_dates("yesterday I left", None) == []


def test_dates_in_a_chat_chunk_resolve_against_their_own_turn() -> None:
    text = "Ann: I saw Bo yesterday\nBob: Me too, yesterday"
    turns = [
        Segment(text=text[:23], start=0, end=23, time="2026-05-14T18:00:00"),
        Segment(text=text[24:], start=24, end=len(text), time="2026-05-20T09:00:00"),
    ]
    mentions = chunk_dates(text, 0, len(text), turns, fallback=None)
    assert [(m.text, m.date) for m in mentions] == [
        ("yesterday", "2026-05-13"),
        ("yesterday", "2026-05-19"),
    ]
    # offsets are relative to the chunk, which here starts inside the first turn
    mentions = chunk_dates(text, 5, len(text), turns, fallback=None)
    assert text[5 + mentions[0].start : 5 + mentions[0].end] == "yesterday"


def test_annotate_writes_the_resolved_date_beside_relative_words_only() -> None:
    text = "I went to a support group yesterday. We married on 3 May 2025. In March I moved."
    out = annotate(text, find_dates(text, SENT))
    assert out == (
        "I went to a support group yesterday (2026-05-13). We married on 3 May 2025. "
        "In March (2026-03) I moved."
    )
    assert annotate(text, []) == text


def test_annotate_ignores_stale_offsets() -> None:
    stale = DateMention(text="yesterday", start=0, end=9, date="2026-05-13", granularity="day")
    assert annotate("something else", [stale]) == "something else"


def test_dates_are_quick_enough_on_ordinary_text() -> None:
    """Only sentences with a digit or a date word reach dateparser, and results are cached."""
    paragraph = " ".join(["The cat sat on the mat and looked out of the window."] * 40)
    find_dates(paragraph, SENT)
    started = time.perf_counter()
    for _ in range(50):
        find_dates(paragraph + " x", SENT)
    assert (time.perf_counter() - started) / 50 < 0.02


# --- times of messages and files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-14T18:00:00", "2026-05-14T18:00:00"),
        ("2026-05-14T18:00:00Z", "2026-05-14T18:00:00+00:00"),
        (1778781600, "2026-05-14T18:00:00+00:00"),
        (1778781600000, "2026-05-14T18:00:00+00:00"),
        ("1778781600", "2026-05-14T18:00:00+00:00"),
        ("May 14, 2026 6pm", "2026-05-14T18:00:00"),
        ("Thu, 14 May 2026 18:00:00", "2026-05-14T18:00:00"),
        ("yesterday", None),  # relative to what? not a timestamp
        ("t1", None),
        ("", None),
        (float("nan"), None),
        (1e300, None),
        (True, None),
    ],
)
def test_turn_times_are_normalised_or_dropped(value, expected) -> None:
    assert parse_time(value) == expected


def test_epoch_of_naive_times_is_utc() -> None:
    assert epoch_seconds("2026-05-14T18:00:00") == 1778781600
    assert epoch_seconds("2026-05-14") == 1778716800
    assert epoch_seconds("garbage") is None
    assert file_time(1778781600.5) == "2026-05-14T18:00:00+00:00"


def test_unreadable_turn_time_keeps_the_turn_without_a_time() -> None:
    data = json.dumps({"speaker": "Ann", "text": "hello", "time": "not a time"}).encode()
    doc = parse_document("c.jsonl", data)
    assert doc.text == "Ann: hello" and doc.segments[0].time is None
    assert doc.notes == ("1 turn(s) have a time that cannot be read (turn 1); kept without",)
    fine = json.dumps({"speaker": "Ann", "text": "hello", "time": 1778781600}).encode()
    assert parse_document("c.jsonl", fine).notes == ()


# --- the order of trust: message, text, document, file -----------------------------------------


def test_chunk_time_prefers_messages_then_text_then_document_then_file() -> None:
    mention = DateMention(text="in March", start=3, end=11, date="2026-03-01", granularity="month")
    f = "2026-12-01T00:00:00+00:00"
    assert chunk_time(
        ["2026-05-14T18:00:00", "2026-05-14T18:05:00"], [mention], "2020-01-01", f
    ) == (chunk_time(["2026-05-14T18:00:00", None, "2026-05-14T18:05:00"], [], None, None))
    assert chunk_time(["a", "b"], [], None, None).source == "message"
    assert chunk_time([None], [mention], "2020-01-01", f).source == "text"
    assert chunk_time([], [mention], "2020-01-01", f).time_start == "2026-03-01"
    assert chunk_time([], [], "2020-01-01", f).source == "document"
    last = chunk_time([], [], None, f)
    assert (last.source, last.time_start) == ("file", f)
    assert chunk_time([], [], None, None).source is None


# --- documents' own dates ----------------------------------------------------------------------


def test_markdown_and_text_front_matter_date() -> None:
    md = b"---\ntitle: Trip\ndate: 2025-08-02\n---\n# Trip\n\nWe left early."
    assert parse_document("trip.md", md).date == "2025-08-02"
    txt = b"---\ndate: 'March 3, 2024'\n---\nNotes."
    assert parse_document("n.txt", txt).date == "2024-03-03T00:00:00"
    assert parse_document("n.md", b"date: 2025-08-02\n\nno front matter").date is None
    assert parse_document("n.md", b"---\ndate: someday\n---\nbad date").date is None


def test_html_meta_and_time_dates() -> None:
    meta = (
        b'<html><head><meta property="article:published_time" content="2025-06-01T10:00:00Z">'
        b"</head><body><p>Story.</p></body></html>"
    )
    assert parse_document("a.html", meta).date == "2025-06-01T10:00:00+00:00"
    tag = b'<html><body><p>Posted <time datetime="2024-02-29">Feb 29</time>.</p></body></html>'
    assert parse_document("b.html", tag).date == "2024-02-29"
    bad = b'<html><head><meta name="date" content="soon"></head><body><p>x</p></body></html>'
    assert parse_document("c.html", bad).date is None


def test_json_top_level_date() -> None:
    assert parse_document("a.json", b'{"date": "2025-01-02", "note": "x"}').date == "2025-01-02"
    assert parse_document("b.json", b'{"date": {"nested": 1}, "note": "x"}').date is None
    assert parse_document("c.json", b'[{"date": "2025-01-02"}]').date is None


def test_docx_created_date() -> None:
    import docx

    document = docx.Document()
    document.core_properties.created = datetime(2023, 4, 5, 6, 7, 8)
    document.add_paragraph("Minutes of the meeting.")
    buffer = io.BytesIO()
    document.save(buffer)
    assert parse_document("m.docx", buffer.getvalue()).date == "2023-04-05T06:07:08+00:00"


def test_pdf_creation_date_and_a_malformed_one() -> None:
    from reportlab.pdfgen import canvas

    def pdf(created: str) -> bytes:
        buffer = io.BytesIO()
        page = canvas.Canvas(buffer, invariant=1)
        page.drawString(72, 720, "The lease starts in June.")
        page.showPage()
        page.save()
        import pypdf

        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(buffer.getvalue())))
        writer.add_metadata({"/CreationDate": created})
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    assert parse_document("l.pdf", pdf("D:20240115093000+01'00'")).date == (
        "2024-01-15T09:30:00+01:00"
    )
    broken = parse_document("l.pdf", pdf("D:not-a-date"))
    assert broken.date is None and "lease" in broken.text


def test_settings_are_checked() -> None:
    from secondme.node.core.config import NodeConfig
    from secondme.node.core.errors import ConfigError

    NodeConfig().with_changes("memory", date_languages=("en", "pt")).validate()
    with pytest.raises(ConfigError, match="unknown language 'xx'"):
        NodeConfig().with_changes("memory", date_languages=("en", "xx")).validate()
    with pytest.raises(ConfigError, match="session_gap_hours"):
        NodeConfig().with_changes("memory", session_gap_hours=0.0).validate()
