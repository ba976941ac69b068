"""The prompt that makes the model answer as its owner: persona, memories, history, question.

Pure functions: the caller passes a token counter, so the same code fits the prompt into any
model's context window. When space runs short the oldest history goes first, then the weakest
memories; the persona and the question always stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from secondme.node.chat.grounded import DatedWords, best_lines
from secondme.node.memory.retrieval import L1Hit, PeerHit, SearchHit
from secondme.node.memory.timeline import label
from secondme.node.people.owner import OwnerProfile
from secondme.node.people.roles import Role

Message = dict[str, str]
Memory = SearchHit | L1Hit | PeerHit
TokenCounter = Callable[[str], int]

# Per-message overhead of chat templates (role markers, separators), a safe upper bound.
_MESSAGE_OVERHEAD = 8
# Tokens kept free beside the prompt and the answer (the template's closing markers).
_SAFETY_MARGIN = 16


def prompt_budget(context_tokens: int, answer_tokens: int) -> int:
    """How many tokens the prompt may take so that the answer still fits the context window."""
    return context_tokens - answer_tokens - _SAFETY_MARGIN


def persona_prompt(owner: OwnerProfile, role: Role | None = None) -> str:
    """The system prompt: who is speaking, and how."""
    name = owner.name
    lines = [
        f"You are the Second Me of {name}: you answer as {name}, in the first person "
        f'("I"), from {name}\'s own memories.',
    ]
    about = {
        "About me": owner.fields.get("description", ""),
        "How I talk": owner.fields.get("style", ""),
        "What matters to me": owner.fields.get("values", ""),
    }
    lines += [f"{label}: {text}" for label, text in about.items() if text]
    if role is not None:
        lines.append(f"Right now you speak in the role '{role.name}': {role.system_prompt}")
    lines.append(
        "If the memories do not say, answer that you do not remember rather than inventing it."
    )
    return "\n".join(lines)


def memory_block(hits: Sequence[Memory]) -> str:
    """Memories with where each came from, numbered so an answer can refer to them.

    L1 pieces are what the node understood about its owner (profile, topics, people); L0 pieces
    are the owner's own words, for detail. Each is labelled with its layer and source.
    """
    lines = [
        "Memories (L1 = what I know about myself, L0 = my own notes, PEER = what another "
        "person shared with me; most relevant first):"
    ]
    for number, hit in enumerate(hits, start=1):
        text = " ".join(hit.text.split())
        lines.append(f"[{number}] ({hit.layer.upper()}, {hit.citation()}) {text}")
    return "\n".join(lines)


def build_messages(
    *,
    system: str,
    hits: Sequence[Memory],
    history: Sequence[Message],
    question: str,
    count_tokens: TokenCounter,
    budget: int,
) -> tuple[list[Message], list[Memory]]:
    """Messages that fit ``budget`` tokens, and the memories that made it in."""

    def cost(text: str) -> int:
        return count_tokens(text) + _MESSAGE_OVERHEAD

    fixed = cost(system) + cost(question) + cost(memory_block([]))
    remaining = budget - fixed
    kept_hits: list[Memory] = []
    for hit in hits:  # memories before history: grounding matters more than old turns
        need = count_tokens(memory_block([hit])) - count_tokens(memory_block([]))
        if need > remaining:
            break
        kept_hits.append(hit)
        remaining -= need
    kept_history: list[Message] = []
    for message in reversed(history):
        need = cost(message["content"])
        if need > remaining:
            break
        kept_history.insert(0, message)
        remaining -= need
    if kept_history and kept_history[0]["role"] == "assistant":
        kept_history.pop(0)  # a conversation resumes with the user's turn
    system_text = system + ("\n\n" + memory_block(kept_hits) if kept_hits else "")
    messages = [{"role": "system", "content": system_text}, *kept_history]
    messages.append({"role": "user", "content": question})
    return messages, kept_hits


# -- grounded answers ------------------------------------------------------------------------------

_GROUNDED_MEMORY_CHARS = 600
"""A memory longer than this is cut for the prompt: a small model reads the start of each."""


def memory_date(hit: Memory) -> str:
    """When what the memory says happened or was said ("2026-05-14"); "" when unknown."""
    label = getattr(hit, "date_label", None)
    return label() if callable(label) else ""


def dated_text(hit: Memory) -> str:
    """The memory's words with each date it mentions resolved beside them ("yesterday
    (2026-05-13)"), so that the model and the answer check read the same dates. Lines are
    kept (a chat memory's turns), spaces within them are not."""
    annotated = getattr(hit, "dated_text", None)
    text = annotated() if callable(annotated) else hit.text
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def relevant_text(hit: Memory, question: str, *, fallback: bool) -> str | None:
    """The lines (chat turns, sentences) of a memory that bear on ``question``, dates resolved,
    cut to a prompt's share; with ``fallback`` the first lines when none does, else None."""
    text = dated_text(hit)
    lines = best_lines(question, text)
    if not lines:
        if not fallback:
            return None
        lines = text.splitlines()[:2]
    text = " ".join(" ".join(lines).split())
    if len(text) > _GROUNDED_MEMORY_CHARS:
        text = text[: _GROUNDED_MEMORY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def grounded_memory_line(number: int, hit: Memory, text: str) -> str:
    """``[2] (chat.jsonl, turns 3–5, 2026-05-14) Ana: I went ...``: the source and date first."""
    return f"[{number}] ({hit.citation()}) {text}"


def evidence_text(hit: Memory, text: str) -> str:
    """What the answer check reads of a memory: its date and its words, not its file name (a
    model that copies a citation has not answered)."""
    return f"{memory_date(hit)} {text}".strip()


def grounded_system(name: str, *, role: Role | None = None) -> str:
    """A short instruction for small models: a few words from the memories, or "I don't
    remember". (Measured with the shipped SmolLM2-135M: it answers best with no persona to act
    out, no examples (with them it says "I don't remember" to most questions), and the memories
    and the question together in the user's message, closed by "Short answer:".) The memories
    are the owner's, so "my" in a question finds "my" in them; ``name`` is not needed."""
    lines = [
        "Answer the question with a few words copied from the memories, and cite the memory "
        "like [1]. If the memories do not say, answer: I don't remember.",
    ]
    if role is not None:
        lines.append(f"Speak in the role '{role.name}': {role.system_prompt}")
    return "\n".join(lines)


def grounded_messages(
    *,
    system: str,
    hits: Sequence[Memory],
    history: Sequence[Message],
    question: str,
    count_tokens: TokenCounter,
    budget: int,
    max_chars: int,
) -> tuple[list[Message], list[Memory], list[str]]:
    """The instruction, the latest turns of the conversation, then one message with few, dated
    memories (at most ``max_chars``; a memory none of whose lines bears on the question is left
    out, unless nothing else is found) and the question last. Also returns the memories that
    made it in and the text of each as the prompt shows it."""
    lines: list[str] = []
    kept: list[Memory] = []
    shown: list[str] = []
    chars = 0
    remaining = budget - count_tokens(system) - count_tokens(question) - 4 * _MESSAGE_OVERHEAD
    for hit in hits:
        text = relevant_text(hit, question, fallback=False)
        if text is None:
            continue
        line = grounded_memory_line(len(kept) + 1, hit, text)
        need = count_tokens(line) + 1
        if need > remaining or (kept and chars + len(line) > max_chars):
            break
        lines.append(line)
        kept.append(hit)
        shown.append(text)
        chars += len(line)
        remaining -= need
    if not kept and hits:  # nothing bears on it: the closest memory, for the owner to see
        text = relevant_text(hits[0], question, fallback=True) or ""
        lines.append(grounded_memory_line(1, hits[0], text))
        kept.append(hits[0])
        shown.append(text)
    history_kept: list[Message] = []
    for message in reversed(history[-2:]):
        need = count_tokens(message["content"]) + _MESSAGE_OVERHEAD
        if need > remaining:
            break
        history_kept.insert(0, message)
        remaining -= need
    if history_kept and history_kept[0]["role"] == "assistant":
        history_kept.pop(0)
    memories = "\n".join(["Memories:", *lines]) if lines else "Memories: none."
    ask = f"{memories}\n\nQuestion: {question}\nShort answer:"
    return (
        [{"role": "system", "content": system}, *history_kept, {"role": "user", "content": ask}],
        kept,
        shown,
    )


def dates_of(hit: Memory) -> list[DatedWords]:
    """The dates a memory gives: each date it mentions, with the sentence around it, then the
    time it was said or written."""
    found = []
    text = hit.text
    for mention in getattr(hit, "dates", ()):
        start = max(text.rfind(".", 0, mention.start), text.rfind("\n", 0, mention.start))
        ends = [i for i in (text.find(".", mention.end), text.find("\n", mention.end)) if i >= 0]
        context = text[start + 1 : min(ends, default=len(text))]
        found.append(DatedWords(shown=label(mention), context=context))
    own = memory_date(hit)
    if own:
        found.append(DatedWords(shown=own, context=text))
    return found
