"""Whether an answer says what the memories say, checked before anyone reads it. Pure functions.

A small model writes fluent sentences whatever it was given, so the node does not take its word:
every sentence of an answer is held until it is complete, and shown only if the words that carry
its meaning (and every number in it) occur in the memories the model was given. A sentence that
only repeats the question adds nothing and is not an answer either. When nothing of an answer
survives, the node says it does not remember and quotes the closest memory it has, with its
source and date, so the owner sees what it found instead of what the model made up.

Before the model is asked at all, :func:`covers` says whether the memories found could answer the
question: every name it asks about and most of its other content words must occur in them.
Questions the memories cannot answer are answered "I don't remember" at once, which is both
more honest and faster than asking the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from secondme.node.memory.l1.text import MONTHS, STOPWORDS, content_words, shorten, stem, words

DONT_REMEMBER = "I don't remember"
_CLOSEST_CHARS = 240

_GLUE_LIST = """
think believe remember recall guess sure maybe probably perhaps yes yeah nope mean means
actually definitely certainly indeed quite pretty kind sort seems seem seemed
answer question memory memories mention mentioned says said tell told
"""
GLUE = frozenset(_GLUE_LIST.split())
"""Words an answer may use that no memory needs to contain: hedges and talk about the answer
itself. General English, not the vocabulary of any corpus."""

_QUESTION_WORDS = frozenset(
    "what when where which who whom whose why how would could should does did do is are was "
    "were will can".split()
)
_FRAME = re.compile(
    r"\b(?:name|kind|type|sort)\s+of\b|\b(?:named|called)\b"
    r"|(?:(?<=which )|(?<=what ))(?:city|town|country|place)\b",
    re.IGNORECASE,
)
"""Words that frame a question rather than say what it is about ("what is the *name of* her
cat", "what *kind of* pet", "which *city*"): the memory that answers need not use them
("middle name" is still asked about)."""
_QUESTION_STEMS = frozenset(stem(w) for w in _QUESTION_WORDS)
_NUMBER = re.compile(r"\d+")
_CITATION = re.compile(r"\s*\[(\d{1,3})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_TURN_OR_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z][\w'’ -]{0,40}: )")
"""Between chat turns on one line ("... lot. Maya: That's ..."), where memories were joined."""
_PREAMBLE = re.compile(
    r"""^\s*(?:
        \[\d{1,3}\]\s*\([^)]{0,200}\)          # a memory's header, copied: [1] (notes.md, ...)
      | (?:the\s+)?(?:short\s+)?answer(?:\s+to\s+the\s+question)?\s+is\s*:?
      | (?:short\s+)?answer\s*:
      | a\s*:
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_HEADER_COPY = re.compile(r"\s*\[\d{1,3}\]\s*\([^)]{0,200}\)")
"""What small models put before an answer ("The answer is:", a memory's header copied), not
part of it."""
_NAME = re.compile(r"\b[A-Z][\w'’-]*[a-z][\w'’-]*")
_FULL_NAME = re.compile(rf"{_NAME.pattern}(?:\s+{_NAME.pattern[2:]})*")
"""Capitalised words in a row: one name ("Kofi Mensah")."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the memories given to the model say, in the form the check reads."""

    vocab: frozenset[str]
    numbers: frozenset[str]
    per_memory: tuple[frozenset[str], ...] = ()

    @classmethod
    def of(cls, texts: Sequence[str], *, names: Iterable[str] = ()) -> Evidence:
        """``texts``: each memory as the model read it (dates included); ``names``: names the
        answer may use freely (the owner's, the speaker's)."""
        per_memory = tuple(
            frozenset(stem(w) for w in words(text)) | frozenset(_numbers(text)) for text in texts
        )
        vocab = frozenset().union(*per_memory) | {stem(w) for n in names for w in words(n)}
        numbers = frozenset(n for t in texts for n in _numbers(t))
        return cls(vocab=vocab, numbers=numbers, per_memory=per_memory)


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    sentence: str
    """The sentence as shown (citations kept)."""
    supported: bool
    answers: bool
    """It says something the question did not: a supported word or number of its own."""
    unsupported: tuple[str, ...] = ()
    cited: tuple[int, ...] = ()


def _numbers(text: str) -> list[str]:
    return [n.lstrip("0") or "0" for n in _NUMBER.findall(text)]


def check_sentence(
    sentence: str,
    evidence: Evidence,
    question: str = "",
    *,
    memories: int | None = None,
    tolerance: float = 0.2,
) -> SentenceCheck:
    """Whether ``sentence`` is what the memories say, and whether it adds to ``question``.

    At most ``tolerance`` of its content words (one in a sentence of three or more) may be
    missing from the memories, for a model rephrases; every name and number must be in them.
    Citations ``[n]`` are read (``n`` at most ``memories``) and not checked as words.
    """
    cited = tuple(
        n
        for n in (int(m) for m in _CITATION.findall(sentence))
        if memories is None or 0 < n <= memories
    )
    plain = _CITATION.sub("", sentence)
    meaningful = [w for w in content_words(plain) if w not in GLUE]
    missing = tuple(w for w in meaningful if stem(w) not in evidence.vocab)
    # A name is never rephrasing: one the memories do not hold fails the sentence on its own.
    names = {m.group().lower() for m in _NAME.finditer(plain) if m.start() > 0}
    missing_names = [w for w in missing if w in names]
    lifted = _names_from_elsewhere(names - set(missing), evidence, question)
    missing_names += lifted
    numbers = _numbers(plain)
    missing_numbers = tuple(n for n in numbers if n not in evidence.numbers)
    said = {stem(w) for w in words(question)}
    new_words = [w for w in meaningful if stem(w) in evidence.vocab and stem(w) not in said]
    new_numbers = [n for n in numbers if n in evidence.numbers and n not in _numbers(question)]
    # An answer is about what was asked: it shares a word of the question besides the names in
    # it (a date will do for "when"), or the question asks nothing but a name.
    named = {stem(w) for name in asked_names(question) for w in name.split()}
    topic = {stem(w) for w in content_words(_FRAME.sub(" ", question))} - named - _QUESTION_STEMS
    on_topic = (
        not topic
        or bool(topic & {stem(w) for w in meaningful})
        or (bool(new_numbers) and asks_when(question))
    )
    if not meaningful and not numbers:
        return SentenceCheck(plain.strip(), supported=True, answers=False, cited=cited)
    # Rephrasing needs a word of its own now and then ("the group was *held* on ..."): one new
    # lower-case word in three is let through, or ``tolerance`` of a longer sentence.
    allowed = max(tolerance * len(meaningful), 1 if len(meaningful) >= 3 else 0)
    supported = not missing_numbers and not missing_names and len(missing) <= allowed
    return SentenceCheck(
        sentence.strip(),
        supported=supported,
        answers=supported and on_topic and bool(new_words or new_numbers),
        unsupported=missing + tuple(lifted) + missing_numbers,
        cited=cited,
    )


def _names_from_elsewhere(names: Iterable[str], evidence: Evidence, question: str) -> list[str]:
    """Names of an answer that only memories unrelated to the question hold: a small model
    lifts a name from the memory next to the right one ("with my friend Ana" when Ana was in
    Lisbon, not Kyoto). A name counts only where a memory holding it shares a word with the
    question."""
    named = {stem(w) for name in asked_names(question) for w in name.split()}
    asked = {stem(w) for w in content_words(_FRAME.sub(" ", question))} - _QUESTION_STEMS
    asked = (asked - named) or asked  # what is asked about, else whom
    if not asked or not evidence.per_memory:
        return []
    lifted = []
    for name in names:
        key = stem(name)
        if key in asked:
            continue
        holders = [memory for memory in evidence.per_memory if key in memory]
        if holders and not any(memory & asked for memory in holders):
            lifted.append(name)
    return lifted


def split_sentences(text: str) -> tuple[list[str], str]:
    """Complete sentences of ``text`` and the unfinished rest."""
    parts = _SENTENCE_END.split(text)
    done = [p for p in parts[:-1] if p.strip()]
    return done, parts[-1]


@dataclass(slots=True)
class AnswerCheck:
    """An answer checked as it is written: feed pieces, take the sentences that may be shown."""

    evidence: Evidence
    question: str
    memories: int
    kept: list[SentenceCheck] = field(default_factory=list)
    dropped: list[SentenceCheck] = field(default_factory=list)
    _pending: str = ""

    def feed(self, piece: str) -> list[str]:
        """The sentences completed by ``piece`` that pass the check (to show now)."""
        done, self._pending = split_sentences(self._pending + piece)
        return self._take(done)

    def finish(self) -> list[str]:
        rest, self._pending = self._pending, ""
        return self._take([rest] if rest.strip() else [])

    def _take(self, sentences: list[str]) -> list[str]:
        shown = []
        for sentence in sentences:
            if not self.kept and not self.dropped:
                sentence = _PREAMBLE.sub("", _PREAMBLE.sub("", sentence))
            # A model that goes on to recite its memories ("... [2] (notes.md, part 1) # ...")
            # has stopped answering: what follows the copied header is not part of the answer.
            sentence = _HEADER_COPY.split(sentence, maxsplit=1)[0].lstrip("# ").rstrip()
            if not sentence:
                continue
            verdict = check_sentence(sentence, self.evidence, self.question, memories=self.memories)
            if verdict.supported and (verdict.answers or self.answered):
                self.kept.append(verdict)
                shown.append(verdict.sentence)
            else:
                self.dropped.append(verdict)
        return shown

    @property
    def answered(self) -> bool:
        """Something of the answer says what the memories say beyond the question."""
        return any(v.answers for v in self.kept)

    @property
    def cited(self) -> list[int]:
        return list(dict.fromkeys(n for v in self.kept for n in v.cited))

    def used(self) -> list[int]:
        """Memory numbers (from 1) the shown sentences rest on: those cited, else the memory
        sharing the most words with each sentence."""
        if self.cited:
            return self.cited
        found: list[int] = []
        for verdict in self.kept:
            sentence = verdict.sentence
            own = {stem(w) for w in content_words(sentence)} | set(_numbers(sentence))
            own -= {stem(w) for w in words(self.question)} | set(_numbers(self.question))
            if not own:
                continue
            scores = [len(own & memory) for memory in self.evidence.per_memory]
            if scores and max(scores) > 0:
                best = scores.index(max(scores)) + 1
                if best not in found:
                    found.append(best)
        return found


def asked_names(question: str, *, known: Iterable[str] = ()) -> list[str]:
    """Names a question asks about: known names it contains, and capitalised words that are not
    the sentence's first word or a question word."""
    found: list[str] = []
    lowered = f" {' '.join(words(question))} "
    for name in known:
        key = " ".join(words(name))
        if all(w in STOPWORDS or w in _QUESTION_WORDS for w in key.split()):
            continue  # "Did", "May": a capitalised word memory took for a name
        if key and f" {key} " in lowered and key not in found:
            found.append(key)
    for match in _FULL_NAME.finditer(question):
        parts = match.group().lower().split()
        if not question[: match.start()].strip(" \"'“("):
            parts = parts[1:]  # the sentence's first word is capitalised anyway
        parts[-1:] = [p.removesuffix("'s").removesuffix("’s") for p in parts[-1:]]
        parts = [p for p in parts if p not in _QUESTION_WORDS and p not in {"i", "i'm"}]
        name = " ".join(parts)
        if name and not any(set(parts) <= set(known.split()) for known in found):
            found.append(name)
    return found


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a question the memories found speak to: the names it asks about that no
    memory holds, and its other content words, with those the best single line holds."""

    missing_names: tuple[str, ...]
    keywords: tuple[str, ...]
    found_keywords: tuple[str, ...]

    @property
    def share(self) -> float:
        return len(self.found_keywords) / len(self.keywords) if self.keywords else 1.0

    def enough(self, threshold: float = 0.5) -> bool:
        """Every name, and more than ``threshold`` of the other words, in one line."""
        return not self.missing_names and (not self.keywords or self.share > threshold)


def coverage(
    question: str,
    texts: Sequence[str],
    *,
    known_names: Iterable[str] = (),
    free_names: Iterable[str] = (),
) -> Coverage:
    """Whether the memory ``texts`` could answer ``question``: the names it asks about (bar
    ``free_names``, the owner's own) and its other content words, found in them."""
    vocab = frozenset(stem(w) for text in texts for w in words(text))
    free = {" ".join(words(n)) for n in free_names}
    free |= {part for name in free for part in name.split()}
    names = [n for n in asked_names(question, known=known_names) if n not in free]
    missing = tuple(n for n in names if not all(stem(w) in vocab for w in n.split()))
    name_words = {w for n in names for w in n.split()} | {w for n in free for w in n.split()}
    keywords = tuple(
        dict.fromkeys(
            w
            for w in content_words(_FRAME.sub(" ", question))
            if w not in name_words and w not in _QUESTION_WORDS and w not in GLUE
        )
    )
    # The words must come together in one line (a chat turn, a sentence): "middle name" is not
    # answered by "the name is Tofu" in one turn and "middle" in another.
    found: tuple[str, ...] = ()
    for piece in (p for text in texts for p in _pieces(text)):
        held = {stem(w) for w in words(piece)}
        in_line = tuple(w for w in keywords if stem(w) in held)
        if len(in_line) > len(found):
            found = in_line
    return Coverage(missing_names=missing, keywords=keywords, found_keywords=found)


def dont_remember(closest: str | None, where: str | None) -> str:
    """The answer when the memories do not say: honest, with the nearest thing the node has."""
    if not closest:
        return f"{DONT_REMEMBER} anything about that."
    quoted = shorten(closest, _CLOSEST_CHARS)
    return f"{DONT_REMEMBER}. The closest memory I have is “{quoted}” ({where})."


_WHEN = re.compile(
    r"^\s*when\b|\bwhat (?:date|day|month|year|time)\b|\bhow long ago\b"
    r"|\bwhich (?:day|month|year)\b",
    re.IGNORECASE,
)
_MONTHS = frozenset(MONTHS)
_DAYS = frozenset(
    "yesterday today monday tuesday wednesday thursday friday saturday sunday".split()
)


def asks_when(question: str) -> bool:
    """The question asks for a time, so the answer must name one."""
    return bool(_WHEN.search(question))


def names_a_time(text: str) -> bool:
    """``text`` names a date: a number, a month, a weekday or a relative day."""
    lowered = set(words(text))
    return bool(_NUMBER.search(text) or lowered & _MONTHS or lowered & _DAYS)


@dataclass(frozen=True, slots=True)
class DatedWords:
    """A date a memory gives, with the words it was said in."""

    shown: str
    """The date as the owner reads it (``13 May 2026``)."""
    context: str


def best_date(question: str, dated: Sequence[DatedWords]) -> DatedWords | None:
    """The date whose words share the most content words with the question (the first on a tie:
    callers list a memory's own mentions before its time)."""
    asked = {stem(w) for w in content_words(question)}
    best, best_score = None, -1
    for candidate in dated:
        score = len(asked & {stem(w) for w in content_words(candidate.context)})
        if score > best_score:
            best, best_score = candidate, score
    return best


def _pieces(text: str) -> list[str]:
    """A memory's lines (chat turns), and turns run together on one line, apart."""
    return [
        p.strip() for line in text.splitlines() for p in _TURN_OR_SENTENCE.split(line) if p.strip()
    ]


def _overlap(asked: frozenset[str], piece: str) -> int:
    return len(asked & {stem(w) for w in content_words(piece)})


def overlap(question: str, text: str) -> int:
    """How many of the question's content words ``text`` uses."""
    return _overlap(frozenset(stem(w) for w in content_words(question)), text)


def closest_words(question: str, text: str) -> str:
    """The line (a chat turn) of a memory that shares the most words with the question: what
    the owner is shown when the node does not remember."""
    pieces = _pieces(text)
    if not pieces:
        return text
    asked = frozenset(stem(w) for w in content_words(question))
    # On a tie the line that says more: a sentence rather than its heading.
    scores = [(_overlap(asked, p), len(content_words(p))) for p in pieces]
    return pieces[scores.index(max(scores))].lstrip("#> ").strip() or pieces[0]


def best_lines(question: str, text: str, most: int = 2) -> list[str]:
    """The ``most`` lines of a memory that share words with the question, in their order; none
    when no line does. When the question names people, a chat turn by someone else that does
    not name them is left out: a small model reads two apt lines better than a page, and
    credits whoever it reads first with what was said."""
    pieces = _pieces(text)
    people = {w for name in asked_names(question) for w in name.split()}
    # The names asked about pick whose turns count, not which: every turn of theirs has them.
    asked = frozenset(stem(w) for w in content_words(question) if w not in people)

    def score(piece: str) -> int:
        speaker, _, said = piece.partition(": ")
        about = set(words(speaker)) | set(words(said))
        if people and said and len(speaker) <= 40 and not about & people:
            return 0
        return _overlap(asked, piece)

    scores = [score(p) for p in pieces]
    ranked = sorted(range(len(pieces)), key=lambda i: (-scores[i], i))
    chosen = [i for i in ranked[:most] if scores[i] > 0]
    return [pieces[i] for i in sorted(chosen)]


def answering_line(
    question: str, texts: Sequence[str], *, free_names: Iterable[str] = ()
) -> tuple[int, str] | None:
    """The first line (a chat turn, a sentence) among the memory ``texts`` that holds every
    word the question asks about, names included (a speaker counts): when the model cannot put
    the answer in words, that memory itself is the answer, quoted. Returns (index of the text,
    the line); None when no line holds them all, or the question asks nothing but a name."""
    free = {w for name in free_names for w in words(name)}
    names = {w for n in asked_names(question) for w in n.split()} - free
    wanted = {stem(w) for w in content_words(_FRAME.sub(" ", question)) if w not in free}
    wanted -= _QUESTION_STEMS
    if not wanted - {stem(w) for w in names}:
        return None
    for index, text in enumerate(texts):
        for line in _pieces(text):
            if wanted <= {stem(w) for w in words(line)}:
                return index, line
    return None
