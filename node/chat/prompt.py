"""The prompt that makes the model answer as its owner: persona, memories, history, question.

Pure functions: the caller passes a token counter, so the same code fits the prompt into any
model's context window. When space runs short the oldest history goes first, then the weakest
memories; the persona and the question always stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from secondme.node.memory.retrieval import L1Hit, PeerHit, SearchHit
from secondme.node.owner import OwnerProfile
from secondme.node.roles import Role

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
