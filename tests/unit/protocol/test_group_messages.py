"""The group.* message types: bodies round-trip, every limit holds when a message is made and
when one is read, bodies with a missing or unknown key are malformed, and the registry of a node
knows every type and answers every request type with the type smp-spec/groups.md names."""

from __future__ import annotations

from typing import Any

import pytest

from secondme.protocol.access import ACCESS_MESSAGES, Ask, GrantOffer
from secondme.protocol.clock import ManualClock
from secondme.protocol.envelope import SMP_1_0, Envelope, Kind
from secondme.protocol.errors import MalformedFrame, RemoteError
from secondme.protocol.fields import InvalidField
from secondme.protocol.group_messages import (
    END_REASONS,
    GROUP_MESSAGE_TYPES,
    MAX_GROUP_NAME,
    MAX_SEALED_KEY,
    MAX_SYNC_KEYS,
    MAX_SYNC_MESSAGES,
    MAX_TOPIC,
    NODE_MESSAGES,
    GroupAccept,
    GroupClosed,
    GroupEnd,
    GroupInvite,
    GroupInvited,
    GroupKeyUpdate,
    GroupLeave,
    GroupMessages,
    GroupOk,
    GroupPost,
    GroupPosted,
    GroupRaise,
    GroupSaid,
    GroupSync,
    GroupTurn,
    NotModerator,
    UnknownGroup,
)
from secondme.protocol.groups import (
    ForgedGroupMessage,
    MalformedGroupMessage,
    NotGroupMember,
    OutOfOrder,
    Undecryptable,
    UnknownEpoch,
)
from secondme.protocol.identity import Identity
from secondme.protocol.messages import CORE_MESSAGES, Hello, Message, Ping, Request, Response
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.wire import pack_canonical, unpack_strict

MODERATOR = Identity.from_seed(bytes([1]) * 32)
MEMBER = Identity.from_seed(bytes([2]) * 32)
MOD = str(MODERATOR.peer_id)
PEER = str(MEMBER.peer_id)
GROUP = "0123456789abcdef0123456789abcdef"
KEY = b"\x89" + bytes(300)  # opaque here: a sealed key is read by GroupKey.open
MESSAGE = b"\x89" + bytes(200)  # opaque here: a message is read by the transcript
HEAD = bytes(range(32))
NOW = 1_700_000_000_000
UINT64_MAX = 2**64 - 1
MAX_MESSAGE = 256 * 1024

MESSAGES: list[Message] = [
    GroupOk(),
    GroupInvited(accepted=True),
    GroupInvited(accepted=False),
    GroupPosted(relevance=0, head=HEAD),
    GroupPosted(relevance=1000, head=bytes(32)),
    GroupSaid(message=MESSAGE),
    GroupMessages(messages=(), keys=(), more=False),
    GroupMessages(messages=(MESSAGE, MESSAGE), keys=(KEY,), more=True),
    GroupInvite(group=GROUP, name="Weekend hike", topic="", members=(MOD,), key=KEY),
    GroupInvite(
        group=GROUP, name="n", topic="Trails near Lisbon", members=(MOD, PEER, PEER), key=b"k"
    ),
    GroupKeyUpdate(group=GROUP, key=KEY),
    GroupPost(group=GROUP, message=MESSAGE),
    GroupTurn(group=GROUP, seq=1, prev=bytes(32), epoch=1, reason="has not spoken yet"),
    GroupTurn(group=GROUP, seq=UINT64_MAX, prev=HEAD, epoch=UINT64_MAX, reason=""),
    GroupEnd(group=GROUP, reason="removed"),
    GroupEnd(group=GROUP, reason="closed"),
    GroupAccept(group=GROUP, accept=True),
    GroupAccept(group=GROUP, accept=False),
    GroupRaise(group=GROUP),
    GroupLeave(group=GROUP),
    GroupSync(group=GROUP, after=0),
    GroupSync(group=GROUP, after=UINT64_MAX),
]
FIELDS = {
    "group.ok": set(),
    "group.invited": {"accepted"},
    "group.posted": {"relevance", "head"},
    "group.said": {"message"},
    "group.messages": {"messages", "keys", "more"},
    "group.invite": {"group", "name", "topic", "members", "key"},
    "group.key": {"group", "key"},
    "group.post": {"group", "message"},
    "group.turn": {"group", "seq", "prev", "epoch", "reason"},
    "group.end": {"group", "reason"},
    "group.accept": {"group", "accept"},
    "group.raise": {"group"},
    "group.leave": {"group"},
    "group.sync": {"group", "after"},
}
ANSWERS = {
    "group.invite": "group.invited",
    "group.key": "group.ok",
    "group.post": "group.posted",
    "group.turn": "group.said",
    "group.end": "group.ok",
    "group.accept": "group.ok",
    "group.raise": "group.ok",
    "group.leave": "group.ok",
    "group.sync": "group.messages",
}


def ids(messages: list[Message]) -> list[str]:
    return [f"{m.TYPE}-{i}" for i, m in enumerate(messages)]


def read(message_type: type[Message], body: dict[str, Any]) -> Message:
    """Read ``body`` as a peer's body: through the strict msgpack reader first."""
    return message_type.from_body(unpack_strict(pack_canonical(body)))


# Round trips


def test_every_type_has_a_message_here() -> None:
    assert {type(m) for m in MESSAGES} == set(GROUP_MESSAGE_TYPES)
    assert set(FIELDS) == {cls.TYPE for cls in GROUP_MESSAGE_TYPES}


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_body_round_trip(message: Message) -> None:
    body = message.to_body()
    assert set(body) == FIELDS[message.TYPE]
    assert type(message).from_body(body) == message
    assert read(type(message), body) == message


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_the_registry_reads_an_envelope_of_each_type(message: Message) -> None:
    envelope = Envelope.sign(
        MODERATOR,
        version=SMP_1_0,
        message_type=message.TYPE,
        request_id=7,
        kind=message.KIND,
        timestamp_ms=NOW,
        nonce=bytes(16),
        grant=None,
        body=message.to_body(),
    )
    assert NODE_MESSAGES.parse(envelope) == message


def test_arrays_are_written_as_arrays_and_read_back_as_tuples() -> None:
    invite = GroupInvite(group=GROUP, name="n", topic="", members=(MOD, PEER), key=KEY)
    assert invite.to_body()["members"] == [MOD, PEER]
    assert read(GroupInvite, invite.to_body()).members == (MOD, PEER)
    sync = GroupMessages(messages=(MESSAGE,), keys=(KEY,), more=False)
    assert sync.to_body() == {"messages": [MESSAGE], "keys": [KEY], "more": False}
    assert read(GroupMessages, sync.to_body()) == sync


# Keys


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_an_unknown_key_is_malformed(message: Message) -> None:
    with pytest.raises(MalformedFrame):
        read(type(message), {**message.to_body(), "extra": 1})


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_a_missing_key_is_malformed(message: Message) -> None:
    body = message.to_body()
    for key in body:
        with pytest.raises(MalformedFrame):
            read(type(message), {k: v for k, v in body.items() if k != key})


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_a_nil_field_is_malformed(message: Message) -> None:
    body = message.to_body()
    for key in body:
        with pytest.raises(MalformedFrame):
            read(type(message), {**body, key: None})


# Limits: (type, fields of a valid one, field, value at the edge, value beyond it)

TAIL = PEER[-40:]  # 40 base58 characters: the shortest peer string the pattern allows
INVITE = {"group": GROUP, "name": "n", "topic": "", "members": (MOD,), "key": KEY}
TURN = {"group": GROUP, "seq": 1, "prev": HEAD, "epoch": 1, "reason": ""}
SYNC = {"messages": (), "keys": (), "more": False}
LIMITS = [
    # the group id, in every request type
    *(
        (cls, fields, "group", GROUP, beyond)
        for cls, fields in (
            (GroupInvite, INVITE),
            (GroupKeyUpdate, {"group": GROUP, "key": KEY}),
            (GroupPost, {"group": GROUP, "message": MESSAGE}),
            (GroupTurn, TURN),
            (GroupEnd, {"group": GROUP, "reason": "closed"}),
            (GroupAccept, {"group": GROUP, "accept": True}),
            (GroupRaise, {"group": GROUP}),
            (GroupLeave, {"group": GROUP}),
            (GroupSync, {"group": GROUP, "after": 0}),
        )
        for beyond in (GROUP.upper(), GROUP[:-1], GROUP + "0", GROUP.encode(), 1)
    ),
    (GroupInvite, INVITE, "name", "n" * MAX_GROUP_NAME, ""),
    (GroupInvite, INVITE, "name", "ñ" * (MAX_GROUP_NAME // 2), "n" * (MAX_GROUP_NAME + 1)),
    (GroupInvite, INVITE, "topic", "t" * MAX_TOPIC, "t" * (MAX_TOPIC + 1)),
    (GroupInvite, INVITE, "topic", "", b""),
    (GroupInvite, INVITE, "members", (MOD,) * 64, (MOD,) * 65),
    (GroupInvite, INVITE, "members", (MOD,), ()),
    (GroupInvite, INVITE, "members", (TAIL,), (TAIL[1:],)),
    (GroupInvite, INVITE, "members", (MOD, PEER), (MOD, PEER.replace(PEER[5], "0"))),
    (GroupInvite, INVITE, "members", (MOD,), (MOD.encode(),)),
    (GroupInvite, INVITE, "key", bytes(MAX_SEALED_KEY), bytes(MAX_SEALED_KEY + 1)),
    (GroupInvite, INVITE, "key", b"k", b""),
    (GroupInvite, INVITE, "key", b"k", "k"),
    (
        GroupKeyUpdate,
        {"group": GROUP, "key": KEY},
        "key",
        bytes(MAX_SEALED_KEY),
        bytes(MAX_SEALED_KEY + 1),
    ),
    (GroupKeyUpdate, {"group": GROUP, "key": KEY}, "key", b"k", b""),
    (
        GroupPost,
        {"group": GROUP, "message": MESSAGE},
        "message",
        bytes(MAX_MESSAGE),
        bytes(MAX_MESSAGE + 1),
    ),
    (GroupPost, {"group": GROUP, "message": MESSAGE}, "message", b"m", b""),
    (GroupTurn, TURN, "seq", UINT64_MAX, -1),
    (GroupTurn, TURN, "seq", 0, True),
    (GroupTurn, TURN, "epoch", 0, -1),
    (GroupTurn, TURN, "epoch", UINT64_MAX, "1"),
    (GroupTurn, TURN, "prev", bytes(32), bytes(31)),
    (GroupTurn, TURN, "prev", HEAD, HEAD + b"\x00"),
    (GroupTurn, TURN, "prev", HEAD, HEAD.hex()),
    (GroupTurn, TURN, "reason", "r" * 512, "r" * 513),
    (GroupTurn, TURN, "reason", "", b""),
    (GroupEnd, {"group": GROUP, "reason": "closed"}, "reason", "removed", "left"),
    (GroupEnd, {"group": GROUP, "reason": "closed"}, "reason", "closed", "Closed"),
    (GroupAccept, {"group": GROUP, "accept": True}, "accept", False, 1),
    (GroupAccept, {"group": GROUP, "accept": True}, "accept", True, "yes"),
    (GroupSync, {"group": GROUP, "after": 0}, "after", UINT64_MAX, -1),
    (GroupSync, {"group": GROUP, "after": 0}, "after", 0, False),
    (GroupInvited, {"accepted": True}, "accepted", False, 0),
    (GroupPosted, {"relevance": 0, "head": HEAD}, "relevance", 1000, 1001),
    (GroupPosted, {"relevance": 0, "head": HEAD}, "relevance", 0, -1),
    (GroupPosted, {"relevance": 0, "head": HEAD}, "head", HEAD, HEAD[:31]),
    (GroupSaid, {"message": MESSAGE}, "message", bytes(MAX_MESSAGE), bytes(MAX_MESSAGE + 1)),
    (GroupSaid, {"message": MESSAGE}, "message", b"m", b""),
    (
        GroupMessages,
        SYNC,
        "messages",
        (b"m",) * MAX_SYNC_MESSAGES,
        (b"m",) * (MAX_SYNC_MESSAGES + 1),
    ),
    (GroupMessages, SYNC, "messages", (bytes(MAX_MESSAGE),), (bytes(MAX_MESSAGE + 1),)),
    (GroupMessages, SYNC, "messages", (b"m",), (b"",)),
    (GroupMessages, SYNC, "messages", (b"m",), ("m",)),
    (GroupMessages, SYNC, "keys", (b"k",) * MAX_SYNC_KEYS, (b"k",) * (MAX_SYNC_KEYS + 1)),
    (GroupMessages, SYNC, "keys", (bytes(MAX_SEALED_KEY),), (bytes(MAX_SEALED_KEY + 1),)),
    (GroupMessages, SYNC, "keys", (b"k",), (b"",)),
    (GroupMessages, SYNC, "more", True, 1),
]


def body_of(fields: dict[str, Any]) -> dict[str, Any]:
    """The body a message with ``fields`` would have, built without the class's checks."""
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in fields.items()
    }


@pytest.mark.parametrize(
    ("message_type", "fields", "key", "edge", "beyond"),
    LIMITS,
    ids=[f"{x[0].TYPE}-{x[2]}-{i}" for i, x in enumerate(LIMITS)],
)
def test_limit(
    message_type: type[Message], fields: dict[str, Any], key: str, edge: Any, beyond: Any
) -> None:
    at_edge = message_type(**(fields | {key: edge}))
    assert read(message_type, at_edge.to_body()) == at_edge
    with pytest.raises(InvalidField):
        message_type(**(fields | {key: beyond}))
    with pytest.raises(MalformedFrame):
        read(message_type, body_of(fields | {key: beyond}))


@pytest.mark.parametrize(
    ("message_type", "body"),
    [
        (GroupInvite, body_of(INVITE) | {"members": MOD}),
        (GroupInvite, body_of(INVITE) | {"members": {MOD: MOD}}),
        (GroupMessages, body_of(SYNC) | {"messages": MESSAGE}),
        (GroupMessages, body_of(SYNC) | {"keys": KEY}),
        (GroupMessages, body_of(SYNC) | {"messages": [[MESSAGE]]}),
    ],
)
def test_an_array_field_that_is_not_an_array_is_malformed(
    message_type: type[Message], body: dict[str, Any]
) -> None:
    with pytest.raises(MalformedFrame):
        read(message_type, body)


def test_the_limits_are_the_documented_ones() -> None:
    assert (MAX_GROUP_NAME, MAX_TOPIC, MAX_SEALED_KEY) == (128, 1024, 4096)
    assert (MAX_SYNC_MESSAGES, MAX_SYNC_KEYS) == (64, 64)
    assert END_REASONS == ("removed", "closed")


# The registry


def test_every_group_type_is_registered_and_every_request_answered() -> None:
    requests = [cls for cls in GROUP_MESSAGE_TYPES if issubclass(cls, Request)]
    responses = [cls for cls in GROUP_MESSAGE_TYPES if issubclass(cls, Response)]
    assert len(requests) == 9 and len(responses) == 5
    for cls in GROUP_MESSAGE_TYPES:
        assert cls.TYPE.startswith("group.")
        assert cls in NODE_MESSAGES
        assert cls not in ACCESS_MESSAGES and cls not in CORE_MESSAGES
        assert NODE_MESSAGES.lookup(cls.KIND, cls.TYPE) is cls
    for cls in requests:
        assert cls.KIND is Kind.REQUEST
        assert ANSWERS[cls.TYPE] == cls.RESPONSE.TYPE
        assert cls.RESPONSE in NODE_MESSAGES
        assert cls.PART is None  # nothing in groups is streamed
    assert {cls.RESPONSE for cls in requests} == set(responses)
    for cls in (Ping, Hello, Ask, GrantOffer):  # the core and scoped access are served too
        assert cls in NODE_MESSAGES


@pytest.mark.parametrize(
    "refusal",
    [
        UnknownGroup,
        NotModerator,
        GroupClosed,
        MalformedGroupMessage,
        ForgedGroupMessage,
        NotGroupMember,
        UnknownEpoch,
        OutOfOrder,
        Undecryptable,
    ],
)
def test_every_group_refusal_can_be_sent_and_is_read_back(refusal: type) -> None:
    clock = ManualClock(NOW)
    counter = iter(range(1, 1000))
    moderator = SmpEndpoint(
        MODERATOR,
        clock,
        ReplayWindow(clock),
        registry=NODE_MESSAGES,
        random_bytes=lambda size: next(counter).to_bytes(size, "big"),
    )
    member = SmpEndpoint(MEMBER, clock, ReplayWindow(clock), registry=NODE_MESSAGES)
    outgoing = moderator.request(GroupPost(group=GROUP, message=MESSAGE))
    incoming = member.receive_request(MODERATOR.peer_id, outgoing.payload)
    frame = member.respond_error(incoming, refusal("refused"))
    with pytest.raises(RemoteError) as caught:
        moderator.receive_response(MEMBER.peer_id, outgoing, frame)
    assert caught.value.code == refusal.code
