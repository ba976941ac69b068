"""The discovery protocol: what a node and a discovery server say to each other.

It runs on libp2p protocol ``/secondme/discovery/1.0.0`` and reuses SMP's frames, envelopes,
checks and error frames unchanged (:mod:`secondme.protocol.session`); only the message types
differ, and they all start with ``disc.``, so no SMP peer serves one by accident. The server
learns who asks from the Noise session, as every SMP peer does.

    request (type)        fields                           answered by (type)
    disc.network.create   network: id, name: str           disc.network: network, name,
                                                           owner, created_ms
    disc.join             token: str, record: bin          disc.joined: network, name, owner,
                                                           role
    disc.register         record: bin                      disc.registered: seq, expires_ms,
                                                           networks: [id]
    disc.members          network: id, after?: peer,       disc.member.page: members:
                          limit?: 1-1000                   [{peer, role, joined_ms,
                                                           record?}], next?: peer
    disc.lookup           peer: str                        disc.peer: record: bin
    disc.member.remove    network: id, peer: str           disc.done
    disc.invite.revoke    network: id, invite_id: str,     disc.done
                          expires_ms: uint
    disc.network.leave    network: id                      disc.done
    disc.network.close    network: id                      disc.done

A ``record`` is a signed peer record (:mod:`secondme.protocol.records`), a ``token`` an invite
token (:mod:`secondme.protocol.invites`); both are verified by whoever reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.fields import (
    InvalidField,
    PlainBody,
    check_bytes,
    check_keys,
    check_str,
    check_uint,
    optional_field,
    reading_body,
)
from secondme.protocol.identity import PEER_ID_TEXT
from secondme.protocol.invites import (
    INVITE_ID,
    MAX_NETWORK_NAME,
    MAX_TOKEN_BYTES,
    InviteForged,
    InviteMalformed,
    Role,
)
from secondme.protocol.messages import CORE_MESSAGES, Request, Response
from secondme.protocol.records import MAX_RECORD_SIZE, NETWORK_ID, RecordInvalid
from secondme.protocol.wire import Value

DISCOVERY_PROTOCOL_ID = "/secondme/discovery/1.0.0"
MAX_PAGE = 1000
DEFAULT_PAGE = 1000

__all__ = [
    "DISCOVERY_MESSAGES",
    "DISCOVERY_PROTOCOL_ID",
    "InviteForged",
    "InviteMalformed",
    "RecordInvalid",
]


# -- refusals ------------------------------------------------------------------------------


class InviteExpired(RemoteProtocolError):
    code = "invite_expired"


class InviteSpent(RemoteProtocolError):
    """Every use of the token is bound to another peer."""

    code = "invite_spent"


class InviteRevoked(RemoteProtocolError):
    code = "invite_revoked"


class UnknownNetwork(RemoteProtocolError):
    code = "unknown_network"


class NetworkExists(RemoteProtocolError):
    code = "network_exists"


class NotMember(RemoteProtocolError):
    """Only members may read a network's members or look its peers up."""

    code = "not_member"


class NotOwner(RemoteProtocolError):
    code = "not_owner"


class Forbidden(RemoteProtocolError):
    """Something no peer may do, such as the owner leaving its own network."""

    code = "forbidden"


class NoRecord(RemoteProtocolError):
    """The peer has no live record (it never registered, or its record expired)."""

    code = "no_record"


class RecordStale(RemoteProtocolError):
    """A record whose sequence number is not above the one the server holds."""

    code = "record_stale"


class TtlOutOfRange(RemoteProtocolError):
    code = "ttl_out_of_range"


class LimitReached(RemoteProtocolError):
    """A per-peer limit (networks owned, members of a network) is reached."""

    code = "limit_reached"


# -- field checks --------------------------------------------------------------------------


def _network(value: object) -> str:
    return check_str("network", value, max_bytes=32, pattern=NETWORK_ID)


def _peer(name: str, value: object) -> str:
    return check_str(name, value, max_bytes=64, pattern=PEER_ID_TEXT)


def _record(value: object) -> bytes:
    return check_bytes("record", value, min_len=1, max_len=MAX_RECORD_SIZE)


def _read(cls: type, body: Mapping[str, Value], required: tuple[str, ...], optional=()) -> None:
    check_keys(cls.TYPE, body, required=required, optional=optional)


# -- responses -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Done(PlainBody, Response):
    TYPE: ClassVar[str] = "disc.done"


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkInfo(PlainBody, Response):
    TYPE: ClassVar[str] = "disc.network"
    network: str
    name: str
    owner: str
    created_ms: int

    def __post_init__(self) -> None:
        _network(self.network)
        check_str("name", self.name, min_bytes=1, max_bytes=MAX_NETWORK_NAME)
        _peer("owner", self.owner)
        check_uint("created_ms", self.created_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Joined(PlainBody, Response):
    TYPE: ClassVar[str] = "disc.joined"
    network: str
    name: str
    owner: str
    role: str

    def __post_init__(self) -> None:
        _network(self.network)
        check_str("name", self.name, min_bytes=1, max_bytes=MAX_NETWORK_NAME)
        _peer("owner", self.owner)
        if self.role not in (Role.MEMBER, Role.INVITER, Role.OWNER):
            raise InvalidField(f"role {self.role!r} is not owner, member or inviter")


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered(Response):
    """The record is stored; ``networks`` lists every network the peer is a member of now."""

    TYPE: ClassVar[str] = "disc.registered"
    seq: int
    expires_ms: int
    networks: tuple[str, ...]

    def __post_init__(self) -> None:
        check_uint("seq", self.seq)
        check_uint("expires_ms", self.expires_ms)
        if type(self.networks) is not tuple or len(self.networks) > 1024:
            raise InvalidField("networks must be a tuple of at most 1024 ids")
        for network in self.networks:
            _network(network)

    def to_body(self) -> dict[str, Value]:
        return {"seq": self.seq, "expires_ms": self.expires_ms, "networks": list(self.networks)}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body(cls.TYPE):
            _read(cls, body, ("seq", "expires_ms", "networks"))
            if type(body["networks"]) is not list:
                raise InvalidField("networks must be an array")
            return cls(
                seq=body["seq"], expires_ms=body["expires_ms"], networks=tuple(body["networks"])
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """One member of a network; ``record`` is absent while the member has no live record."""

    peer: str
    role: str
    joined_ms: int
    record: bytes | None = None

    def __post_init__(self) -> None:
        _peer("peer", self.peer)
        if self.role not in (Role.MEMBER, Role.INVITER, Role.OWNER):
            raise InvalidField(f"role {self.role!r} is not owner, member or inviter")
        check_uint("joined_ms", self.joined_ms)
        if self.record is not None:
            _record(self.record)

    def to_wire(self) -> dict[str, Value]:
        wire: dict[str, Value] = {"peer": self.peer, "role": self.role, "joined_ms": self.joined_ms}
        if self.record is not None:
            wire["record"] = self.record
        return wire

    @classmethod
    def from_wire(cls, value: Value) -> Member:
        if not isinstance(value, Mapping):
            raise InvalidField("a member must be a map")
        check_keys("member", value, required=("peer", "role", "joined_ms"), optional=("record",))
        return cls(
            peer=value["peer"],
            role=value["role"],
            joined_ms=value["joined_ms"],
            record=optional_field(value, "record"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberPage(Response):
    TYPE: ClassVar[str] = "disc.member.page"
    members: tuple[Member, ...]
    next: str | None = None
    """Pass as ``after`` to read the following page; absent on the last page."""

    def __post_init__(self) -> None:
        if type(self.members) is not tuple or len(self.members) > MAX_PAGE:
            raise InvalidField(f"members must be a tuple of at most {MAX_PAGE}")
        if self.next is not None:
            _peer("next", self.next)

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {"members": [m.to_wire() for m in self.members]}
        if self.next is not None:
            body["next"] = self.next
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body(cls.TYPE):
            _read(cls, body, ("members",), ("next",))
            if type(body["members"]) is not list:
                raise InvalidField("members must be an array")
            return cls(
                members=tuple(Member.from_wire(m) for m in body["members"]),
                next=optional_field(body, "next"),
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerFound(PlainBody, Response):
    TYPE: ClassVar[str] = "disc.peer"
    record: bytes

    def __post_init__(self) -> None:
        _record(self.record)


# -- requests ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkCreate(PlainBody, Request):
    """Create a network owned by the asking peer; ``network`` is a fresh random id."""

    TYPE: ClassVar[str] = "disc.network.create"
    RESPONSE: ClassVar[type[Response]] = NetworkInfo
    network: str
    name: str

    def __post_init__(self) -> None:
        _network(self.network)
        check_str("name", self.name, min_bytes=1, max_bytes=MAX_NETWORK_NAME)


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(PlainBody, Request):
    """Redeem an invite token: one of its uses is bound to the asking peer, which becomes a
    member and registers ``record`` in the same step."""

    TYPE: ClassVar[str] = "disc.join"
    RESPONSE: ClassVar[type[Response]] = Joined
    token: str
    record: bytes

    def __post_init__(self) -> None:
        check_str("token", self.token, min_bytes=1, max_bytes=MAX_TOKEN_BYTES)
        _record(self.record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Register(PlainBody, Request):
    """Store (or refresh) the asking peer's record; only members of a network may."""

    TYPE: ClassVar[str] = "disc.register"
    RESPONSE: ClassVar[type[Response]] = Registered
    record: bytes

    def __post_init__(self) -> None:
        _record(self.record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Members(Request):
    """One page of a network's members, in peer ID order, after ``after``."""

    TYPE: ClassVar[str] = "disc.members"
    RESPONSE: ClassVar[type[Response]] = MemberPage
    network: str
    after: str | None = None
    limit: int = DEFAULT_PAGE

    def __post_init__(self) -> None:
        _network(self.network)
        if self.after is not None:
            _peer("after", self.after)
        check_uint("limit", self.limit, maximum=MAX_PAGE)
        if self.limit < 1:
            raise InvalidField("limit must be at least 1")

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {"network": self.network, "limit": self.limit}
        if self.after is not None:
            body["after"] = self.after
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body(cls.TYPE):
            _read(cls, body, ("network",), ("after", "limit"))
            limit = optional_field(body, "limit")
            return cls(
                network=body["network"],
                after=optional_field(body, "after"),
                limit=DEFAULT_PAGE if limit is None else limit,
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup(PlainBody, Request):
    """The live record of ``peer``, which must share a network with the asking peer."""

    TYPE: ClassVar[str] = "disc.lookup"
    RESPONSE: ClassVar[type[Response]] = PeerFound
    peer: str

    def __post_init__(self) -> None:
        _peer("peer", self.peer)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRemove(PlainBody, Request):
    """The owner removes ``peer`` from the network."""

    TYPE: ClassVar[str] = "disc.member.remove"
    RESPONSE: ClassVar[type[Response]] = Done
    network: str
    peer: str

    def __post_init__(self) -> None:
        _network(self.network)
        _peer("peer", self.peer)


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteRevoke(PlainBody, Request):
    """The owner (or the invite's issuer) makes an invite useless; ``expires_ms`` is the
    token's expiry, after which the server may forget the revocation."""

    TYPE: ClassVar[str] = "disc.invite.revoke"
    RESPONSE: ClassVar[type[Response]] = Done
    network: str
    invite_id: str
    expires_ms: int

    def __post_init__(self) -> None:
        _network(self.network)
        check_str("invite_id", self.invite_id, max_bytes=32, pattern=INVITE_ID)
        check_uint("expires_ms", self.expires_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class _NetworkOnly(PlainBody, Request):
    TYPE: ClassVar[str]
    RESPONSE: ClassVar[type[Response]] = Done
    network: str

    def __post_init__(self) -> None:
        _network(self.network)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkLeave(_NetworkOnly):
    """The asking member leaves; an owner cannot leave its own network (it closes it)."""

    TYPE: ClassVar[str] = "disc.network.leave"


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkClose(_NetworkOnly):
    """The owner deletes the network, its memberships and its invites."""

    TYPE: ClassVar[str] = "disc.network.close"


DISCOVERY_MESSAGES = CORE_MESSAGES.extended(
    Done,
    NetworkInfo,
    Joined,
    Registered,
    MemberPage,
    PeerFound,
    NetworkCreate,
    Join,
    Register,
    Members,
    Lookup,
    MemberRemove,
    InviteRevoke,
    NetworkLeave,
    NetworkClose,
)
"""Ping and hello, and the discovery messages; what a discovery server's endpoint reads."""
