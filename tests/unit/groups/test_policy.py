"""The moderator's turn taking and termination rules."""

from __future__ import annotations

import numpy as np

from secondme.node.groups.policy import (
    REPEATS_TO_STOP,
    Candidate,
    Progress,
    choose_speaker,
    consensus,
    repeats,
    should_end,
)


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def progress(**changes) -> Progress:
    base = dict(
        turns=1,
        rounds=2,
        speakers=3,
        elapsed_s=1.0,
        budget_s=None,
        stop_requested=False,
        until="rounds",
        last_turns={},
        turn_vectors=[],
    )
    return Progress(**{**base, **changes})


def test_a_raised_hand_goes_first() -> None:
    chosen = choose_speaker([Candidate("a", 900, None), Candidate("b", 10, 0, raised=True)], turn=1)
    assert chosen == ("b", "its owner asked to speak")


def test_the_most_relevant_of_those_not_heard_this_round_speaks() -> None:
    peer, reason = choose_speaker(
        [Candidate("a", 300, None), Candidate("b", 700, None), Candidate("c", 900, 0)], turn=1
    )
    assert peer == "b"  # c spoke last turn, a and b have not spoken yet
    assert "relevance 0.70" in reason and "has not spoken yet" in reason


def test_after_a_round_relevance_decides_but_the_last_speaker_waits() -> None:
    candidates = [Candidate("a", 100, 0), Candidate("b", 800, 1), Candidate("c", 900, 2)]
    peer, reason = choose_speaker(candidates, turn=3)
    assert peer == "b" and "last spoke 2 turns ago" in reason


def test_a_member_quiet_for_a_full_round_is_heard_whatever_its_relevance() -> None:
    candidates = [Candidate("a", 10, 0), Candidate("b", 800, 3), Candidate("c", 900, 4)]
    assert choose_speaker(candidates, turn=5)[0] == "a"


def test_ties_go_to_the_one_quiet_longest_and_nobody_means_none() -> None:
    candidates = [Candidate("a", 500, 1), Candidate("b", 500, 0), Candidate("c", 500, 3)]
    assert choose_speaker(candidates, turn=4)[0] == "b"
    assert choose_speaker([], turn=0) is None


def test_termination_reasons_in_order() -> None:
    assert should_end(progress(stop_requested=True, budget_s=1)) == "stopped by the owner"
    assert should_end(progress(budget_s=1, elapsed_s=2)).startswith("time budget")
    assert should_end(progress(speakers=0)) == "no member can speak"
    assert should_end(progress(turns=6)).startswith("round limit reached (2 rounds)")
    assert should_end(progress(turns=5)) is None


def test_consensus_needs_until_consensus_and_a_full_round() -> None:
    agree = {"a": unit(1, 0.1), "b": unit(1, 0.12), "c": unit(1, 0.08)}
    differ = {"a": unit(1, 0), "b": unit(0, 1), "c": unit(1, 1)}
    assert consensus(agree) > 0.99 and consensus(differ) < 0.8 and consensus({}) == 0.0
    assert should_end(progress(turns=3, until="consensus", last_turns=agree)).startswith(
        "consensus"
    )
    assert should_end(progress(turns=3, until="rounds", last_turns=agree)) is None
    assert should_end(progress(turns=2, until="consensus", last_turns=agree)) is None
    assert should_end(progress(turns=3, until="consensus", last_turns=differ)) is None


def test_turns_that_repeat_earlier_ones_end_the_discussion() -> None:
    fresh = [unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)]
    echo = [*fresh, unit(1, 0.01, 0), unit(0.01, 1, 0)]
    assert repeats(fresh) == 0 and repeats(echo) == REPEATS_TO_STOP
    assert should_end(progress(turns=5, rounds=5, turn_vectors=echo)).startswith("no new")
    assert should_end(progress(turns=3, rounds=5, turn_vectors=fresh)) is None
