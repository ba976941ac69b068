"""Minting a grant, and narrowing one: attenuation (any holder) and delegation (the holder).

The authority block holds the issuer's facts; every later block may only narrow. The checks
:func:`narrowing_checks` writes read the request facts the verifier supplies (see the package
docstring).
"""

from __future__ import annotations

from collections.abc import Sequence

import biscuit_auth as biscuit

from secondme.protocol.grants.biscuits import (
    GRANT_FORMAT,
    date_of,
    private_key,
    quoted,
    verified,
)
from secondme.protocol.grants.scope import Scope
from secondme.protocol.grants.terms import GrantTerms
from secondme.protocol.identity import Identity, PeerId


def issue_grant(issuer: Identity, terms: GrantTerms, *, issued_ms: int) -> bytes:
    """Mint a grant signed by ``issuer``; returns the token bytes."""
    if terms.expires_ms <= issued_ms:
        raise ValueError("a grant must expire after it is issued")
    lines = [
        f"grant({GRANT_FORMAT});",
        f'issuer("{issuer.peer_id}");',
        f'audience("{terms.audience}");',
        "issued({issued});",
        "expires({expires});",
        "check if time($t), $t <= {expires};",
    ]
    lines += [f'ability("{ability}");' for ability in terms.abilities]
    scope = terms.scope
    lines += [f'scope_tag("{tag}");' for tag in scope.tags]
    lines += [f'scope_topic("{topic}");' for topic in scope.topics]
    lines += [f'scope_layer("{layer}");' for layer in scope.layers]
    if scope.profile:
        lines.append("scope_profile(true);")
    if scope.profile_only:
        lines.append("profile_only(true);")
    if terms.delegable:
        lines.append("delegable(true);")
    if terms.max_uses is not None:
        lines.append(f"max_uses({terms.max_uses});")
    if terms.rate is not None:
        lines.append(f"rate({terms.rate.count}, {terms.rate.window_ms});")
    builder = biscuit.BiscuitBuilder(
        "\n".join(lines),
        {"issued": date_of(issued_ms), "expires": date_of(terms.expires_ms)},
    )
    return bytes(builder.build(private_key(issuer)).to_bytes())


def narrowing_checks(
    *,
    abilities: Sequence[str] | None = None,
    expires_ms: int | None = None,
    scope: Scope | None = None,
) -> str:
    """The Datalog checks that narrow a grant to these abilities, this expiry and this scope."""
    checks = []
    if abilities is not None:
        checks.append(f"check if ability_requested($a), {quoted(abilities)}.contains($a);")
    if expires_ms is not None:
        checks.append(f"check if time($t), $t <= {date_of(expires_ms).isoformat()};")
    if scope is not None:
        # ``check all`` fails when nothing matches, so a request that touches no memory passes
        # these through ``memory_unused(true)``, and one that names no tag (every tag) fails.
        if scope.profile_only or not scope.layers:
            checks.append("reject if request_layer($l);")
        else:
            checks.append(
                f"check all request_layer($l), {quoted(scope.layers)}.contains($l)"
                " or memory_unused(true);"
            )
        if scope.tags:
            checks.append(
                f"check all request_tag($t), {quoted(scope.tags)}.contains($t)"
                " or memory_unused(true);"
            )
        if scope.topics:
            checks.append(
                f"check all request_topic($t), {quoted(scope.topics)}.contains($t)"
                " or memory_unused(true);"
            )
        if not scope.profile:
            checks.append("reject if request_profile(true);")
    return "\n".join(checks)


def attenuate(token: bytes, issuer: PeerId, checks: str) -> bytes:
    """Append a first-party block of ``checks`` (see :func:`narrowing_checks`); any holder may."""
    if not checks.strip():
        raise ValueError("an attenuation needs at least one check")
    parsed = verified(token, issuer)
    return bytes(parsed.append(biscuit.BlockBuilder(checks)).to_bytes())


def delegate(token: bytes, issuer: PeerId, holder: Identity, to: PeerId, checks: str = "") -> bytes:
    """Hand the grant on to ``to``: a block signed by ``holder`` naming the new holder.

    The issuer accepts it only if the grant is delegable and ``holder`` holds it at that point.
    """
    parsed = verified(token, issuer)
    request = parsed.third_party_request()
    source = f'delegate("{to}");\n{checks}'
    block = request.create_block(private_key(holder), biscuit.BlockBuilder(source))
    key = biscuit.PublicKey.from_bytes(holder.public_key, biscuit.Algorithm.Ed25519)
    return bytes(parsed.append_third_party(key, block).to_bytes())
