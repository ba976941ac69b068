import dataclasses
from typing import ClassVar

import pytest

from secondme.protocol.envelope import SMP_1_0, Envelope, Kind, Version
from secondme.protocol.errors import (
    MalformedFrame,
    RateLimited,
    RemoteError,
    StaleMessage,
    UnknownMessageType,
)
from secondme.protocol.fields import InvalidField, check_bytes
from secondme.protocol.identity import Identity
from secondme.protocol.messages import (
    CORE_MESSAGES,
    MAX_ERROR_MESSAGE,
    MAX_PING_PAYLOAD,
    MAX_PROFILE_FIELDS,
    ErrorCode,
    ErrorMessage,
    Hello,
    HelloResponse,
    MessageRegistry,
    Ping,
    Pong,
    Request,
    Response,
)

HELLO_RESPONSE = HelloResponse(
    display_name="Bob",
    versions=(SMP_1_0, Version(major=1, minor=2)),
    profile={"city": "Lisbon"},
    agent="secondme-node/0.1.0",
)
MESSAGES = [
    Ping(),
    Ping(payload=b""),
    Ping(payload=bytes(MAX_PING_PAYLOAD)),
    Pong(payload=b"x"),
    Hello(),
    Hello(display_name="Zoë", versions=(SMP_1_0,)),
    HELLO_RESPONSE,
    HelloResponse(display_name="", versions=(SMP_1_0,), agent="a"),
    ErrorMessage(code="busy", message="later", retry_after_ms=10),
    ErrorMessage(code="internal"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=repr)
def test_body_round_trip(message):
    assert type(message).from_body(message.to_body()) == message


@pytest.mark.parametrize("message", MESSAGES, ids=repr)
def test_registry_parses_an_envelope_of_each_type(message):
    envelope = Envelope.sign(
        Identity.from_seed(bytes(32)),
        version=SMP_1_0,
        message_type=message.TYPE,
        request_id=1,
        kind=message.KIND,
        timestamp_ms=0,
        nonce=bytes(16),
        grant=None,
        body=message.to_body(),
    )
    assert CORE_MESSAGES.parse(envelope) == message


@pytest.mark.parametrize(
    ("cls", "body"),
    [
        (Ping, {"payload": bytes(MAX_PING_PAYLOAD + 1)}),
        (Ping, {"payload": "text"}),
        (Ping, {"payload": None}),
        (Ping, {"other": b""}),
        (Pong, {"payload": 1}),
        (Hello, {"display_name": "x" * 129}),
        (Hello, {"versions": []}),
        (Hello, {"versions": ["1"]}),
        (Hello, {"versions": "1.0"}),
        (Hello, {"versions": ["1.0"] * 17}),
        (HelloResponse, {"display_name": "b", "versions": ["1.0"], "profile": {}}),
        (HelloResponse, {"display_name": "b", "versions": ["1.0"], "profile": [], "agent": "a"}),
        (
            HelloResponse,
            {"display_name": "b", "versions": ["1.0"], "profile": {"": "x"}, "agent": "a"},
        ),
        (
            HelloResponse,
            {"display_name": "b", "versions": ["1.0"], "profile": {"k": 1}, "agent": "a"},
        ),
        (HelloResponse, {"display_name": "b", "versions": ["1.0"], "profile": {}, "agent": ""}),
        (ErrorMessage, {"code": "Bad", "message": ""}),
        (ErrorMessage, {"code": "", "message": ""}),
        (ErrorMessage, {"code": "x" * 33, "message": ""}),
        (ErrorMessage, {"code": "internal"}),
        (ErrorMessage, {"code": "internal", "message": "é" * 513}),
        (ErrorMessage, {"code": "busy", "message": "", "retry_after_ms": -1}),
        (ErrorMessage, {"code": "busy", "message": "", "retry_after_ms": 2**32}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else repr(value)[:40],
)
def test_bad_bodies_are_malformed(cls, body):
    with pytest.raises(MalformedFrame):
        cls.from_body(body)


def test_profile_limits():
    too_many = {f"k{i}": "v" for i in range(MAX_PROFILE_FIELDS + 1)}
    with pytest.raises(InvalidField):
        dataclasses.replace(HELLO_RESPONSE, profile=too_many)
    with pytest.raises(InvalidField):
        dataclasses.replace(HELLO_RESPONSE, profile={"k": "v" * 1025})


def test_profile_is_a_read_only_copy():
    profile = {"city": "Lisbon"}
    message = dataclasses.replace(HELLO_RESPONSE, profile=profile)
    profile["city"] = "Porto"
    assert message.profile["city"] == "Lisbon"
    with pytest.raises(TypeError):
        message.profile["city"] = "Porto"  # type: ignore[index]


def test_construction_checks_invariants():
    with pytest.raises(InvalidField):
        Ping(payload=bytes(MAX_PING_PAYLOAD + 1))
    with pytest.raises(InvalidField):
        Hello(versions=("1.0",))  # type: ignore[arg-type]
    with pytest.raises(InvalidField):
        ErrorMessage(code="has spaces", message="")


def test_messages_are_frozen_slotted_and_keyword_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Ping().payload = b""  # type: ignore[misc]
    assert not hasattr(Ping(), "__dict__")
    with pytest.raises(TypeError):
        Ping(b"")  # type: ignore[misc]


def test_ping_answer_echoes_payload():
    assert Ping(payload=b"abc").answer() == Pong(payload=b"abc")


def test_error_from_exception_keeps_code_and_retry_and_cuts_the_message():
    error = ErrorMessage.from_exception(RateLimited("é" * 600, retry_after_ms=250))
    assert error.code == "rate_limited" and error.retry_after_ms == 250
    assert len(error.message.encode()) == MAX_ERROR_MESSAGE  # cut between characters
    assert ErrorMessage.from_exception(StaleMessage("old")).retry_after_ms is None


def test_error_registry_and_remote_exception():
    assert ErrorMessage(code="stale").is_registered
    assert not ErrorMessage(code="from_the_future").is_registered
    assert {code.value for code in ErrorCode} >= {"malformed", "replayed", "unauthorized"}
    remote = ErrorMessage(code="busy", message="full", retry_after_ms=5).to_exception()
    assert isinstance(remote, RemoteError)
    assert (remote.code, remote.message, remote.retry_after_ms) == ("busy", "full", 5)
    assert str(remote) == "busy: full"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EchoReply(Response):
    TYPE: ClassVar[str] = "test/echo"
    text: str

    def __post_init__(self):
        check_bytes("text", self.text.encode(), max_len=10)

    def to_body(self):
        return {"text": self.text}

    @classmethod
    def from_body(cls, body):
        return cls(text=body["text"])


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Echo(Request):
    TYPE: ClassVar[str] = "test/echo"
    RESPONSE: ClassVar[type[Response]] = EchoReply
    text: str

    def to_body(self):
        return {"text": self.text}

    @classmethod
    def from_body(cls, body):
        return cls(text=body["text"])


def test_registry_is_extended_without_changing_the_original():
    extended = CORE_MESSAGES.extended(Echo, EchoReply)
    assert extended.lookup(Kind.REQUEST, "test/echo") is Echo
    assert Echo in extended and Echo not in CORE_MESSAGES
    with pytest.raises(UnknownMessageType):
        CORE_MESSAGES.lookup(Kind.REQUEST, "test/echo")


def test_registry_refuses_inconsistent_sets():
    with pytest.raises(ValueError, match="twice"):
        CORE_MESSAGES.extended(Ping)
    with pytest.raises(ValueError, match="unregistered"):
        MessageRegistry([Echo])


def test_unknown_kind_and_type_pairs():
    with pytest.raises(UnknownMessageType):
        CORE_MESSAGES.lookup(Kind.REQUEST, "pong")
    with pytest.raises(UnknownMessageType):
        CORE_MESSAGES.lookup(Kind.RESPONSE, "ping")
    assert CORE_MESSAGES.lookup(Kind.RESPONSE, "hello") is HelloResponse
    assert CORE_MESSAGES.lookup(Kind.REQUEST, "hello") is Hello
