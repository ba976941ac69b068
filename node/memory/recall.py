"""Recall: the few memories that answer a question, within a character budget.

A small model reads only a few thousand characters, so the evidence has to be among them. Recall
reads the question (:mod:`.query`), gathers a larger pool from the hybrid search than it will
keep, re-ranks the pool on what the search cannot see (the best single turn of a chat chunk,
the names asked about, the time asked about against each chunk's time and the dates it
mentions, the question's keywords weighed within the pool), keeps a few per conversation
session so one long chat does not crowd out the rest, and cuts at the budget, giving the best
turns of a chunk too long for what is left. Neighbouring chunks (the turns before and after a
hit) can be added; they come from inside the caller's scope only.

Keep one :class:`Recall` per memory: it caches the turn vectors of the chunks it has seen.

The scoring functions are pure, so each choice can be tested and measured on its own
(``RecallOptions`` turns each one off).
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np

from secondme.node.memory.l1.text import content_words, stem, words
from secondme.node.memory.query import QueryPlan, TimeRange
from secondme.node.memory.retrieval import L1Hit, SearchHit
from secondme.node.memory.vectors import ScopeFilter

Hit = SearchHit | L1Hit
_TURN_CACHE = 4096
"""Chunks whose turn vectors are kept (12 turns of 384 floats each: about 75 MB at most)."""
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecallOptions:
    """The choices recall makes; each can be turned off to measure what it brings."""

    rewrite: bool = True
    """Search BM25 with the question's names and keywords rather than its every word."""
    pool: int = 20
    """Candidates taken from the hybrid search before re-ranking."""
    rerank: bool = True
    """Order the pool by :func:`score` rather than by the search's fused rank."""
    per_session: int = 3
    """At most this many hits from one chat session (or one document); 0 for no cap."""
    neighbours: bool = False
    """Add the chunk before and after each of the first hits (within the budget)."""
    turns: int | None = None
    """Embed the turns of this many of the first candidates (all of the pool when None; chat
    chunks only) and score each chunk by its best turn too: a chunk of twelve turns is about
    many things, its evidence about one. Turn vectors are cached per chunk. 0 turns this off."""
    excerpts: bool = True
    """A chat chunk longer than what is left of the budget gives its best turns (the one
    nearest the question and its neighbours) rather than being left out."""
    weights: Weights = field(default_factory=lambda: Weights())


@dataclass(frozen=True, slots=True, kw_only=True)
class Weights:
    """How much each signal counts in :func:`score` (measured on generated chat corpora)."""

    dense: float = 1.0
    lexical: float = 0.2
    entity: float = 0.3
    time: float = 0.5
    rank: float = 0.3
    turn: float = 1.0
    turn_entity: float = 0.1


@dataclass(frozen=True, slots=True)
class Recalled:
    hits: list[Hit]
    chars: int
    plan: QueryPlan
    ms: float = 0.0
    """Time the recall took, search included."""


class Recall:
    """Recall over a :class:`~secondme.node.memory.service.Memory`."""

    def __init__(self, memory, options: RecallOptions | None = None) -> None:
        self._memory = memory
        self.options = options or RecallOptions(pool=memory.settings.recall_pool)
        self._names: tuple[tuple[int, int], list[str]] | None = None
        self._turns: OrderedDict[str, tuple[np.ndarray, tuple[str, ...]]] = OrderedDict()
        self._turns_lock = threading.Lock()  # recalls run in worker threads

    async def recall(
        self,
        question: str,
        *,
        scope: ScopeFilter | None = None,
        now: datetime | None = None,
        k: int = 10,
        budget_chars: int | None = None,
        layers: Sequence[str] = ("l0",),
        tags: Sequence[str] = (),
    ) -> Recalled:
        """At most ``k`` memories for ``question`` whose texts add up to ``budget_chars`` (by
        default ``memory.recall_budget_chars``) or less, best first; ``now`` is when it is
        asked ("last May" depends on it); with ``scope``, nothing outside it, neighbours
        included."""
        if budget_chars is None:
            budget_chars = self._memory.settings.recall_budget_chars
        return await asyncio.to_thread(
            self.recall_sync,
            question,
            scope=scope,
            now=now or datetime.now(UTC),
            k=k,
            budget_chars=budget_chars,
            layers=tuple(layers),
            tags=tuple(tags),
        )

    def recall_sync(
        self,
        question: str,
        *,
        scope: ScopeFilter | None,
        now: datetime,
        k: int,
        budget_chars: int,
        layers: tuple[str, ...],
        tags: tuple[str, ...] = (),
    ) -> Recalled:
        started = time.perf_counter()
        options = self.options
        retriever = self._memory.retriever
        plan = QueryPlan.parse(question, now=now, names=self.known_names())
        sparse_query = plan.rewritten() if options.rewrite else question
        vector = self._memory.embed([question])[0]
        pool, cosines = retriever.candidates(
            vector,
            sparse_query,
            k=max(k, options.pool),
            tags=tags,
            layers=layers,
            scope=scope,
        )
        best_turns: dict[str, tuple[float, int]] = {}
        if options.rerank:
            w = options.weights
            scored = pool if options.turns is None else pool[: options.turns]
            best_turns = self.turn_scores(vector, scored, plan.names, w.turn_entity)
            scores = score(pool, cosines, plan, w, {c: v for c, (v, _) in best_turns.items()})
            order = sorted(range(len(pool)), key=lambda i: -scores[i])
            pool = [pool[i] for i in order]
        if options.per_session:
            pool = cap_per_session(pool, options.per_session)
        extra: dict[str, list[SearchHit]] = {}
        if options.neighbours:
            firsts = [h for h in pool[:k] if isinstance(h, SearchHit)]
            extra = retriever.neighbours(firsts, tags=tags, scope=scope)
        shrink = None
        if options.excerpts:
            centre = {c: i for c, (_, i) in best_turns.items()}

            def shrink(hit: Hit, limit: int) -> Hit | None:
                if not isinstance(hit, SearchHit) or hit.chunk_id not in centre:
                    return None
                return excerpt(hit, centre[hit.chunk_id], limit)

        hits = fit_budget(pool, extra, k=k, budget_chars=budget_chars, shrink=shrink)
        return Recalled(
            hits=hits,
            chars=sum(len(h.text) for h in hits),
            plan=plan,
            ms=(time.perf_counter() - started) * 1000,
        )

    def turn_scores(
        self, vector: np.ndarray, hits: Sequence[Hit], names: Sequence[str], entity: float
    ) -> dict[str, tuple[float, int]]:
        """Each chat chunk's best turn (score, its index): the turn's cosine to ``vector``,
        plus ``entity`` where the turn is spoken by, or names, someone the question asks
        about (a chunk holds both friends' turns; the evidence is one turn)."""
        with self._turns_lock:
            return self._turn_scores(vector, hits, names, entity)

    def _turn_scores(
        self, vector: np.ndarray, hits: Sequence[Hit], names: Sequence[str], entity: float
    ) -> dict[str, tuple[float, int]]:
        chat = [h for h in hits if isinstance(h, SearchHit) and h.speakers]
        missing = [h for h in chat if h.chunk_id not in self._turns]
        if missing:
            spans = [turn_spans(h.text, h.speakers) for h in missing]
            texts = [h.text[a:b] for h, found in zip(missing, spans, strict=True) for a, b in found]
            vectors = _unit(self._memory.embed(texts)) if texts else np.zeros((0, 1))
            at = 0
            for hit, found in zip(missing, spans, strict=True):
                turns = tuple(texts[at : at + len(found)])
                self._turns[hit.chunk_id] = (vectors[at : at + len(found)], turns)
                at += len(found)
            while len(self._turns) > _TURN_CACHE:
                self._turns.popitem(last=False)
        query = _unit(np.asarray(vector, dtype=np.float32)[None, :])[0]
        patterns = [re.compile(rf"(?<!\w){re.escape(n.lower())}(?!\w)") for n in names]
        best: dict[str, tuple[float, int]] = {}
        for hit in chat:
            self._turns.move_to_end(hit.chunk_id)
            found, texts = self._turns[hit.chunk_id]
            if not len(found):
                continue
            values = found @ query
            if patterns and entity:
                named = [any(p.search(t.lower()) for p in patterns) for t in texts]
                values = values + entity * np.asarray(named, dtype=np.float32)
            at = int(np.argmax(values))
            best[hit.chunk_id] = (float(values[at]), at)
        return best

    def known_names(self) -> list[str]:
        """Entity names and chat speakers, re-read only when memory has changed."""
        memory = self._memory
        counts = memory.documents.counts()
        key = (counts["chunks"], memory.l1.counts().get("entities", 0))
        if self._names is None or self._names[0] != key:
            self._names = (key, memory.retriever.known_names())
        return self._names[1]


# -- scoring (pure) ---------------------------------------------------------------------------


def score(
    pool: Sequence[Hit],
    cosines: dict[str, float],
    plan: QueryPlan,
    w: Weights,
    turns: dict[str, float] | None = None,
) -> list[float]:
    """Each candidate's re-ranking score: dense similarity (of the chunk, and of its best turn
    where known), keyword weight within the pool, the names asked about, the time asked about,
    and the search's own rank."""
    turns = turns or {}
    lexical = keyword_scores([h.text for h in pool], _terms(plan))
    dense = [cosines.get(_point_id(h), 0.0) for h in pool]
    scores = []
    for rank, hit in enumerate(pool):
        value = w.dense * dense[rank] + w.lexical * lexical[rank]
        value += w.turn * turns.get(_point_id(hit), dense[rank])
        value += w.entity * entity_match(hit, plan.names)
        value += w.time * time_match(hit, plan.time)
        value += w.rank / (rank + 2)
        scores.append(value)
    return scores


def turn_spans(text: str, speakers: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) of each turn in a chat chunk's text: a turn starts on a line that begins
    with one of its speakers' names and a colon; other lines continue the turn before."""
    heads = tuple(f"{s}:" for s in speakers if s)
    spans: list[tuple[int, int]] = []
    at = 0
    for line in text.splitlines(keepends=True):
        end = at + len(line.rstrip("\r\n"))
        if not spans or line.startswith(heads):
            spans.append((at, end))
        else:
            spans[-1] = (spans[-1][0], end)
        at += len(line)
    return [(a, b) for a, b in spans if b > a]


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _terms(plan: QueryPlan) -> list[str]:
    return [*plan.keywords, *(w for n in plan.names for w in content_words(n))]


def keyword_scores(texts: Sequence[str], terms: Sequence[str]) -> list[float]:
    """BM25 of ``terms`` (words, stemmed here) in each text, with document frequencies from
    ``texts`` (the pool), scaled so the best text scores 1."""
    if not texts or not terms:
        return [0.0] * len(texts)
    bags = [_bag(t) for t in texts]
    lengths = [sum(b.values()) or 1 for b in bags]
    average = sum(lengths) / len(lengths)
    n = len(bags)
    wanted = {stem(t) for t in terms}
    frequency = {t: sum(1 for b in bags if t in b) for t in wanted}
    values = []
    for bag, length in zip(bags, lengths, strict=True):
        total = 0.0
        for term in wanted:
            tf = bag.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
            total += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        values.append(total)
    best = max(values) or 1.0
    return [v / best for v in values]


@lru_cache(maxsize=8192)
def _bag(text: str) -> Counter[str]:
    """Stem counts of ``text``; cached, since the same chunks come back question after question
    and stemming is most of re-ranking's cost."""
    return Counter(stem(w) for w in words(text))


def entity_match(hit: Hit, names: Sequence[str]) -> float:
    """Share of the names asked about that the hit mentions or that speak in it."""
    if not names:
        return 0.0
    text = hit.text.lower()
    speakers = {s.lower() for s in getattr(hit, "speakers", ())}
    found = 0
    for name in names:
        key = name.lower()
        spoke = key in speakers or any(key in s.split() for s in speakers)
        if spoke or re.search(rf"(?<!\w){re.escape(key)}(?!\w)", text):
            found += 1
    return found / len(names)


def hit_days(hit: Hit) -> list[tuple[date, date]]:
    """The days a hit is about: its own time span and each date it mentions."""
    spans = []
    start = _day(getattr(hit, "time_start", None))
    if start is not None:
        end = _day(getattr(hit, "time_end", None)) or start
        spans.append((start, max(start, end)))
    for mention in getattr(hit, "dates", ()) or ():
        value = mention.get("date") if isinstance(mention, dict) else getattr(mention, "date", None)
        day = _day(value if isinstance(value, str) else None)
        if day is not None:
            spans.append((day, day))
    return spans


def time_match(hit: Hit, asked: TimeRange | None) -> float:
    """1 when the hit's time or a date it mentions falls in the range asked about, less the
    farther it lies (by the range's granularity), 0 when the hit has no time or none is asked."""
    if asked is None:
        return 0.0
    spans = hit_days(hit)
    if not spans:
        return 0.0
    scale = {"day": 3, "week": 7, "month": 30, "year": 365}.get(asked.granularity, 30)
    best = 0.0
    for first, last in spans:
        if asked.overlaps(first, last):
            return 1.0
        gap = min(asked.distance(first), asked.distance(last))
        best = max(best, 1.0 / (1.0 + gap / scale))
    return best * 0.5


def _day(value: str | None) -> date | None:
    if not value:
        return None
    match = _ISO_DAY.match(value)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3] or 1))
    except ValueError:
        return None


def _point_id(hit: Hit) -> str:
    return hit.chunk_id if isinstance(hit, SearchHit) else hit.point_id


def _session(hit: Hit) -> str:
    if isinstance(hit, SearchHit):
        return f"{hit.doc_id}/{getattr(hit, 'session', None) or ''}"
    return f"l1/{hit.kind}"


def cap_per_session(pool: Sequence[Hit], cap: int) -> list[Hit]:
    """``pool`` in order with at most ``cap`` hits per session; the rest follow, in order, so a
    short pool is still filled."""
    seen: Counter[str] = Counter()
    kept, later = [], []
    for hit in pool:
        key = _session(hit)
        seen[key] += 1
        (kept if seen[key] <= cap else later).append(hit)
    return kept + later


def excerpt(hit: SearchHit, around: int, limit: int) -> SearchHit | None:
    """The turns of ``hit`` around its turn number ``around`` (counted in the chunk) that fit
    in ``limit`` characters, as a hit of its own (text, span, turns, dates cut to match); None
    when even that one turn is longer."""
    spans = turn_spans(hit.text, hit.speakers)
    if not 0 <= around < len(spans) or spans[around][1] - spans[around][0] > limit:
        return None
    lo = hi = around
    grown = True
    while grown:  # one turn after, then one before, while they fit
        grown = False
        if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= limit:
            hi, grown = hi + 1, True
        if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= limit:
            lo, grown = lo - 1, True
    first, last = spans[lo][0], spans[hi][1]
    turn_first, turn_last = hit.turn_first, hit.turn_last
    if (
        turn_first is not None
        and turn_last is not None
        and turn_last - turn_first + 1 == len(spans)
    ):
        turn_first, turn_last = turn_first + lo, turn_first + hi
    dates = tuple(
        replace(d, start=d.start - first, end=d.end - first)
        for d in hit.dates
        if first <= d.start and d.end <= last
    )
    return replace(
        hit,
        text=hit.text[first:last],
        start=hit.start + first,
        end=hit.start + last,
        turn_first=turn_first,
        turn_last=turn_last,
        dates=dates,
    )


def fit_budget(
    pool: Sequence[Hit],
    neighbours: dict[str, list[SearchHit]],
    *,
    k: int,
    budget_chars: int,
    shrink: Callable[[Hit, int], Hit | None] | None = None,
) -> list[Hit]:
    """The first hits (each followed by its neighbours) that fit ``budget_chars``, at most
    ``k`` hits and no chunk twice; a hit too long for what is left is ``shrink``-ed to fit
    (an excerpt), or else skipped."""
    chosen: list[Hit] = []
    taken: set[str] = set()
    used = 0
    primaries = 0
    for hit in pool:
        if primaries >= k:
            break
        key = _point_id(hit)
        if key in taken:
            continue
        if used + len(hit.text) > budget_chars:
            smaller = shrink(hit, budget_chars - used) if shrink else None
            if smaller is None:
                continue
            hit = smaller
        chosen.append(hit)
        taken.add(key)
        used += len(hit.text)
        primaries += 1
        for extra in neighbours.get(key, ()):
            if extra.chunk_id not in taken and used + len(extra.text) <= budget_chars:
                chosen.append(extra)
                taken.add(extra.chunk_id)
                used += len(extra.text)
    return chosen
