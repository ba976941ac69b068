"""The transition-table machinery every life cycle uses."""

from __future__ import annotations

from enum import StrEnum

import pytest

from secondme.protocol.errors import LocalProtocolError
from secondme.protocol.lifecycle import ImpossibleTransition, Lifecycle


class Door(StrEnum):
    SHUT = "shut"
    OPEN = "open"
    GONE = "gone"


class Push(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    BURN = "burn"


DOOR = Lifecycle(
    "door",
    Door.SHUT,
    {
        (Door.SHUT, Push.OPEN): Door.OPEN,
        (Door.OPEN, Push.CLOSE): Door.SHUT,
        (Door.SHUT, Push.BURN): Door.GONE,
    },
)


def test_moves_follow_the_table_and_plain_strings_are_the_same_states() -> None:
    assert DOOR.next(Door.SHUT, Push.OPEN) is Door.OPEN
    assert DOOR.next("open", "close") is Door.SHUT
    assert DOOR.can("shut", "burn") and not DOOR.can("gone", "open")


def test_a_move_not_in_the_table_is_a_typed_error_naming_it() -> None:
    with pytest.raises(ImpossibleTransition) as caught:
        DOOR.next(Door.GONE, Push.OPEN)
    assert isinstance(caught.value, LocalProtocolError)
    error = caught.value
    assert (error.lifecycle, error.state, error.event) == ("door", "gone", "open")
    assert "door: cannot open from gone" in str(caught.value)


def test_states_and_final_states_are_read_from_the_table() -> None:
    assert DOOR.states == {Door.SHUT, Door.OPEN, Door.GONE}
    assert DOOR.final == {Door.GONE}
