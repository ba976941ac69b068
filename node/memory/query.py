"""What a question asks of memory: the people it names, its content words, the time it means.

Pure: a question and the moment it is asked go in, a :class:`QueryPlan` comes out. Retrieval
uses the plan to rewrite the query and to re-rank what the search finds; the answer path uses
``asks_when`` to know that an answer needs dates. Time expressions are read by ``dateparser``
against ``now`` and kept as a range with the granularity the words have ("in May" is the whole
month, "yesterday" one day), not as a point.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from secondme.node.memory.l1.text import MONTHS, STOPWORDS, content_words

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = r"(?:day|week|month|year|weekend|morning|evening|night)s?"
# A time expression needs one of these, so dateparser's readings of "we", "now" or "a day of"
# are not taken for the time a question asks about.
_TIME_CUE = re.compile(
    r"\b(?:\d{4}|yesterday|today|tonight|ago|"
    rf"(?:last|this|next|past|previous)\s+(?:{'|'.join(_WEEKDAYS)}|{_UNITS})|"
    rf"{'|'.join(_WEEKDAYS)}|{'|'.join(m for m in MONTHS if m != 'may')}|"
    rf"{'|'.join(m[:3] for m in MONTHS if m != 'may')})\b",
    re.IGNORECASE,
)
# "may" is a month only where a date could stand: after a preposition, or before a number.
_MAY_MONTH = re.compile(
    r"\b(?:in|of|on|during|since|before|after|until|till|by|early|late|mid|last|this|next)"
    r"\s+may\b|\bmay\s+\d",
    re.IGNORECASE,
)
_OPEN_BEFORE = re.compile(r"\b(?:before|until|till|by|prior\s+to)\s*$", re.IGNORECASE)
_OPEN_AFTER = re.compile(r"\b(?:after|since|from)\s*$", re.IGNORECASE)
_ASKS_WHEN = re.compile(
    r"^\s*when\b|\bwhen\s+(?:did|does|do|was|were|is|will|has|had)\b|"
    r"\bwhat\s+(?:date|day|month|year|time)\b|\bwhich\s+(?:date|day|month|year)\b|"
    r"\bhow\s+long\s+ago\b|\bbefore\s+or\s+after\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-ZÀ-Ý][\w'’-]*")
_NOT_NAMES = frozenset((*MONTHS, *(m[:3] for m in MONTHS), *_WEEKDAYS))
GRANULARITIES = ("day", "week", "month", "year")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Days from ``start`` (inclusive) to ``end`` (exclusive); ``None`` leaves a side open."""

    start: date | None
    end: date | None
    granularity: str
    words: str = ""

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day < self.end)

    def overlaps(self, first: date, last: date) -> bool:
        """Whether the days ``first``..``last`` (inclusive) meet the range."""
        return (self.start is None or last >= self.start) and (self.end is None or first < self.end)

    def distance(self, day: date) -> int:
        """Days from ``day`` to the range (0 inside it)."""
        if self.start is not None and day < self.start:
            return (self.start - day).days
        if self.end is not None and day >= self.end:
            return (day - self.end).days + 1
        return 0


@dataclass(frozen=True, slots=True)
class QueryPlan:
    question: str
    names: tuple[str, ...]
    keywords: tuple[str, ...]
    time: TimeRange | None
    asks_when: bool

    @classmethod
    def parse(
        cls,
        question: str,
        *,
        now: datetime,
        names: Sequence[str] = (),
        languages: Sequence[str] = ("en",),
    ) -> QueryPlan:
        """Read ``question`` asked at ``now``; ``names`` are the people and things memory knows."""
        found = find_names(question, names)
        time = time_asked(question, now, tuple(languages))
        # Names and the time words are matched on their own; keywords are what is left.
        left_out = {w for name in found for w in content_words(name)}
        left_out |= set(content_words(time.words)) if time else set()
        keywords = tuple(dict.fromkeys(w for w in content_words(question) if w not in left_out))
        return cls(
            question=question,
            names=found,
            keywords=keywords,
            time=time,
            asks_when=bool(_ASKS_WHEN.search(question)),
        )

    def rewritten(self) -> str:
        """The question as a search query: its names and content words, nothing else."""
        return " ".join((*self.names, *self.keywords)) or self.question


def find_names(question: str, known: Sequence[str]) -> tuple[str, ...]:
    """Known names the question uses (any case, whole words), then its other capitalised words."""
    found: dict[str, str] = {}
    lowered = question.lower()
    for name in sorted({n.strip() for n in known if n and n.strip()}, key=len, reverse=True):
        pattern = rf"(?<![\w]){re.escape(name.lower())}(?![\w])"
        if re.search(pattern, lowered) and not any(name.lower() in f for f in found):
            found[name.lower()] = name
    for match in _NAME.finditer(question):
        word = match.group().rstrip("'’").removesuffix("'s").removesuffix("’s")
        key = word.lower()
        if key in STOPWORDS or key in _NOT_NAMES or len(key) < 2:
            continue
        if any(key in f.split() for f in found):
            continue
        found[key] = word
    return tuple(found.values())


def time_asked(
    question: str, now: datetime, languages: tuple[str, ...] = ("en",)
) -> TimeRange | None:
    """The time range the question is about, resolved against ``now``; None if it names none."""
    if not (_TIME_CUE.search(question) or _MAY_MONTH.search(question)):
        return None  # dateparser costs milliseconds; most questions name no time
    from dateparser.search import search_dates

    base = now.replace(tzinfo=None)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}
    found = search_dates(question, languages=list(languages), settings=settings) or []
    for words, when in found:
        if not (_TIME_CUE.search(words) or _MAY_MONTH.search(words)):
            continue
        if re.fullmatch(r"\W*may\W*", words, re.IGNORECASE) and not _MAY_MONTH.search(question):
            continue
        granularity = _granularity(words, languages, base)
        first, end = _span(when.date(), granularity)
        before = question[: question.find(words)] if words in question else ""
        if _OPEN_BEFORE.search(before):
            return TimeRange(None, first, granularity, words)
        if _OPEN_AFTER.search(before):
            return TimeRange(end, base.date() + timedelta(days=1), granularity, words)
        return TimeRange(first, end, granularity, words)
    return None


@lru_cache(maxsize=256)
def _parser(languages: tuple[str, ...], base: datetime):
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(languages), settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}
    )


def _granularity(words: str, languages: tuple[str, ...], base: datetime) -> str:
    period = _parser(languages, base).get_date_data(words).period
    return period if period in GRANULARITIES else "day"


def _span(day: date, granularity: str) -> tuple[date, date]:
    """The whole day, week (Monday first), month or year around ``day``."""
    if granularity == "year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    if granularity == "month":
        first = day.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1)
    if granularity == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    return day, day + timedelta(days=1)
