"""What a question asks of memory: names, keywords, the time asked about, whether it asks when."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from secondme.node.memory.query import QueryPlan, TimeRange, find_names, time_asked

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)  # a Saturday


def plan(question: str, names=("Ana", "Kofi Mensah")) -> QueryPlan:
    return QueryPlan.parse(question, now=NOW, names=names)


@pytest.mark.parametrize(
    ("question", "start", "end", "granularity"),
    [
        (
            "When did Ana go to the support group in May?",
            date(2026, 5, 1),
            date(2026, 6, 1),
            "month",
        ),
        ("Where did Ana live in May 2025?", date(2025, 5, 1), date(2025, 6, 1), "month"),
        ("What did Ana do last year?", date(2025, 1, 1), date(2026, 1, 1), "year"),
        ("Where did Ana live in 2025?", date(2025, 1, 1), date(2026, 1, 1), "year"),
        ("What happened two weeks ago?", date(2026, 6, 1), date(2026, 6, 8), "week"),
        ("What did I do yesterday?", date(2026, 6, 19), date(2026, 6, 20), "day"),
        ("what happened last Tuesday", date(2026, 6, 16), date(2026, 6, 17), "day"),
        ("What did Ana say on 3 May 2025?", date(2025, 5, 3), date(2025, 5, 4), "day"),
        ("Did Ana move before March?", None, date(2026, 3, 1), "month"),
        ("What has Ana done since April?", date(2026, 5, 1), date(2026, 6, 21), "month"),
    ],
)
def test_time_asked_is_a_range_resolved_against_now(question, start, end, granularity):
    asked = plan(question).time
    assert asked is not None
    assert (asked.start, asked.end, asked.granularity) == (start, end, granularity)


def test_a_month_not_yet_come_this_year_means_last_year():
    early = datetime(2026, 2, 10, tzinfo=UTC)
    asked = time_asked("What did Ana do in May?", early)
    assert asked is not None and asked.start == date(2025, 5, 1)


@pytest.mark.parametrize(
    "question",
    [
        "Where does Ana work?",
        "May I ask where Ana works now?",  # "may" the verb, "now" the present
        "Would Ana enjoy a day of hiking?",  # "a day of" is no date
        "What did we talk about?",
        "Is Ana a morning person?",
    ],
)
def test_no_time_where_none_is_asked(question):
    assert plan(question).time is None


def test_names_known_in_any_case_and_capitalised_words():
    assert plan("where does ana work?").names == ("Ana",)
    assert plan("Did kofi mensah move to Lisbon?").names == ("Kofi Mensah", "Lisbon")
    # Question words, months and weekdays are not names.
    assert plan("When did Ana visit on Tuesday in May?").names == ("Ana",)
    assert find_names("What does Zanele's sister do?", ()) == ("Zanele",)


def test_keywords_leave_out_names_time_and_stopwords():
    asked = plan("When did Ana go to the support group in May?")
    assert asked.keywords == ("support", "group")
    assert asked.rewritten() == "Ana support group"


@pytest.mark.parametrize(
    ("question", "when"),
    [
        ("When did Ana go to the support group?", True),
        ("What date did Kofi adopt the cat?", True),
        ("Did Ana move to Porto before or after she started at Acme?", True),
        ("In which year did Ana start painting?", True),
        ("Where does Ana work?", False),
        ("Where did Ana live in May 2025?", False),
    ],
)
def test_asks_when(question, when):
    assert plan(question).asks_when is when


def test_time_range_tests():
    may = TimeRange(date(2026, 5, 1), date(2026, 6, 1), "month")
    assert may.contains(date(2026, 5, 31)) and not may.contains(date(2026, 6, 1))
    assert may.overlaps(date(2026, 4, 28), date(2026, 5, 2))
    assert not may.overlaps(date(2026, 6, 1), date(2026, 6, 3))
    assert may.distance(date(2026, 4, 21)) == 10
    assert may.distance(date(2026, 6, 1)) == 1
    assert TimeRange(None, date(2026, 3, 1), "month").contains(date(1999, 1, 1))
