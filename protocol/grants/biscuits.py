"""The Biscuit plumbing that issuing, reading and verifying share.

Keys (the node's Ed25519 identity as a Biscuit key), dates (Biscuit counts whole seconds, SMP
counts milliseconds), parsing a token with its size and signature checks, and Datalog that runs
under a time limit. Every failure leaves here as a :class:`~.errors.GrantError`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import biscuit_auth as biscuit

from secondme.protocol.grants.errors import AuthorizerBusy, GrantForged, GrantMalformed
from secondme.protocol.identity import Identity, PeerId

GRANT_FORMAT = 1
MAX_GRANT_BYTES = 64 * 1024
_DATALOG_TIME_LIMIT = timedelta(milliseconds=100)


def private_key(identity: Identity) -> biscuit.PrivateKey:
    return biscuit.PrivateKey.from_bytes(identity.seed, biscuit.Algorithm.Ed25519)


def public_key(peer: PeerId) -> biscuit.PublicKey:
    return biscuit.PublicKey.from_bytes(peer.public_key(), biscuit.Algorithm.Ed25519)


def date_of(ms: int) -> datetime:
    """A Biscuit date: whole seconds, so a time given in ms is cut down to its second (an
    expiry ends at most 999 ms early, never late)."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC)


def request_date(ms: int) -> datetime:
    """The request's time for Datalog checks, rounded *up* to the second, so that a request
    999 ms after an expiry second is refused, as :meth:`GrantVerifier.authorize` does."""
    return datetime.fromtimestamp(-(-ms // 1000), tz=UTC)


def ms_of(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def quoted(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def unverified(token: bytes) -> biscuit.UnverifiedBiscuit:
    if not isinstance(token, bytes | bytearray) or not token or len(token) > MAX_GRANT_BYTES:
        raise GrantMalformed("the grant is empty or larger than 64 KiB")
    try:
        return biscuit.UnverifiedBiscuit.from_base64(base64.urlsafe_b64encode(token).decode())
    except Exception as exc:
        raise GrantMalformed(f"the grant's bytes are damaged or not a token ({exc})") from None


def verified(token: bytes, issuer: PeerId) -> biscuit.Biscuit:
    unverified(token)
    try:
        return biscuit.Biscuit.from_bytes(bytes(token), public_key(issuer))
    except Exception:
        raise GrantForged(f"the grant is not signed by {issuer}") from None


def facts(authorizer: biscuit.Authorizer, rule: str, **scope: biscuit.PublicKey) -> list[list]:
    try:
        found = authorizer.query(biscuit.Rule(rule, None, scope or None))
    except biscuit.AuthorizationError as exc:
        if "execution limits" in str(exc).lower():
            raise AuthorizerBusy("reading the grant took too long; try again") from None
        raise
    return [fact.terms for fact in found]


def limited_builder(code: str = "", params: dict | None = None) -> biscuit.AuthorizerBuilder:
    """An authorizer builder whose Datalog may run ``_DATALOG_TIME_LIMIT`` (the library's
    default of 1 ms is too short on a loaded machine, and unbounded is a denial of service)."""
    builder = biscuit.AuthorizerBuilder(code, params) if code else biscuit.AuthorizerBuilder()
    limits = builder.limits()
    limits.max_time = _DATALOG_TIME_LIMIT
    builder.set_limits(limits)
    return builder
