"""Signed peer records: they round-trip byte for byte, every limit holds both when one is made
and when one is read, and no change to a record's bytes leaves a valid record."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secondme.protocol.errors import MalformedFrame
from secondme.protocol.fields import InvalidField
from secondme.protocol.identity import Identity, verify
from secondme.protocol.messages import (
    MAX_DISPLAY_NAME,
    MAX_PROFILE_FIELDS,
    MAX_PROFILE_KEY,
    MAX_PROFILE_VALUE,
)
from secondme.protocol.records import (
    MAX_ADDR_LEN,
    MAX_ADDRS,
    MAX_RECORD_SIZE,
    RECORD_CONTEXT,
    PeerRecord,
    RecordInvalid,
)
from secondme.protocol.signed import sign_map, signing_bytes
from secondme.protocol.wire import pack_canonical, unpack_strict

ALICE = Identity.from_seed(bytes([1]) * 32)
CAROL = Identity.from_seed(bytes([3]) * 32)
NOW = 1_700_000_000_000
NET = "0123456789abcdef0123456789abcdef"
UINT64_MAX = 2**64 - 1


def addr(identity: Identity = ALICE, base: str = "/ip4/192.0.2.1/tcp/4001") -> str:
    return f"{base}/p2p/{identity.peer_id}"


def long_addr(length: int, index: int = 0, identity: Identity = ALICE) -> str:
    tail = f"{index}.example.org/tcp/4001/p2p/{identity.peer_id}"
    return "/dns4/" + "a" * (length - 6 - len(tail)) + tail


def make(**overrides: Any) -> PeerRecord:
    fields: dict[str, Any] = {
        "addrs": (addr(),),
        "display_name": "Alice",
        "profile": {"city": "Lisbon"},
        "seq": 1,
        "expires_ms": NOW,
    }
    return PeerRecord.sign(ALICE, **(fields | overrides))


GOOD = make()
WIRE = unpack_strict(GOOD.encoded)
FIELDS = {key: value for key, value in WIRE.items() if key != "s"}


def resigned(signer: Identity = ALICE, **changes: Any) -> bytes:
    """A good record's wire map with ``changes``, signed again: its one defect is the change."""
    return sign_map(signer, RECORD_CONTEXT, {**FIELDS, **changes})


def refused(data: bytes) -> str:
    with pytest.raises(RecordInvalid) as caught:
        PeerRecord.decode(data)
    return caught.value.message


# Round trips


def test_round_trip() -> None:
    record = PeerRecord.decode(GOOD.encoded)
    assert record == GOOD
    assert record.encoded == GOOD.encoded
    assert record.peer == ALICE.peer_id
    assert dict(record.profile) == {"city": "Lisbon"}


def test_encoding_is_canonical_and_signed_under_the_record_context() -> None:
    assert GOOD.encoded == pack_canonical(WIRE)
    assert list(WIRE) == ["addrs", "exp", "name", "peer", "profile", "s", "seq"]
    assert GOOD.encoded[0] == 0x87
    verify(ALICE.public_key, RECORD_CONTEXT + pack_canonical(FIELDS), WIRE["s"])
    assert signing_bytes(RECORD_CONTEXT, FIELDS) == RECORD_CONTEXT + pack_canonical(FIELDS)


def test_signing_again_gives_the_same_bytes_and_records_compare_by_fields() -> None:
    assert make().encoded == GOOD.encoded
    assert make(seq=2) != GOOD
    assert make(seq=2).encoded != GOOD.encoded


def test_an_empty_record_and_one_at_every_limit_round_trip() -> None:
    small = make(display_name="", profile={}, seq=0, expires_ms=0)
    assert PeerRecord.decode(small.encoded) == small
    big = PeerRecord.sign(
        ALICE,
        addrs=tuple(long_addr(MAX_ADDR_LEN, i) for i in range(MAX_ADDRS)),
        display_name="é" * (MAX_DISPLAY_NAME // 2),
        profile={f"k{i}".ljust(MAX_PROFILE_KEY, "_"): "v" * 300 for i in range(MAX_PROFILE_FIELDS)},
        seq=UINT64_MAX,
        expires_ms=UINT64_MAX,
    )
    assert len(big.encoded) <= MAX_RECORD_SIZE
    assert PeerRecord.decode(big.encoded) == big


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(min_value=1, max_value=65535), min_size=1, max_size=8),
    st.text(max_size=MAX_DISPLAY_NAME // 4),
    st.dictionaries(st.text(min_size=1, max_size=16), st.text(max_size=32), max_size=4),
    st.integers(min_value=0, max_value=UINT64_MAX),
    st.integers(min_value=0, max_value=UINT64_MAX),
)
def test_whatever_is_signed_decodes_as_it_was(
    ports: list[int],
    name: str,
    profile: dict[str, str],
    seq: int,
    exp: int,
) -> None:
    bases = [f"/ip4/192.0.2.1/tcp/{port}" for port in ports]
    addrs = tuple(dict.fromkeys(addr(base=base) for base in bases))
    record = PeerRecord.sign(
        ALICE,
        addrs=addrs,
        display_name=name,
        profile=profile,
        seq=seq,
        expires_ms=exp,
    )
    decoded = PeerRecord.decode(record.encoded)
    assert decoded == record
    assert decoded.encoded == record.encoded
    assert (decoded.addrs, decoded.display_name, dict(decoded.profile)) == (addrs, name, profile)


# Limits: each at its edge is accepted, one beyond is refused, when made and when read

LIMITS = [
    # (name, field, value at the limit, value beyond it)
    ("addrs count", "addrs", tuple(addr(base=f"/ip4/192.0.2.{i}/tcp/1") for i in range(8)), None),
    ("addr length", "addrs", (long_addr(MAX_ADDR_LEN),), (long_addr(MAX_ADDR_LEN + 1),)),
    ("display name", "display_name", "n" * MAX_DISPLAY_NAME, "n" * (MAX_DISPLAY_NAME + 1)),
    (
        "display name in UTF-8 bytes",
        "display_name",
        "é" * (MAX_DISPLAY_NAME // 2),
        "é" * (MAX_DISPLAY_NAME // 2) + "n",
    ),
    (
        "profile fields",
        "profile",
        {f"k{i}": "" for i in range(MAX_PROFILE_FIELDS)},
        {f"k{i}": "" for i in range(MAX_PROFILE_FIELDS + 1)},
    ),
    (
        "profile key",
        "profile",
        {"k" * MAX_PROFILE_KEY: "v"},
        {"k" * (MAX_PROFILE_KEY + 1): "v"},
    ),
    (
        "profile value",
        "profile",
        {"bio": "b" * MAX_PROFILE_VALUE},
        {"bio": "b" * (MAX_PROFILE_VALUE + 1)},
    ),
    ("seq", "seq", UINT64_MAX, None),
    ("expiry", "expires_ms", UINT64_MAX, None),
]
WIRE_KEY = {
    "addrs": "addrs",
    "display_name": "name",
    "profile": "profile",
    "seq": "seq",
    "expires_ms": "exp",
}


def wire_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(("name", "field", "edge", "beyond"), LIMITS, ids=[x[0] for x in LIMITS])
def test_limit_at_its_edge(name: str, field: str, edge: Any, beyond: Any) -> None:
    record = make(**{field: edge})
    assert PeerRecord.decode(record.encoded) == record
    assert PeerRecord.decode(resigned(**{WIRE_KEY[field]: wire_value(edge)})) == record


BEYOND = [
    ("too many addrs", "addrs", tuple(addr(base=f"/ip4/192.0.2.{i}/tcp/1") for i in range(9))),
    ("no addrs", "addrs", ()),
    ("addr too long", "addrs", (long_addr(MAX_ADDR_LEN + 1),)),
    ("addr of another peer", "addrs", (addr(), addr(CAROL))),
    ("addr without /p2p/", "addrs", ("/ip4/192.0.2.1/tcp/4001",)),
    ("addr only /p2p/", "addrs", (f"/p2p/{ALICE.peer_id}",)),
    ("addr with /p2p/ of the peer inside", "addrs", (f"/p2p/{ALICE.peer_id}/tcp/1",)),
    ("addr not starting with /", "addrs", (f"ip4/1.2.3.4/p2p/{ALICE.peer_id}",)),
    ("addr with a space", "addrs", (addr(base="/dns4/a b/tcp/1"),)),
    ("addr empty", "addrs", ("",)),
    ("addr repeated", "addrs", (addr(), addr())),
    ("display name", "display_name", "n" * (MAX_DISPLAY_NAME + 1)),
    ("profile fields", "profile", {f"k{i}": "" for i in range(MAX_PROFILE_FIELDS + 1)}),
    ("profile key", "profile", {"k" * (MAX_PROFILE_KEY + 1): "v"}),
    ("profile empty key", "profile", {"": "v"}),
    ("profile value", "profile", {"bio": "b" * (MAX_PROFILE_VALUE + 1)}),
    ("profile value type", "profile", {"bio": 1}),
    ("seq negative", "seq", -1),
    ("seq too large", "seq", UINT64_MAX + 1),
    ("seq bool", "seq", True),
    ("expiry negative", "expires_ms", -1),
    ("expiry as str", "expires_ms", "1"),
]


@pytest.mark.parametrize(("name", "field", "value"), BEYOND, ids=[x[0] for x in BEYOND])
def test_limit_beyond_its_edge_is_refused_when_made(name: str, field: str, value: Any) -> None:
    with pytest.raises(InvalidField):
        make(**{field: value})


READ_BEYOND = [x for x in BEYOND if x[0] != "seq too large"]  # msgpack has no such integer


@pytest.mark.parametrize(("name", "field", "value"), READ_BEYOND, ids=[x[0] for x in READ_BEYOND])
def test_limit_beyond_its_edge_is_refused_when_read(name: str, field: str, value: Any) -> None:
    refused(resigned(**{WIRE_KEY[field]: wire_value(value)}))


def test_a_record_over_16_kib_is_refused_when_made_and_when_read() -> None:
    profile = {f"k{i}".ljust(MAX_PROFILE_KEY, "_"): "v" * 900 for i in range(20)}
    with pytest.raises(InvalidField, match="above"):
        make(profile=profile)
    data = resigned(profile=profile)
    assert len(data) > MAX_RECORD_SIZE
    assert "at most" in refused(data)


def test_decode_refuses_what_is_not_bytes() -> None:
    with pytest.raises(RecordInvalid):
        PeerRecord.decode(bytearray(GOOD.encoded))  # type: ignore[arg-type]
    with pytest.raises(RecordInvalid):
        PeerRecord.decode(GOOD.encoded.hex())  # type: ignore[arg-type]


def test_record_invalid_is_malformed_with_its_own_code() -> None:
    assert issubclass(RecordInvalid, MalformedFrame)
    assert RecordInvalid.code == "record_invalid"


# Structure and signature


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty", b""),
        ("not a map", pack_canonical([1])),
        ("truncated", GOOD.encoded[:-1]),
        ("trailing byte", GOOD.encoded + b"\x00"),
        ("keys in another order", msgpack.packb({**FIELDS, "s": WIRE["s"]}, use_bin_type=True)),
        ("extra key", resigned(x=1)),
        ("no signature", pack_canonical(FIELDS)),
        ("short signature", pack_canonical({**FIELDS, "s": WIRE["s"][:63]})),
        ("long signature", pack_canonical({**FIELDS, "s": WIRE["s"] + b"\x00"})),
        ("signature as str", pack_canonical({**FIELDS, "s": "s" * 64})),
        ("nil signature", pack_canonical({**FIELDS, "s": None})),
        ("addrs as str", resigned(addrs=addr())),
        ("a network list", resigned(nets=[NET])),
        ("an empty network list", resigned(nets=[])),
        ("profile as array", resigned(profile=["a"])),
        ("peer not a peer id", resigned(peer="alice")),
        ("peer of another key", resigned(peer=str(CAROL.peer_id))),
        ("peer as bin", resigned(peer=ALICE.peer_id.multihash)),
        ("peer too long", resigned(peer="1" * 65)),
    ],
)
def test_malformed_records_are_refused(name: str, data: bytes) -> None:
    refused(data)


def test_missing_keys_are_refused() -> None:
    for key in FIELDS:
        fields = {k: v for k, v in FIELDS.items() if k != key}
        refused(sign_map(ALICE, RECORD_CONTEXT, fields))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("signed by another peer", resigned(CAROL)),
        (
            "signed under the invite context",
            pack_canonical(
                {
                    **FIELDS,
                    "s": ALICE.sign(b"secondme/discovery/1 invite\x00" + pack_canonical(FIELDS)),
                }
            ),
        ),
        (
            "context without its zero byte",
            pack_canonical(
                {**FIELDS, "s": ALICE.sign(RECORD_CONTEXT[:-1] + pack_canonical(FIELDS))}
            ),
        ),
        ("field changed after signing", pack_canonical({**WIRE, "seq": 2})),
        ("signature of zeros", pack_canonical({**FIELDS, "s": bytes(64)})),
    ],
)
def test_records_not_signed_by_their_peer_are_refused(name: str, data: bytes) -> None:
    assert "not signed" in refused(data)


def test_every_single_byte_change_is_refused() -> None:
    data = GOOD.encoded
    for position in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            changed = data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]
            refused(changed)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_no_tampering_makes_another_valid_record(data: st.DataObject) -> None:
    original = GOOD.encoded
    position = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
    value = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != original[position])
    )
    cut = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    if cut == "replace":
        tampered = original[:position] + bytes([value]) + original[position + 1 :]
    elif cut == "insert":
        tampered = original[:position] + bytes([value]) + original[position:]
    else:
        tampered = original[:position] + original[position + 1 :]
    refused(tampered)
