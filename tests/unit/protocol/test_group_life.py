"""The group life cycles: every move of the tables, the moves they refuse, and the spec's copy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secondme.node.core.migrations import MIGRATIONS
from secondme.protocol.group_life import (
    END_EVENTS,
    GROUP_LIFE,
    LIVE,
    MEMBER_LIFE,
    ON_ROLL,
    GroupEvent,
    GroupState,
    MemberEvent,
    MemberState,
)
from secondme.protocol.group_messages import END_REASONS
from secondme.protocol.groups import ROLL_STATUSES
from secondme.protocol.lifecycle import ImpossibleTransition, Lifecycle

SPEC = Path(__file__).resolve().parents[3] / "smp-spec" / "groups.md"


def test_a_group_is_accepted_declined_left_removed_or_closed_and_stays_so() -> None:
    invited = GROUP_LIFE.initial
    assert invited is GroupState.INVITED
    active = GROUP_LIFE.next(invited, GroupEvent.ACCEPT)
    assert active is GroupState.ACTIVE
    assert GROUP_LIFE.next(invited, GroupEvent.DECLINE) is GroupState.DECLINED
    for state in (invited, active):
        assert GROUP_LIFE.next(state, GroupEvent.LEAVE) is GroupState.LEFT
        assert GROUP_LIFE.next(state, GroupEvent.REMOVE) is GroupState.REMOVED
        assert GROUP_LIFE.next(state, GroupEvent.CLOSE) is GroupState.CLOSED
    assert GROUP_LIFE.final == {
        GroupState.DECLINED,
        GroupState.LEFT,
        GroupState.REMOVED,
        GroupState.CLOSED,
    }
    assert set(GROUP_LIFE.states) == set(GroupState)
    assert GROUP_LIFE.states - GROUP_LIFE.final == LIVE


def test_a_member_answers_again_until_it_is_gone() -> None:
    for state in (MemberState.INVITED, MemberState.ACTIVE):
        assert MEMBER_LIFE.next(state, MemberEvent.ACCEPT) is MemberState.ACTIVE
        assert MEMBER_LIFE.next(state, MemberEvent.DECLINE) is MemberState.DECLINED
        assert MEMBER_LIFE.next(state, MemberEvent.LEAVE) is MemberState.LEFT
        assert MEMBER_LIFE.next(state, MemberEvent.REMOVE) is MemberState.REMOVED
    assert MEMBER_LIFE.final == {MemberState.DECLINED, MemberState.LEFT, MemberState.REMOVED}
    assert set(MEMBER_LIFE.states) == set(MemberState)
    assert MEMBER_LIFE.states - MEMBER_LIFE.final == ON_ROLL


@pytest.mark.parametrize(
    ("lifecycle", "state", "event"),
    [
        (GROUP_LIFE, GroupState.CLOSED, GroupEvent.ACCEPT),  # a closed group does not reopen
        (GROUP_LIFE, GroupState.ACTIVE, GroupEvent.DECLINE),  # too late to decline
        (GROUP_LIFE, GroupState.LEFT, GroupEvent.LEAVE),  # left twice
        (MEMBER_LIFE, MemberState.REMOVED, MemberEvent.ACCEPT),  # a removed member stays out
        (MEMBER_LIFE, MemberState.LEFT, MemberEvent.REMOVE),
    ],
)
def test_an_impossible_move_is_refused_with_a_typed_error(
    lifecycle: Lifecycle, state: str, event: str
) -> None:
    assert not lifecycle.can(state, event)
    with pytest.raises(ImpossibleTransition) as caught:
        lifecycle.next(state, event)
    assert (caught.value.state, caught.value.event) == (state, event)
    assert f"{lifecycle.name}: cannot {event} from {state}" in str(caught.value)


def test_the_states_are_the_strings_stored_and_sent() -> None:
    schema = " ".join(statement for _, statements in MIGRATIONS for statement in statements)
    groups = re.search(r"CREATE TABLE groups .*?CHECK \(status IN\s*\(([^)]*)\)", schema, re.S)
    roll = re.search(r"CREATE TABLE group_members .*?CHECK \(status IN\s*\(([^)]*)\)", schema, re.S)
    assert groups and roll
    assert set(re.findall(r"'(\w+)'", groups[1])) == {str(s) for s in GroupState}
    assert set(re.findall(r"'(\w+)'", roll[1])) == {str(s) for s in MemberState}
    assert set(END_REASONS) == set(END_EVENTS)
    assert {GROUP_LIFE.next(GroupState.ACTIVE, END_EVENTS[r]) for r in END_REASONS} == set(
        END_REASONS
    )
    assert set(ROLL_STATUSES) == ON_ROLL


def spec_table(header: str) -> dict[tuple[str, str], str]:
    """The moves of the spec's table whose header row is ``header``."""
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    start = lines.index(header)
    events = [cell.strip() for cell in header.strip("|").split("|")][1:]
    moves = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        state, *cells = (cell.strip().strip("`") for cell in line.strip("|").split("|"))
        for event, cell in zip(events, cells, strict=True):
            if cell != "—":
                moves[(state, event)] = cell
    return moves


@pytest.mark.parametrize(
    ("lifecycle", "events"), [(GROUP_LIFE, GroupEvent), (MEMBER_LIFE, MemberEvent)]
)
def test_the_spec_prints_the_tables_the_code_has(lifecycle: Lifecycle, events) -> None:
    header = "| state | " + " | ".join(str(e) for e in events) + " |"
    assert spec_table(header) == {(str(s), str(e)): str(t) for (s, e), t in lifecycle.moves.items()}
