"""Training data for L2, synthesized from the owner's memory with the local model.

For each passage of the owner's own writing (an L0 chunk) the model writes a question the passage
answers, then answers it twice: as the owner with the passage in front of it (grounded) and
without it (ungrounded). That gives three kinds of example:

- ``qa``: the question and the grounded answer, with the owner's persona as the only context, so
  the trained model knows the owner without retrieving;
- ``context``: the same question with the memories that retrieval finds for it, laid out as the
  chat service lays them out, so the model learns to use its memories when it has them;
- a preference pair on every ``qa`` example that has a usable ungrounded answer: grounded
  preferred over ungrounded (DPO).

Held-out examples (``heldout``) ask about the same passages in other words and are answered with
the owner's own sentences; evaluation scores the model on them. Every sample keeps the chunk ids
it came from. A model answer that says what the passage does not is replaced by the owner's own
sentences; questions that repeat another (same words, or embeddings at least ``_NEAR_DUPLICATE``
apart) are dropped. Passages are drawn from the topics in proportion to their size, so one
prolific topic does not crowd out the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from secondme.node.core.errors import NotEnoughData
from secondme.node.memory.l1.text import content_words, is_grounded, sentences, vocabulary, words

Message = dict[str, str]
Generate = Callable[[list[Message], int, float], Awaitable[str]]
Embed = Callable[[Sequence[str]], np.ndarray]
Retrieve = Callable[[str], Awaitable[tuple[str, tuple[str, ...]]]]  # → memory block, chunk ids
Progress = Callable[[int, int], None]

MIN_PASSAGES = 3  # distinct passages of the owner's writing
MIN_WORDS = 120  # content words across them
MIN_TRAIN = 4  # validated training examples after deduplication

_NEAR_DUPLICATE = 0.95
_PASSAGE_MIN_WORDS = 6
_QUESTION_WORDS = (3, 30)
_ANSWER_WORDS = (4, 90)
_GROUNDED_TOLERANCE = 0.35
_QUESTION_TEMPLATES = (
    "What can you tell me about {subject}?",
    "Do you remember anything about {subject}?",
    "What do you know about {subject}?",
    "Tell me about {subject}.",
    "What did you write about {subject}?",
    "What comes to mind when you think of {subject}?",
)
_ECHOES = re.compile(r"\b(note|notes|question|answer)\s*:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Passage:
    chunk_id: str
    title: str
    text: str
    topic: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    kind: str  # "qa", "context" or "heldout"
    question: str
    answer: str
    sources: tuple[str, ...]
    method: str  # "model" (the local model's grounded answer) or "own words"
    rejected: str | None = None  # an ungrounded answer the grounded one is preferred over
    context: str | None = None  # the memory block a "context" example is given
    fact: str | None = None  # a distinctive word of the answer, for recall
    topic: str | None = None

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.kind}\n{self.question}".encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "question": self.question,
            "answer": self.answer,
            "rejected": self.rejected,
            "context": self.context,
            "fact": self.fact,
            "topic": self.topic,
            "sources": list(self.sources),
            "method": self.method,
        }


@dataclass(slots=True)
class SynthReport:
    samples: list[Sample] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # reason → count

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for sample in self.samples:
            found[sample.kind] = found.get(sample.kind, 0) + 1
        found["pairs"] = sum(1 for s in self.samples if s.rejected)
        return found


def check_enough(passages: Sequence[Passage]) -> None:
    """Raise :class:`NotEnoughData` saying what to ingest when memory is too thin to learn from."""
    if not passages:
        raise NotEnoughData(
            "memory holds none of your writing: ingest documents first "
            "(`secondme-node ingest PATH`), then train"
        )
    total = sum(len(content_words(p.text)) for p in passages)
    if len(passages) < MIN_PASSAGES or total < MIN_WORDS:
        more_passages = max(0, MIN_PASSAGES - len(passages))
        more_words = max(0, MIN_WORDS - total)
        need = []
        if more_passages:
            need.append(f"{more_passages} more passage{'s' * (more_passages > 1)}")
        if more_words:
            need.append(f"about {more_words} more word{'s' * (more_words > 1)}")
        raise NotEnoughData(
            f"too little to learn from: memory has {len(passages)} passages of your writing "
            f"({total} words that carry meaning); L2 needs at least {MIN_PASSAGES} passages and "
            f"{MIN_WORDS} words: ingest {' and '.join(need)}"
        )


def usable(passages: Sequence[Passage], excluded_topics: Sequence[str]) -> list[Passage]:
    """Passages long enough to ask about, none from (or naming) an excluded topic."""
    banned = [t.strip().lower() for t in excluded_topics if t.strip()]
    kept = []
    for passage in passages:
        if len(content_words(passage.text)) < _PASSAGE_MIN_WORDS:
            continue
        if passage.topic and passage.topic.lower() in banned:
            continue
        if mentions(passage.text, banned):
            continue
        kept.append(passage)
    return kept


def mentions(text: str, names: Sequence[str]) -> bool:
    """True if ``text`` names any of ``names`` (lower-cased) as whole words."""
    padded = " " + " ".join(words(text)) + " "
    return any(f" {' '.join(words(name))} " in padded for name in names if words(name))


def in_proportion(passages: Sequence[Passage], n: int, rng: random.Random) -> list[Passage]:
    """``n`` passages, each topic's share in proportion to its size; passages repeat only when
    there are fewer than ``n`` (a repeat is asked in other words)."""
    by_topic: dict[str | None, list[Passage]] = {}
    for passage in passages:
        by_topic.setdefault(passage.topic, []).append(passage)
    for group in by_topic.values():
        rng.shuffle(group)
    total = len(passages)
    quotas = {topic: max(1, round(n * len(group) / total)) for topic, group in by_topic.items()}
    chosen: list[Passage] = []
    for topic, group in by_topic.items():
        chosen += [group[i % len(group)] for i in range(quotas[topic])]
    rng.shuffle(chosen)
    return chosen[:n]


def key_fact(text: str) -> str | None:
    """A distinctive word of ``text`` that a model only says if it learned it: a number of two or
    more digits, or the longest capitalised word that does not open a sentence."""
    numbers = re.findall(r"\b\d{2,}\b", text)
    if numbers:
        return max(numbers, key=len)
    names = []
    for sentence in sentences(text):
        tokens = re.findall(r"[A-Za-z][\w'-]*", sentence)
        names += [t for t in tokens[1:] if t[0].isupper() and t.lower() not in {"i", "i'm", "i've"}]
    names = [n for n in names if len(n) >= 4]
    return max(names, key=len) if names else None


def complete_sentences(text: str) -> str:
    """``text`` without a cut-off last sentence and without sentences said twice (a small
    model that runs out of tokens or loops leaves both)."""
    kept: list[str] = []
    for sentence in sentences(" ".join(text.split())):
        if sentence[-1:] not in ".!?\"')" or sentence in kept:
            continue
        kept.append(sentence)
    return " ".join(kept)


def own_words(question: str, passage: Passage, limit: int = 2) -> str:
    """The passage's sentences that share most with the question, in the passage's order;
    headings (lines without a full stop) only when there is nothing else."""
    found = [s for s in sentences(passage.text) if s[-1:] in ".!?"] or sentences(passage.text)
    asked = set(content_words(question))
    ranked = sorted(
        range(len(found)), key=lambda i: (-len(asked & set(content_words(found[i]))), i)
    )
    keep = sorted(ranked[:limit])
    return " ".join(found[i] for i in keep).strip()


def subject_of(passage: Passage) -> str:
    """What a templated question asks about: the topic, else the title, else the key fact."""
    return passage.topic or passage.title or key_fact(passage.text) or "that"


def clean_question(text: str) -> str | None:
    """The model's first line as a question, or None if it is not one."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(q(uestion)?\s*[:.)-]\s*|\d+[.)]\s*)", "", line, flags=re.IGNORECASE)
    line = line.strip(" \"'")
    if "?" not in line:
        return None
    line = line[: line.index("?") + 1]
    low, high = _QUESTION_WORDS
    return line if low <= len(line.split()) <= high else None


def grounded_answer(text: str, passage: Passage, question: str) -> str | None:
    """The model's answer if it is the right length and says only what the passage says."""
    answer = complete_sentences(text)
    low, high = _ANSWER_WORDS
    if not low <= len(answer.split()) <= high or _ECHOES.search(answer):
        return None
    vocab = vocabulary([passage.text, question])
    return answer if is_grounded(answer, vocab, tolerance=_GROUNDED_TOLERANCE) else None


def ungrounded_answer(text: str, grounded: str, passage: Passage) -> str | None:
    """The model's answer without the passage, if it is a real answer that differs from the
    grounded one (a pair of equals teaches nothing)."""
    answer = complete_sentences(text)
    if len(answer.split()) < 3 or _ECHOES.search(answer):
        return None
    if answer.lower() == grounded.lower() or is_grounded(answer, vocabulary([passage.text])):
        return None
    return answer


def question_prompt(passage: Passage) -> list[Message]:
    return [
        {"role": "system", "content": "You write one short question and nothing else."},
        {
            "role": "user",
            "content": f"Note:\n{passage.text.strip()}\n\n"
            "Write one question that this note answers. Reply with the question only.",
        },
    ]


def answer_prompt(system: str, question: str, passage: Passage | None) -> list[Message]:
    if passage is None:
        return [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": f"My notes:\n{passage.text.strip()}\n\nQuestion: {question}\n"
            "Answer in the first person, in one or two sentences, using only my notes.",
        },
    ]


async def synthesize(
    passages: Sequence[Passage],
    *,
    samples: int,
    heldout_share: float,
    system: str,
    generate: Generate,
    embed: Embed,
    retrieve: Retrieve | None = None,
    progress: Progress | None = None,
    excluded_topics: Sequence[str] = (),
    seed: int = 0,
) -> SynthReport:
    """Training examples from ``passages``; raises :class:`NotEnoughData` if too few come out."""
    rng = random.Random(seed)
    pool = usable(passages, excluded_topics)
    check_enough(pool)
    banned = [t.strip().lower() for t in excluded_topics if t.strip()]
    report = SynthReport()
    chosen = in_proportion(pool, samples, rng)
    asked: set[str] = set()  # questions so far
    held: set[str] = set()  # passages with a held-out question
    for done, passage in enumerate(chosen):
        if progress is not None:
            progress(done, len(chosen))
        question = clean_question(await generate(question_prompt(passage), 48, 0.7))
        if question is None or question in asked:
            unused = [
                q
                for q in (t.format(subject=subject_of(passage)) for t in _QUESTION_TEMPLATES)
                if q not in asked
            ]
            if not unused:
                report.drop("no new question for a passage asked about already")
                continue
            report.drop("model question unusable or repeated (templated instead)")
            question = rng.choice(unused)
        asked.add(question)
        answer = grounded_answer(
            await generate(answer_prompt(system, question, passage), 96, 0.2), passage, question
        )
        method = "model"
        if answer is None:
            answer, method = own_words(question, passage), "own words"
        if mentions(question + " " + answer, banned):
            report.drop("names an excluded topic")
            continue
        rejected = ungrounded_answer(
            await generate(answer_prompt(system, question, None), 96, 0.7), answer, passage
        )
        qa = Sample(
            kind="qa",
            question=question,
            answer=answer,
            method=method,
            rejected=rejected,
            sources=(passage.chunk_id,),
            topic=passage.topic,
            fact=key_fact(answer),
        )
        report.samples.append(qa)
        if retrieve is not None and done % 2 == 0:
            block, found = await retrieve(question)
            if passage.chunk_id in found:
                report.samples.append(
                    dataclasses.replace(
                        qa,
                        kind="context",
                        rejected=None,
                        context=block,
                        sources=tuple(dict.fromkeys((passage.chunk_id, *found))),
                    )
                )
            else:
                report.drop("retrieval missed the passage (no context example)")
        if passage.chunk_id not in held and rng.random() < heldout_share:
            other = heldout_for(passage, asked, rng)
            if other is not None:
                held.add(passage.chunk_id)
                report.samples.append(other)
    if progress is not None:
        progress(len(chosen), len(chosen))
    report.samples = deduplicate(report, embed)
    train = sum(1 for s in report.samples if s.kind == "qa")
    if train < MIN_TRAIN:
        raise NotEnoughData(
            f"only {train} usable training examples came out of {len(pool)} passages; L2 needs "
            f"{MIN_TRAIN}: ingest more of your writing (or exclude fewer topics)"
        )
    if not any(s.kind == "heldout" for s in report.samples):
        # Evaluation needs at least one question the model was not trained on.
        trained = {s.sources[0] for s in report.samples if s.kind == "qa"}
        for passage in (p for p in pool if p.chunk_id in trained):
            other = heldout_for(passage, asked, rng)
            if other is not None:
                report.samples.append(other)
                break
    return report


def heldout_for(passage: Passage, asked: set[str], rng: random.Random) -> Sample | None:
    """A question about ``passage`` worded unlike any asked so far, answered in the owner's own
    words; None when every wording is taken."""
    unused = [
        q
        for q in (t.format(subject=subject_of(passage)) for t in _QUESTION_TEMPLATES)
        if q not in asked
    ]
    if not unused:
        return None
    question = rng.choice(unused)
    asked.add(question)
    answer = own_words(question, passage)
    return Sample(
        kind="heldout",
        question=question,
        answer=answer,
        method="own words",
        sources=(passage.chunk_id,),
        topic=passage.topic,
        fact=key_fact(answer),
    )


def deduplicate(report: SynthReport, embed: Embed) -> list[Sample]:
    """Drop samples whose question repeats an earlier one of the same kind, word for word or
    nearly (cosine of the question embeddings at least ``_NEAR_DUPLICATE``)."""
    kept: list[Sample] = []
    seen: set[tuple[str, str]] = set()
    for sample in report.samples:
        key = (sample.kind, " ".join(words(sample.question)))
        if key in seen:
            report.drop("duplicate question")
            continue
        seen.add(key)
        kept.append(sample)
    if len(kept) < 2:
        return kept
    vectors = np.asarray(embed([s.question for s in kept]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    similar = vectors @ vectors.T
    result: list[Sample] = []
    chosen: list[int] = []
    for i, sample in enumerate(kept):
        twins = [j for j in chosen if kept[j].kind == sample.kind]
        if twins and float(similar[i, twins].max()) >= _NEAR_DUPLICATE:
            report.drop("near-duplicate question")
            continue
        chosen.append(i)
        result.append(sample)
    return result
