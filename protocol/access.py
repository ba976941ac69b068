"""The SMP messages of scoped access: handing grants over, asking, sharing context, profiles.

    request (type)   fields                                   answered by (type)
    grant.offer      token: bin, issuer: str,                 grant.accepted: grant_id
                     scope?: scope map
    grant.revoke     grant_id: str, revocation_id: str,       grant.revoked: grant_id
                     token?: bin
    ask              question: str <= 4 KiB,                  answer.part*: text (streamed),
                     scope?: scope map                        then answer: text, grant_id,
                                                              sources
    context          query: str <= 1 KiB, k?: 1-32,           context.bundle: bundle (sealed),
                     scope?: scope map                        grant_id, items
    profile.read     scope?: scope map                        profile: display_name, fields,
                                                              biography?

``ask``, ``context`` and ``profile.read`` carry their grant in the envelope (``g``); the node
checks it in one place before any handler runs. A *scope map* narrows the request to part of
the grant: ``{tags: [str], topics: [str], layers: [str], profile: bool, profile_only: bool}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Self

from secondme.protocol.fields import (
    InvalidField,
    check_bytes,
    check_keys,
    check_str,
    check_str_map,
    check_uint,
    optional_field,
    reading_body,
)
from secondme.protocol.grants import MAX_GRANT_BYTES, Scope
from secondme.protocol.identity import PEER_ID_TEXT
from secondme.protocol.messages import (
    CORE_MESSAGES,
    MAX_DISPLAY_NAME,
    MAX_PROFILE_FIELDS,
    MAX_PROFILE_KEY,
    MAX_PROFILE_VALUE,
    Request,
    Response,
)
from secondme.protocol.wire import Value

MAX_QUESTION = 4096
MAX_QUERY = 1024
MAX_ANSWER = 64 * 1024
MAX_ANSWER_PART = 4096
MAX_BIOGRAPHY = 8192
MAX_BUNDLE = 1024 * 1024
MAX_CONTEXT_ITEMS = 32
_HEX_ID = re.compile(r"[0-9a-f]{16,128}")
_SCOPE_KEYS = ("tags", "topics", "layers", "profile", "profile_only")


def scope_to_wire(scope: Scope) -> dict[str, Value]:
    return {
        "tags": list(scope.tags),
        "topics": list(scope.topics),
        "layers": list(scope.layers),
        "profile": scope.profile,
        "profile_only": scope.profile_only,
    }


def scope_from_wire(value: Value) -> Scope:
    if not isinstance(value, Mapping):
        raise InvalidField("scope must be a map")
    check_keys("scope", value, required=_SCOPE_KEYS, optional=())
    lists = {}
    for key in ("tags", "topics", "layers"):
        items = value[key]
        if type(items) is not list or not all(type(item) is str for item in items):
            raise InvalidField(f"scope {key} must be an array of strings")
        lists[key] = tuple(items)
    for key in ("profile", "profile_only"):
        if type(value[key]) is not bool:
            raise InvalidField(f"scope {key} must be a boolean")
    try:
        return Scope(
            tags=lists["tags"],
            topics=lists["topics"],
            layers=lists["layers"],
            profile=value["profile"],
            profile_only=value["profile_only"],
        )
    except ValueError as exc:
        raise InvalidField(f"scope: {exc}") from None


def _optional_scope(body: Mapping[str, Value]) -> Scope | None:
    value = optional_field(body, "scope")
    return None if value is None else scope_from_wire(value)


def _with_scope(body: dict[str, Value], scope: Scope | None) -> dict[str, Value]:
    if scope is not None:
        body["scope"] = scope_to_wire(scope)
    return body


@dataclass(frozen=True, slots=True, kw_only=True)
class _GrantIdResponse(Response):
    """An answer that only names the grant it is about."""

    TYPE: ClassVar[str]
    grant_id: str

    def __post_init__(self) -> None:
        check_str("grant_id", self.grant_id, max_bytes=128, pattern=_HEX_ID)

    def to_body(self) -> dict[str, Value]:
        return {"grant_id": self.grant_id}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body(cls.TYPE):
            check_keys(cls.TYPE, body, required=("grant_id",), optional=())
            return cls(grant_id=body["grant_id"])


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantAccepted(_GrantIdResponse):
    TYPE: ClassVar[str] = "grant.accepted"


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantOffer(Request):
    """Here is a grant for you: issued by ``issuer`` (this peer, or the root of a delegation),
    usable within ``scope`` (the holder's copy may be narrower than the authority block)."""

    TYPE: ClassVar[str] = "grant.offer"
    RESPONSE: ClassVar[type[Response]] = GrantAccepted
    token: bytes
    issuer: str
    scope: Scope | None = None

    def __post_init__(self) -> None:
        check_bytes("token", self.token, min_len=1, max_len=MAX_GRANT_BYTES)
        check_str("issuer", self.issuer, max_bytes=64, pattern=PEER_ID_TEXT)

    def to_body(self) -> dict[str, Value]:
        return _with_scope({"token": self.token, "issuer": self.issuer}, self.scope)

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("grant.offer"):
            check_keys("grant.offer", body, required=("token", "issuer"), optional=("scope",))
            return cls(token=body["token"], issuer=body["issuer"], scope=_optional_scope(body))


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantRevoked(_GrantIdResponse):
    TYPE: ClassVar[str] = "grant.revoked"


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantRevoke(Request):
    """Sent by an issuer to the holder ("your grant ended"), or by a delegator to the root
    issuer with the token ("end the copy I handed on", ``revocation_id`` of its block)."""

    TYPE: ClassVar[str] = "grant.revoke"
    RESPONSE: ClassVar[type[Response]] = GrantRevoked
    grant_id: str
    revocation_id: str
    token: bytes | None = None

    def __post_init__(self) -> None:
        check_str("grant_id", self.grant_id, max_bytes=128, pattern=_HEX_ID)
        check_str("revocation_id", self.revocation_id, max_bytes=128, pattern=_HEX_ID)
        if self.token is not None:
            check_bytes("token", self.token, min_len=1, max_len=MAX_GRANT_BYTES)

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {"grant_id": self.grant_id, "revocation_id": self.revocation_id}
        if self.token is not None:
            body["token"] = self.token
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("grant.revoke"):
            check_keys(
                "grant.revoke", body, required=("grant_id", "revocation_id"), optional=("token",)
            )
            return cls(
                grant_id=body["grant_id"],
                revocation_id=body["revocation_id"],
                token=optional_field(body, "token"),
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer(Response):
    """The peer node's answer, as its owner, from the memory the grant covers."""

    TYPE: ClassVar[str] = "answer"
    text: str
    grant_id: str
    sources: int

    def __post_init__(self) -> None:
        check_str("text", self.text, max_bytes=MAX_ANSWER)
        check_str("grant_id", self.grant_id, max_bytes=128, pattern=_HEX_ID)
        check_uint("sources", self.sources, maximum=1024)

    def to_body(self) -> dict[str, Value]:
        return {"text": self.text, "grant_id": self.grant_id, "sources": self.sources}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("answer"):
            check_keys("answer", body, required=("text", "grant_id", "sources"), optional=())
            return cls(text=body["text"], grant_id=body["grant_id"], sources=body["sources"])


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerPart(Response):
    """A piece of the answer as the model writes it; the final ``answer`` repeats the whole."""

    TYPE: ClassVar[str] = "answer.part"
    text: str

    def __post_init__(self) -> None:
        check_str("text", self.text, min_bytes=1, max_bytes=MAX_ANSWER_PART)

    def to_body(self) -> dict[str, Value]:
        return {"text": self.text}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("answer.part"):
            check_keys("answer.part", body, required=("text",), optional=())
            return cls(text=body["text"])


@dataclass(frozen=True, slots=True, kw_only=True)
class Ask(Request):
    TYPE: ClassVar[str] = "ask"
    RESPONSE: ClassVar[type[Response]] = Answer
    PART: ClassVar[type[Response] | None] = AnswerPart
    question: str
    scope: Scope | None = None

    def __post_init__(self) -> None:
        check_str("question", self.question, min_bytes=1, max_bytes=MAX_QUESTION)

    def to_body(self) -> dict[str, Value]:
        return _with_scope({"question": self.question}, self.scope)

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("ask"):
            check_keys("ask", body, required=("question",), optional=("scope",))
            return cls(question=body["question"], scope=_optional_scope(body))


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextBundle(Response):
    """Memory snippets sealed to the requester (``smp-spec/sealed.md``)."""

    TYPE: ClassVar[str] = "context.bundle"
    bundle: bytes
    grant_id: str
    items: int

    def __post_init__(self) -> None:
        check_bytes("bundle", self.bundle, min_len=1, max_len=MAX_BUNDLE)
        check_str("grant_id", self.grant_id, max_bytes=128, pattern=_HEX_ID)
        check_uint("items", self.items, maximum=MAX_CONTEXT_ITEMS)

    def to_body(self) -> dict[str, Value]:
        return {"bundle": self.bundle, "grant_id": self.grant_id, "items": self.items}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("context.bundle"):
            check_keys(
                "context.bundle", body, required=("bundle", "grant_id", "items"), optional=()
            )
            return cls(bundle=body["bundle"], grant_id=body["grant_id"], items=body["items"])


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextRequest(Request):
    TYPE: ClassVar[str] = "context"
    RESPONSE: ClassVar[type[Response]] = ContextBundle
    query: str
    k: int | None = None
    scope: Scope | None = None

    def __post_init__(self) -> None:
        check_str("query", self.query, min_bytes=1, max_bytes=MAX_QUERY)
        if self.k is not None and not 1 <= check_uint("k", self.k) <= MAX_CONTEXT_ITEMS:
            raise InvalidField(f"k must be 1 to {MAX_CONTEXT_ITEMS}")

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {"query": self.query}
        if self.k is not None:
            body["k"] = self.k
        return _with_scope(body, self.scope)

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("context"):
            check_keys("context", body, required=("query",), optional=("k", "scope"))
            return cls(
                query=body["query"], k=optional_field(body, "k"), scope=_optional_scope(body)
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile(Response):
    TYPE: ClassVar[str] = "profile"
    display_name: str
    fields: Mapping[str, str] = field(default_factory=dict)
    biography: str | None = None

    def __post_init__(self) -> None:
        check_str("display_name", self.display_name, max_bytes=MAX_DISPLAY_NAME)
        fields = check_str_map(
            "fields",
            self.fields,
            max_items=MAX_PROFILE_FIELDS,
            max_key_bytes=MAX_PROFILE_KEY,
            max_value_bytes=MAX_PROFILE_VALUE,
        )
        object.__setattr__(self, "fields", fields)
        if self.biography is not None:
            check_str("biography", self.biography, max_bytes=MAX_BIOGRAPHY)

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {"display_name": self.display_name, "fields": dict(self.fields)}
        if self.biography is not None:
            body["biography"] = self.biography
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("profile"):
            check_keys(
                "profile", body, required=("display_name", "fields"), optional=("biography",)
            )
            return cls(
                display_name=body["display_name"],
                fields=body["fields"],
                biography=optional_field(body, "biography"),
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileRead(Request):
    """The owner's public fields, and the L1 profile when the grant covers it. ``scope`` is
    the holder's copy's scope, as for ``ask``."""

    TYPE: ClassVar[str] = "profile.read"
    RESPONSE: ClassVar[type[Response]] = Profile
    scope: Scope | None = None

    def to_body(self) -> dict[str, Value]:
        return _with_scope({}, self.scope)

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body("profile.read"):
            check_keys("profile.read", body, required=(), optional=("scope",))
            return cls(scope=_optional_scope(body))


ACCESS_MESSAGES = CORE_MESSAGES.extended(
    GrantOffer,
    GrantAccepted,
    GrantRevoke,
    GrantRevoked,
    Ask,
    Answer,
    AnswerPart,
    ContextRequest,
    ContextBundle,
    ProfileRead,
    Profile,
)
"""SMP 1.0 with scoped access: what a node registers on its endpoint."""

ABILITY_OF: dict[type[Request], str] = {
    Ask: "chat/ask",
    ContextRequest: "memory/read",
    ProfileRead: "profile/read",
}
"""The ability each request needs; requests absent here need no grant."""
