import dataclasses

import msgpack
import pytest

from secondme.protocol.envelope import (
    MAX_GRANT_SIZE,
    SIGNING_CONTEXT,
    SMP_1_0,
    Envelope,
    Kind,
    Version,
    decode_envelope,
)
from secondme.protocol.errors import (
    FrameTooLarge,
    InvalidSignature,
    LocalProtocolError,
    MalformedFrame,
    UnsupportedVersion,
)
from secondme.protocol.fields import InvalidField
from secondme.protocol.framing import MAX_FRAME_SIZE
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.wire import MAX_DEPTH, pack_canonical

ALICE = Identity.from_seed(bytes([1]) * 32)
BOB = Identity.from_seed(bytes([2]) * 32)

FIELDS = dict(
    version=SMP_1_0,
    message_type="ping",
    request_id=42,
    kind=Kind.REQUEST,
    timestamp_ms=1_700_000_000_000,
    nonce=bytes(range(16)),
    grant=b"grant",
    body={"payload": b"hi", "list": [1, "two", None, True]},
)


def signed(**changes):
    return Envelope.sign(ALICE, **{**FIELDS, **changes})


def test_round_trip_through_bytes():
    envelope = signed()
    decoded = decode_envelope(envelope.encode())
    assert decoded == envelope
    decoded.verify(ALICE.peer_id)


def test_signing_bytes_are_the_canonical_array():
    envelope = signed()
    expected = pack_canonical(
        [
            SIGNING_CONTEXT,
            1,
            0,
            "ping",
            42,
            "request",
            FIELDS["timestamp_ms"],
            FIELDS["nonce"],
            b"grant",
            FIELDS["body"],
        ]
    )
    assert envelope.signing_bytes() == expected


def test_wire_keys():
    wire = msgpack.unpackb(signed().encode(), raw=False)
    assert list(wire) == sorted(["v", "t", "id", "k", "ts", "n", "g", "b", "s"])
    assert wire["v"] == [1, 0] and wire["k"] == "request" and len(wire["s"]) == 64


def test_another_peer_does_not_verify():
    with pytest.raises(InvalidSignature):
        signed().verify(BOB.peer_id)


def test_a_peer_id_without_an_ed25519_key_does_not_verify():
    sha256_peer = PeerId(bytes([0x12, 0x20]) + bytes(32))
    with pytest.raises(InvalidSignature):
        signed().verify(sha256_peer)


def test_any_changed_field_breaks_the_signature():
    envelope = signed()
    for change in [
        {"message_type": "pong"},
        {"request_id": 43},
        {"timestamp_ms": 1},
        {"nonce": bytes(16)},
        {"grant": None},
        {"body": {}},
        {"version": Version(major=1, minor=1)},
    ]:
        with pytest.raises(InvalidSignature):
            dataclasses.replace(envelope, **change).verify(ALICE.peer_id)


@pytest.mark.parametrize(
    "change",
    [
        {"version": (1, 0)},
        {"version": Version(major=2, minor=0)},
        {"message_type": ""},
        {"message_type": "Ping"},
        {"message_type": "a" * 65},
        {"request_id": -1},
        {"request_id": 2**64},
        {"request_id": True},
        {"request_id": None},
        {"kind": "request"},
        {"timestamp_ms": 1.0},
        {"nonce": bytes(15)},
        {"nonce": bytearray(16)},
        {"grant": b""},
        {"grant": bytes(MAX_GRANT_SIZE + 1)},
        {"grant": b"g", "kind": Kind.RESPONSE},
        {"body": []},
        {"body": {1: 2}},
    ],
    ids=repr,
)
def test_invariants(change):
    with pytest.raises(InvalidField):
        signed(**change)


def test_an_error_may_have_no_request_id():
    envelope = signed(kind=Kind.ERROR, message_type="error", request_id=None, grant=None)
    assert decode_envelope(envelope.encode()).request_id is None


def test_body_is_read_only():
    with pytest.raises(TypeError):
        signed().body["x"] = 1  # type: ignore[index]


def test_encode_refuses_what_a_peer_would_refuse():
    with pytest.raises(LocalProtocolError, match="exceeds"):
        signed(body={"payload": bytes(MAX_FRAME_SIZE)}).encode()
    deep: list = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(LocalProtocolError, match="refuse"):
        signed(body={"deep": deep}).encode()
    with pytest.raises(InvalidField, match="float"):
        signed(body={"x": 1.5})


def wire_of(envelope, **changes):
    wire = envelope.to_wire()
    wire.update(changes)
    return msgpack.packb(wire, use_bin_type=True)


def test_decode_refuses_unknown_and_missing_keys():
    with pytest.raises(MalformedFrame, match="unknown"):
        decode_envelope(wire_of(signed(), extra=1))
    wire = signed().to_wire()
    del wire["n"]
    with pytest.raises(MalformedFrame, match="lacks n"):
        decode_envelope(msgpack.packb(wire, use_bin_type=True))
    del wire["v"]
    with pytest.raises(MalformedFrame, match="lacks v"):
        decode_envelope(msgpack.packb(wire, use_bin_type=True))


@pytest.mark.parametrize(
    "change",
    [{"v": [1]}, {"v": [1, "0"]}, {"v": "1.0"}, {"k": "notify"}, {"k": 1}, {"ts": "now"}],
    ids=repr,
)
def test_decode_refuses_wrong_types(change):
    with pytest.raises(MalformedFrame):
        decode_envelope(wire_of(signed(), **change))


def test_decode_checks_the_major_version_first():
    with pytest.raises(UnsupportedVersion):
        decode_envelope(wire_of(signed(), v=[2, 0], extra=1))


def test_decode_refuses_a_non_map():
    with pytest.raises(MalformedFrame, match="map"):
        decode_envelope(msgpack.packb([1, 2]))


def test_decode_refuses_oversized_payload():
    with pytest.raises(FrameTooLarge):
        decode_envelope(bytes(MAX_FRAME_SIZE + 1))


def test_versions_parse_print_and_order():
    assert Version.parse("1.10") == Version(major=1, minor=10)
    assert str(Version(major=2, minor=3)) == "2.3"
    assert Version(major=1, minor=2) < Version(major=1, minor=10) < Version(major=2, minor=0)
    for text in ["1", "1.0.0", "01.0", "a.b", "1.100000", " 1.0"]:
        with pytest.raises(InvalidField):
            Version.parse(text)


def test_wire_types_are_frozen_slotted_and_keyword_only():
    envelope = signed()
    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.request_id = 1  # type: ignore[misc]
    assert not hasattr(envelope, "__dict__")
    with pytest.raises(TypeError):
        Version(1, 0)  # type: ignore[misc]
