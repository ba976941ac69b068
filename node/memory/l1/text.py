"""Plain-text helpers for L1: sentences, content words, dates, and whether a claim is grounded.

Pure functions over strings. The grounding check is what lets a small model write L1 at all: a
generated sentence is kept only if the words that carry its meaning occur in the text it was
written from, so a name or a fact the model made up is caught before it is stored.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_STOPWORD_LIST = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each even ever few for
from further get got had has have having he her here hers herself him himself his how i if in
into is it its itself just know last like made make many me might more most much must my myself
new next no nor not now of off on once one only or other our ours ourselves out over own really
said same say see she should since so some still such than that the their theirs them themselves
then there these they this those through time to too under until up upon us very was way we well
went were what when where which while who whom why will with would yet you your yours yourself
yourselves day days week weeks year years today yesterday tomorrow always often sometimes thing
things lot lots every another around back first two three going come came take took put want
wanted need needed use used good great little bit i'm i've i'd i'll it's don't didn't can't
won't isn't wasn't
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9À-Ý])")
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)")
_SUFFIXES = ("ings", "ing", "ers", "ed", "es", "er", "ly", "s", "e")
_STEM_LENGTH = 6
_ABBREVIATION_LIST = "dr mr mrs ms prof st mt jr sr vs etc e.g i.e"
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())
_MONTH_LIST = (
    "january february march april may june july august september october november december"
)
MONTHS = tuple(_MONTH_LIST.split())
_MONTH = (
    "|".join(m.capitalize() for m in MONTHS) + "|" + "|".join(m[:3].capitalize() for m in MONTHS)
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\.?,?\s+(\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?\s+(\d{{4}})\b")


def words(text: str) -> list[str]:
    """Lower-cased words, without numbers, punctuation or possessive endings."""
    found = []
    for word in _WORD.findall(text):
        word = word.lower().replace("’", "'").strip("'-")
        found.append(word.removesuffix("'s") if len(word) > 3 else word)
    return found


def content_words(text: str) -> list[str]:
    """The words that carry meaning: no stopwords, nothing shorter than three letters."""
    return [w for w in words(text) if len(w) >= 3 and w not in STOPWORDS]


def sentences(text: str) -> list[str]:
    """Sentences of ``text``, one per line or sentence end, list and heading markers removed."""
    found: list[str] = []
    for line in text.splitlines():
        start = len(found)
        line = _MARKUP.sub("", line).strip()
        if not line:
            continue
        for piece in _SENTENCE_END.split(line):
            piece = piece.strip()
            if not piece:
                continue
            last = found[-1].rsplit(None, 1)[-1].rstrip(".").lower() if found else ""
            if len(found) > start and found[-1].endswith(".") and last in _ABBREVIATIONS:
                found[-1] += " " + piece  # "Dr. Costa" is one sentence
            else:
                found.append(piece)
    return found


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, marked with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def stem(word: str) -> str:
    """A crude stem, so that "hikes", "hiked" and "hiking" count as one word."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:_STEM_LENGTH]


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """The stems of every word in ``texts``: what a grounded claim may talk about."""
    return frozenset(stem(w) for text in texts for w in words(text))


def unsupported_words(claim: str, vocab: frozenset[str]) -> list[str]:
    """The content words of ``claim`` that its sources never use."""
    return [w for w in content_words(claim) if stem(w) not in vocab]


def is_grounded(claim: str, vocab: frozenset[str], *, tolerance: float = 0.2) -> bool:
    """True if ``claim`` says something and at most ``tolerance`` of its content words are new."""
    meaningful = content_words(claim)
    if not meaningful:
        return False
    return len(unsupported_words(claim, vocab)) <= tolerance * len(meaningful)


def term_counts(texts: Iterable[str | Iterable[str]]) -> Counter[str]:
    """Content-word counts over texts (or over already split word collections)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(content_words(text) if isinstance(text, str) else text)
    return counts


def _month_number(name: str) -> int:
    return [m[:3] for m in MONTHS].index(name[:3].lower()) + 1


def find_dates(text: str) -> list[str]:
    """Dates written in ``text``, as ISO strings (``YYYY-MM-DD``, or ``YYYY-MM`` for a month)."""
    found: list[tuple[int, str]] = []
    taken: list[range] = []

    def add(match: re.Match, iso: str) -> None:
        span = range(match.start(), match.end())
        if any(span.start < t.stop and t.start < span.stop for t in taken):
            return
        taken.append(span)
        found.append((match.start(), iso))

    for m in _ISO_DATE.finditer(text):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
        if 1 <= month <= 12 and 1 <= day <= 31:
            add(m, f"{year:04d}-{month:02d}-{day:02d}")
    for m in _DAY_MONTH_YEAR.finditer(text):
        add(m, f"{int(m[3]):04d}-{_month_number(m[2]):02d}-{int(m[1]):02d}")
    for m in _MONTH_DAY_YEAR.finditer(text):
        add(m, f"{int(m[3]):04d}-{_month_number(m[1]):02d}-{int(m[2]):02d}")
    for m in _MONTH_YEAR.finditer(text):
        add(m, f"{int(m[2]):04d}-{_month_number(m[1]):02d}")
    return [iso for _, iso in sorted(found)]
