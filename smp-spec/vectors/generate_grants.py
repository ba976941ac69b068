"""Write the grant test vectors (``grants.json`` beside this file).

Unlike the other vector files, this one is **generated once and checked in**: every Biscuit
block is signed with a fresh random key pair (the key that must sign the next block), so a run
gives other token bytes each time, and the library offers no way to fix that randomness. The
seeds of the identities and every time are fixed; only the tokens change.
``tests/unit/protocol/test_grant_vectors.py`` therefore checks that every vector in the file
*holds* (the verifier gives the expected outcome), not that the file equals a fresh run.

Run ``python smp-spec/vectors/generate_grants.py`` from the repository root only when the grant
format or the verification rules change, and check the new file in. Each case states the outcome
it is meant to show; the script refuses to write a file in which ``GrantVerifier`` disagrees.

The identities are those of the SMP vectors (``peer_ids.json``: alice, bob, carol, from the same
seed labels), plus a thief and the four extra holders that a delegation chain at its depth limit
needs. Alice issues every grant the verifier accepts, and verifies. The file is described in
``smp-spec/access.md`` ("Test vectors").
"""

from __future__ import annotations

import base64
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import biscuit_auth as biscuit

from secondme.protocol.access import scope_to_wire
from secondme.protocol.grants import (
    ABILITIES,
    MAX_DELEGATION_DEPTH,
    MAX_GRANT_BYTES,
    MAX_SCOPE_ITEMS,
    GrantError,
    GrantRateLimited,
    GrantTerms,
    GrantVerifier,
    Rate,
    Scope,
    attenuate,
    delegate,
    issue_grant,
    narrowing_checks,
    read_grant,
)
from secondme.protocol.identity import Identity

from vectorkit import HERE, NOW_MS, person, render

HOUR_MS = 3_600_000
ISSUED_MS = NOW_MS - HOUR_MS
EXPIRES_MS = NOW_MS + HOUR_MS


NAMES = ("alice", "bob", "carol", "thief", "dave", "erin", "frank", "grace")
PEOPLE = {name: person(name) for name in NAMES}
ALICE, BOB, CAROL, THIEF = (PEOPLE[name] for name in ("alice", "bob", "carol", "thief"))
DAVE, ERIN, FRANK, GRACE = (PEOPLE[name] for name in ("dave", "erin", "frank", "grace"))
TRAVEL = Scope(tags=("travel",), topics=("cooking",), layers=("l0", "l1"), profile=True)


# -- tokens --------------------------------------------------------------------------------------


def _grant(
    *,
    audience: Identity = BOB,
    abilities: tuple[str, ...] = ("chat/ask", "memory/read"),
    issuer: Identity = ALICE,
    expires_ms: int = EXPIRES_MS,
    **options: Any,
) -> bytes:
    terms = GrantTerms(
        audience=audience.peer_id, abilities=abilities, expires_ms=expires_ms, **options
    )
    return issue_grant(issuer, terms, issued_ms=ISSUED_MS)


def _handed_on(token: bytes, *chain: Identity, checks: str = "") -> bytes:
    """``token`` delegated along ``chain``: each peer hands it to the next one."""
    for holder, to in itertools.pairwise(chain):
        token = delegate(token, ALICE.peer_id, holder, to.peer_id, checks)
    return token


def _date(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, tz=UTC)


def _raw(signer: Identity, source: str) -> bytes:
    """A token with an authority block written by hand (``{issued}`` and ``{expires}`` are
    the usual times), for shapes :func:`issue_grant` refuses to write."""
    builder = biscuit.BiscuitBuilder(
        source, {"issued": _date(ISSUED_MS), "expires": _date(EXPIRES_MS)}
    )
    key = biscuit.PrivateKey.from_bytes(signer.seed, biscuit.Algorithm.Ed25519)
    return bytes(builder.build(key).to_bytes())


def _authority(*, issuer: Identity = ALICE, extra: str = "", grant_fact: bool = True) -> str:
    lines = [
        "grant(1);" if grant_fact else "",
        f'issuer("{issuer.peer_id}");',
        f'audience("{BOB.peer_id}");',
        "issued({issued});",
        "expires({expires});",
        "check if time($t), $t <= {expires};",
        'ability("chat/ask");',
        extra,
    ]
    return "\n".join(line for line in lines if line)


def _flip_authority_signature(token: bytes) -> bytes:
    """``token`` with the first byte of its authority block's signature changed."""
    signature = bytes.fromhex(read_grant(token, ALICE.peer_id).grant_id)
    at = token.index(signature)
    return token[:at] + bytes([token[at] ^ 0x01]) + token[at + 1 :]


def _ids(token: bytes) -> tuple[str, ...]:
    return read_grant(token, ALICE.peer_id).revocation_ids


# -- cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One request as alice's node sees it, and the outcome it is meant to show."""

    name: str
    description: str
    token: bytes | None
    peer: Identity = BOB
    ability: str = "chat/ask"
    now_ms: int = NOW_MS
    requested: Scope | None = None
    revoked: tuple[str, ...] = ()
    uses: int = 0
    recent_ms: tuple[int, ...] = ()
    error: str | None = None
    """The code it must be refused with; ``None``: it must be allowed."""


def cases() -> list[Case]:
    plain = _grant()
    scoped = _grant(scope=TRAVEL)
    profile = _grant(abilities=("profile/read",), scope=Scope(profile_only=True))
    delegable = _grant(delegable=True)
    to_carol = _handed_on(
        delegable,
        BOB,
        CAROL,
        checks=narrowing_checks(abilities=["chat/ask"], scope=Scope(tags=("travel",))),
    )
    capped = _grant(max_uses=3)
    rated = _grant(rate=Rate(2, 60_000))
    travel_copy = attenuate(plain, ALICE.peer_id, narrowing_checks(scope=Scope(tags=("travel",))))
    travel_only = Scope(tags=("travel",))
    return [
        # Allowed
        Case(
            name="allowed",
            description="bob presents the chat/ask + memory/read grant alice gave him; no "
            "scope requested, so the request runs in the grant's whole scope.",
            token=plain,
        ),
        Case(
            name="allowed_narrower_scope",
            description="A grant for tags travel, topics cooking, layers l0+l1 and the "
            "profile; the request asks for layer l0 only, without the profile, and runs in that.",
            token=scoped,
            ability="memory/read",
            requested=Scope(tags=("travel",), topics=("cooking",), layers=("l0",)),
        ),
        Case(
            name="allowed_profile_only",
            description="A profile/read grant with profile_only: no memory, the profile yes.",
            token=profile,
            ability="profile/read",
        ),
        Case(
            name="allowed_at_expiry",
            description="now_ms equals the expiry exactly: still valid (the edge is inclusive).",
            token=plain,
            now_ms=EXPIRES_MS,
        ),
        Case(
            name="allowed_unknown_ability_in_grant",
            description="The authority block also names group/leave, an ability this version "
            "does not know: it is ignored, and chat/ask is allowed.",
            token=_raw(ALICE, _authority(extra='ability("group/leave");')),
        ),
        Case(
            name="allowed_delegated",
            description="bob handed his delegable grant on to carol in a third-party block he "
            "signed, narrowed to chat/ask and tag travel; carol asks within that.",
            token=to_carol,
            peer=CAROL,
            requested=travel_only,
        ),
        Case(
            name="allowed_delegation_at_depth_limit",
            description=f"Handed on {MAX_DELEGATION_DEPTH} times (bob, carol, dave, erin, "
            "frank): the deepest chain allowed; frank asks.",
            token=_handed_on(delegable, BOB, CAROL, DAVE, ERIN, FRANK),
            peer=FRANK,
        ),
        Case(
            name="allowed_parent_of_revoked_delegation",
            description="Only the delegation block of bob's copy for carol is revoked: bob's "
            "own token, which does not hold that block, still works.",
            token=delegable,
            revoked=_ids(to_carol)[1:],
        ),
        Case(
            name="allowed_last_use",
            description="max_uses 3 and 2 uses so far: this is use 3.",
            token=capped,
            uses=2,
        ),
        Case(
            name="allowed_rate_window_edge",
            description="rate 2 per 60 000 ms; one earlier use exactly 60 000 ms ago is outside "
            "the window (now − window, now], so only one use counts.",
            token=rated,
            recent_ms=(NOW_MS - 60_000, NOW_MS - 5_000),
        ),
        # Refused: reading the token
        Case(
            name="no_grant",
            description="The request needs chat/ask and its envelope carries no grant.",
            token=None,
            error="no_grant",
        ),
        Case(
            name="tampered_truncated",
            description="The first half of a valid token: not a Biscuit token.",
            token=plain[: len(plain) // 2],
            error="grant_tampered",
        ),
        Case(
            name="tampered_not_a_grant",
            description="A Biscuit token signed by alice's key whose authority block has no "
            "grant(1) fact.",
            token=_raw(ALICE, _authority(grant_fact=False)),
            error="grant_tampered",
        ),
        Case(
            name="forged_other_root",
            description="A grant for bob rooted in carol's key, presented to alice's node.",
            token=_grant(issuer=CAROL),
            error="grant_forged",
        ),
        Case(
            name="forged_self_issued",
            description="bob issued himself a grant that names alice as issuer, signed with "
            "his own key.",
            token=_raw(BOB, _authority()),
            error="grant_forged",
        ),
        Case(
            name="forged_signature_changed",
            description="A valid grant with one bit of its authority block's signature flipped.",
            token=_flip_authority_signature(plain),
            error="grant_forged",
        ),
        Case(
            name="forged_issuer_fact",
            description="Signed by alice's key, but its issuer fact names carol.",
            token=_raw(ALICE, _authority(issuer=CAROL)),
            error="grant_forged",
        ),
        # Refused: revocation and narrowing
        Case(
            name="revoked",
            description="The grant's id (its authority block's revocation id) is revoked.",
            token=plain,
            revoked=_ids(plain)[:1],
            error="grant_revoked",
        ),
        Case(
            name="revoked_delegation_block",
            description="Only the block that handed bob's grant to carol is revoked; carol's "
            "copy holds it.",
            token=to_carol,
            peer=CAROL,
            requested=travel_only,
            revoked=_ids(to_carol)[1:],
            error="grant_revoked",
        ),
        Case(
            name="widened_attenuation_fact",
            description='bob appended a first-party block with the fact ability("profile/read")'
            " and asks for profile/read.",
            token=attenuate(plain, ALICE.peer_id, 'ability("profile/read");'),
            ability="profile/read",
            error="grant_widened",
        ),
        Case(
            name="widened_attenuation_rule",
            description="bob appended a first-party block with a rule.",
            token=attenuate(plain, ALICE.peer_id, "ability($a) <- ability_requested($a);"),
            ability="profile/read",
            error="grant_widened",
        ),
        Case(
            name="widened_thief_delegation",
            description="A thief took bob's delegable token and appended a delegation to "
            "itself, signed with its own key (it cannot sign as bob); the thief presents it.",
            token=delegate(delegable, ALICE.peer_id, THIEF, THIEF.peer_id),
            peer=THIEF,
            error="grant_widened",
        ),
        Case(
            name="widened_not_delegable",
            description="bob handed on a grant that has no delegable(true); carol presents it.",
            token=_handed_on(plain, BOB, CAROL),
            peer=CAROL,
            error="grant_widened",
        ),
        Case(
            name="widened_delegation_adds_fact",
            description="bob's delegation block to carol also holds an ability fact.",
            token=_handed_on(delegable, BOB, CAROL, checks='ability("profile/read");'),
            peer=CAROL,
            ability="profile/read",
            error="grant_widened",
        ),
        Case(
            name="widened_delegation_too_deep",
            description=f"Handed on {MAX_DELEGATION_DEPTH + 1} times (bob, carol, dave, erin, "
            "frank, grace): one delegation more than allowed.",
            token=_handed_on(delegable, BOB, CAROL, DAVE, ERIN, FRANK, GRACE),
            peer=GRACE,
            error="grant_widened",
        ),
        # Refused: holder and ability
        Case(
            name="wrong_audience",
            description="carol presents the grant alice gave bob.",
            token=plain,
            peer=CAROL,
            error="wrong_audience",
        ),
        Case(
            name="wrong_audience_delegator",
            description="bob presents the copy he handed on to carol.",
            token=to_carol,
            requested=travel_only,
            error="wrong_audience",
        ),
        Case(
            name="unknown_ability",
            description="The request needs group/leave, which this version does not know.",
            token=plain,
            ability="group/leave",
            error="unknown_ability",
        ),
        Case(
            name="ability_not_granted",
            description="The grant allows chat/ask and memory/read; the request needs "
            "profile/read.",
            token=plain,
            ability="profile/read",
            error="ability_not_granted",
        ),
        Case(
            name="ability_not_granted_narrowed",
            description="bob's copy was attenuated to chat/ask; the request needs memory/read.",
            token=attenuate(plain, ALICE.peer_id, narrowing_checks(abilities=["chat/ask"])),
            ability="memory/read",
            error="ability_not_granted",
        ),
        # Refused: time and counts
        Case(
            name="expired",
            description="1 ms after the expiry.",
            token=plain,
            now_ms=EXPIRES_MS + 1,
            error="grant_expired",
        ),
        Case(
            name="expired_cut_to_second",
            description="Issued to expire at …:500 ms; the token holds whole seconds, so it "
            "expires at the second before, and 1 ms after that second it has expired.",
            token=_grant(expires_ms=EXPIRES_MS + 500),
            now_ms=EXPIRES_MS + 1,
            error="grant_expired",
        ),
        Case(
            name="expired_narrowed",
            description="bob's copy was attenuated to expire 60 s after now; the request comes "
            "1 ms later than that (the request time is rounded up to the second).",
            token=attenuate(plain, ALICE.peer_id, narrowing_checks(expires_ms=NOW_MS + 60_000)),
            now_ms=NOW_MS + 60_001,
            error="grant_expired",
        ),
        Case(
            name="used_up",
            description="max_uses 3 and 3 uses so far.",
            token=capped,
            uses=3,
            error="grant_used_up",
        ),
        Case(
            name="rate_limited",
            description="rate 2 per 60 000 ms, used 10 s and 5 s ago: the older use leaves the "
            "window in 50 000 ms.",
            token=rated,
            recent_ms=(NOW_MS - 10_000, NOW_MS - 5_000),
            error="grant_rate_limited",
        ),
        # Refused: scope
        Case(
            name="out_of_scope",
            description="The grant covers tag travel; the request asks for tag work.",
            token=scoped,
            ability="memory/read",
            requested=Scope(tags=("work",), topics=("cooking",)),
            error="out_of_scope",
        ),
        Case(
            name="out_of_scope_profile",
            description="The grant does not allow the profile; the request asks for it.",
            token=plain,
            requested=Scope(profile=True),
            error="out_of_scope",
        ),
        Case(
            name="narrowed_copy_wider_scope",
            description="bob's copy was attenuated to tag travel; the request asks for tags "
            "travel and work, which the authority block alone would allow.",
            token=travel_copy,
            requested=Scope(tags=("travel", "work")),
            error="out_of_scope",
        ),
        Case(
            name="narrowed_copy_without_scope",
            description="bob's copy was attenuated to tag travel; the request names no scope, "
            "so it would run in the grant's whole scope.",
            token=travel_copy,
            error="out_of_scope",
        ),
    ]


# -- vectors -------------------------------------------------------------------------------------


def _decoded(token: bytes) -> biscuit.UnverifiedBiscuit | None:
    try:
        return biscuit.UnverifiedBiscuit.from_base64(base64.urlsafe_b64encode(token).decode())
    except Exception:
        return None


def _outcome(case: Case) -> dict[str, Any]:
    verifier = GrantVerifier(ALICE, lambda ids: not set(case.revoked).isdisjoint(ids))
    try:
        permit = verifier.authorize(
            case.token,
            peer=case.peer.peer_id,
            ability=case.ability,
            now_ms=case.now_ms,
            uses=case.uses,
            recent_ms=case.recent_ms,
            requested=case.requested,
        )
    except GrantError as exc:
        outcome: dict[str, Any] = {"error": exc.code}
        if isinstance(exc, GrantRateLimited):
            outcome["retry_after_ms"] = exc.retry_after_ms
        return outcome
    return {
        "allowed": True,
        "grant_id": permit.grant.grant_id,
        "holder": str(permit.grant.holder),
        "scope": scope_to_wire(permit.scope),
        "use": permit.use,
    }


def vector(case: Case) -> dict[str, Any]:
    expected = _outcome(case)
    if expected.get("error") != case.error:
        raise AssertionError(f"{case.name}: meant {case.error or 'allowed'}, got {expected}")
    result: dict[str, Any] = {
        "name": case.name,
        "description": case.description,
        "issuer": {"seed": ALICE.seed.hex(), "peer_id": str(ALICE.peer_id)},
        "token": None if case.token is None else case.token.hex(),
    }
    decoded = None if case.token is None else _decoded(case.token)
    if decoded is not None:
        result["revocation_ids"] = list(decoded.revocation_ids)
        result["datalog"] = [decoded.block_source(i) for i in range(decoded.block_count())]
    result |= {
        "peer": str(case.peer.peer_id),
        "ability": case.ability,
        "now_ms": case.now_ms,
    }
    if case.requested is not None:
        result["requested_scope"] = scope_to_wire(case.requested)
    result |= {
        "revoked": list(case.revoked),
        "uses": case.uses,
        "recent_ms": list(case.recent_ms),
        "expected": expected,
    }
    return result


def document() -> dict[str, Any]:
    return {
        "description": "SMP 1.0 grants (smp-spec/access.md): tokens alice's node must allow "
        "or refuse. Generated once and checked in (tokens hold random keys); every vector "
        "must hold.",
        "limits": {
            "max_grant_bytes": MAX_GRANT_BYTES,
            "max_delegation_depth": MAX_DELEGATION_DEPTH,
            "max_scope_items": MAX_SCOPE_ITEMS,
            "abilities": list(ABILITIES),
        },
        "identities": {
            name: {
                "seed_label": f"smp test vector seed: {name}",
                "seed": identity.seed.hex(),
                "public_key": identity.public_key.hex(),
                "peer_id": str(identity.peer_id),
            }
            for name, identity in PEOPLE.items()
        },
        "vectors": [vector(case) for case in cases()],
    }


def main(write: Callable[[Path, str], object] = Path.write_text) -> int:
    write(HERE / "grants.json", render(document()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
