"""The disc.* message types: bodies round-trip, every limit holds when a message is made and when
one is read, bodies with a missing or unknown key are malformed, and the registry answers every
request type and can send every discovery refusal."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import secondme.protocol.discovery as discovery
from secondme.protocol.access import ACCESS_MESSAGES
from secondme.protocol.clock import ManualClock
from secondme.protocol.discovery import (
    DEFAULT_PAGE,
    DISCOVERY_MESSAGES,
    DISCOVERY_PROTOCOL_ID,
    MAX_PAGE,
    Done,
    InviteRevoke,
    Join,
    Joined,
    Lookup,
    Member,
    MemberPage,
    MemberRemove,
    Members,
    NetworkClose,
    NetworkCreate,
    NetworkInfo,
    NetworkLeave,
    PeerFound,
    Register,
    Registered,
)
from secondme.protocol.envelope import PROTOCOL_ID, SMP_1_0, Envelope, Kind
from secondme.protocol.errors import (
    MalformedFrame,
    RemoteError,
    RemoteProtocolError,
    UnknownMessageType,
)
from secondme.protocol.fields import InvalidField
from secondme.protocol.identity import Identity
from secondme.protocol.invites import MAX_NETWORK_NAME, MAX_TOKEN_BYTES
from secondme.protocol.messages import (
    CORE_MESSAGES,
    ErrorCode,
    ErrorMessage,
    Hello,
    HelloResponse,
    Message,
    Ping,
    Pong,
    Request,
    Response,
)
from secondme.protocol.records import MAX_RECORD_SIZE
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.wire import pack_canonical, unpack_strict

ALICE = Identity.from_seed(bytes([1]) * 32)
SERVER = Identity.from_seed(bytes([9]) * 32)
PEER = str(ALICE.peer_id)
NET = "0123456789abcdef0123456789abcdef"
INVITE_ID = "fedcba9876543210fedcba9876543210"
RECORD = b"\x88" + bytes(100)  # opaque here: records are checked by whoever reads them
NOW = 1_700_000_000_000
UINT64_MAX = 2**64 - 1

MESSAGES: list[Message] = [
    NetworkCreate(network=NET, name="Book club"),
    Join(token="smi1" + "A" * 100, record=RECORD),
    Register(record=RECORD),
    Members(network=NET),
    Members(network=NET, after=PEER, limit=1),
    Lookup(peer=PEER),
    MemberRemove(network=NET, peer=PEER),
    InviteRevoke(network=NET, invite_id=INVITE_ID, expires_ms=NOW),
    NetworkLeave(network=NET),
    NetworkClose(network=NET),
    Done(),
    NetworkInfo(network=NET, name="Book club", owner=PEER, created_ms=NOW),
    Joined(network=NET, name="Book club", owner=PEER, role="member"),
    Joined(network=NET, name="Book club", owner=PEER, role="inviter"),
    Registered(seq=1, expires_ms=NOW, networks=()),
    Registered(seq=UINT64_MAX, expires_ms=UINT64_MAX, networks=(NET,) * 1024),
    MemberPage(members=()),
    MemberPage(
        members=(
            Member(peer=PEER, role="owner", joined_ms=NOW, record=RECORD),
            Member(peer=PEER, role="member", joined_ms=0),
            Member(peer=PEER, role="inviter", joined_ms=UINT64_MAX),
        ),
        next=PEER,
    ),
    PeerFound(record=RECORD),
]
REQUIRED = {
    "disc.network.create": {"network", "name"},
    "disc.join": {"token", "record"},
    "disc.register": {"record"},
    "disc.members": {"network"},
    "disc.lookup": {"peer"},
    "disc.member.remove": {"network", "peer"},
    "disc.invite.revoke": {"network", "invite_id", "expires_ms"},
    "disc.network.leave": {"network"},
    "disc.network.close": {"network"},
    "disc.done": set(),
    "disc.network": {"network", "name", "owner", "created_ms"},
    "disc.joined": {"network", "name", "owner", "role"},
    "disc.registered": {"seq", "expires_ms", "networks"},
    "disc.member.page": {"members"},
    "disc.peer": {"record"},
}
OPTIONAL = {"disc.members": {"after", "limit"}, "disc.member.page": {"next"}}


def ids(messages: list[Message]) -> list[str]:
    return [f"{m.TYPE}-{i}" for i, m in enumerate(messages)]


def read(message_type: type[Message], body: dict[str, Any]) -> Message:
    """Read ``body`` as a peer's body: through the strict msgpack reader first."""
    return message_type.from_body(unpack_strict(pack_canonical(body)))


# Round trips


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_body_round_trip(message: Message) -> None:
    assert type(message).from_body(message.to_body()) == message
    assert read(type(message), message.to_body()) == message


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_the_registry_reads_an_envelope_of_each_type(message: Message) -> None:
    envelope = Envelope.sign(
        ALICE,
        version=SMP_1_0,
        message_type=message.TYPE,
        request_id=7,
        kind=message.KIND,
        timestamp_ms=NOW,
        nonce=bytes(16),
        grant=None,
        body=message.to_body(),
    )
    assert DISCOVERY_MESSAGES.parse(envelope) == message


def test_members_limit_defaults_to_a_full_page_and_is_always_written() -> None:
    assert Members.from_body({"network": NET}) == Members(network=NET, limit=DEFAULT_PAGE)
    assert DEFAULT_PAGE == MAX_PAGE == 1000
    assert Members(network=NET).to_body() == {"network": NET, "limit": 1000}


def test_member_without_record_leaves_the_key_out() -> None:
    assert Member(peer=PEER, role="member", joined_ms=1).to_wire() == {
        "peer": PEER,
        "role": "member",
        "joined_ms": 1,
    }
    assert MemberPage(members=()).to_body() == {"members": []}


# Keys


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_an_unknown_key_is_malformed(message: Message) -> None:
    with pytest.raises(MalformedFrame):
        read(type(message), {**message.to_body(), "extra": 1})


@pytest.mark.parametrize("message", MESSAGES, ids=ids(MESSAGES))
def test_a_missing_required_key_is_malformed_and_an_optional_one_may_go(message: Message) -> None:
    body = message.to_body()
    assert REQUIRED[message.TYPE] <= set(body)
    assert set(body) <= REQUIRED[message.TYPE] | OPTIONAL.get(message.TYPE, set())
    for key in body:
        less = {k: v for k, v in body.items() if k != key}
        if key in REQUIRED[message.TYPE]:
            with pytest.raises(MalformedFrame):
                read(type(message), less)
        else:
            read(type(message), less)


@pytest.mark.parametrize(
    ("message_type", "body"),
    [
        (Members, {"network": NET, "after": None}),
        (Members, {"network": NET, "limit": None}),
        (MemberPage, {"members": [], "next": None}),
        (
            MemberPage,
            {"members": [{"peer": PEER, "role": "member", "joined_ms": 1, "record": None}]},
        ),
    ],
)
def test_an_optional_key_that_is_nil_is_malformed(
    message_type: type[Message], body: dict[str, Any]
) -> None:
    with pytest.raises(MalformedFrame):
        read(message_type, body)


@pytest.mark.parametrize(
    "member",
    [
        "not a map",
        [PEER, "member", 1],
        {"peer": PEER, "role": "member"},
        {"peer": PEER, "role": "member", "joined_ms": 1, "name": "x"},
        {"peer": PEER, "role": "admin", "joined_ms": 1},
        {"peer": "not a peer", "role": "member", "joined_ms": 1},
        {"peer": PEER, "role": "member", "joined_ms": -1},
        {"peer": PEER, "role": "member", "joined_ms": 1, "record": b""},
        {"peer": PEER, "role": "member", "joined_ms": 1, "record": "r"},
    ],
)
def test_a_bad_member_makes_the_page_malformed(member: Any) -> None:
    with pytest.raises(MalformedFrame):
        read(MemberPage, {"members": [member]})


# Limits: (type, fields of a valid one, field, value at the edge, value beyond it)

TAIL = PEER[-40:]  # 40 base58 characters: the shortest peer string the pattern allows
LIMITS = [
    (NetworkCreate, {"network": NET, "name": "n"}, "name", "n" * MAX_NETWORK_NAME, ""),
    (NetworkCreate, {"network": NET, "name": "n"}, "name", "ñ" * 32, "n" * 65),
    (NetworkCreate, {"network": NET, "name": "n"}, "network", NET, NET.upper()),
    (NetworkCreate, {"network": NET, "name": "n"}, "network", NET, NET[:-1]),
    (NetworkCreate, {"network": NET, "name": "n"}, "network", NET, NET + "0"),
    (Join, {"token": "t", "record": RECORD}, "token", "t" * MAX_TOKEN_BYTES, ""),
    (Join, {"token": "t", "record": RECORD}, "token", "t", "t" * (MAX_TOKEN_BYTES + 1)),
    (Join, {"token": "t", "record": RECORD}, "record", bytes(MAX_RECORD_SIZE), b""),
    (Join, {"token": "t", "record": RECORD}, "record", b"r", bytes(MAX_RECORD_SIZE + 1)),
    (Join, {"token": "t", "record": RECORD}, "record", b"r", "r"),
    (Register, {"record": RECORD}, "record", bytes(MAX_RECORD_SIZE), bytes(MAX_RECORD_SIZE + 1)),
    (Register, {"record": RECORD}, "record", b"r", b""),
    (Members, {"network": NET}, "limit", MAX_PAGE, MAX_PAGE + 1),
    (Members, {"network": NET}, "limit", 1, 0),
    (Members, {"network": NET}, "limit", 1, True),
    (Members, {"network": NET}, "after", TAIL, TAIL[1:]),
    (Members, {"network": NET}, "after", "1" + "z" * 63, "1" + "z" * 64),
    (Members, {"network": NET}, "after", PEER, PEER.replace(PEER[5], "0")),
    (Lookup, {"peer": PEER}, "peer", PEER, PEER + "/"),
    (Lookup, {"peer": PEER}, "peer", PEER, PEER.replace(PEER[5], "l")),
    (MemberRemove, {"network": NET, "peer": PEER}, "peer", PEER, ""),
    (MemberRemove, {"network": NET, "peer": PEER}, "network", NET, ""),
    (
        InviteRevoke,
        {"network": NET, "invite_id": INVITE_ID, "expires_ms": 0},
        "invite_id",
        INVITE_ID,
        "x",
    ),
    (
        InviteRevoke,
        {"network": NET, "invite_id": INVITE_ID, "expires_ms": 0},
        "expires_ms",
        UINT64_MAX,
        -1,
    ),
    (NetworkLeave, {"network": NET}, "network", NET, 1),
    (NetworkClose, {"network": NET}, "network", NET, NET.encode()),
    (
        NetworkInfo,
        {"network": NET, "name": "n", "owner": PEER, "created_ms": 0},
        "created_ms",
        UINT64_MAX,
        -1,
    ),
    (
        NetworkInfo,
        {"network": NET, "name": "n", "owner": PEER, "created_ms": 0},
        "owner",
        PEER,
        "o",
    ),
    (NetworkInfo, {"network": NET, "name": "n", "owner": PEER, "created_ms": 0}, "name", "n", ""),
    (
        Joined,
        {"network": NET, "name": "n", "owner": PEER, "role": "member"},
        "role",
        "owner",
        "admin",
    ),
    (
        Joined,
        {"network": NET, "name": "n", "owner": PEER, "role": "member"},
        "name",
        "n" * 64,
        "n" * 65,
    ),
    (Registered, {"seq": 0, "expires_ms": 0, "networks": ()}, "seq", UINT64_MAX, -1),
    (Registered, {"seq": 0, "expires_ms": 0, "networks": ()}, "expires_ms", 0, "0"),
    (
        Registered,
        {"seq": 0, "expires_ms": 0, "networks": ()},
        "networks",
        (NET,) * 1024,
        (NET,) * 1025,
    ),
    (Registered, {"seq": 0, "expires_ms": 0, "networks": ()}, "networks", (NET,), ("x",)),
    (MemberPage, {"members": ()}, "next", PEER, "next"),
    (
        MemberPage,
        {"members": ()},
        "members",
        (Member(peer=PEER, role="member", joined_ms=0),) * MAX_PAGE,
        (Member(peer=PEER, role="member", joined_ms=0),) * (MAX_PAGE + 1),
    ),
    (PeerFound, {"record": RECORD}, "record", bytes(MAX_RECORD_SIZE), bytes(MAX_RECORD_SIZE + 1)),
]


def body_of(message_type: type[Message], fields: dict[str, Any]) -> dict[str, Any]:
    """The body a message with ``fields`` would have, built without the class's checks."""
    body = dict(fields)
    for key, value in fields.items():
        if isinstance(value, tuple):
            body[key] = [m.to_wire() if isinstance(m, Member) else m for m in value]
    if message_type is Members and "limit" not in body:
        body["limit"] = DEFAULT_PAGE
    return body


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
        read(message_type, body_of(message_type, fields | {key: beyond}))


# The registry


def discovery_classes() -> list[type[Message]]:
    return [
        value
        for value in vars(discovery).values()
        if isinstance(value, type)
        and issubclass(value, Message)
        and dataclasses.is_dataclass(value)
        and isinstance(getattr(value, "TYPE", None), str)
        and value.TYPE.startswith("disc.")
    ]


def test_every_discovery_type_is_registered_and_every_request_answered() -> None:
    classes = discovery_classes()
    requests = [cls for cls in classes if issubclass(cls, Request)]
    responses = [cls for cls in classes if issubclass(cls, Response)]
    assert len(requests) == 9 and len(responses) == 6
    for cls in classes:
        assert cls in DISCOVERY_MESSAGES, cls
        assert DISCOVERY_MESSAGES.lookup(cls.KIND, cls.TYPE) is cls
    for cls in requests:
        assert cls.RESPONSE in DISCOVERY_MESSAGES
        assert cls.RESPONSE.KIND is Kind.RESPONSE
        assert cls.PART is None  # nothing in discovery is streamed
    assert {cls.RESPONSE for cls in requests} == set(responses)


def test_discovery_types_are_apart_from_smp_types() -> None:
    for cls in discovery_classes():
        assert cls not in CORE_MESSAGES
        assert cls not in ACCESS_MESSAGES
    for cls in (Ping, Pong, Hello, HelloResponse, ErrorMessage):
        assert cls in DISCOVERY_MESSAGES
    assert DISCOVERY_PROTOCOL_ID == "/secondme/discovery/1.0.0" != PROTOCOL_ID


def test_an_smp_type_is_unknown_to_a_discovery_server() -> None:
    with pytest.raises(UnknownMessageType):
        DISCOVERY_MESSAGES.lookup(Kind.REQUEST, "ask")
    with pytest.raises(UnknownMessageType):
        CORE_MESSAGES.lookup(Kind.REQUEST, "disc.join")


_CODES = list(ErrorCode)
DISCOVERY_CODES = _CODES[
    _CODES.index(ErrorCode.INVITE_MALFORMED) : _CODES.index(ErrorCode.UNKNOWN_GROUP)
]


def test_every_discovery_code_has_one_refusal_and_the_endpoint_sends_it() -> None:
    classes = {
        value
        for value in vars(discovery).values()
        if isinstance(value, type) and issubclass(value, RemoteProtocolError)
    }
    by_code: dict[str, list[type]] = {}
    for cls in classes:
        by_code.setdefault(cls.code, []).append(cls)
    assert len(DISCOVERY_CODES) == 15
    clock = ManualClock(NOW)
    server = SmpEndpoint(SERVER, clock, ReplayWindow(clock), registry=DISCOVERY_MESSAGES)
    counter = iter(range(1, 1000))
    client = SmpEndpoint(
        ALICE,
        clock,
        ReplayWindow(clock),
        registry=DISCOVERY_MESSAGES,
        random_bytes=lambda size: next(counter).to_bytes(size, "big"),
    )
    for code in DISCOVERY_CODES:
        assert len(by_code[code.value]) == 1, code
        refusal = by_code[code.value][0]
        outgoing = client.request(NetworkLeave(network=NET))
        incoming = server.receive_request(ALICE.peer_id, outgoing.payload)
        frame = server.respond_error(incoming, refusal("refused"))
        with pytest.raises(RemoteError) as caught:
            client.receive_response(SERVER.peer_id, outgoing, frame)
        assert caught.value.code == code.value
