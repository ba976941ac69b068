"""This node's membership of a network, as it keeps it: active, then left, closed or removed.

    state     event     next
    active    leave     left        the owner asked to leave (a member or an inviter)
    active    close     closed      the owner closed its own network
    active    remove    removed     the discovery server no longer lists this node in it
                                    (the owner removed it, or closed the network)

Creating or joining a network starts a membership at ``active``, also for a network this node
was in before: the record is replaced, not moved. Every other state is final. The discovery
server keeps only who is a member; these states are this node's memory of how it stopped being
one, so they live here and not on the wire. They are stored as the plain strings they name.
"""

from __future__ import annotations

from enum import StrEnum

from secondme.protocol.lifecycle import Lifecycle


class Membership(StrEnum):
    ACTIVE = "active"
    LEFT = "left"
    CLOSED = "closed"
    REMOVED = "removed"


class MembershipEvent(StrEnum):
    LEAVE = "leave"
    CLOSE = "close"
    REMOVE = "remove"


MEMBERSHIP: Lifecycle[Membership, MembershipEvent] = Lifecycle(
    "network membership",
    Membership.ACTIVE,
    {
        (Membership.ACTIVE, MembershipEvent.LEAVE): Membership.LEFT,
        (Membership.ACTIVE, MembershipEvent.CLOSE): Membership.CLOSED,
        (Membership.ACTIVE, MembershipEvent.REMOVE): Membership.REMOVED,
    },
)
