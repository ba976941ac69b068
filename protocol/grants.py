"""Capability grants: Biscuit tokens rooted in the granting node's Ed25519 key.

A grant says "peer B may use ability X on this node, within scope S, until T, at most N times,
at most R per window". It is a Biscuit token (``biscuit-python``) whose root key is the
issuer's node identity, so only that node can mint one and any holder can check it offline.

Theory of operation
-------------------
The **authority block** (signed by the issuer's key) holds facts only:

    grant(1); issuer("<peer id>"); audience("<peer id>"); ability("chat/ask");
    scope_tag("travel"); scope_topic("cooking"); scope_layer("l0"); scope_profile(true);
    profile_only(true); delegable(true); expires(<time>); max_uses(100);
    rate(10, 60000); issued(<time>);

and one check, ``check if time($t), $t <= <expiry>``, so that a Biscuit-aware tool outside
this codebase sees the expiry too.

Later blocks may only *narrow*:

- a first-party **attenuation** block (anyone holding the token may add one) holds checks
  only; a block with facts or rules is refused (``grant_widened``);
- a third-party **delegation** block, signed by the current holder's Ed25519 key, holds one
  ``delegate("<peer id>")`` fact and checks; it moves the grant to that peer. It is allowed only
  when the authority says ``delegable(true)``, and only when signed by the current holder, so a
  stolen token is useless: the thief cannot sign as the holder, and the verifier compares the
  final holder with the peer of the Noise session.

Checks in narrowing blocks read the request facts the verifier supplies: ``time($t)``,
``peer($p)``, ``ability_requested($a)``, ``request_tag($t)``, ``request_topic($t)``,
``request_layer($l)``, ``request_profile(true)``, ``tags_restricted(true)``,
``topics_restricted(true)``. :func:`attenuate` writes such checks.

**Verifying** (:class:`GrantVerifier`) runs in a fixed order, each failure with its own code:
bytes → signature chain against this node's key (parsed tokens are cached, so a grant used
again costs no signature checks) → revocation list → narrowing blocks are checks only →
holder chain ends at the requesting peer → ability known, then granted → expiry → uses → rate
→ requested scope within the authority's → the narrowing checks (Datalog). Uses and rate are
state the node keeps; they are counted per *root* grant, so a delegated copy shares its
parent's budget.

Sans-IO: nothing here reads a clock or a file; times and counters are arguments.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import biscuit_auth as biscuit

from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.identity import Identity, InvalidPeerId, PeerId

GRANT_FORMAT = 1
ABILITIES = ("chat/ask", "memory/read", "profile/read", "group/join")
"""Abilities this version knows. A request for another is refused (``unknown_ability``); an
ability a grant names that this version does not know is ignored (kept in
``GrantInfo.unknown_abilities``), so a newer issuer's grants still work for the rest."""
MEMORY_LAYERS = ("l0", "l1")
MAX_GRANT_BYTES = 64 * 1024
MAX_DELEGATION_DEPTH = 4
MAX_SCOPE_ITEMS = 64
_SCOPE_ITEM = re.compile(r"[^\x00-\x1f\"\\]{1,128}")
_CACHE_SIZE = 4096
_DATALOG_TIME_LIMIT = timedelta(milliseconds=100)


# -- errors --------------------------------------------------------------------------------------


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


class AuthorizerBusy(GrantError):
    """The Datalog checks ran out of time (a loaded machine): not the grant's fault."""

    code = "busy"

    def __init__(self, message: str, *, retry_after_ms: int = 100) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


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


# -- what a grant says ---------------------------------------------------------------------------


def _check_items(name: str, values: Sequence[str]) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    if len(items) > MAX_SCOPE_ITEMS:
        raise ValueError(f"at most {MAX_SCOPE_ITEMS} {name} in a scope")
    for item in items:
        if _SCOPE_ITEM.fullmatch(item) is None:
            raise ValueError(f"{name} {item!r} must be 1-128 printable characters, no quotes")
    return items


@dataclass(frozen=True, slots=True)
class Scope:
    """What part of the memory a grant covers.

    Empty ``tags`` or ``topics`` mean "not restricted by that"; both restrict together
    (a memory must match both). ``layers`` lists the memory layers that may be searched;
    ``profile`` allows the owner's L1 profile; ``profile_only`` allows the profile and no
    memory at all.
    """

    tags: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    layers: tuple[str, ...] = MEMORY_LAYERS
    profile: bool = False
    profile_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", _check_items("tags", self.tags))
        object.__setattr__(self, "topics", _check_items("topics", self.topics))
        layers = tuple(dict.fromkeys(self.layers))
        if set(layers) - set(MEMORY_LAYERS):
            raise ValueError(f"layers must be some of {', '.join(MEMORY_LAYERS)}")
        object.__setattr__(self, "layers", layers)
        if self.profile_only:
            object.__setattr__(self, "profile", True)

    @property
    def memory(self) -> bool:
        """May memory be searched at all under this scope?"""
        return not self.profile_only and bool(self.layers)

    def within(self, outer: Scope) -> bool:
        """Is every memory this scope allows also allowed by ``outer``?"""
        if self.profile and not outer.profile:
            return False
        if not self.memory:
            return True
        if not outer.memory or set(self.layers) - set(outer.layers):
            return False
        if outer.tags and (not self.tags or set(self.tags) - set(outer.tags)):
            return False
        return not (outer.topics and (not self.topics or set(self.topics) - set(outer.topics)))

    def narrowed(self, requested: Scope | None) -> Scope:
        """The scope a request runs in: ``requested`` if it fits in this one (``OutOfScope``
        otherwise), this one when nothing was requested."""
        if requested is None:
            return self
        if not requested.within(self):
            raise OutOfScope(f"the request asks for {requested.describe()}, beyond the grant")
        return requested

    def describe(self) -> str:
        if self.profile_only:
            return "the profile only"
        parts = [f"layers {'+'.join(self.layers) or 'none'}"]
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        if self.topics:
            parts.append("topics " + ", ".join(self.topics))
        if self.profile:
            parts.append("the profile")
        return "; ".join(parts)

    def to_json(self) -> dict:
        return {
            "tags": list(self.tags),
            "topics": list(self.topics),
            "layers": list(self.layers),
            "profile": self.profile,
            "profile_only": self.profile_only,
        }

    @classmethod
    def from_json(cls, data: dict) -> Scope:
        return cls(
            tags=tuple(data.get("tags", ())),
            topics=tuple(data.get("topics", ())),
            layers=tuple(data.get("layers", MEMORY_LAYERS)),
            profile=bool(data.get("profile", False)),
            profile_only=bool(data.get("profile_only", False)),
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` requests per ``window_ms``."""

    count: int
    window_ms: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.window_ms < 1:
            raise ValueError("a rate needs a positive count and window")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``10/min``, ``100/h``, ``5/s``, ``500/day``."""
        units = {"s": 1000, "sec": 1000, "min": 60_000, "m": 60_000, "h": 3_600_000}
        units |= {"hour": 3_600_000, "d": 86_400_000, "day": 86_400_000}
        count, sep, unit = text.strip().partition("/")
        if not sep or not count.isdigit() or unit.strip() not in units:
            raise ValueError(f"a rate looks like 10/min (per s, min, h or day), not {text!r}")
        return cls(int(count), units[unit.strip()])

    def __str__(self) -> str:
        names = {1000: "s", 60_000: "min", 3_600_000: "h", 86_400_000: "day"}
        unit = names.get(self.window_ms)
        return f"{self.count}/{unit}" if unit else f"{self.count}/{self.window_ms}ms"


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantTerms:
    """What the issuer decides when it grants."""

    audience: PeerId
    abilities: tuple[str, ...]
    scope: Scope = field(default_factory=Scope)
    expires_ms: int
    max_uses: int | None = None
    rate: Rate | None = None
    delegable: bool = False

    def __post_init__(self) -> None:
        abilities = tuple(dict.fromkeys(self.abilities))
        if not abilities:
            raise ValueError("a grant needs at least one ability")
        unknown = set(abilities) - set(ABILITIES)
        if unknown:
            raise ValueError(
                f"unknown ability {sorted(unknown)[0]!r}; known: {', '.join(ABILITIES)}"
            )
        object.__setattr__(self, "abilities", abilities)
        if self.max_uses is not None and self.max_uses < 1:
            raise ValueError("max_uses must be at least 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantInfo:
    """A grant as read from its token (signatures checked against ``issuer``)."""

    grant_id: str
    """The hex revocation id of the authority block: the same for every narrowed copy."""
    revocation_ids: tuple[str, ...]
    issuer: PeerId
    audience: PeerId
    holders: tuple[PeerId, ...]
    """The audience, then each peer the grant was delegated to, in order."""
    holder_at: tuple[PeerId, ...]
    """Who holds the grant once each block is applied (one entry per block)."""
    abilities: tuple[str, ...]
    unknown_abilities: tuple[str, ...]
    scope: Scope
    issued_ms: int
    expires_ms: int
    max_uses: int | None
    rate: Rate | None
    delegable: bool
    narrowing: tuple[str, ...]
    """The Datalog source of every block after the first."""
    widened_at: int | None
    """The index of the first narrowing block that holds facts or rules (or a delegation that
    was not allowed), or ``None``."""

    @property
    def holder(self) -> PeerId:
        return self.holders[-1]

    def may_revoke(self, peer: PeerId, revocation_id: str) -> bool:
        """May ``peer`` end the block with this revocation id? The peer who held the grant
        when the block was added (a delegator ends what it handed on), or the one it went
        to (a holder declines its own copy)."""
        if revocation_id not in self.revocation_ids:
            return False
        index = self.revocation_ids.index(revocation_id)
        return peer == self.holder_at[index] or (index > 0 and peer == self.holder_at[index - 1])

    def to_json(self) -> dict:
        return {
            "grant_id": self.grant_id,
            "issuer": str(self.issuer),
            "audience": str(self.audience),
            "holder": str(self.holder),
            "holders": [str(p) for p in self.holders],
            "abilities": list(self.abilities),
            "scope": self.scope.to_json(),
            "issued_ms": self.issued_ms,
            "expires_ms": self.expires_ms,
            "max_uses": self.max_uses,
            "rate": str(self.rate) if self.rate else None,
            "delegable": self.delegable,
            "narrowing": list(self.narrowing),
        }


def short_id(grant_id: str) -> str:
    """The 16 hex digits a person types; :func:`GrantInfo.grant_id` is the whole id."""
    return grant_id[:16]


# -- Biscuit plumbing ----------------------------------------------------------------------------


def _private_key(identity: Identity) -> biscuit.PrivateKey:
    return biscuit.PrivateKey.from_bytes(identity.seed, biscuit.Algorithm.Ed25519)


def _public_key(peer: PeerId) -> biscuit.PublicKey:
    return biscuit.PublicKey.from_bytes(peer.public_key(), biscuit.Algorithm.Ed25519)


def _time(ms: int) -> datetime:
    """A Biscuit date: whole seconds, so a time given in ms is cut down to its second (an
    expiry ends at most 999 ms early, never late)."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC)


def _request_time(ms: int) -> datetime:
    """The request's time for Datalog checks, rounded *up* to the second, so that a request
    999 ms after an expiry second is refused, as :meth:`GrantVerifier.authorize` does."""
    return datetime.fromtimestamp(-(-ms // 1000), tz=UTC)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _quoted(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


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
        {"issued": _time(issued_ms), "expires": _time(terms.expires_ms)},
    )
    return bytes(builder.build(_private_key(issuer)).to_bytes())


def narrowing_checks(
    *,
    abilities: Sequence[str] | None = None,
    expires_ms: int | None = None,
    scope: Scope | None = None,
) -> str:
    """The Datalog checks that narrow a grant to these abilities, this expiry and this scope."""
    checks = []
    if abilities is not None:
        checks.append(f"check if ability_requested($a), {_quoted(abilities)}.contains($a);")
    if expires_ms is not None:
        checks.append(f"check if time($t), $t <= {_time(expires_ms).isoformat()};")
    if scope is not None:
        # ``check all`` fails when nothing matches, so a request that touches no memory passes
        # these through ``memory_unused(true)``, and one that names no tag (every tag) fails.
        if scope.profile_only or not scope.layers:
            checks.append("reject if request_layer($l);")
        else:
            checks.append(
                f"check all request_layer($l), {_quoted(scope.layers)}.contains($l)"
                " or memory_unused(true);"
            )
        if scope.tags:
            checks.append(
                f"check all request_tag($t), {_quoted(scope.tags)}.contains($t)"
                " or memory_unused(true);"
            )
        if scope.topics:
            checks.append(
                f"check all request_topic($t), {_quoted(scope.topics)}.contains($t)"
                " or memory_unused(true);"
            )
        if not scope.profile:
            checks.append("reject if request_profile(true);")
    return "\n".join(checks)


def attenuate(token: bytes, issuer: PeerId, checks: str) -> bytes:
    """Append a first-party block of ``checks`` (see :func:`narrowing_checks`); any holder may."""
    if not checks.strip():
        raise ValueError("an attenuation needs at least one check")
    parsed = _verified(token, issuer)
    return bytes(parsed.append(biscuit.BlockBuilder(checks)).to_bytes())


def delegate(token: bytes, issuer: PeerId, holder: Identity, to: PeerId, checks: str = "") -> bytes:
    """Hand the grant on to ``to``: a block signed by ``holder`` naming the new holder.

    The issuer accepts it only if the grant is delegable and ``holder`` holds it at that point.
    """
    parsed = _verified(token, issuer)
    request = parsed.third_party_request()
    source = f'delegate("{to}");\n{checks}'
    block = request.create_block(_private_key(holder), biscuit.BlockBuilder(source))
    key = biscuit.PublicKey.from_bytes(holder.public_key, biscuit.Algorithm.Ed25519)
    return bytes(parsed.append_third_party(key, block).to_bytes())


def _unverified(token: bytes) -> biscuit.UnverifiedBiscuit:
    if not isinstance(token, bytes | bytearray) or not token or len(token) > MAX_GRANT_BYTES:
        raise GrantMalformed("the grant is empty or larger than 64 KiB")
    try:
        return biscuit.UnverifiedBiscuit.from_base64(base64.urlsafe_b64encode(token).decode())
    except Exception as exc:
        raise GrantMalformed(f"the grant's bytes are damaged or not a token ({exc})") from None


def _verified(token: bytes, issuer: PeerId) -> biscuit.Biscuit:
    _unverified(token)
    try:
        return biscuit.Biscuit.from_bytes(bytes(token), _public_key(issuer))
    except Exception:
        raise GrantForged(f"the grant is not signed by {issuer}") from None


def read_grant(token: bytes, issuer: PeerId) -> GrantInfo:
    """Check ``token``'s signatures against ``issuer`` and say what it grants.

    Raises :class:`GrantMalformed` (not a token) or :class:`GrantForged` (not signed by
    ``issuer``).
    """
    return _describe(_verified(token, issuer), issuer)


def _facts(authorizer: biscuit.Authorizer, rule: str, **scope: biscuit.PublicKey) -> list[list]:
    try:
        found = authorizer.query(biscuit.Rule(rule, None, scope or None))
    except biscuit.AuthorizationError as exc:
        if "execution limits" in str(exc).lower():
            raise AuthorizerBusy("reading the grant took too long; try again") from None
        raise
    return [fact.terms for fact in found]


def _limited_builder(code: str = "", params: dict | None = None) -> biscuit.AuthorizerBuilder:
    """An authorizer builder whose Datalog may run ``_DATALOG_TIME_LIMIT`` (the library's
    default of 1 ms is too short on a loaded machine, and unbounded is a denial of service)."""
    builder = biscuit.AuthorizerBuilder(code, params) if code else biscuit.AuthorizerBuilder()
    limits = builder.limits()
    limits.max_time = _DATALOG_TIME_LIMIT
    builder.set_limits(limits)
    return builder


def _peer(text: object, what: str) -> PeerId:
    try:
        return PeerId.from_base58(str(text))
    except InvalidPeerId:
        raise GrantMalformed(f"the grant's {what} is not a peer id") from None


def _describe(parsed: biscuit.Biscuit, issuer: PeerId) -> GrantInfo:
    authorizer = _limited_builder().build(parsed)
    formats = _facts(authorizer, "f($v) <- grant($v) trusting authority")
    if formats != [[GRANT_FORMAT]]:
        raise GrantMalformed(f"the token is not a grant of format {GRANT_FORMAT}")
    named_issuer = _facts(authorizer, "f($p) <- issuer($p) trusting authority")
    if [str(issuer)] not in named_issuer or len(named_issuer) != 1:
        raise GrantForged("the grant names another issuer than the key that signed it")
    audiences = _facts(authorizer, "f($p) <- audience($p) trusting authority")
    if len(audiences) != 1:
        raise GrantMalformed("a grant names exactly one audience")
    audience = _peer(audiences[0][0], "audience")
    granted = sorted(a for (a,) in _facts(authorizer, "f($a) <- ability($a) trusting authority"))
    known = tuple(a for a in ABILITIES if a in granted)
    unknown = tuple(a for a in granted if a not in ABILITIES)

    def strings(rule: str) -> tuple[str, ...]:
        return tuple(sorted(str(v) for (v,) in _facts(authorizer, rule)))

    def flag(name: str) -> bool:
        return bool(_facts(authorizer, f"f(true) <- {name}(true) trusting authority"))

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
    issued = _facts(authorizer, "f($t) <- issued($t) trusting authority")
    expires = _facts(authorizer, "f($t) <- expires($t) trusting authority")
    if len(expires) != 1 or len(issued) != 1:
        raise GrantMalformed("a grant names exactly one issue time and one expiry")
    uses = _facts(authorizer, "f($n) <- max_uses($n) trusting authority")
    rates = _facts(authorizer, "f($n, $w) <- rate($n, $w) trusting authority")
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
            delegated = _facts(
                authorizer,
                "f($p) <- delegate($p) trusting {key}",
                key=_public_key(holders[-1]),
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
        issued_ms=_ms(issued[0][0]),
        expires_ms=_ms(expires[0][0]),
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


# -- verifying -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Permit:
    """A request the grant allows: which grant, and the scope the request runs in."""

    grant: GrantInfo
    ability: str
    scope: Scope
    use: int
    """This request's number among the root grant's uses (1 for the first)."""


@dataclass(slots=True)
class _Parsed:
    token: biscuit.Biscuit
    info: GrantInfo


class GrantVerifier:
    """Checks grants this node issued, as presented by peers.

    ``revoked`` answers whether a revocation id is on this node's revocation list. Parsed
    tokens are cached by their hash, so the signature chain of a grant is checked once.
    """

    def __init__(self, identity: Identity, revoked: Callable[[Collection[str]], bool]) -> None:
        self._peer_id = identity.peer_id
        self._revoked = revoked
        self._cache: OrderedDict[bytes, _Parsed] = OrderedDict()

    def parse(self, token: bytes) -> GrantInfo:
        """The grant's terms, its signatures checked (no authorisation)."""
        return self._parse(token).info

    def _parse(self, token: bytes) -> _Parsed:
        key = hashlib.sha256(token).digest()
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        parsed = _verified(token, self._peer_id)
        entry = _Parsed(parsed, _describe(parsed, self._peer_id))
        self._cache[key] = entry
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    def authorize(
        self,
        token: bytes | None,
        *,
        peer: PeerId,
        ability: str,
        now_ms: int,
        uses: int = 0,
        recent_ms: Sequence[int] = (),
        requested: Scope | None = None,
    ) -> Permit:
        """Allow or refuse one request; raises the :class:`GrantError` that says why.

        ``uses`` counts the root grant's earlier uses; ``recent_ms`` holds the times of its
        uses inside the longest rate window this node keeps. ``requested`` narrows the scope
        (a holder whose copy was narrowed names what it may still use).
        """
        if token is None:
            raise NoGrant(f"{ability} on this node needs a grant")
        entry = self._parse(token)
        info = entry.info
        if self._revoked(info.revocation_ids):
            raise RevokedGrant(f"grant {short_id(info.grant_id)} was revoked")
        if info.widened_at is not None:
            raise GrantWidened(
                f"block {info.widened_at} of grant {short_id(info.grant_id)} tries to add rights"
            )
        if info.holder != peer:
            raise WrongAudience(f"grant {short_id(info.grant_id)} is not held by {peer}")
        if ability not in ABILITIES:
            raise UnknownAbility(f"unknown ability {ability!r}")
        if ability not in info.abilities:
            raise AbilityNotGranted(
                f"grant {short_id(info.grant_id)} does not allow {ability}"
                f" (it allows {', '.join(info.abilities) or 'nothing this node knows'})"
            )
        if now_ms > info.expires_ms:
            raise GrantExpired(f"grant {short_id(info.grant_id)} expired")
        if info.max_uses is not None and uses >= info.max_uses:
            raise GrantUsedUp(f"grant {short_id(info.grant_id)} was used {info.max_uses} times")
        if info.rate is not None:
            window_start = now_ms - info.rate.window_ms
            inside = sorted(t for t in recent_ms if t > window_start)
            if len(inside) >= info.rate.count:
                wait = inside[len(inside) - info.rate.count] + info.rate.window_ms - now_ms
                raise GrantRateLimited(
                    f"grant {short_id(info.grant_id)} allows {info.rate}",
                    retry_after_ms=max(1, wait),
                )
        scope = info.scope.narrowed(requested)
        self._run_checks(entry, peer=peer, ability=ability, now_ms=now_ms, scope=scope)
        return Permit(grant=info, ability=ability, scope=scope, use=uses + 1)

    @staticmethod
    def _run_checks(entry: _Parsed, *, peer: PeerId, ability: str, now_ms: int, scope: Scope):
        lines = ["time({now});", 'peer("' + str(peer) + '");', "ability_requested({ability});"]
        if scope.memory:
            lines += [f'request_layer("{layer}");' for layer in scope.layers]
            lines += [f'request_tag("{tag}");' for tag in scope.tags]
            lines += [f'request_topic("{topic}");' for topic in scope.topics]
            if scope.tags:
                lines.append("tags_restricted(true);")
            if scope.topics:
                lines.append("topics_restricted(true);")
        else:
            lines.append("memory_unused(true);")
        if scope.profile:
            lines.append("request_profile(true);")
        lines.append("allow if true;")
        builder = _limited_builder(
            "\n".join(lines), {"now": _request_time(now_ms), "ability": ability}
        )
        try:
            builder.build(entry.token).authorize()
        except biscuit.AuthorizationError as exc:
            text = str(exc)
            grant = short_id(entry.info.grant_id)
            if "execution limits" in text.lower() or "timeout" in text.lower():
                raise AuthorizerBusy("checking the grant took too long; try again") from None
            if re.search(r"\btime\(", text):
                raise GrantExpired(f"grant {grant} expired (a narrowed copy)") from None
            if "ability_requested" in text:
                raise AbilityNotGranted(
                    f"this copy of grant {grant} does not allow {ability}"
                ) from None
            raise OutOfScope(
                f"this copy of grant {grant} is narrower than {scope.describe()}"
            ) from None
