"""What part of the memory a grant covers: the :class:`Scope` value and its rules.

A scope is what the issuer grants and what a request may ask to narrow to; "within" is the one
comparison every narrowing (an attenuated copy, a delegation, a request's own scope) is checked
by.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from secondme.protocol.grants.errors import OutOfScope

MEMORY_LAYERS = ("l0", "l1")
MAX_SCOPE_ITEMS = 64
_SCOPE_ITEM = re.compile(r"[^\x00-\x1f\"\\]{1,128}")


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
