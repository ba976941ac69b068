"""Every way a grant refuses a request, each with the code an error frame carries.

    GrantError (RemoteProtocolError)  not allowed, for a reason no code below names
    ├── NoGrant               the request needs a grant and carries none
    ├── GrantMalformed        the bytes are not a Biscuit token, or not a grant
    ├── GrantForged           not signed by this node's key, or names another issuer
    ├── RevokedGrant          a block of the grant is on the revocation list
    ├── GrantWidened          a later block adds rights instead of narrowing them
    ├── WrongAudience         the grant is not held by the peer presenting it
    ├── UnknownAbility        the ability the request needs is not one this version knows
    ├── AbilityNotGranted     the grant does not allow the ability
    ├── GrantExpired          the grant (or a narrowed copy) has expired
    ├── GrantUsedUp           the root grant has used all its uses
    ├── GrantRateLimited      the root grant is over its rate; ``retry_after_ms`` says when
    ├── OutOfScope            the request's scope is not within the grant's
    └── AuthorizerBusy        the Datalog checks ran out of time (this node's load, not the
                              grant's fault); also a ``Busy``, ``retry_after_ms`` too

The codes are those of ``smp-spec/access.md`` section 12.
"""

from __future__ import annotations

from secondme.protocol.errors import Busy, RemoteProtocolError


class GrantError(RemoteProtocolError):
    """A request's grant does not allow it; ``code`` says why (``smp-spec/access.md``)."""

    code = "unauthorized"


class NoGrant(GrantError):
    code = "no_grant"


class GrantMalformed(GrantError):
    code = "grant_tampered"


class GrantForged(GrantError):
    code = "grant_forged"


class RevokedGrant(GrantError):
    code = "grant_revoked"


class GrantWidened(GrantError):
    code = "grant_widened"


class WrongAudience(GrantError):
    code = "wrong_audience"


class UnknownAbility(GrantError):
    code = "unknown_ability"


class AbilityNotGranted(GrantError):
    code = "ability_not_granted"


class GrantExpired(GrantError):
    code = "grant_expired"


class GrantUsedUp(GrantError):
    code = "grant_used_up"


class GrantRateLimited(GrantError):
    code = "grant_rate_limited"

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class OutOfScope(GrantError):
    code = "out_of_scope"


class AuthorizerBusy(GrantError, Busy):
    """The Datalog checks ran out of time (a loaded machine): not the grant's fault, so it is
    ``busy`` like every other "no room for the work now", and a :class:`GrantError` because it
    is met while a grant is read or checked."""

    code = "busy"

    def __init__(self, message: str, *, retry_after_ms: int = 100) -> None:
        super().__init__(message, retry_after_ms=retry_after_ms)


GRANT_ERRORS: tuple[type[GrantError], ...] = (
    NoGrant,
    GrantMalformed,
    GrantForged,
    RevokedGrant,
    GrantWidened,
    WrongAudience,
    UnknownAbility,
    AbilityNotGranted,
    GrantExpired,
    GrantUsedUp,
    GrantRateLimited,
    OutOfScope,
)
"""Every way a grant refuses a request (``AuthorizerBusy`` is this node's state, not one)."""
