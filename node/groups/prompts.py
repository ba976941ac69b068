"""What a member's model is asked when it speaks in a group. Pure functions.

Small models repeat whatever text they are shown, so by default a member's model reads its
own memories and *who* has spoken, not their words (``quote_turns`` = 0); with a larger model,
``groups.quote_turns`` lets it read the last few turns and answer them.
"""

from __future__ import annotations

from collections.abc import Sequence

MEMORY_CHARS = 400
LINE_CHARS = 300

Message = dict[str, str]

UNNAMED = "a member of this group"
"""How a turn's prompt names a member whose name is not public (this node's owner included)."""


def turn_messages(
    *,
    me: str,
    group: str,
    topic: str,
    question: str,
    memories: Sequence[str],
    said: Sequence[tuple[str, str]],
    quote_turns: int,
) -> list[Message]:
    """The chat messages for ``me``'s turn: a short persona with its memories, then the
    question and what it should know of the discussion so far."""
    system = [
        f"You are {me}. Answer in the first person, briefly, from your own memory.",
        f'You are in a group discussion, "{group}"' + (f", about {topic}." if topic else "."),
    ]
    if memories:
        system.append("My memory:")
        system += [f"- {' '.join(text.split())[:MEMORY_CHARS]}" for text in memories]
    user = [question]
    quoted = said[-quote_turns:] if quote_turns > 0 else []
    if quoted:
        user.append("Earlier in the discussion:")
        user += [f"{name}: {' '.join(text.split())[:LINE_CHARS]}" for name, text in quoted]
    speakers = list(dict.fromkeys(name for name, _ in said if name != me))
    if speakers and not quoted:
        user.append(f"({', '.join(speakers)} already spoke. Say what you, {me}, would suggest.)")
    else:
        user.append(f"(Say what you, {me}, would suggest, from your own memory.)")
    return [
        {"role": "system", "content": "\n".join(system)},
        {"role": "user", "content": "\n".join(user)},
    ]


def first_sentences(text: str, limit: int) -> str:
    """The opening sentences of ``text`` that fit in ``limit`` characters (at least one,
    cut at a word)."""
    text = " ".join(text.split())
    out = ""
    for part in text.replace("! ", "!\n").replace("? ", "?\n").replace(". ", ".\n").split("\n"):
        if out and len(out) + 1 + len(part) > limit:
            break
        out = f"{out} {part}".strip()
    if len(out) > limit:
        cut = out[: limit - 1]
        if out[limit - 1] != " " and " " in cut:  # mid-word: back to the word before
            cut = cut.rsplit(" ", 1)[0]
        out = cut.rstrip() + "…"
    return out
