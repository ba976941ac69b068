"""The SMP messages of group discussions: invitations, keys, turns and the transcript.

The moderator (the node that created the group) sends the first five; members send the rest.
A ``message`` is a signed, encrypted group message and a ``key`` a group key sealed to its
receiver, both defined in :mod:`secondme.protocol.groups`.

    request (type)   from        fields                            answered by (type)
    group.invite     moderator   group, name, topic, members:      group.invited: accepted
                                 [peer], key: bin
    group.key        moderator   group, key: bin                   group.ok
    group.post       moderator   group, message: bin               group.posted: relevance,
                                                                   head: bin(32)
    group.turn       moderator   group, seq, prev: bin(32),        group.said: message: bin
                                 epoch, reason
    group.end        moderator   group, reason                     group.ok
    group.accept     member      group, accept: bool               group.ok
    group.raise      member      group                             group.ok
    group.leave      member      group                             group.ok
    group.sync       member      group, after: uint                group.messages: messages:
                                                                   [bin], keys: [bin], more

``group.invite`` may carry a ``group/join`` grant of the receiver's in its envelope: a node
accepts such an invitation at once, within the grant's scope; without one the invitation waits
in a small inbox for its owner. Every later request the moderator sends to a member that joined
by a grant carries that same grant, and the member checks it again each time.
``relevance`` is per mille, how near the member's memory (within its scope for the group) is
to the message just posted, in steps of :data:`RELEVANCE_STEP`, and 0 unless the member's owner
chose to share it: the moderator picks speakers by it and never sees the memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from secondme.protocol.access import ACCESS_MESSAGES
from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.fields import (
    InvalidField,
    PlainBody,
    check_bytes,
    check_keys,
    check_str,
    check_uint,
    reading_body,
)
from secondme.protocol.group_life import END_EVENTS
from secondme.protocol.groups import (
    HASH_SIZE,
    MAX_MEMBERS,
    MAX_MESSAGE_SIZE,
    MAX_REASON,
    check_group_id,
)
from secondme.protocol.identity import PEER_ID_TEXT
from secondme.protocol.messages import Request, Response
from secondme.protocol.wire import Value

MAX_GROUP_NAME = 128
MAX_TOPIC = 1024
MAX_SEALED_KEY = 4096
MAX_SYNC_MESSAGES = 64
MAX_SYNC_KEYS = 64
END_REASONS = tuple(END_EVENTS)
"""What a ``group.end`` may say: the state the receiver's group moves to."""
RELEVANCE_STEP = 250
"""A member shares relevance only this coarsely (0, 250, 500, 750, 1000): each answer to a
moderator's text tells it at most one of five levels of how near the member's memory is."""


class UnknownGroup(RemoteProtocolError):
    """No group of that id here, or this peer is not (or no longer) in it."""

    code = "unknown_group"


class NotModerator(RemoteProtocolError):
    """Only the group's moderator may send this."""

    code = "not_moderator"


class GroupClosed(RemoteProtocolError):
    code = "group_closed"


class InboxFull(RemoteProtocolError):
    """This node holds as many invitations waiting for its owner as it keeps (from this
    moderator, or from all): it stores no more until its owner answers or they expire."""

    code = "group_inbox_full"


class QuotaExceeded(RemoteProtocolError):
    """Keeping this would take the group (or all groups of its moderator) past what this node
    keeps for it: it refuses the message and keeps nothing of it."""

    code = "group_quota"


def coarse_relevance(per_mille: int) -> int:
    """``per_mille`` (0-1000) rounded down to a multiple of :data:`RELEVANCE_STEP`."""
    return max(0, min(1000, per_mille)) // RELEVANCE_STEP * RELEVANCE_STEP


def _key(value: object) -> bytes:
    return check_bytes("key", value, min_len=1, max_len=MAX_SEALED_KEY)


def _message(value: object) -> bytes:
    return check_bytes("message", value, min_len=1, max_len=MAX_MESSAGE_SIZE)


def _peers(name: str, value: object, *, limit: int) -> tuple[str, ...]:
    if type(value) is not tuple or len(value) > limit:
        raise InvalidField(f"{name} must be a tuple of at most {limit} peer IDs")
    for peer in value:
        check_str(name, peer, max_bytes=64, pattern=PEER_ID_TEXT)
    return value


def _blobs(name: str, value: object, *, limit: int, max_len: int) -> tuple[bytes, ...]:
    if type(value) is not tuple or len(value) > limit:
        raise InvalidField(f"{name} must be a tuple of at most {limit} byte strings")
    for item in value:
        check_bytes(name, item, min_len=1, max_len=max_len)
    return value


def _listed(body: Mapping[str, Value], name: str) -> tuple:
    if type(body[name]) is not list:
        raise InvalidField(f"{name} must be an array")
    return tuple(body[name])


# -- responses -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupOk(PlainBody, Response):
    TYPE: ClassVar[str] = "group.ok"


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupInvited(PlainBody, Response):
    """``accepted``: the node joined now (a ``group/join`` grant); else its owner decides and
    answers later with ``group.accept``."""

    TYPE: ClassVar[str] = "group.invited"
    accepted: bool

    def __post_init__(self) -> None:
        if type(self.accepted) is not bool:
            raise InvalidField("accepted must be a boolean")


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupPosted(PlainBody, Response):
    TYPE: ClassVar[str] = "group.posted"
    relevance: int
    head: bytes

    def __post_init__(self) -> None:
        check_uint("relevance", self.relevance, maximum=1000)
        check_bytes("head", self.head, min_len=HASH_SIZE, max_len=HASH_SIZE)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSaid(PlainBody, Response):
    TYPE: ClassVar[str] = "group.said"
    message: bytes

    def __post_init__(self) -> None:
        _message(self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupMessages(Response):
    """Messages after the one asked for, in order, with the sealed keys of their epochs that
    the asker holds a place in; ``more``: ask again after the last."""

    TYPE: ClassVar[str] = "group.messages"
    messages: tuple[bytes, ...]
    keys: tuple[bytes, ...]
    more: bool

    def __post_init__(self) -> None:
        _blobs("messages", self.messages, limit=MAX_SYNC_MESSAGES, max_len=MAX_MESSAGE_SIZE)
        _blobs("keys", self.keys, limit=MAX_SYNC_KEYS, max_len=MAX_SEALED_KEY)
        if type(self.more) is not bool:
            raise InvalidField("more must be a boolean")

    def to_body(self) -> dict[str, Value]:
        return {"messages": list(self.messages), "keys": list(self.keys), "more": self.more}

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body(cls.TYPE):
            check_keys(cls.TYPE, body, required=("messages", "keys", "more"), optional=())
            return cls(
                messages=_listed(body, "messages"),
                keys=_listed(body, "keys"),
                more=body["more"],
            )


# -- the moderator's requests --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupInvite(Request):
    """Join group ``group``: its name, topic, the invited members (the moderator first) and
    the first epoch's key sealed to the receiver."""

    TYPE: ClassVar[str] = "group.invite"
    RESPONSE: ClassVar[type[Response]] = GroupInvited
    group: str
    name: str
    topic: str
    members: tuple[str, ...]
    key: bytes

    def __post_init__(self) -> None:
        check_group_id(self.group)
        check_str("name", self.name, min_bytes=1, max_bytes=MAX_GROUP_NAME)
        check_str("topic", self.topic, max_bytes=MAX_TOPIC)
        _peers("members", self.members, limit=MAX_MEMBERS)
        if not self.members:
            raise InvalidField("a group has at least one member")
        _key(self.key)

    def to_body(self) -> dict[str, Value]:
        body: dict[str, Value] = {
            "group": self.group,
            "name": self.name,
            "topic": self.topic,
            "members": list(self.members),
            "key": self.key,
        }
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Value]) -> Self:
        with reading_body(cls.TYPE):
            required = ("group", "name", "topic", "members", "key")
            check_keys(cls.TYPE, body, required=required, optional=())
            return cls(
                group=body["group"],
                name=body["name"],
                topic=body["topic"],
                members=_listed(body, "members"),
                key=body["key"],
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupKeyUpdate(PlainBody, Request):
    """A new epoch: its key (which names its members) sealed to the receiver. Sent when
    membership changes; every message after it is under the new key."""

    TYPE: ClassVar[str] = "group.key"
    RESPONSE: ClassVar[type[Response]] = GroupOk
    group: str
    key: bytes

    def __post_init__(self) -> None:
        check_group_id(self.group)
        _key(self.key)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupPost(PlainBody, Request):
    """The next message of the transcript, for every member to append."""

    TYPE: ClassVar[str] = "group.post"
    RESPONSE: ClassVar[type[Response]] = GroupPosted
    group: str
    message: bytes

    def __post_init__(self) -> None:
        check_group_id(self.group)
        _message(self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupTurn(PlainBody, Request):
    """Speak now: write message ``seq`` after ``prev`` under ``epoch``, and say ``reason`` (why
    the moderator chose this member) in it."""

    TYPE: ClassVar[str] = "group.turn"
    RESPONSE: ClassVar[type[Response]] = GroupSaid
    group: str
    seq: int
    prev: bytes
    epoch: int
    reason: str

    def __post_init__(self) -> None:
        check_group_id(self.group)
        check_uint("seq", self.seq)
        check_bytes("prev", self.prev, min_len=HASH_SIZE, max_len=HASH_SIZE)
        check_uint("epoch", self.epoch)
        check_str("reason", self.reason, max_bytes=MAX_REASON)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupEnd(PlainBody, Request):
    """The receiver is out: ``removed`` by the moderator, or the group is ``closed``."""

    TYPE: ClassVar[str] = "group.end"
    RESPONSE: ClassVar[type[Response]] = GroupOk
    group: str
    reason: str

    def __post_init__(self) -> None:
        check_group_id(self.group)
        if self.reason not in END_REASONS:
            raise InvalidField(f"reason must be one of {', '.join(END_REASONS)}")


# -- the members' requests -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupAccept(PlainBody, Request):
    """The owner's answer to an invitation that waited for it."""

    TYPE: ClassVar[str] = "group.accept"
    RESPONSE: ClassVar[type[Response]] = GroupOk
    group: str
    accept: bool

    def __post_init__(self) -> None:
        check_group_id(self.group)
        if type(self.accept) is not bool:
            raise InvalidField("accept must be a boolean")


@dataclass(frozen=True, slots=True, kw_only=True)
class _GroupOnly(PlainBody, Request):
    TYPE: ClassVar[str]
    RESPONSE: ClassVar[type[Response]] = GroupOk
    group: str

    def __post_init__(self) -> None:
        check_group_id(self.group)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRaise(_GroupOnly):
    """This member's owner wants to speak: give it the next turn."""

    TYPE: ClassVar[str] = "group.raise"


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupLeave(_GroupOnly):
    TYPE: ClassVar[str] = "group.leave"


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSync(PlainBody, Request):
    """The messages after ``after`` (0: from the start), for a member that missed some."""

    TYPE: ClassVar[str] = "group.sync"
    RESPONSE: ClassVar[type[Response]] = GroupMessages
    group: str
    after: int

    def __post_init__(self) -> None:
        check_group_id(self.group)
        check_uint("after", self.after)


GROUP_MESSAGE_TYPES = (
    GroupOk,
    GroupInvited,
    GroupPosted,
    GroupSaid,
    GroupMessages,
    GroupInvite,
    GroupKeyUpdate,
    GroupPost,
    GroupTurn,
    GroupEnd,
    GroupAccept,
    GroupRaise,
    GroupLeave,
    GroupSync,
)

NODE_MESSAGES = ACCESS_MESSAGES.extended(*GROUP_MESSAGE_TYPES)
"""Every message type a node serves and sends on SMP: the core, scoped access and groups."""
