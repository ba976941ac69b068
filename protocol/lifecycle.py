"""Life cycles as transition tables: a group, a grant, a network membership.

Each life cycle is a table of moves ``(state, event) -> state``. A move that is not in the table
raises :class:`ImpossibleTransition`, so that code which would, say, reopen a closed group or
revoke a grant twice fails loudly instead of writing a state nobody drew. The tables are data, so
that the spec can print them and a test can walk them; states and events are ``StrEnum`` members,
so they are stored and sent as the plain strings they always were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from secondme.protocol.errors import LocalProtocolError

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class ImpossibleTransition(LocalProtocolError):
    """A move that the life cycle's table does not have (a bug here, or a stale record)."""

    code = "impossible_transition"

    def __init__(self, lifecycle: str, state: str, event: str) -> None:
        super().__init__(f"{lifecycle}: cannot {event!s} from {state!s}")
        self.lifecycle = lifecycle
        self.state = state
        self.event = event


@dataclass(frozen=True, slots=True)
class Lifecycle(Generic[S, E]):
    """One life cycle: its name, its first state, and its table of moves."""

    name: str
    initial: S
    moves: Mapping[tuple[S, E], S]
    final: frozenset[S] = field(init=False)
    """States with no move out of them."""

    states: frozenset[S] = field(init=False)

    def __post_init__(self) -> None:
        states = frozenset({self.initial} | {s for s, _ in self.moves} | set(self.moves.values()))
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "final", states - {s for s, _ in self.moves})

    def can(self, state: S | str, event: E | str) -> bool:
        return (state, event) in self.moves

    def next(self, state: S | str, event: E | str) -> S:
        """The state after ``event`` in ``state``; :class:`ImpossibleTransition` if none."""
        try:
            return self.moves[(state, event)]  # type: ignore[index]
        except KeyError:
            raise ImpossibleTransition(self.name, str(state), str(event)) from None
