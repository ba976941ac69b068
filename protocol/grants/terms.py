"""What an issuer decides (:class:`GrantTerms`) and what a token says (:class:`GrantInfo`).

Both are plain values: issuing turns terms into a token (:mod:`.issue`), reading turns a token
back into an info (:mod:`.read`), and the verifier decides requests on the info.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from secondme.protocol.grants.scope import Scope
from secondme.protocol.identity import PeerId

ABILITIES = ("chat/ask", "memory/read", "profile/read", "group/join")
"""Abilities this version knows. A request for another is refused (``unknown_ability``); an
ability a grant names that this version does not know is ignored (kept in
``GrantInfo.unknown_abilities``), so a newer issuer's grants still work for the rest."""


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
