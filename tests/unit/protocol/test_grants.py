"""Capability grants, sans-IO: every way a grant is refused names its own error and code, what a
grant allows it allows exactly, delegation moves it only along the holder chain, and no bytes
presented as a grant end in anything but a GrantError."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from secondme.protocol.grants import (
    GRANT_ERRORS,
    MAX_GRANT_BYTES,
    AbilityNotGranted,
    GrantError,
    GrantExpired,
    GrantForged,
    GrantMalformed,
    GrantRateLimited,
    GrantTerms,
    GrantUsedUp,
    GrantVerifier,
    GrantWidened,
    NoGrant,
    OutOfScope,
    Permit,
    Rate,
    RevokedGrant,
    Scope,
    UnknownAbility,
    WrongAudience,
    attenuate,
    delegate,
    issue_grant,
    narrowing_checks,
    read_grant,
)
from secondme.protocol.identity import Identity
from secondme.protocol.messages import ErrorCode

NOW = 1_700_000_000_000
HOUR = 3_600_000
ALICE = Identity.from_seed(bytes([1]) * 32)
"""The issuer: every grant here is checked by Alice's node."""
BOB = Identity.from_seed(bytes([2]) * 32)
CAROL = Identity.from_seed(bytes([3]) * 32)
DAVE = Identity.from_seed(bytes([4]) * 32)
ERIN = Identity.from_seed(bytes([5]) * 32)
FRANK = Identity.from_seed(bytes([6]) * 32)
GRACE = Identity.from_seed(bytes([7]) * 32)
TRAVEL = Scope(tags=("travel",), topics=("cooking",), layers=("l0",))


def grant(
    *,
    audience: Identity = BOB,
    abilities: tuple[str, ...] = ("chat/ask", "memory/read"),
    issuer: Identity = ALICE,
    expires_ms: int = NOW + HOUR,
    **options,
) -> bytes:
    terms = GrantTerms(
        audience=audience.peer_id, abilities=abilities, expires_ms=expires_ms, **options
    )
    return issue_grant(issuer, terms, issued_ms=NOW)


def handed_on(token: bytes, *chain: Identity, checks: str = "") -> bytes:
    """``token`` delegated along ``chain``: each peer hands it to the next one."""
    for holder, to in itertools.pairwise(chain):
        token = delegate(token, ALICE.peer_id, holder, to.peer_id, checks)
    return token


def revocation_ids(token: bytes) -> tuple[str, ...]:
    return read_grant(token, ALICE.peer_id).revocation_ids


PLAIN = grant()
DELEGABLE = grant(delegable=True)
SCOPED = grant(scope=TRAVEL)
PROFILE = grant(abilities=("profile/read",), scope=Scope(profile_only=True))
TO_CAROL = handed_on(DELEGABLE, BOB, CAROL)
NARROWED_TO_CAROL = handed_on(
    DELEGABLE, BOB, CAROL, checks=narrowing_checks(abilities=["chat/ask"])
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One request as Alice's node sees it: the token, who presents it, and the node's state."""

    token: bytes | None
    peer: Identity = BOB
    ability: str = "chat/ask"
    now_ms: int = NOW
    uses: int = 0
    recent_ms: tuple[int, ...] = ()
    requested: Scope | None = None
    revoked: frozenset[str] = frozenset()

    def authorize(self) -> Permit:
        verifier = GrantVerifier(ALICE, lambda ids: not self.revoked.isdisjoint(ids))
        return verifier.authorize(
            self.token,
            peer=self.peer.peer_id,
            ability=self.ability,
            now_ms=self.now_ms,
            uses=self.uses,
            recent_ms=self.recent_ms,
            requested=self.requested,
        )


REFUSALS = [
    pytest.param(Attempt(token=None), NoGrant, "no_grant", id="no grant"),
    pytest.param(Attempt(token=b""), GrantMalformed, "grant_tampered", id="empty"),
    pytest.param(Attempt(token=b"not a grant"), GrantMalformed, "grant_tampered", id="garbage"),
    pytest.param(
        Attempt(token=PLAIN + bytes(MAX_GRANT_BYTES)),
        GrantMalformed,
        "grant_tampered",
        id="over 64 KiB",
    ),
    pytest.param(
        Attempt(token=PLAIN[: len(PLAIN) // 2]), GrantMalformed, "grant_tampered", id="truncated"
    ),
    pytest.param(
        Attempt(token=grant(issuer=CAROL)), GrantForged, "grant_forged", id="signed by another"
    ),
    pytest.param(
        Attempt(token=grant(issuer=BOB, audience=CAROL), peer=CAROL),
        GrantForged,
        "grant_forged",
        id="rooted in the holder's own key",
    ),
    pytest.param(
        Attempt(token=PLAIN, revoked=frozenset(revocation_ids(PLAIN))),
        RevokedGrant,
        "grant_revoked",
        id="revoked",
    ),
    pytest.param(
        Attempt(token=TO_CAROL, peer=CAROL, revoked=frozenset(revocation_ids(DELEGABLE))),
        RevokedGrant,
        "grant_revoked",
        id="delegated copy of a revoked grant",
    ),
    pytest.param(
        Attempt(token=TO_CAROL, peer=CAROL, revoked=frozenset(revocation_ids(TO_CAROL)[1:])),
        RevokedGrant,
        "grant_revoked",
        id="revoked delegation block",
    ),
    pytest.param(
        Attempt(token=PLAIN, peer=CAROL), WrongAudience, "wrong_audience", id="presented by another"
    ),
    pytest.param(
        Attempt(token=TO_CAROL, peer=BOB),
        WrongAudience,
        "wrong_audience",
        id="presented by the delegator",
    ),
    pytest.param(
        Attempt(
            token=attenuate(PLAIN, ALICE.peer_id, 'ability("group/join");'), ability="group/join"
        ),
        GrantWidened,
        "grant_widened",
        id="attenuation adds a fact",
    ),
    pytest.param(
        Attempt(
            token=attenuate(PLAIN, ALICE.peer_id, 'check if true;\nability("group/join");'),
            ability="group/join",
        ),
        GrantWidened,
        "grant_widened",
        id="attenuation adds a fact after a check",
    ),
    pytest.param(
        Attempt(token=attenuate(PLAIN, ALICE.peer_id, "ability($a) <- peer($a);")),
        GrantWidened,
        "grant_widened",
        id="attenuation adds a rule",
    ),
    pytest.param(
        Attempt(token=handed_on(DELEGABLE, CAROL, CAROL), peer=CAROL),
        GrantWidened,
        "grant_widened",
        id="delegation signed by a thief",
    ),
    pytest.param(
        Attempt(token=handed_on(PLAIN, BOB, CAROL), peer=CAROL),
        GrantWidened,
        "grant_widened",
        id="delegation of a non-delegable grant",
    ),
    pytest.param(
        Attempt(
            token=handed_on(DELEGABLE, BOB, CAROL, checks='ability("group/join");'),
            peer=CAROL,
            ability="group/join",
        ),
        GrantWidened,
        "grant_widened",
        id="delegation adds a fact",
    ),
    pytest.param(
        Attempt(token=handed_on(DELEGABLE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE), peer=GRACE),
        GrantWidened,
        "grant_widened",
        id="delegation chain too deep",
    ),
    pytest.param(
        Attempt(token=PLAIN, ability="group/leave"),
        UnknownAbility,
        "unknown_ability",
        id="unknown ability",
    ),
    pytest.param(
        Attempt(token=PLAIN, ability="profile/read"),
        AbilityNotGranted,
        "ability_not_granted",
        id="ability not in grant",
    ),
    pytest.param(
        Attempt(
            token=attenuate(PLAIN, ALICE.peer_id, narrowing_checks(abilities=["chat/ask"])),
            ability="memory/read",
        ),
        AbilityNotGranted,
        "ability_not_granted",
        id="attenuated to another ability",
    ),
    pytest.param(
        Attempt(token=NARROWED_TO_CAROL, peer=CAROL, ability="memory/read"),
        AbilityNotGranted,
        "ability_not_granted",
        id="delegated for another ability",
    ),
    pytest.param(
        Attempt(token=PLAIN, now_ms=NOW + HOUR + 1),
        GrantExpired,
        "grant_expired",
        id="expired",
    ),
    pytest.param(
        Attempt(
            token=attenuate(PLAIN, ALICE.peer_id, narrowing_checks(expires_ms=NOW + 60_000)),
            now_ms=NOW + 61_000,
        ),
        GrantExpired,
        "grant_expired",
        id="attenuated copy expired",
    ),
    pytest.param(
        Attempt(token=grant(max_uses=3), uses=3), GrantUsedUp, "grant_used_up", id="used up"
    ),
    pytest.param(
        Attempt(token=grant(max_uses=3), uses=7), GrantUsedUp, "grant_used_up", id="used beyond"
    ),
    pytest.param(
        Attempt(token=grant(rate=Rate(2, 60_000)), recent_ms=(NOW - 10_000, NOW - 5_000)),
        GrantRateLimited,
        "grant_rate_limited",
        id="rate limited",
    ),
    pytest.param(
        Attempt(token=SCOPED, requested=Scope(tags=("work",), topics=("cooking",), layers=("l0",))),
        OutOfScope,
        "out_of_scope",
        id="other tag",
    ),
    pytest.param(
        Attempt(token=SCOPED, requested=Scope(tags=("travel",), topics=("music",), layers=("l0",))),
        OutOfScope,
        "out_of_scope",
        id="other topic",
    ),
    pytest.param(
        Attempt(token=SCOPED, requested=Scope(tags=("travel",), topics=("cooking",))),
        OutOfScope,
        "out_of_scope",
        id="layer not granted",
    ),
    pytest.param(
        Attempt(token=SCOPED, requested=Scope()),
        OutOfScope,
        "out_of_scope",
        id="unrestricted request",
    ),
    pytest.param(
        Attempt(token=SCOPED, requested=Scope(profile_only=True)),
        OutOfScope,
        "out_of_scope",
        id="profile not granted",
    ),
    pytest.param(
        Attempt(token=PROFILE, ability="profile/read", requested=Scope(layers=("l1",))),
        OutOfScope,
        "out_of_scope",
        id="memory under a profile-only grant",
    ),
    pytest.param(
        Attempt(
            token=attenuate(PLAIN, ALICE.peer_id, narrowing_checks(scope=Scope(tags=("travel",))))
        ),
        OutOfScope,
        "out_of_scope",
        id="narrowed copy used without a scope",
    ),
    pytest.param(
        Attempt(
            token=attenuate(PLAIN, ALICE.peer_id, narrowing_checks(scope=Scope(tags=("travel",)))),
            requested=Scope(tags=("travel", "work")),
        ),
        OutOfScope,
        "out_of_scope",
        id="narrowed copy used with a wider tag",
    ),
    pytest.param(
        Attempt(
            token=attenuate(PLAIN, ALICE.peer_id, narrowing_checks(scope=Scope(layers=("l0",)))),
            requested=Scope(layers=("l0", "l1")),
        ),
        OutOfScope,
        "out_of_scope",
        id="narrowed copy used with a wider layer",
    ),
    pytest.param(
        Attempt(
            token=attenuate(
                PLAIN, ALICE.peer_id, narrowing_checks(scope=Scope(topics=("cooking",)))
            ),
            requested=Scope(topics=("cooking",), profile=True),
        ),
        OutOfScope,
        "out_of_scope",
        id="narrowed copy used with the profile",
    ),
]


@pytest.mark.parametrize(("attempt", "error", "code"), REFUSALS)
def test_refusals_name_their_error_and_code(attempt: Attempt, error: type[GrantError], code: str):
    with pytest.raises(GrantError) as caught:
        attempt.authorize()
    assert type(caught.value) is error
    assert caught.value.code == code
    assert caught.value.message


def test_every_single_byte_flip_is_refused():
    for position in range(len(PLAIN)):
        for mask in (0x01, 0xFF):
            flipped = bytearray(PLAIN)
            flipped[position] ^= mask
            with pytest.raises((GrantMalformed, GrantForged)):
                Attempt(token=bytes(flipped)).authorize()


def test_revoking_a_delegation_block_leaves_the_parent_usable():
    block = frozenset(revocation_ids(TO_CAROL)[1:])
    assert Attempt(token=DELEGABLE, revoked=block).authorize().grant.holder == BOB.peer_id
    with pytest.raises(RevokedGrant):
        Attempt(token=TO_CAROL, peer=CAROL, revoked=block).authorize()


def test_the_rate_says_when_to_come_back_and_then_allows():
    limited = Attempt(token=grant(rate=Rate(2, 60_000)), recent_ms=(NOW - 10_000, NOW - 5_000))
    with pytest.raises(GrantRateLimited) as caught:
        limited.authorize()
    assert caught.value.retry_after_ms == 50_000
    with pytest.raises(GrantRateLimited) as caught:
        Attempt(token=limited.token, recent_ms=limited.recent_ms, now_ms=NOW + 49_999).authorize()
    assert caught.value.retry_after_ms == 1
    later = Attempt(token=limited.token, recent_ms=limited.recent_ms, now_ms=NOW + 50_000)
    assert later.authorize().use == 1
    one_use = Attempt(token=limited.token, recent_ms=(NOW - 10_000,))
    assert one_use.authorize().ability == "chat/ask"


# -- what a grant allows -------------------------------------------------------------------------


def test_a_plain_grant_allows_its_abilities_in_its_whole_scope():
    for ability in ("chat/ask", "memory/read"):
        permit = Attempt(token=PLAIN, ability=ability).authorize()
        assert (permit.ability, permit.scope, permit.use) == (ability, Scope(), 1)
        assert permit.grant.grant_id == revocation_ids(PLAIN)[0]


def test_a_request_runs_in_the_scope_it_asked_for():
    requested = Scope(tags=("travel",), topics=("cooking",), layers=("l0",))
    assert Attempt(token=SCOPED, requested=requested).authorize().scope == requested
    assert Attempt(token=SCOPED).authorize().scope == TRAVEL
    narrower = Scope(tags=("travel",), layers=("l1",))
    assert Attempt(token=PLAIN, requested=narrower).authorize().scope == narrower
    nothing = Scope(layers=())
    assert Attempt(token=SCOPED, requested=nothing).authorize().scope == nothing


def test_a_profile_only_grant_allows_the_profile():
    assert Attempt(token=PROFILE, ability="profile/read").authorize().scope.profile_only


def test_the_use_number_follows_the_count_the_node_keeps():
    capped = grant(max_uses=3)
    assert [Attempt(token=capped, uses=n).authorize().use for n in range(3)] == [1, 2, 3]


def test_a_grant_is_valid_up_to_its_expiry():
    assert Attempt(token=PLAIN, now_ms=NOW + HOUR).authorize().use == 1


def test_a_narrowed_copy_never_outlives_its_expiry():
    # Grant times are whole seconds: an expiry is cut down to its second, never extended.
    narrowed = attenuate(PLAIN, ALICE.peer_id, narrowing_checks(expires_ms=NOW + 60_500))
    assert Attempt(token=narrowed, now_ms=NOW + 60_000).authorize().use == 1
    for late in (NOW + 60_001, NOW + 60_500, NOW + 60_999):
        with pytest.raises(GrantExpired):
            Attempt(token=narrowed, now_ms=late).authorize()


def test_a_grant_expiry_is_cut_to_its_second():
    token = grant(expires_ms=NOW + HOUR + 500)
    assert read_grant(token, ALICE.peer_id).expires_ms == NOW + HOUR
    assert Attempt(token=token, now_ms=NOW + HOUR).authorize().use == 1
    with pytest.raises(GrantExpired):
        Attempt(token=token, now_ms=NOW + HOUR + 1).authorize()


def test_narrowed_copies_allow_what_they_kept():
    checks = narrowing_checks(abilities=["chat/ask"], expires_ms=NOW + 60_000, scope=TRAVEL)
    narrowed = attenuate(PLAIN, ALICE.peer_id, checks)
    permit = Attempt(token=narrowed, requested=TRAVEL, now_ms=NOW + 60_000).authorize()
    assert permit.scope == TRAVEL
    assert permit.grant.grant_id == revocation_ids(PLAIN)[0]


def test_a_delegated_copy_works_for_the_new_holder_only():
    permit = Attempt(token=NARROWED_TO_CAROL, peer=CAROL).authorize()
    assert permit.grant.holder == CAROL.peer_id
    assert permit.grant.grant_id == revocation_ids(DELEGABLE)[0]
    with pytest.raises(WrongAudience):
        Attempt(token=NARROWED_TO_CAROL, peer=BOB).authorize()
    assert Attempt(token=DELEGABLE, peer=BOB).authorize().grant.holder == BOB.peer_id


def test_a_delegated_copy_can_be_handed_on_again():
    to_dave = handed_on(DELEGABLE, BOB, CAROL, DAVE)
    assert Attempt(token=to_dave, peer=DAVE).authorize().grant.holder == DAVE.peer_id
    for earlier in (BOB, CAROL):
        with pytest.raises(WrongAudience):
            Attempt(token=to_dave, peer=earlier).authorize()
    deepest = handed_on(DELEGABLE, BOB, CAROL, DAVE, ERIN, FRANK)
    assert Attempt(token=deepest, peer=FRANK).authorize().use == 1


def test_the_holder_chain_and_who_may_revoke_what():
    info = read_grant(handed_on(DELEGABLE, BOB, CAROL, DAVE), ALICE.peer_id)
    root, to_carol, to_dave = info.revocation_ids
    assert info.grant_id == root
    assert info.issuer == ALICE.peer_id and info.audience == BOB.peer_id
    assert info.holders == (BOB.peer_id, CAROL.peer_id, DAVE.peer_id)
    assert info.holder_at == info.holders
    assert info.holder == DAVE.peer_id
    assert info.widened_at is None
    may = {
        (peer.peer_id, rid): info.may_revoke(peer.peer_id, rid)
        for peer in (ALICE, BOB, CAROL, DAVE)
        for rid in info.revocation_ids
    }
    allowed = {(BOB, root), (BOB, to_carol), (CAROL, to_carol), (CAROL, to_dave), (DAVE, to_dave)}
    assert may == {
        (peer.peer_id, rid): (peer, rid) in allowed
        for peer in (ALICE, BOB, CAROL, DAVE)
        for rid in info.revocation_ids
    }
    assert not info.may_revoke(BOB.peer_id, "00" * 64)


def test_an_attenuation_block_keeps_the_holder():
    narrowed = attenuate(TO_CAROL, ALICE.peer_id, narrowing_checks(abilities=["chat/ask"]))
    info = read_grant(narrowed, ALICE.peer_id)
    assert info.holders == (BOB.peer_id, CAROL.peer_id)
    assert info.holder_at == (BOB.peer_id, CAROL.peer_id, CAROL.peer_id)
    assert info.may_revoke(CAROL.peer_id, info.revocation_ids[2])
    assert not info.may_revoke(DAVE.peer_id, info.revocation_ids[2])


def test_read_grant_says_what_the_issuer_decided():
    info = read_grant(
        grant(scope=TRAVEL, max_uses=5, rate=Rate.parse("10/min"), delegable=True), ALICE.peer_id
    )
    assert info.abilities == ("chat/ask", "memory/read") and info.unknown_abilities == ()
    assert (info.scope, info.max_uses, info.rate, info.delegable) == (
        TRAVEL,
        5,
        Rate(10, 60_000),
        True,
    )
    assert (info.issued_ms, info.expires_ms) == (NOW, NOW + HOUR)
    assert info.to_json()["holder"] == str(BOB.peer_id)


def test_a_thief_cannot_read_a_grant_as_its_own():
    with pytest.raises(GrantForged):
        read_grant(PLAIN, BOB.peer_id)


# -- scopes and rates ----------------------------------------------------------------------------

WITHIN = [
    (Scope(), Scope(), True),
    (Scope(tags=("a",)), Scope(), True),
    (Scope(), Scope(tags=("a",)), False),
    (Scope(tags=("a",)), Scope(tags=("a", "b")), True),
    (Scope(tags=("a", "c")), Scope(tags=("a", "b")), False),
    (Scope(topics=("x",)), Scope(topics=("x", "y")), True),
    (Scope(topics=("z",)), Scope(topics=("x", "y")), False),
    (Scope(), Scope(topics=("x",)), False),
    (Scope(tags=("a",)), Scope(tags=("a",), topics=("x",)), False),
    (Scope(tags=("a",), topics=("x",)), Scope(tags=("a",), topics=("x",)), True),
    (Scope(layers=("l0",)), Scope(), True),
    (Scope(), Scope(layers=("l0",)), False),
    (Scope(layers=("l1",)), Scope(layers=("l0",)), False),
    (Scope(layers=()), Scope(layers=("l0",)), True),
    (Scope(profile=True), Scope(), False),
    (Scope(profile=True), Scope(profile=True), True),
    (Scope(), Scope(profile=True), True),
    (Scope(profile_only=True), Scope(), False),
    (Scope(profile_only=True), Scope(profile=True), True),
    (Scope(profile_only=True), Scope(profile_only=True), True),
    (Scope(profile_only=True, tags=("a",)), Scope(profile_only=True), True),
    (Scope(), Scope(profile_only=True), False),
    (Scope(layers=()), Scope(profile_only=True), True),
    (Scope(tags=("a",), profile=True), Scope(profile_only=True), False),
    (Scope(layers=("l0",)), Scope(layers=()), False),
]


@pytest.mark.parametrize(
    ("inner", "outer", "expected"),
    WITHIN,
    ids=[f"{inner.describe()} in {outer.describe()}" for inner, outer, _ in WITHIN],
)
def test_scope_within(inner: Scope, outer: Scope, expected: bool):
    assert inner.within(outer) is expected


def test_scope_items_are_trimmed_lowercased_and_deduplicated():
    scope = Scope(tags=(" Travel ", "travel", ""), topics=("Cooking",), layers=("l1", "l1"))
    assert (scope.tags, scope.topics, scope.layers) == (("travel",), ("cooking",), ("l1",))
    assert Scope(profile_only=True).profile and not Scope(profile_only=True).memory
    assert Scope.from_json(TRAVEL.to_json()) == TRAVEL


@pytest.mark.parametrize(
    "fields",
    [
        {"tags": ('say "hi"',)},
        {"tags": ("back\\slash",)},
        {"tags": ("new\nline",)},
        {"tags": ("tab\there",)},
        {"topics": ("nul\x00",)},
        {"topics": ("escape\x1b",)},
        {"tags": ("x" * 129,)},
        {"tags": tuple(f"t{i}" for i in range(65))},
        {"layers": ("l2",)},
    ],
    ids=["quote", "backslash", "newline", "tab", "nul", "escape", "too long", "too many", "layer"],
)
def test_scope_refuses_what_cannot_be_written_into_datalog(fields: dict):
    with pytest.raises(ValueError):
        Scope(**fields)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/min", Rate(10, 60_000)),
        ("5/s", Rate(5, 1000)),
        ("100/h", Rate(100, 3_600_000)),
        ("3/day", Rate(3, 86_400_000)),
        (" 7/hour ", Rate(7, 3_600_000)),
    ],
)
def test_rate_parse(text: str, rate: Rate):
    assert Rate.parse(text) == rate
    assert Rate.parse(str(rate)) == rate


@pytest.mark.parametrize("text", ["ten/min", "10/week", "10", "", "/min", "-1/min", "0/min"])
def test_rate_parse_refuses(text: str):
    with pytest.raises(ValueError):
        Rate.parse(text)


def test_grant_terms_refuse_what_no_node_could_check():
    with pytest.raises(ValueError):
        GrantTerms(audience=BOB.peer_id, abilities=(), expires_ms=NOW + HOUR)
    with pytest.raises(ValueError):
        GrantTerms(audience=BOB.peer_id, abilities=("group/leave",), expires_ms=NOW + HOUR)
    with pytest.raises(ValueError):
        GrantTerms(audience=BOB.peer_id, abilities=("chat/ask",), expires_ms=NOW, max_uses=0)
    with pytest.raises(ValueError):
        grant(expires_ms=NOW)
    with pytest.raises(ValueError):
        attenuate(PLAIN, ALICE.peer_id, "  ")


# -- codes and fuzzing ---------------------------------------------------------------------------


def test_every_grant_error_code_may_be_sent():
    registered = {code.value for code in ErrorCode}
    assert {error.code for error in (GrantError, *GRANT_ERRORS)} <= registered
    assert len({error.code for error in GRANT_ERRORS}) == len(GRANT_ERRORS)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_end_in_a_grant_error(data: bytes):
    with pytest.raises(GrantError):
        Attempt(token=data).authorize()


def another_encoding_of(token: bytes, original: bytes) -> bool:
    """Whether ``token`` is ``original`` written another way: biscuit reads it, with Alice's
    key, into the token whose own (canonical) encoding is ``original``. Protobuf allows that:
    turning the tag of a public key's ``algorithm`` field (value 0, Ed25519) into the tag of an
    unknown field leaves the algorithm at its default, 0, and the signatures cover the key's
    values, not its encoding. (An exhaustive run over every one-byte change of ``TO_CAROL``
    found exactly such changes, at the three ``algorithm`` tags, and nothing else that
    verifies.)"""
    import biscuit_auth as biscuit

    key = biscuit.PublicKey.from_bytes(ALICE.public_key, biscuit.Algorithm.Ed25519)
    try:
        parsed = biscuit.Biscuit.from_bytes(token, key)
    except Exception:  # the library's many parse and signature errors: not the same token
        return False
    return bytes(parsed.to_bytes()) == original


def damage(token: bytes, edits: list[tuple[int, int]]) -> bytes:
    damaged = bytearray(token)
    for position, value in edits:
        damaged[position] = value
    return bytes(damaged)


def assert_damage_refused(damaged: bytes) -> None:
    """A changed token is refused with a GrantError, unless it is the same token re-encoded,
    which is then the same grant (same id, same permit)."""
    carol_presents = Attempt(token=damaged, peer=CAROL)
    if another_encoding_of(damaged, TO_CAROL):
        assert carol_presents.authorize() == Attempt(token=TO_CAROL, peer=CAROL).authorize()
        return
    with pytest.raises(GrantError):
        carol_presents.authorize()
    with pytest.raises(GrantError):
        read_grant(damaged, ALICE.peer_id)


def test_the_undamaged_grant_is_allowed_to_its_holder():
    """The damage tests below present the token as its holder, so only damage refuses it."""
    assert Attempt(token=TO_CAROL, peer=CAROL).authorize().grant.holders[-1] == CAROL.peer_id


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(TO_CAROL) - 1), st.integers(0, 255)), max_size=8))
def test_damaged_grants_end_in_a_grant_error(edits: list[tuple[int, int]]):
    damaged = damage(TO_CAROL, edits)
    assume(damaged != TO_CAROL)
    assert_damage_refused(damaged)


@pytest.mark.parametrize("flip", [0x01, 0x80], ids=["low bit", "high bit"])
def test_every_byte_of_a_grant_is_covered(flip: int):
    for position in range(len(TO_CAROL)):
        assert_damage_refused(damage(TO_CAROL, [(position, TO_CAROL[position] ^ flip)]))


# -- narrowing blocks read as statements, not as text -------------------------------------------


def test_a_checks_only_block_may_quote_semicolons_and_newlines():
    checks = 'check if request_tag($t), ["a;\\nb", "travel"].contains($t);'
    narrowed = attenuate(SCOPED, ALICE.peer_id, checks)
    assert read_grant(narrowed, ALICE.peer_id).widened_at is None


def test_a_delegation_must_name_its_holder_in_a_fact_not_a_rule():
    import biscuit_auth as biscuit

    parsed = biscuit.Biscuit.from_bytes(
        DELEGABLE,
        biscuit.PublicKey.from_bytes(ALICE.public_key, biscuit.Algorithm.Ed25519),
    )
    block = parsed.third_party_request().create_block(
        biscuit.PrivateKey.from_bytes(BOB.seed, biscuit.Algorithm.Ed25519),
        biscuit.BlockBuilder(f'delegate("{CAROL.peer_id}") <- ability("chat/ask");'),
    )
    key = biscuit.PublicKey.from_bytes(BOB.public_key, biscuit.Algorithm.Ed25519)
    token = bytes(parsed.append_third_party(key, block).to_bytes())
    with pytest.raises(GrantWidened):
        Attempt(token=token, peer=CAROL).authorize()


def test_a_delegation_signed_with_another_kind_of_key_is_widening():
    import biscuit_auth as biscuit

    parsed = biscuit.Biscuit.from_bytes(
        DELEGABLE,
        biscuit.PublicKey.from_bytes(ALICE.public_key, biscuit.Algorithm.Ed25519),
    )
    p256 = biscuit.KeyPair.from_private_key(
        biscuit.PrivateKey.from_bytes(bytes(range(1, 33)), biscuit.Algorithm.Secp256r1)
    )
    block = parsed.third_party_request().create_block(
        p256.private_key, biscuit.BlockBuilder(f'delegate("{CAROL.peer_id}");')
    )
    token = bytes(parsed.append_third_party(p256.public_key, block).to_bytes())
    with pytest.raises(GrantWidened):
        Attempt(token=token, peer=CAROL).authorize()


def test_two_use_limits_in_one_grant_are_refused():
    import biscuit_auth as biscuit

    source = (
        f'grant(1); issuer("{ALICE.peer_id}"); audience("{BOB.peer_id}"); ability("chat/ask");'
        " issued(2023-11-14T22:13:20Z); expires(2023-11-14T23:13:20Z); max_uses(1);"
        " max_uses(1000);"
    )
    key = biscuit.PrivateKey.from_bytes(ALICE.seed, biscuit.Algorithm.Ed25519)
    token = bytes(biscuit.BiscuitBuilder(source).build(key).to_bytes())
    with pytest.raises(GrantMalformed):
        Attempt(token=token).authorize()


def test_a_copy_narrowed_to_tags_may_still_read_the_profile():
    token = grant(abilities=("profile/read",), scope=Scope(tags=("travel", "food"), profile=True))
    narrowed = attenuate(token, ALICE.peer_id, narrowing_checks(scope=Scope(tags=("travel",))))
    permit = Attempt(
        token=narrowed, ability="profile/read", requested=Scope(layers=(), profile=False)
    ).authorize()
    assert not permit.scope.memory
    with pytest.raises(OutOfScope):  # the copy gave up the profile
        Attempt(
            token=narrowed, ability="profile/read", requested=Scope(layers=(), profile=True)
        ).authorize()
