"""Deciding a request: :class:`GrantVerifier` allows it (a :class:`Permit`) or raises the
:class:`~.errors.GrantError` that says why, in the order of the package docstring.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import biscuit_auth as biscuit

from secondme.protocol.grants.biscuits import limited_builder, request_date, verified
from secondme.protocol.grants.errors import (
    AbilityNotGranted,
    AuthorizerBusy,
    GrantExpired,
    GrantRateLimited,
    GrantUsedUp,
    GrantWidened,
    NoGrant,
    OutOfScope,
    RevokedGrant,
    UnknownAbility,
    WrongAudience,
)
from secondme.protocol.grants.read import describe
from secondme.protocol.grants.scope import Scope
from secondme.protocol.grants.terms import ABILITIES, GrantInfo, short_id
from secondme.protocol.identity import Identity, PeerId

_CACHE_SIZE = 4096


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
        parsed = verified(token, self._peer_id)
        entry = _Parsed(parsed, describe(parsed, self._peer_id))
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
        builder = limited_builder(
            "\n".join(lines), {"now": request_date(now_ms), "ability": ability}
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
