"""Checks for the fields of wire types, shared by envelopes and every message type.

Each wire dataclass checks its own invariants in ``__post_init__`` with these helpers, so one
place states each limit and it holds however the object was made. A failed check raises
:class:`InvalidField` (a ``ValueError``: building a bad object locally is a bug of the caller);
decoders turn it into :class:`~secondme.protocol.errors.MalformedFrame` with
:func:`reading_body`, because there the bad value came from the peer.

Types are checked exactly (``type(x) is int``): ``True`` is not an integer and a ``bytearray``
is not ``bytes`` on the wire, whatever Python's subclassing says.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields
from types import MappingProxyType
from typing import Any, ClassVar, Self

from secondme.protocol.errors import MalformedFrame

UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1


class InvalidField(ValueError):
    """A field of a wire type is missing, of the wrong type, or outside its limits."""


def check_uint(name: str, value: object, *, maximum: int = UINT64_MAX) -> int:
    if type(value) is not int:
        raise InvalidField(f"{name} must be an integer, not {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise InvalidField(f"{name} must be between 0 and {maximum}, not {value}")
    return value


def check_str(
    name: str,
    value: object,
    *,
    max_bytes: int,
    min_bytes: int = 0,
    pattern: re.Pattern[str] | None = None,
) -> str:
    """A string whose UTF-8 encoding has ``min_bytes`` to ``max_bytes`` bytes."""
    if type(value) is not str:
        raise InvalidField(f"{name} must be a string, not {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidField(f"{name} is not encodable as UTF-8") from exc
    if not min_bytes <= size <= max_bytes:
        raise InvalidField(f"{name} must have {min_bytes} to {max_bytes} UTF-8 bytes, not {size}")
    if pattern is not None and pattern.fullmatch(value) is None:
        raise InvalidField(f"{name} {value!r} does not match {pattern.pattern}")
    return value


def check_bytes(name: str, value: object, *, max_len: int, min_len: int = 0) -> bytes:
    if type(value) is not bytes:
        raise InvalidField(f"{name} must be bytes, not {type(value).__name__}")
    if not min_len <= len(value) <= max_len:
        raise InvalidField(f"{name} must have {min_len} to {max_len} bytes, not {len(value)}")
    return value


def check_str_map(
    name: str, value: object, *, max_items: int, max_key_bytes: int, max_value_bytes: int
) -> Mapping[str, str]:
    """A string-to-string map, returned as a read-only copy."""
    if not isinstance(value, Mapping):
        raise InvalidField(f"{name} must be a map, not {type(value).__name__}")
    if len(value) > max_items:
        raise InvalidField(f"{name} must have at most {max_items} entries, not {len(value)}")
    for key, item in value.items():
        check_str(f"{name} key", key, min_bytes=1, max_bytes=max_key_bytes)
        check_str(f"{name}[{key!r}]", item, max_bytes=max_value_bytes)
    return MappingProxyType(dict(value))


def check_keys(
    name: str, body: Mapping[str, Any], *, required: Collection[str], optional: Collection[str]
) -> None:
    """Every required key present, no key outside ``required`` and ``optional``."""
    missing = sorted(set(required) - body.keys())
    if missing:
        raise InvalidField(f"{name} lacks {', '.join(missing)}")
    unknown = sorted(body.keys() - set(required) - set(optional))
    if unknown:
        raise InvalidField(f"{name} has unknown keys {', '.join(unknown)}")


def optional_field(body: Mapping[str, Any], key: str) -> Any:
    """The value of an optional body key, or ``None`` when it is left out.

    An optional field is absent or holds a value; nil is refused, so "not given" has one
    spelling and a body never means the same thing in two forms.
    """
    if key not in body:
        return None
    value = body[key]
    if value is None:
        raise InvalidField(f"{key} is nil; an absent field is left out")
    return value


@contextmanager
def reading_body(what: str) -> Iterator[None]:
    """Within this block, an :class:`InvalidField` is the peer's fault: a malformed frame."""
    try:
        yield
    except InvalidField as exc:
        raise MalformedFrame(f"{what}: {exc}") from exc


class PlainBody:
    """A body that is exactly the dataclass's fields, all required: written and read as is.

    Subclasses check their fields in ``__post_init__``; a peer's bad value becomes a
    ``MalformedFrame`` in :meth:`from_body`.
    """

    __slots__ = ()
    TYPE: ClassVar[str]

    def to_body(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        with reading_body(cls.TYPE):
            names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
            check_keys(cls.TYPE, body, required=names, optional=())
            return cls(**body)
