"""How the moderator runs a discussion: who speaks next, and when to stop. Pure functions.

Turn taking. A member whose owner raised a hand speaks next. Otherwise everyone who has not
spoken for a full round (or never) goes first, so each member is heard once per round; among
the rest, the last speaker waits. Within the group that may speak, the member whose memory is
most relevant to the last message (as it reported, per mille) is chosen; ties go to the one
who spoke longest ago. The reason is written into the transcript with the turn.

Termination, checked after every turn, first match wins: the owner stopped it, the time budget
is spent, the round limit is reached, the members agree (``until consensus``: the last turns
of all speakers are near each other in meaning), or the talk goes in circles (the last turns
each say nearly what an earlier turn said).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CONSENSUS_SIMILARITY = 0.80
"""Mean pairwise cosine similarity of the members' last turns at which they count as agreeing."""
REPEAT_SIMILARITY = 0.92
"""A turn this near an earlier one (cosine) adds nothing new."""
REPEATS_TO_STOP = 2
UNTIL = ("rounds", "consensus")


@dataclass(frozen=True, slots=True)
class Candidate:
    peer: str
    relevance: int | None
    """Per mille, as the member last reported; ``None`` when it has not said."""
    last_spoke: int | None
    """The turn number it last spoke at (0-based), ``None`` if never."""
    raised: bool = False


def choose_speaker(candidates: Sequence[Candidate], turn: int) -> tuple[str, str] | None:
    """The next speaker among ``candidates`` (the members that can speak now) at turn number
    ``turn``, and why; ``None`` when there is nobody."""
    if not candidates:
        return None
    raised = [c for c in candidates if c.raised]
    if raised:
        return raised[0].peer, "its owner asked to speak"
    size = len(candidates)

    def quiet_for(c: Candidate) -> int:
        return turn + 1 if c.last_spoke is None else turn - c.last_spoke

    overdue = [c for c in candidates if quiet_for(c) > size or c.last_spoke is None]
    pool = overdue or [c for c in candidates if quiet_for(c) > 1] or list(candidates)
    best = max(pool, key=lambda c: (c.relevance or 0, quiet_for(c), c.peer))
    relevance = (
        "unknown relevance"
        if best.relevance is None
        else (f"relevance {best.relevance / 1000:.2f} to the last message")
    )
    if len(pool) > 1:
        relevance += f", the highest of {len(pool)}"
    when = (
        "has not spoken yet"
        if best.last_spoke is None
        else f"last spoke {quiet_for(best)} turn{'s' if quiet_for(best) != 1 else ''} ago"
    )
    return best.peer, f"{relevance}; {when}"


@dataclass(frozen=True, slots=True)
class Progress:
    """What the moderator knows after a turn."""

    turns: int
    rounds: int
    speakers: int
    """Members that can speak (the size of a round)."""
    elapsed_s: float
    budget_s: int | None
    stop_requested: bool
    until: str
    last_turns: Mapping[str, np.ndarray]
    """Each member's latest turn, embedded (unit vectors)."""
    turn_vectors: Sequence[np.ndarray]
    """Every turn so far, in order, embedded."""


def should_end(progress: Progress) -> str | None:
    """Why the discussion ends now, or ``None`` to go on."""
    if progress.stop_requested:
        return "stopped by the owner"
    if progress.budget_s is not None and progress.elapsed_s >= progress.budget_s:
        return f"time budget of {progress.budget_s} s spent"
    if progress.speakers == 0:
        return "no member can speak"
    if progress.turns >= progress.rounds * progress.speakers:
        return f"round limit reached ({progress.rounds} round{'s' * (progress.rounds != 1)})"
    agreement = consensus(progress.last_turns)
    full_round = progress.turns >= progress.speakers and len(progress.last_turns) >= 2
    if progress.until == "consensus" and full_round and agreement >= CONSENSUS_SIMILARITY:
        return f"consensus: the members' last turns agree (similarity {agreement:.2f})"
    if repeats(progress.turn_vectors) >= REPEATS_TO_STOP:
        return f"no new information: the last {REPEATS_TO_STOP} turns repeat earlier ones"
    return None


def consensus(last_turns: Mapping[str, np.ndarray]) -> float:
    """Mean pairwise cosine similarity of the members' latest turns (0 with fewer than 2)."""
    vectors = list(last_turns.values())
    if len(vectors) < 2:
        return 0.0
    matrix = np.stack(vectors)
    sims = matrix @ matrix.T
    count = len(vectors)
    return float((sims.sum() - np.trace(sims)) / (count * (count - 1)))


def repeats(turn_vectors: Sequence[np.ndarray]) -> int:
    """How many of the latest turns in a row each nearly repeat a turn before them."""
    count = 0
    for index in range(len(turn_vectors) - 1, 0, -1):
        earlier = np.stack(turn_vectors[:index])
        if float((earlier @ turn_vectors[index]).max()) < REPEAT_SIMILARITY:
            break
        count += 1
    return count
