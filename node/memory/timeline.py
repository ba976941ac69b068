"""When a memory happened: turn times, dates written in the text, and relative dates resolved.

Theory of operation: every chunk gets a time and says where it came from, in this order of trust:
the chat turns' own times (``message``), else the first date written in the chunk (``text``),
else the document's own date (``document``), else the file's modification time that the client
sent (``file``). Every date expression in a chunk ("yesterday", "two weeks ago", "in March",
"3 May 2025") is found by ``dateparser`` and resolved against the time of the turn it was written
in (or the chunk's time), so "yesterday" in a message sent on 14 May is stored as 13 May beside the
original words.

``dateparser`` takes many false positives in ordinary prose ("may" the verb, "we" for Wednesday,
"for 3 days" as a date three days back, "now", "a second"). General rules, not word lists, remove
them: a mention must say more than the reference time already does (it resolves to another day),
a duration needs a direction ("ago", "last", "in"), a month name alone must be capitalised, and a
lone one- or two-letter abbreviation is not a date. ``dateparser`` is slow, so only sentences that
hold a digit or a date word of the configured languages are handed to it, and results are cached.

Pure functions: no I/O, no clock; the caller passes every reference time.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

log = logging.getLogger(__name__)

TIME_SOURCES = ("message", "text", "document", "file")
GRANULARITIES = ("day", "week", "month", "year")

_EPOCH_MS_ABOVE = 1e11
"""Epoch numbers above this are milliseconds (1e11 seconds is the year 5138)."""
_YEAR_RANGE = (1000, 9999)
_MAX_STRING = 100
"""Longer strings are not times; dateparser is not asked about them."""
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
"""A year a memory of a life speaks of: 1900 to 2099 (round numbers like 1000 or 2048 are rarely
years in a personal text, and a year alone is all that makes bare numbers a date)."""
_SENTENCES = re.compile(r"[^.!?;\n]+[.!?;]*")
_TOKENS = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True, kw_only=True)
class DateMention:
    """A date expression in a chunk's text, with the date it means."""

    text: str
    start: int
    end: int
    date: str
    granularity: str

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "date": self.date,
            "granularity": self.granularity,
        }

    @classmethod
    def from_json(cls, value: dict) -> DateMention:
        return cls(
            text=str(value["text"]),
            start=int(value["start"]),
            end=int(value["end"]),
            date=str(value["date"]),
            granularity=str(value["granularity"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkTime:
    time_start: str | None
    time_end: str | None
    source: str | None


class Turn(Protocol):
    """What the resolver needs of a segment: where it is and when it was said."""

    start: int
    end: int
    time: str | None


# --- times --------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def parse_time(value: object, languages: Sequence[str] = ("en",)) -> str | None:
    """A time as ISO 8601, from an ISO string, epoch seconds or milliseconds, a ``datetime``, or
    another string ``dateparser`` reads; None for anything it cannot read (never an error)."""
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            return value.isoformat()
        elif isinstance(value, bool) or value is None:
            return None
        elif isinstance(value, int | float):
            if not math.isfinite(value):
                return None
            seconds = value / 1000 if abs(value) > _EPOCH_MS_ABOVE else value
            moment = datetime.fromtimestamp(seconds, UTC)
        elif isinstance(value, str):
            text = value.strip()
            if not text or len(text) > _MAX_STRING:
                return None
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return date.fromisoformat(text).isoformat()  # a day, not its midnight
            if re.fullmatch(r"-?\d+(\.\d+)?", text):
                return parse_time(float(text), languages)
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                moment = _dateparse(text, tuple(languages))
                if moment is None:
                    return None
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if not _YEAR_RANGE[0] <= moment.year <= _YEAR_RANGE[1]:
        return None
    return _iso(moment)


@functools.lru_cache(maxsize=4096)
def _dateparse(text: str, languages: tuple[str, ...]) -> datetime | None:
    import dateparser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dateparser.parse(
                text,
                languages=list(languages),
                # A timestamp names a whole date; "t1" or "May" alone is no time of a message.
                settings={
                    "RETURN_AS_TIMEZONE_AWARE": False,
                    "STRICT_PARSING": True,
                    "PARSERS": ["custom-formats", "absolute-time"],
                },
            )
    except Exception:  # dateparser raises assorted types on odd input; unreadable is the answer
        return None


def to_datetime(value: str | None) -> datetime | None:
    """An ISO time or date as a ``datetime`` (a date alone is its midnight); None if unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def epoch_seconds(value: str | None) -> float | None:
    """An ISO time as epoch seconds; a time without an offset is taken as UTC."""
    moment = to_datetime(value)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def file_time(mtime: float | None) -> str | None:
    """A file's modification time (epoch seconds) as an ISO time in UTC."""
    return None if mtime is None else parse_time(float(mtime))


def gap_hours(earlier: str | None, later: str | None) -> float | None:
    """Hours between two ISO times, or None when either is missing or unreadable."""
    a, b = epoch_seconds(earlier), epoch_seconds(later)
    return None if a is None or b is None else (b - a) / 3600


# --- finding dates in text ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """Date words of the configured languages, read from dateparser's own locale data."""

    trigger: re.Pattern[str]
    words: frozenset[str]
    months: frozenset[str]
    weekdays: frozenset[str]
    units: frozenset[str]
    directions: frozenset[str]
    capitalised_months: bool


_UNIT_KEYS = ("year", "month", "week", "day", "decade", "century", "fortnight")
_SUB_DAY_KEYS = ("hour", "minute", "second")
_DAY_PARTS = ("night", "evening", "morning", "afternoon")
"""Parts of a day: "last night" is yesterday."""
_MONTH_KEYS = (
    "january february march april may june july august september october november december"
).split()
_WEEKDAY_KEYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_CAPITALISING = frozenset({"en", "de"})
"""Languages that write month names with a capital, so a lower-case one is another word."""


@functools.lru_cache(maxsize=16)
def _vocabulary(languages: tuple[str, ...]) -> _Vocabulary:
    from dateparser.languages.loader import default_loader

    words: set[str] = set()
    triggers: set[str] = set()
    months: set[str] = set()
    weekdays: set[str] = set()
    units: set[str] = set()
    directions: set[str] = set()
    for language in languages:
        try:
            info = default_loader.get_locale(language).info
        except Exception:  # an unknown language contributes nothing; dateparser rejects it later
            continue
        for key in _MONTH_KEYS:
            months.update(w.lower() for w in info.get(key, ()))
        for key in _WEEKDAY_KEYS:
            weekdays.update(w.lower() for w in info.get(key, ()))
        for key in _UNIT_KEYS + _SUB_DAY_KEYS:
            units.update(w.lower() for w in info.get(key, ()))
        for key in _MONTH_KEYS + _WEEKDAY_KEYS + list(_UNIT_KEYS) + list(_DAY_PARTS):
            triggers.update(w.lower() for w in info.get(key, ()))
        for key in ("ago", "in"):
            directions.update(w.lower() for w in info.get(key, ()))
        for meaning, phrases in info.get("relative-type", {}).items():
            for phrase in phrases:
                tokens = phrase.lower().split()
                words.update(tokens)
                if len(tokens) == 1 and not meaning.startswith("0 "):
                    triggers.add(tokens[0])  # "yesterday", "tomorrow"; "today" says nothing
                if len(tokens) > 1:
                    directions.add(tokens[0])  # "last", "next", "this" (and "day", removed below)
    directions -= units
    words |= triggers
    # Only sentences holding a word that can make a date on its own (a month, a weekday, a unit
    # of a day or more, "yesterday") or a year reach dateparser: "last", "this" or "now" come
    # with one of those or mean the reference time itself. Words of one or two letters ("we",
    # "mo") never suffice; without a date word only a year makes numbers a date (_plausible).
    trigger_words = sorted(
        (w for w in triggers if len(w) > 2 and w.isalpha()), key=len, reverse=True
    )
    pattern = _YEAR.pattern + "".join(f"|\\b{re.escape(w)}\\b" for w in trigger_words)
    return _Vocabulary(
        trigger=re.compile(pattern, re.IGNORECASE),
        words=frozenset(w for w in words if len(w) > 2 and w.isalpha()),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        units=frozenset(units),
        directions=frozenset(d for d in directions if d.isalpha()),
        capitalised_months=bool(set(languages) & _CAPITALISING),
    )


@functools.lru_cache(maxsize=16)
def _period_parser(languages: tuple[str, ...]):
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(languages),
        settings={"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False},
    )


@functools.lru_cache(maxsize=8192)
def _granularity(words: str, languages: tuple[str, ...]) -> str:
    try:
        period = _period_parser(languages).get_date_data(words).period
    except Exception:  # a period it cannot tell is a day's
        period = None
    return period if period in GRANULARITIES else "day"


def _plausible(words: str, vocabulary: _Vocabulary, sentence_start: bool) -> bool:
    """False for the matches dateparser takes in ordinary prose that are no dates.

    ``sentence_start``: the words open a sentence, so their capital letter says nothing.
    """
    tokens = _TOKENS.findall(words)
    if not tokens:
        return False
    numbers = re.findall(r"\d+", words)
    letters = [t for t in tokens if not any(c.isdigit() for c in t)]
    lowered = [t.lower() for t in letters]
    if not numbers and len(tokens) == 1 and len(tokens[0]) <= 2:
        return False  # "we", "mo": weekday or unit abbreviations standing alone
    if numbers and not letters and re.fullmatch(r"\d{1,4}", words.strip()):
        return False  # a bare number is a count, not a date
    if not any(t in vocabulary.words for t in lowered) and not _YEAR.search(words):
        # "on the 4th" (floor?), "3 and 5", "1–64", "8/8", "21:26": numbers without a month,
        # weekday, unit or year are counts, ranges or clock times, not dates
        return False
    directed = any(t in vocabulary.directions for t in lowered)
    if any(t in vocabulary.units for t in lowered) and not directed:
        return False  # "for 3 days", "25 years old": a duration, not a point in time
    names = [t for t in letters if t.lower() in vocabulary.months | vocabulary.weekdays]
    if not vocabulary.capitalised_months or numbers or not names or directed:
        return True
    if all(t.islower() for t in names):
        return False  # "may", "march on", "sat on": in English a date name has a capital
    # A month alone opening a sentence ("March forward") has its capital from the sentence.
    return not (sentence_start and len(tokens) == 1 and lowered[0] in vocabulary.months)


def _trim(words: str) -> tuple[int, str]:
    """(offset, words) without the punctuation around them and trailing one- or two-letter
    words dateparser swallowed ("3 May 2025 we", '"yesterday')."""
    tokens = words.split()
    while len(tokens) > 1 and len(tokens[-1]) <= 2 and tokens[-1].isalpha():
        tokens.pop()
    if tokens:
        words = words[: words.rfind(tokens[-1]) + len(tokens[-1])]
    core = re.search(r"\w(?:.*\w)?", words, re.DOTALL)
    return (core.start(), core.group()) if core else (0, words)


def _truncate(moment: datetime, granularity: str) -> str:
    if granularity == "year":
        return f"{moment.year:04d}-01-01"
    if granularity == "month":
        return f"{moment.year:04d}-{moment.month:02d}-01"
    return moment.date().isoformat()


@functools.lru_cache(maxsize=8192)
def _sentence_dates(
    sentence: str, reference: datetime, languages: tuple[str, ...]
) -> tuple[tuple[int, int, str, str], ...]:
    """(start, end, ISO date, granularity) of the dates in one sentence."""
    from dateparser.search import search_dates

    settings = {
        "RELATIVE_BASE": reference,
        "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = search_dates(sentence, languages=list(languages), settings=settings) or []
    except Exception:  # dateparser's own failure on odd text: no dates, never a failed ingest
        log.debug("dateparser failed on %r", sentence, exc_info=True)
        return ()
    vocabulary = _vocabulary(languages)
    results = []
    cursor = 0
    for words, moment in found:
        at = sentence.find(words, cursor)
        if at < 0:
            continue
        cursor = at + len(words)
        shift, words = _trim(words)
        at += shift
        opening = not sentence[:at].strip()
        if not _plausible(words, vocabulary, opening) or not isinstance(moment, datetime):
            continue
        if moment.date() == reference.date():
            continue  # "now", "today", "at 10", "a second": nothing the reference does not say
        granularity = _granularity(words.lower(), languages)
        if granularity == "day":
            # "yesterday" keeps the reference's clock time in dateparser; the day is what it says
            moment = moment.replace(hour=0, minute=0, second=0)
        results.append((at, at + len(words), _truncate(moment, granularity), granularity))
    return tuple(results)


def find_dates(
    text: str, reference: datetime | str | None, languages: Sequence[str] = ("en",)
) -> list[DateMention]:
    """Every date expression in ``text``, resolved against ``reference`` (the time the text was
    written); without a reference only dates that need none are meaningful, so none are taken."""
    ref = to_datetime(reference) if isinstance(reference, str) else reference
    if ref is None or not text:
        return []
    ref = ref.replace(tzinfo=None)  # the writer's own wall clock
    langs = tuple(languages)
    vocabulary = _vocabulary(langs)
    mentions = []
    for match in _SENTENCES.finditer(text):
        sentence = match.group()
        if not vocabulary.trigger.search(sentence):
            continue
        for start, end, day, granularity in _sentence_dates(sentence, ref, langs):
            offset = match.start()
            mentions.append(
                DateMention(
                    text=sentence[start:end],
                    start=offset + start,
                    end=offset + end,
                    date=day,
                    granularity=granularity,
                )
            )
    return mentions


def chunk_dates(
    text: str,
    chunk_start: int,
    chunk_end: int,
    turns: Iterable[Turn],
    fallback: str | None,
    languages: Sequence[str] = ("en",),
) -> list[DateMention]:
    """The dates in ``text[chunk_start:chunk_end]``, offsets relative to the chunk; each turn's
    part is resolved against the turn's own time, the rest against ``fallback``."""
    mentions: list[DateMention] = []
    pos = chunk_start
    for turn in sorted(turns, key=lambda t: t.start):
        a, b = max(turn.start, chunk_start), min(turn.end, chunk_end)
        if a >= b:
            continue
        if pos < a:
            mentions += _shifted(text[pos:a], pos - chunk_start, fallback, languages)
        mentions += _shifted(text[a:b], a - chunk_start, turn.time or fallback, languages)
        pos = b
    if pos < chunk_end:
        mentions += _shifted(text[pos:chunk_end], pos - chunk_start, fallback, languages)
    return mentions


def _shifted(
    text: str, offset: int, reference: str | None, languages: Sequence[str]
) -> list[DateMention]:
    return [
        DateMention(
            text=m.text,
            start=m.start + offset,
            end=m.end + offset,
            date=m.date,
            granularity=m.granularity,
        )
        for m in find_dates(text, reference, languages)
    ]


# --- the time of a chunk ------------------------------------------------------------------------


def chunk_time(
    turn_times: Sequence[str | None],
    mentions: Sequence[DateMention],
    document_date: str | None,
    file_mtime: str | None,
) -> ChunkTime:
    """A chunk's time and its source: turns, else the first date in its text, else the
    document's date, else the file's time; all None when nothing is known."""
    times = [t for t in turn_times if t]
    if times:
        return ChunkTime(time_start=times[0], time_end=times[-1], source="message")
    if mentions:
        first = min(mentions, key=lambda m: m.start)
        return ChunkTime(time_start=first.date, time_end=first.date, source="text")
    if document_date:
        return ChunkTime(time_start=document_date, time_end=document_date, source="document")
    if file_mtime:
        return ChunkTime(time_start=file_mtime, time_end=file_mtime, source="file")
    return ChunkTime(time_start=None, time_end=None, source=None)


# --- showing dates ------------------------------------------------------------------------------


def label(mention: DateMention) -> str:
    """The resolved date at the precision the words had: 2026-05-13, 2026-03, 2026."""
    if mention.granularity == "year":
        return mention.date[:4]
    if mention.granularity == "month":
        return mention.date[:7]
    if mention.granularity == "week":
        return f"week of {mention.date}"
    return mention.date


def annotate(text: str, mentions: Iterable[DateMention]) -> str:
    """``text`` with each relative date's resolved date written beside it:
    "yesterday (2026-05-13)". Mentions that already name their date are left as written."""
    parts = []
    pos = 0
    for mention in sorted(mentions, key=lambda m: m.start):
        if mention.start < pos or text[mention.start : mention.end] != mention.text:
            continue  # overlapping or stale: leave the text as it is
        shown = label(mention)
        if _states(mention):
            continue
        parts.append(text[pos : mention.end])
        parts.append(f" ({shown})")
        pos = mention.end
    parts.append(text[pos:])
    return "".join(parts)


def _states(mention: DateMention) -> bool:
    """True when the words already say the resolved date: they hold its year, and its day or
    month in digits or a year is all they mean."""
    year = mention.date[:4]
    if year not in mention.text:
        return False
    rest = mention.text.replace(year, "", 1)
    return (
        mention.granularity == "year"
        or any(c.isdigit() for c in rest)
        or (mention.granularity == "month")
    )


def day_of(value: str | None) -> str:
    """The date part of an ISO time ("2026-05-14"), or "" when there is none."""
    moment = to_datetime(value)
    return moment.date().isoformat() if moment is not None else ""
