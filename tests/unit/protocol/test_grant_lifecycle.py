"""The grant life cycle: every move of the table, the moves it refuses, and the state the
issuer's facts derive, in the verifier's order."""

from __future__ import annotations

import itertools

import pytest

from secondme.protocol.grants import (
    GRANT_LIFECYCLE,
    GrantEvent,
    GrantState,
    grant_state,
)
from secondme.protocol.lifecycle import ImpossibleTransition

MOVES = {
    (GrantState.ACTIVE, GrantEvent.USE_UP): GrantState.USED_UP,
    (GrantState.ACTIVE, GrantEvent.EXPIRE): GrantState.EXPIRED,
    (GrantState.ACTIVE, GrantEvent.REVOKE): GrantState.REVOKED,
    (GrantState.USED_UP, GrantEvent.EXPIRE): GrantState.EXPIRED,
    (GrantState.USED_UP, GrantEvent.REVOKE): GrantState.REVOKED,
    (GrantState.EXPIRED, GrantEvent.REVOKE): GrantState.REVOKED,
}


def test_the_table_is_the_drawn_one() -> None:
    assert dict(GRANT_LIFECYCLE.moves) == MOVES
    assert GRANT_LIFECYCLE.initial is GrantState.ACTIVE
    assert GRANT_LIFECYCLE.states == set(GrantState)
    assert GRANT_LIFECYCLE.final == {GrantState.REVOKED}


@pytest.mark.parametrize(
    ("state", "event"), list(itertools.product(GrantState, GrantEvent)), ids=str
)
def test_every_pair_moves_as_drawn_or_is_refused(state: GrantState, event: GrantEvent) -> None:
    if (state, event) in MOVES:
        assert GRANT_LIFECYCLE.next(state, event) is MOVES[(state, event)]
        return
    with pytest.raises(ImpossibleTransition) as caught:
        GRANT_LIFECYCLE.next(state, event)
    assert (caught.value.lifecycle, caught.value.state, caught.value.event) == (
        "grant",
        state,
        event,
    )


def test_states_are_the_strings_the_api_shows() -> None:
    assert [s.value for s in GrantState] == ["active", "used up", "expired", "revoked"]


@pytest.mark.parametrize(
    ("used_up", "expired", "revoked"), list(itertools.product((False, True), repeat=3))
)
def test_facts_derive_the_state_the_verifier_refuses_with(
    used_up: bool, expired: bool, revoked: bool
) -> None:
    """Revoked wins over everything, expired over used up: the verifier's own order."""
    expected = (
        GrantState.REVOKED
        if revoked
        else GrantState.EXPIRED
        if expired
        else GrantState.USED_UP
        if used_up
        else GrantState.ACTIVE
    )
    assert grant_state(used_up=used_up, expired=expired, revoked=revoked) is expected
