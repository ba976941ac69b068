"""Reading a token: its signatures checked against the issuer, its facts turned into a
:class:`~.terms.GrantInfo`.

Reading decides nothing about a request; it records what the verifier needs: the holder chain,
and the first narrowing block that does more than narrow (``widened_at``).
"""

from __future__ import annotations

import re

import biscuit_auth as biscuit

from secondme.protocol.grants.biscuits import (
    GRANT_FORMAT,
    facts,
    limited_builder,
    ms_of,
    public_key,
    verified,
)
from secondme.protocol.grants.errors import GrantForged, GrantMalformed
from secondme.protocol.grants.scope import MEMORY_LAYERS, Scope
from secondme.protocol.grants.terms import ABILITIES, GrantInfo, Rate
from secondme.protocol.identity import InvalidPeerId, PeerId

MAX_DELEGATION_DEPTH = 4


def read_grant(token: bytes, issuer: PeerId) -> GrantInfo:
    """Check ``token``'s signatures against ``issuer`` and say what it grants.

    Raises :class:`GrantMalformed` (not a token) or :class:`GrantForged` (not signed by
    ``issuer``).
    """
    return describe(verified(token, issuer), issuer)


def _peer(text: object, what: str) -> PeerId:
    try:
        return PeerId.from_base58(str(text))
    except InvalidPeerId:
        raise GrantMalformed(f"the grant's {what} is not a peer id") from None


def describe(parsed: biscuit.Biscuit, issuer: PeerId) -> GrantInfo:
    authorizer = limited_builder().build(parsed)
    formats = facts(authorizer, "f($v) <- grant($v) trusting authority")
    if formats != [[GRANT_FORMAT]]:
        raise GrantMalformed(f"the token is not a grant of format {GRANT_FORMAT}")
    named_issuer = facts(authorizer, "f($p) <- issuer($p) trusting authority")
    if [str(issuer)] not in named_issuer or len(named_issuer) != 1:
        raise GrantForged("the grant names another issuer than the key that signed it")
    audiences = facts(authorizer, "f($p) <- audience($p) trusting authority")
    if len(audiences) != 1:
        raise GrantMalformed("a grant names exactly one audience")
    audience = _peer(audiences[0][0], "audience")
    granted = sorted(a for (a,) in facts(authorizer, "f($a) <- ability($a) trusting authority"))
    known = tuple(a for a in ABILITIES if a in granted)
    unknown = tuple(a for a in granted if a not in ABILITIES)

    def strings(rule: str) -> tuple[str, ...]:
        return tuple(sorted(str(v) for (v,) in facts(authorizer, rule)))

    def flag(name: str) -> bool:
        return bool(facts(authorizer, f"f(true) <- {name}(true) trusting authority"))

    scope = Scope(
        tags=strings("f($t) <- scope_tag($t) trusting authority"),
        topics=strings("f($t) <- scope_topic($t) trusting authority"),
        layers=tuple(
            layer
            for layer in MEMORY_LAYERS
            if layer in strings("f($l) <- scope_layer($l) trusting authority")
        ),
        profile=flag("scope_profile"),
        profile_only=flag("profile_only"),
    )
    issued = facts(authorizer, "f($t) <- issued($t) trusting authority")
    expires = facts(authorizer, "f($t) <- expires($t) trusting authority")
    if len(expires) != 1 or len(issued) != 1:
        raise GrantMalformed("a grant names exactly one issue time and one expiry")
    uses = facts(authorizer, "f($n) <- max_uses($n) trusting authority")
    rates = facts(authorizer, "f($n, $w) <- rate($n, $w) trusting authority")
    if len(uses) > 1 or len(rates) > 1:
        raise GrantMalformed("a grant names at most one use limit and one rate")
    delegable = flag("delegable")

    holders = [audience]
    holder_at = [audience]
    widened_at = None
    narrowing = []
    for index in range(1, parsed.block_count()):
        source = parsed.block_source(index)
        narrowing.append(source)
        external = parsed.block_external_key(index)
        if external is None:
            if widened_at is None and not _checks_only(source):
                widened_at = index
            holder_at.append(holders[-1])
            continue
        signer = str(external).removeprefix("ed25519/")
        allowed = (
            delegable
            and signer == holders[-1].public_key().hex()  # only an Ed25519 holder key matches
            and len(holders) <= MAX_DELEGATION_DEPTH
            and _checks_only(source, except_first=True)
        )
        delegated = []
        if allowed:
            delegated = facts(
                authorizer,
                "f($p) <- delegate($p) trusting {key}",
                key=public_key(holders[-1]),
            )
            allowed = len(delegated) == 1
        if not allowed:
            widened_at = index if widened_at is None else widened_at
            holder_at.append(holders[-1])
            continue
        holders.append(_peer(delegated[0][0], "delegate"))
        holder_at.append(holders[-1])
    revocation_ids = tuple(parsed.revocation_ids)
    return GrantInfo(
        grant_id=revocation_ids[0],
        revocation_ids=revocation_ids,
        issuer=issuer,
        audience=audience,
        holders=tuple(holders),
        holder_at=tuple(holder_at),
        abilities=known,
        unknown_abilities=unknown,
        scope=scope,
        issued_ms=ms_of(issued[0][0]),
        expires_ms=ms_of(expires[0][0]),
        max_uses=int(uses[0][0]) if len(uses) == 1 else None,
        rate=Rate(int(rates[0][0]), int(rates[0][1])) if len(rates) == 1 else None,
        delegable=delegable,
        narrowing=tuple(narrowing),
        widened_at=widened_at,
    )


def _statements(source: str) -> list[str]:
    """The Datalog statements of a block's source, split on ``;`` outside string literals."""
    statements, current, in_string, escaped = [], [], False, False
    for char in source:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == ";":
            statements.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    statements.append("".join(current).strip())
    return [statement for statement in statements if statement]


def _outside_strings(statement: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', statement)


def _checks_only(source: str, *, except_first: bool = False) -> bool:
    """Does this block hold nothing but checks (after its one ``delegate`` fact)?"""
    statements = _statements(source)
    if except_first:
        if not statements or not re.fullmatch(r'delegate\("[^"]*"\)', statements[0]):
            return False
        statements = statements[1:]
    return all(
        re.match(r"(check if|check all|reject if)\b", s) and "<-" not in _outside_strings(s)
        for s in statements
    )
