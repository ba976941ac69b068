"""ParsedDocument → chunks sized for the embedder, as exact spans of the document text.

Theory of operation: the document's segments (paragraphs, row blocks, chat turns) are cut into
*units*, each at most ``max_tokens``: a segment that fits is one unit, a larger one is cut at blank
lines, then sentence ends, then line breaks, then between words, and only a single word longer
than the limit is cut between characters. Units are then packed greedily, whole, into chunks; a
chunk after the first begins with the tail of the one before it (whole units, else trailing
sentences, else trailing words) so that a fact near a boundary is found from either side. Chat
documents are windows of whole turns within one session: a chunk never holds turns of two
sessions, never splits a turn that fits, and repeats exactly the last turn (or the last piece of a
turn too large for one chunk) of the chunk before it in the same session.

A chunk is always ``text[start:end]`` of the document and starts and ends on non-whitespace, so a
search hit can cite its span; together the chunks cover every non-whitespace character.

Token counts come from the caller's counter (the embedder's tokenizer). Each unit is measured once
and a chunk's size is the sum of its units plus the counter's fixed overhead (what it returns for
``""``). A packed chunk is measured once more, so a tokenizer that is not additive across
whitespace still never yields a chunk over the limit. Only text about the size of a chunk is ever
measured, apart from one measurement per segment, so chunking stays linear in the document size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from secondme.node.memory.parsers import ParsedDocument
from secondme.node.memory.spans import BLANK_LINES, between, paragraphs, trimmed


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """A span of a document small enough to embed, with the chat context it carries."""

    index: int
    text: str
    start: int
    end: int
    speakers: tuple[str, ...] = ()
    time_start: str | None = None
    time_end: str | None = None
    session: str | None = None
    turn_first: int | None = None
    turn_last: int | None = None
    turn_times: tuple[str | None, ...] = ()
    """The time of each turn (or piece of one) in the chunk, in order; empty outside chats."""
    at: float | None = None
    """Seconds into a recording where the chunk's first said words start (voice notes)."""
    message_ids: tuple[str, ...] = ()
    """The stable ids of the imported messages in the chunk (or pieces of them), in order."""


TokenCounter = Callable[[str], int]

_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD_RUNS = re.compile(rf"[^\W{_IDEOGRAPHS}]+")
_SINGLE_TOKENS = re.compile(rf"[^\w\s]|[{_IDEOGRAPHS}]")


def approximate_tokens(text: str) -> int:
    """A cheap stand-in for a WordPiece tokenizer, for when none is loaded.

    Each run of letters and digits counts 1.3 tokens (word pieces), or a quarter of its
    characters when that is more (long identifiers and hashes split into many pieces); each
    punctuation mark and each CJK ideograph counts one. It errs high on ordinary prose, which is
    the safe side for a truncation limit, and it is additive over whitespace-separated pieces.
    """
    words = _WORD_RUNS.findall(text)
    letters = sum(map(len, words))
    return math.ceil(max(1.3 * len(words), letters / 4)) + len(_SINGLE_TOKENS.findall(text))


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    cost: int
    block: int


@dataclass(frozen=True, slots=True)
class _Block:
    start: int
    end: int
    speaker: str | None
    time: str | None
    session: str | None = None
    turn: int | None = None
    at: float | None = None
    id: str | None = None


_SENTENCE_GAPS = re.compile(r"(?<=[.!?…\"'’”»)\]])\s++|(?<=[。！？])")
_SENTENCE_CLOSERS = "\"'’”»)]"
_SENTENCE_ENDS = ".!?…。！？"
_LINE_BREAKS = re.compile(r"\n\s*+")
_WORDS = re.compile(r"\S+")


def _is_sentence_gap(text: str, gap_start: int, floor: int) -> bool:
    """True when the text before a gap ends a sentence, looking past a few closing quotes."""
    pos = gap_start - 1
    while pos >= floor and pos > gap_start - 4 and text[pos] in _SENTENCE_CLOSERS:
        pos -= 1
    return pos >= floor and text[pos] in _SENTENCE_ENDS


class _Chunker:
    """One chunking run over one document; holds the counter, the limits, and the text."""

    def __init__(
        self, doc: ParsedDocument, count_tokens: TokenCounter, max_tokens: int, overlap: int
    ) -> None:
        self.text = doc.text
        self.count = count_tokens
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.chat = doc.kind == "chat"
        self.overhead = max(count_tokens(""), 0)
        self.blocks = _blocks(doc)

    # --- measuring ---

    def cost(self, start: int, end: int) -> int:
        """Tokens of ``text[start:end]`` beyond the counter's fixed overhead."""
        return max(self.count(self.text[start:end]) - self.overhead, 0)

    def fits(self, start: int, end: int, limit: int | None = None) -> bool:
        return self.count(self.text[start:end]) <= (self.max_tokens if limit is None else limit)

    # --- cutting segments into units ---

    def units(self) -> list[_Unit]:
        units: list[_Unit] = []
        for index, block in enumerate(self.blocks):
            cost = self.cost(block.start, block.end)
            for start, end, piece_cost in self._cut(block.start, block.end, cost, 0):
                units.append(_Unit(start, end, piece_cost, index))
        return units

    def _cut(self, start: int, end: int, cost: int, level: int) -> Iterator[tuple[int, int, int]]:
        """Pieces of ``start:end`` that each fit, cut at the coarsest boundary that helps."""
        if self.overhead + cost <= self.max_tokens:
            yield start, end, cost
            return
        for depth in range(level, 3):
            spans = self._spans(start, end, depth)
            if len(spans) > 1:
                for a, b in spans:
                    yield from self._cut(a, b, self.cost(a, b), depth + 1)
                return
        yield from self._cut_words(start, end)

    def _spans(self, start: int, end: int, depth: int) -> list[tuple[int, int]]:
        """Non-blank spans of ``start:end`` between blank lines, sentence ends, or line breaks."""
        gaps: Iterable[re.Match[str]]
        if depth == 0:
            gaps = BLANK_LINES.finditer(self.text, start, end)
        elif depth == 1:
            gaps = (
                m
                for m in _SENTENCE_GAPS.finditer(self.text, start, end)
                if _is_sentence_gap(self.text, m.start(), start)
            )
        else:
            gaps = _LINE_BREAKS.finditer(self.text, start, end)
        return between(self.text, start, end, gaps)

    def _cut_words(self, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """Runs of whole words that each fit; a word too long alone is cut between characters.

        Runs leave room for the overlap, because the next run continues mid-sentence, where the
        overlap matters most.
        """
        limit = self.max_tokens - self.overlap
        words = _WORDS.finditer(self.text, start, end)
        pending: list[tuple[int, int]] = []
        guess = 1
        while True:
            _fill(pending, words, 1)
            if not pending:
                return
            first = pending[0][0]
            if not self.fits(first, pending[0][1], limit):
                yield from self._cut_characters(*pending.pop(0), limit)
                continue

            def fits_words(n: int, first: int = first) -> bool:
                return self.fits(first, pending[n - 1][1], limit)

            taken = max(_largest(fits_words, guess, lambda n: _fill(pending, words, n)), 1)
            guess = taken
            last = pending[taken - 1][1]
            del pending[:taken]
            yield first, last, self.cost(first, last)

    def _cut_characters(self, start: int, end: int, limit: int) -> Iterator[tuple[int, int, int]]:
        """Pieces of one overlong word; a single character is kept even if it alone is too big."""
        guess = 1
        while start < end:

            def fits_chars(n: int, start: int = start) -> bool:
                return self.fits(start, start + n, limit)

            taken = _largest(fits_chars, guess, lambda n, start=start: min(n, end - start))
            taken = max(taken, 1)
            guess = taken
            yield start, start + taken, self.cost(start, start + taken)
            start += taken

    # --- packing units into chunks ---

    def chunks(self) -> list[Chunk]:
        units = self.units()
        chunks: list[Chunk] = []
        i = 0
        carry: tuple[int, int, int] | None = None  # (start, cost, block) of the overlap
        while i < len(units):
            if carry is not None and self.overhead + carry[1] + units[i].cost > self.max_tokens:
                carry = None
            cost = self.overhead + units[i].cost + (carry[1] if carry else 0)
            j = i + 1
            while (
                j < len(units)
                and cost + units[j].cost <= self.max_tokens
                and not self.new_session(units[j - 1], units[j])
            ):
                cost += units[j].cost
                j += 1
            while (carry is not None or j - i > 1) and not self.fits(
                carry[0] if carry else units[i].start, units[j - 1].end
            ):
                if j - i > 1:
                    j -= 1
                else:
                    carry = None
            start = carry[0] if carry else units[i].start
            first_block = carry[2] if carry else units[i].block
            chunks.append(
                self._chunk(len(chunks), start, units[j - 1].end, first_block, units[j - 1].block)
            )
            if j < len(units) and self.overlap > 0 and not self.new_session(units[j - 1], units[j]):
                budget = self.max_tokens - self.overhead - units[j].cost
                carry = self._overlap(units, i, j, carry is not None, budget)
            else:
                carry = None
            i = j
        return chunks

    def new_session(self, before: _Unit, after: _Unit) -> bool:
        """True where a chat's session changes between two units: no chunk spans that."""
        return self.chat and self.blocks[before.block].session != self.blocks[after.block].session

    def _chunk(self, index: int, start: int, end: int, first: int, last: int) -> Chunk:
        speakers: list[str] = []
        times = []
        blocks = self.blocks[first : last + 1]
        for block in blocks:
            if block.speaker is not None and block.speaker not in speakers:
                speakers.append(block.speaker)
            if block.time is not None:
                times.append(block.time)
        turns = [b.turn for b in blocks if b.turn is not None]
        offsets = [b.at for b in blocks if b.at is not None]
        ids = tuple(dict.fromkeys(b.id for b in blocks if b.id is not None))
        return Chunk(
            index=index,
            text=self.text[start:end],
            start=start,
            end=end,
            speakers=tuple(speakers),
            time_start=times[0] if times else None,
            time_end=times[-1] if times else None,
            session=blocks[0].session if self.chat and blocks else None,
            turn_first=min(turns) if turns else None,
            turn_last=max(turns) if turns else None,
            turn_times=tuple(b.time for b in blocks) if self.chat else (),
            at=offsets[0] if offsets else None,
            message_ids=ids,
        )

    def _overlap(
        self, units: list[_Unit], i: int, j: int, carried: bool, room: int
    ) -> tuple[int, int, int] | None:
        """The tail of chunk ``units[i:j]`` that the next chunk starts with, or None.

        It stays a strict suffix of the chunk (so every chunk adds text of its own), holds about
        ``overlap`` tokens, and leaves ``room`` for the next unit.
        """
        budget = min(self.overlap, room)
        lowest = i if carried else i + 1
        taken = 0
        k = j
        while k > lowest and taken + units[k - 1].cost <= budget:
            taken += units[k - 1].cost
            k -= 1
        if self.chat:
            # Exactly one turn (or the last piece of a cut one) is repeated, if there is room.
            if j - 1 >= lowest and units[j - 1].cost <= room:
                return units[j - 1].start, units[j - 1].cost, units[j - 1].block
            return None
        best = (units[k].start, taken, units[k].block) if k < j else None
        if k - 1 >= i and budget > taken:
            partial = units[k - 1]
            tail = self._tail_sentences(partial.start, partial.end, budget - taken)
            if tail is None and best is None:
                tail = self._tail_words(partial.start, partial.end, budget)
            if tail is not None:
                best = (tail[0], taken + tail[1], partial.block)
        return best

    def _tail_sentences(self, start: int, end: int, budget: int) -> tuple[int, int] | None:
        """(start, cost) of the longest run of whole trailing sentences within ``budget``,
        never the whole span."""
        sentences = self._spans(start, end, 1)
        taken = 0
        found = None
        for a, b in reversed(sentences[1:]):
            cost = self.cost(a, b)
            if taken + cost > budget:
                break
            taken += cost
            found = (a, taken)
        return found

    def _tail_words(self, start: int, end: int, budget: int) -> tuple[int, int] | None:
        """(start, cost) of the most trailing words whose text fits ``budget``, never all."""
        starts = [m.start() for m in _WORDS.finditer(self.text, start, end)][1:]
        limit = self.overhead + budget

        def fits_tail(n: int) -> bool:
            return self.count(self.text[starts[-n] : end]) <= limit

        n = _largest(fits_tail, 1, lambda n: min(n, len(starts))) if starts else 0
        if n == 0:
            return None
        return starts[-n], self.cost(starts[-n], end)


def _fill(pending: list[tuple[int, int]], words: Iterator[re.Match[str]], n: int) -> int:
    """Read words until ``pending`` holds ``n`` (or the words run out); return how many it holds."""
    while len(pending) < n:
        word = next(words, None)
        if word is None:
            break
        pending.append(word.span())
    return min(n, len(pending))


def _largest(fits: Callable[[int], bool], guess: int, available: Callable[[int], int]) -> int:
    """The largest n ≥ 1 with ``fits(n)``, assuming ``fits(1)``; 0 if even 1 does not fit.

    ``available(n)`` caps n at what exists. The search starts from ``guess`` (the previous
    answer) and gallops, so uniform text costs a few measurements per piece instead of a scan.
    """
    if available(1) < 1:
        return 0
    n = max(1, available(guess))
    if fits(n):
        low, high = n, None
        step = 1
        while high is None:
            probe = available(low + step)
            if probe <= low:
                return low
            if fits(probe):
                low = probe
                step *= 2
            else:
                high = probe
    else:
        low, high = 0, n
        step = 1
        while (probe := high - step) >= 1:
            if fits(probe):
                low = probe
                break
            high = probe
            step *= 2
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def _blocks(doc: ParsedDocument) -> list[_Block]:
    """The document's segments as trimmed spans, plus any text they leave out, in order."""
    text = doc.text
    blocks: list[_Block] = []
    pos = 0

    def gap(end: int) -> None:
        for a, b in paragraphs(text, pos, end):
            blocks.append(_Block(a, b, None, None))

    for segment in doc.segments:
        if not pos <= segment.start <= segment.end <= len(text):
            raise ValueError(f"segment {segment.start}:{segment.end} is out of order or bounds")
        if text[segment.start : segment.end] != segment.text:
            raise ValueError(f"segment {segment.start}:{segment.end} does not match the text")
        gap(segment.start)
        if (span := trimmed(text, segment.start, segment.end)) is not None:
            blocks.append(
                _Block(
                    span[0],
                    span[1],
                    segment.speaker,
                    segment.time,
                    segment.session,
                    segment.turn,
                    segment.at,
                    segment.id,
                )
            )
        pos = segment.end
    gap(len(text))
    return blocks


def chunk_document(
    doc: ParsedDocument,
    count_tokens: TokenCounter = approximate_tokens,
    *,
    max_tokens: int = 200,
    overlap_tokens: int = 40,
) -> list[Chunk]:
    """Cut ``doc`` into chunks of at most ``max_tokens`` tokens as ``count_tokens`` measures them.

    Segments are kept whole where they fit; each chunk after the first repeats about
    ``overlap_tokens`` from the end of the one before. A chunk exceeds ``max_tokens`` only when a
    single character alone does. Raises ValueError for limits that make no sense or for segments
    that are not exact spans of ``doc.text``.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens must be in [0, max_tokens), not {overlap_tokens}")
    return _Chunker(doc, count_tokens, max_tokens, overlap_tokens).chunks()
