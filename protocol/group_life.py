"""The life of a group, as tables: a node's membership of a group, and a member on the roll.

Theory of operation. Two records change as a group lives, and each has its own table
(:class:`~secondme.protocol.lifecycle.Lifecycle`):

- :data:`GROUP_LIFE`: what a node holds of a group (``groups.status``). An invitation waits as
  ``invited`` until the owner accepts (``active``) or declines; a node that creates a group, or
  joins one at once by a ``group/join`` grant, holds it ``active`` from the start. It ends as
  ``left`` (its owner left, or its join grant ended), ``removed`` or ``closed`` (the moderator's
  ``group.end`` says which), or ``declined``.
- :data:`MEMBER_LIFE`: a member on the moderator's roll (``group_members.status``): ``invited``
  until it answers, ``active``, or gone: ``declined``, ``left`` or ``removed``. A member that
  answers again keeps (or takes) the status of its latest answer.

Every move is made by looking up the state read when the move was decided, so an impossible
move (reopening a closed group, removing a member twice) raises
:class:`~secondme.protocol.lifecycle.ImpossibleTransition` instead of writing a state nobody
drew. States are ``StrEnum`` members: they are stored and sent as the strings they always were
(the roll inside a ``moderator`` message, section 6 of smp-spec/groups.md; ``group.end``'s
``reason``). smp-spec/groups.md section 1 prints both tables.
"""

from __future__ import annotations

from enum import StrEnum

from secondme.protocol.lifecycle import Lifecycle


class GroupState(StrEnum):
    """What a node holds of a group."""

    INVITED = "invited"
    ACTIVE = "active"
    DECLINED = "declined"
    LEFT = "left"
    REMOVED = "removed"
    CLOSED = "closed"


class GroupEvent(StrEnum):
    ACCEPT = "accept"  # the owner accepts the invitation
    DECLINE = "decline"  # the owner declines it
    LEAVE = "leave"  # the owner leaves, or the join grant ended
    REMOVE = "remove"  # the moderator's group.end: removed
    CLOSE = "close"  # the moderator closes the group (group.end: closed)


GROUP_LIFE: Lifecycle[GroupState, GroupEvent] = Lifecycle(
    "group",
    GroupState.INVITED,
    {
        (GroupState.INVITED, GroupEvent.ACCEPT): GroupState.ACTIVE,
        (GroupState.INVITED, GroupEvent.DECLINE): GroupState.DECLINED,
        (GroupState.INVITED, GroupEvent.LEAVE): GroupState.LEFT,
        (GroupState.ACTIVE, GroupEvent.LEAVE): GroupState.LEFT,
        (GroupState.INVITED, GroupEvent.REMOVE): GroupState.REMOVED,
        (GroupState.ACTIVE, GroupEvent.REMOVE): GroupState.REMOVED,
        (GroupState.INVITED, GroupEvent.CLOSE): GroupState.CLOSED,
        (GroupState.ACTIVE, GroupEvent.CLOSE): GroupState.CLOSED,
    },
)
"""A group on a node; one created here or joined by a grant starts ``active``."""

LIVE = frozenset({GroupState.INVITED, GroupState.ACTIVE})
"""The states of a group a node is (or may become) a member of."""

END_EVENTS = {"removed": GroupEvent.REMOVE, "closed": GroupEvent.CLOSE}
"""The move each ``group.end`` reason makes."""


class MemberState(StrEnum):
    """A member on the moderator's roll."""

    INVITED = "invited"
    ACTIVE = "active"
    DECLINED = "declined"
    LEFT = "left"
    REMOVED = "removed"


class MemberEvent(StrEnum):
    ACCEPT = "accept"  # group.accept (accept true), or the member joined by a grant
    DECLINE = "decline"  # group.accept (accept false)
    LEAVE = "leave"  # group.leave, or a post answered group_closed
    REMOVE = "remove"  # the moderator's owner removes it


MEMBER_LIFE: Lifecycle[MemberState, MemberEvent] = Lifecycle(
    "group member",
    MemberState.INVITED,
    {
        (MemberState.INVITED, MemberEvent.ACCEPT): MemberState.ACTIVE,
        (MemberState.ACTIVE, MemberEvent.ACCEPT): MemberState.ACTIVE,
        (MemberState.INVITED, MemberEvent.DECLINE): MemberState.DECLINED,
        (MemberState.ACTIVE, MemberEvent.DECLINE): MemberState.DECLINED,
        (MemberState.INVITED, MemberEvent.LEAVE): MemberState.LEFT,
        (MemberState.ACTIVE, MemberEvent.LEAVE): MemberState.LEFT,
        (MemberState.INVITED, MemberEvent.REMOVE): MemberState.REMOVED,
        (MemberState.ACTIVE, MemberEvent.REMOVE): MemberState.REMOVED,
    },
)
"""A member on the roll; the moderator itself is on it ``active`` from the start."""

ON_ROLL = frozenset({MemberState.INVITED, MemberState.ACTIVE})
"""The states of a member still on the roll (a ``moderator`` message's roll holds these)."""
