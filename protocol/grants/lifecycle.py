"""A grant's life cycle, as its issuer sees it: active, then used up, expired or revoked.

The states are what the issuer's verifier would answer a request under the grant: ``active``
allows it, and each other state refuses it with its own code (``grant_used_up``,
``grant_expired``, ``grant_revoked``). They are facts the issuer keeps (its use count, the
clock, its revocation list), not a field stored anywhere, so a state is *derived*: start at
``active`` and apply the events that have happened, in the order of the table. That order is
the verifier's too: a revoked grant reads as revoked whatever else is true of it, an expired one
as expired even once used up.

    state     event     next
    active    use_up    used up     the last allowed use was counted
    active    expire    expired     the clock passed the expiry
    active    revoke    revoked     a revocation id of the grant went on the list
    used up   expire    expired
    used up   revoke    revoked
    expired   revoke    revoked     (an owner may still end an expired grant)

``revoked`` is final. Handing a grant over (``grant.offer`` → ``grant.accepted``) is not a
state: a grant is live from issue whether or not its holder has it yet, and a holder that
declines a copy revokes it. A holder keeps the same states for the grants it received (it learns
of a revocation from a ``grant.revoke``; it cannot see the issuer's use count).
"""

from __future__ import annotations

from enum import StrEnum

from secondme.protocol.lifecycle import Lifecycle


class GrantState(StrEnum):
    ACTIVE = "active"
    USED_UP = "used up"
    EXPIRED = "expired"
    REVOKED = "revoked"


class GrantEvent(StrEnum):
    USE_UP = "use_up"
    EXPIRE = "expire"
    REVOKE = "revoke"


GRANT_LIFECYCLE: Lifecycle[GrantState, GrantEvent] = Lifecycle(
    "grant",
    GrantState.ACTIVE,
    {
        (GrantState.ACTIVE, GrantEvent.USE_UP): GrantState.USED_UP,
        (GrantState.ACTIVE, GrantEvent.EXPIRE): GrantState.EXPIRED,
        (GrantState.ACTIVE, GrantEvent.REVOKE): GrantState.REVOKED,
        (GrantState.USED_UP, GrantEvent.EXPIRE): GrantState.EXPIRED,
        (GrantState.USED_UP, GrantEvent.REVOKE): GrantState.REVOKED,
        (GrantState.EXPIRED, GrantEvent.REVOKE): GrantState.REVOKED,
    },
)


def grant_state(*, used_up: bool, expired: bool, revoked: bool) -> GrantState:
    """The state these facts put a grant in: each event that happened, applied in the
    table's order."""
    state = GRANT_LIFECYCLE.initial
    for happened, event in (
        (used_up, GrantEvent.USE_UP),
        (expired, GrantEvent.EXPIRE),
        (revoked, GrantEvent.REVOKE),
    ):
        if happened:
            state = GRANT_LIFECYCLE.next(state, event)
    return state
