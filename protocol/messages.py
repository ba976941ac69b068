"""The message types of SMP 1.0 and the registry that maps wire names to them.

A message is the body of an envelope, typed. Each type is a frozen, slotted, keyword-only
dataclass that checks its invariants on construction, and converts itself to and from a body
map (``to_body`` / ``from_body``). Optional fields are left out of the body when they are
``None``; nil is never a body value.

    request (type)     fields                                  answered by (type)
    ping               payload?: bin <= 64 KiB                 pong: payload? (the same bytes)
    hello              display_name?: str <= 128 B,            hello: display_name, versions,
                       versions?: ["1.0", ...] (1-16)          profile, agent
    (any failure)                                              error: code, message,
                                                               retry_after_ms?

The codec never names these classes: it asks a :class:`MessageRegistry`, and later protocol
features (grant exchange, ask, groups) bring their own types by extending the registry
(``CORE_MESSAGES.extended(...)``) instead of editing this module or the envelope.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Self

from secondme.protocol.envelope import MAX_TYPE_LEN, TYPE_PATTERN, Envelope, Kind, Version
from secondme.protocol.errors import RemoteError, SmpError, UnknownMessageType
from secondme.protocol.fields import (
    UINT32_MAX,
    InvalidField,
    check_bytes,
    check_keys,
    check_str,
    check_str_map,
    check_uint,
    optional_field,
    reading_body,
)
from secondme.protocol.wire import Value

MAX_PING_PAYLOAD = 64 * 1024
MAX_DISPLAY_NAME = 128
MAX_VERSIONS = 16
MAX_PROFILE_FIELDS = 32
MAX_PROFILE_KEY = 64
MAX_PROFILE_VALUE = 1024
MAX_AGENT = 128
MAX_ERROR_MESSAGE = 1024
MAX_ERROR_CODE = 32
ERROR_CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


class ErrorCode(StrEnum):
    """The codes a node may send in an error; see ``smp-spec/README.md`` for each one's use.

    Receivers accept any code that matches :data:`ERROR_CODE_PATTERN`, so a newer minor
    version can add codes without breaking older peers; an unknown code means "failed".
    """

    PROTOCOL_ERROR = "protocol_error"
    MALFORMED = "malformed"
    FRAME_TOO_LARGE = "frame_too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    BAD_SIGNATURE = "bad_signature"
    UNEXPECTED_MESSAGE = "unexpected_message"
    REPLAYED = "replayed"
    STALE = "stale"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    UNAUTHORIZED = "unauthorized"
    NO_GRANT = "no_grant"
    GRANT_TAMPERED = "grant_tampered"
    GRANT_FORGED = "grant_forged"
    GRANT_REVOKED = "grant_revoked"
    GRANT_WIDENED = "grant_widened"
    WRONG_AUDIENCE = "wrong_audience"
    UNKNOWN_ABILITY = "unknown_ability"
    ABILITY_NOT_GRANTED = "ability_not_granted"
    GRANT_EXPIRED = "grant_expired"
    GRANT_USED_UP = "grant_used_up"
    GRANT_RATE_LIMITED = "grant_rate_limited"
    OUT_OF_SCOPE = "out_of_scope"
    INTERNAL = "internal"
    # discovery (smp-spec/discovery.md)
    INVITE_MALFORMED = "invite_malformed"
    INVITE_FORGED = "invite_forged"
    INVITE_EXPIRED = "invite_expired"
    INVITE_SPENT = "invite_spent"
    INVITE_REVOKED = "invite_revoked"
    UNKNOWN_NETWORK = "unknown_network"
    NETWORK_EXISTS = "network_exists"
    NOT_MEMBER = "not_member"
    NOT_OWNER = "not_owner"
    FORBIDDEN = "forbidden"
    NO_RECORD = "no_record"
    RECORD_INVALID = "record_invalid"
    RECORD_STALE = "record_stale"
    TTL_OUT_OF_RANGE = "ttl_out_of_range"
    LIMIT_REACHED = "limit_reached"
    # groups (smp-spec/groups.md)
    UNKNOWN_GROUP = "unknown_group"
    NOT_MODERATOR = "not_moderator"
    GROUP_CLOSED = "group_closed"
    GROUP_MALFORMED = "group_malformed"
    GROUP_FORGED = "group_forged"
    GROUP_NOT_MEMBER = "group_not_member"
    GROUP_UNKNOWN_EPOCH = "group_unknown_epoch"
    GROUP_OUT_OF_ORDER = "group_out_of_order"
    GROUP_UNDECRYPTABLE = "group_undecryptable"
    GROUP_INBOX_FULL = "group_inbox_full"
    GROUP_QUOTA = "group_quota"


class Message(ABC):
    """A typed envelope body. Subclasses set ``TYPE`` and ``KIND`` and are dataclasses."""

    __slots__ = ()
    TYPE: ClassVar[str]
    KIND: ClassVar[Kind]

    @abstractmethod
    def to_body(self) -> dict[str, Value]:
        """The body map this message is sent as."""

    @classmethod
    @abstractmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        """Read a body a peer sent; raises :class:`~secondme.protocol.errors.MalformedFrame`."""


class Response(Message):
    """A message that answers a request."""

    __slots__ = ()
    KIND = Kind.RESPONSE


class Request(Message):
    """A message that asks; ``RESPONSE`` is the one type that may answer it (or an error).

    A request type that sets ``PART`` is *streamed*: the responder may send any number of
    ``PART`` messages (on the same stream, same request id) before the one ``RESPONSE``.
    """

    __slots__ = ()
    KIND = Kind.REQUEST
    RESPONSE: ClassVar[type[Response]]
    PART: ClassVar[type[Response] | None] = None


def _check_versions(name: str, value: object) -> tuple[Version, ...]:
    if type(value) is not tuple or not 1 <= len(value) <= MAX_VERSIONS:
        raise InvalidField(f"{name} must be a tuple of 1 to {MAX_VERSIONS} versions")
    for item in value:
        if not isinstance(item, Version):
            raise InvalidField(f"{name} must hold Version objects, not {type(item).__name__}")
    return value


def _read_versions(name: str, value: Value) -> tuple[Version, ...]:
    if type(value) is not list:
        raise InvalidField(f"{name} must be an array of strings like '1.0'")
    texts = [check_str(f"{name} item", item, max_bytes=11) for item in value]
    return tuple(Version.parse(text) for text in texts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(Response):
    """The answer to ``ping``: the same payload, so the pinger can check the round trip."""

    TYPE: ClassVar[str] = "pong"
    payload: bytes | None = None

    def __post_init__(self) -> None:
        if self.payload is not None:
            check_bytes("pong payload", self.payload, max_len=MAX_PING_PAYLOAD)

    def to_body(self) -> dict[str, Value]:
        return {} if self.payload is None else {"payload": self.payload}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("pong"):
            check_keys("pong", body, required=(), optional=("payload",))
            return cls(payload=optional_field(body, "payload"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Request):
    """Is the peer there, and how long does a round trip take?"""

    TYPE: ClassVar[str] = "ping"
    RESPONSE: ClassVar[type[Response]] = Pong
    payload: bytes | None = None

    def __post_init__(self) -> None:
        if self.payload is not None:
            check_bytes("ping payload", self.payload, max_len=MAX_PING_PAYLOAD)

    def to_body(self) -> dict[str, Value]:
        return {} if self.payload is None else {"payload": self.payload}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("ping"):
            check_keys("ping", body, required=(), optional=("payload",))
            return cls(payload=optional_field(body, "payload"))

    def answer(self) -> Pong:
        return Pong(payload=self.payload)


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloResponse(Response):
    """Who this node is, as it shows itself to any peer: nothing here needs a grant."""

    TYPE: ClassVar[str] = "hello"
    display_name: str
    versions: tuple[Version, ...]
    profile: Mapping[str, str] = field(default_factory=dict)
    agent: str

    def __post_init__(self) -> None:
        check_str("display_name", self.display_name, max_bytes=MAX_DISPLAY_NAME)
        _check_versions("versions", self.versions)
        profile = check_str_map(
            "profile",
            self.profile,
            max_items=MAX_PROFILE_FIELDS,
            max_key_bytes=MAX_PROFILE_KEY,
            max_value_bytes=MAX_PROFILE_VALUE,
        )
        object.__setattr__(self, "profile", profile)
        check_str("agent", self.agent, min_bytes=1, max_bytes=MAX_AGENT)

    def to_body(self) -> dict[str, Value]:
        return {
            "display_name": self.display_name,
            "versions": [str(version) for version in self.versions],
            "profile": dict(self.profile),
            "agent": self.agent,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("hello response"):
            check_keys(
                "hello response",
                body,
                required=("display_name", "versions", "profile", "agent"),
                optional=(),
            )
            return cls(
                display_name=body["display_name"],
                versions=_read_versions("versions", body["versions"]),
                profile=body["profile"],
                agent=body["agent"],
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello(Request):
    """The first thing a node asks a peer: its name, versions and public profile."""

    TYPE: ClassVar[str] = "hello"
    RESPONSE: ClassVar[type[Response]] = HelloResponse
    display_name: str | None = None
    versions: tuple[Version, ...] | None = None

    def __post_init__(self) -> None:
        if self.display_name is not None:
            check_str("display_name", self.display_name, max_bytes=MAX_DISPLAY_NAME)
        if self.versions is not None:
            _check_versions("versions", self.versions)

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {}
        if self.display_name is not None:
            body["display_name"] = self.display_name
        if self.versions is not None:
            body["versions"] = [str(version) for version in self.versions]
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("hello"):
            check_keys("hello", body, required=(), optional=("display_name", "versions"))
            versions = optional_field(body, "versions")
            return cls(
                display_name=optional_field(body, "display_name"),
                versions=None if versions is None else _read_versions("versions", versions),
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorMessage(Message):
    """Why a request failed. ``code`` is checked for syntax only, so errors from newer peers
    still parse; :meth:`SmpEndpoint.respond_error` only sends registered codes."""

    TYPE: ClassVar[str] = "error"
    KIND: ClassVar[Kind] = Kind.ERROR
    code: str
    message: str = ""
    retry_after_ms: int | None = None

    def __post_init__(self) -> None:
        check_str(
            "error code",
            self.code,
            min_bytes=1,
            max_bytes=MAX_ERROR_CODE,
            pattern=ERROR_CODE_PATTERN,
        )
        check_str("error message", self.message, max_bytes=MAX_ERROR_MESSAGE)
        if self.retry_after_ms is not None:
            check_uint("retry_after_ms", self.retry_after_ms, maximum=UINT32_MAX)

    @classmethod
    def from_exception(cls, error: SmpError) -> ErrorMessage:
        """The error frame for a failure: its code, its message cut to the size limit, and
        its ``retry_after_ms`` when it has one."""
        text = error.message.encode("utf-8", errors="replace")[:MAX_ERROR_MESSAGE]
        return cls(
            code=error.code,
            message=text.decode("utf-8", errors="ignore"),
            retry_after_ms=getattr(error, "retry_after_ms", None),
        )

    @property
    def is_registered(self) -> bool:
        return self.code in ErrorCode.__members__.values()

    def to_exception(self) -> RemoteError:
        return RemoteError(self.code, self.message, retry_after_ms=self.retry_after_ms)

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {"code": self.code, "message": self.message}
        if self.retry_after_ms is not None:
            body["retry_after_ms"] = self.retry_after_ms
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("error"):
            check_keys("error", body, required=("code", "message"), optional=("retry_after_ms",))
            return cls(
                code=body["code"],
                message=body["message"],
                retry_after_ms=optional_field(body, "retry_after_ms"),
            )


class MessageRegistry:
    """Which class reads each (kind, type) pair. Immutable: extending makes a new registry, so
    a registry handed to an endpoint never changes under it."""

    __slots__ = ("_classes",)

    def __init__(self, classes: Iterable[type[Message]]) -> None:
        self._classes: dict[tuple[Kind, str], type[Message]] = {}
        for cls in classes:
            key = (cls.KIND, cls.TYPE)
            if len(cls.TYPE) > MAX_TYPE_LEN or TYPE_PATTERN.fullmatch(cls.TYPE) is None:
                raise ValueError(f"{cls.__name__}.TYPE {cls.TYPE!r} is not a valid type name")
            if key in self._classes:
                raise ValueError(f"{cls.KIND} type {cls.TYPE!r} is registered twice")
            self._classes[key] = cls
        for cls in self._classes.values():
            if issubclass(cls, Request) and cls.RESPONSE not in self:
                raise ValueError(f"{cls.__name__} is answered by the unregistered {cls.RESPONSE}")
            if issubclass(cls, Request) and cls.PART is not None and cls.PART not in self:
                raise ValueError(f"{cls.__name__} is streamed in the unregistered {cls.PART}")

    def extended(self, *classes: type[Message]) -> MessageRegistry:
        return MessageRegistry([*self._classes.values(), *classes])

    def __contains__(self, cls: object) -> bool:
        return isinstance(cls, type) and self._classes.get((cls.KIND, cls.TYPE)) is cls

    def lookup(self, kind: Kind, message_type: str) -> type[Message]:
        """The class for this pair; raises :class:`UnknownMessageType`."""
        try:
            return self._classes[(kind, message_type)]
        except KeyError:
            raise UnknownMessageType(f"unknown {kind} type {message_type!r}") from None

    def parse(self, envelope: Envelope) -> Message:
        """The typed message an envelope carries; raises ``UnknownMessageType`` or
        ``MalformedFrame``."""
        return self.lookup(envelope.kind, envelope.message_type).from_body(envelope.body)


CORE_MESSAGES = MessageRegistry([Ping, Pong, Hello, HelloResponse, ErrorMessage])
"""The message types of SMP 1.0."""
