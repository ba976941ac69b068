"""What the node says when the model's answer is not shown, read from the memories themselves:
the date a turn gives, the line that answers, the closest memory to quote with "I don't
remember", and why the model was not asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from secondme.node.chat.grounded import (
    AnswerCheck,
    Coverage,
    answering_line,
    asked_names,
    asks_when,
    best_date,
    closest_words,
    dont_remember,
    names_a_time,
    overlap,
)
from secondme.node.chat.prompt import Memory, dated_text, dates_of, memory_date
from secondme.node.memory.l1.text import content_words, stem, words
from secondme.node.memory.timeline import annotate, label


def dont_remember_text(question: str, closest: Memory | None, *, for_peer: bool = False) -> str:
    """ "I don't remember", quoting the closest memory with its source and date (for a peer,
    its date only: the owner's file names are not the peer's to read)."""
    if closest is None:
        return dont_remember(None, None)
    where = (memory_date(closest) or "undated") if for_peer else closest.citation()
    return dont_remember(closest_words(question, dated_text(closest)), where)


def why_not(gate: Coverage, used: Sequence[Memory], found: Sequence[str]) -> str:
    """Why the node did not ask the model: in the owner's words, for ``chat --sources``."""
    if not used:
        return "no memory found"
    held = {w for text in found for w in words(text)}
    unknown = [n for n in gate.missing_names if not set(n.split()) <= held]
    if unknown:
        return f"no memory mentions {', '.join(unknown)}"
    missing = [w for w in gate.keywords if w not in gate.found_keywords]
    about = f" about {', '.join(gate.missing_names)}" if gate.missing_names else ""
    return f"no memory{about} says {' '.join(missing) or 'that'}"


def says_when(check: AnswerCheck) -> bool:
    return any(names_a_time(v.sentence) for v in check.kept)


def when_said(question: str, used: Sequence[Memory], numbers: Sequence[int]) -> str:
    """``on 13 May 2026 [2]``: the date, among those the answer's memories give, that best fits
    the question; "" if they give none."""
    candidates = [(n, d) for n in numbers for d in dates_of(used[n - 1])]
    best = best_date(question, [d for _, d in candidates])
    if best is None:
        return ""
    number = next(n for n, d in candidates if d is best)
    return f"on {best.shown} [{number}]"


def closest_memory(question: str, memories: Sequence[Memory]) -> Memory | None:
    """The memory nearest the question: the one with the line sharing most of its words; on a
    tie the owner's own words (L0) before what the node made of them, then the better ranked."""
    best, best_score = None, -1.0
    people = {w for name in asked_names(question) for w in name.split()}
    for memory in memories:
        line = closest_words(question, dated_text(memory))
        score = overlap(question, line) + (0.5 if memory.layer == "l0" else 0.0)
        score += 2 * len(people & set(words(line)))  # about whom it was asked, first
        if score > best_score:
            best, best_score = memory, score
    return best


def dated_turn(question: str, used: Sequence[Memory]) -> tuple[int, str, str] | None:
    """For a "when" question the model could not answer: the first memory turn that says the
    date of what is asked, read by the node itself. A turn counts when it holds every content
    word of the question (names too, as speaker or in its words) and a date it mentions
    ("yesterday", resolved when it was read); returns (memory number, date, the turn)."""
    asked = {stem(w) for w in content_words(question)}
    for number, hit in enumerate(used, start=1):
        text = hit.text
        for mention in getattr(hit, "dates", ()):
            start = text.rfind("\n", 0, mention.start) + 1
            end = text.find("\n", mention.end)
            line = text[start : end if end >= 0 else len(text)]
            if asked <= {stem(w) for w in words(line)}:
                annotated = annotate(
                    line, [replace(mention, start=mention.start - start, end=mention.end - start)]
                )
                return number, label(mention), " ".join(annotated.split())
    return None


@dataclass(frozen=True, slots=True)
class Ending:
    """What follows the model's checked sentences: ``text`` to add ("" for nothing), the
    numbers of the memories the shown answer rests on, and whether it answered at all."""

    text: str
    used: tuple[int, ...]
    answered: bool


def end_of_answer(
    question: str,
    check: AnswerCheck,
    used: Sequence[Memory],
    shown_texts: Sequence[str],
    *,
    name: str,
    closest: Memory | None,
    for_peer: bool,
) -> Ending:
    """After the model: a "when" it could not answer is read from the turn that holds it
    (``On DATE [n]: “…”``); else a line holding every word asked is quoted (``From my memory
    [n]: “…”``); else "I don't remember" with the closest memory. An answer that did not say
    when, to a "when" question, gets the date its memories give."""
    if check.answered:
        numbers = tuple(check.used())
        if asks_when(question) and not says_when(check):
            date = when_said(question, used, check.used() or [1])
            if date:
                return Ending(f"That was {date}.", numbers, True)
        return Ending("", numbers, True)
    if asks_when(question) and (dated := dated_turn(question, used)) is not None:
        number, date, line = dated
        return Ending(f"On {date} [{number}]: “{line}”", (number,), True)
    if not asks_when(question):
        quoted = answering_line(question, shown_texts, free_names=[name])
        if quoted is not None:
            index, line = quoted
            return Ending(f"From my memory [{index + 1}]: “{line}”", (index + 1,), True)
    return Ending(dont_remember_text(question, closest, for_peer=for_peer), (), False)
