"""Invite tokens: one copy-pasteable string per signed invite, every limit held when one is made
and when one is read, and no edit of a token's text or bytes yields another valid token."""

from __future__ import annotations

import base64
import re
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secondme.protocol.errors import MalformedFrame, RemoteProtocolError
from secondme.protocol.fields import InvalidField
from secondme.protocol.identity import Identity, verify
from secondme.protocol.invites import (
    INVITE_CONTEXT,
    MAX_DISCOVERY_ADDRS,
    MAX_NETWORK_NAME,
    MAX_TOKEN_BYTES,
    MAX_USES,
    TOKEN_PREFIX,
    InviteForged,
    InviteMalformed,
    InviteToken,
    Role,
)
from secondme.protocol.records import RECORD_CONTEXT
from secondme.protocol.signed import sign_map
from secondme.protocol.wire import pack_canonical, unpack_strict

ALICE = Identity.from_seed(bytes([1]) * 32)
CAROL = Identity.from_seed(bytes([3]) * 32)
SERVER = Identity.from_seed(bytes([9]) * 32)
SERVER_ADDR = f"/dns4/discovery.example.org/tcp/4001/p2p/{SERVER.peer_id}"
NET = "0123456789abcdef0123456789abcdef"
INVITE_ID = "fedcba9876543210fedcba9876543210"
UINT64_MAX = 2**64 - 1


def make(**overrides: Any) -> InviteToken:
    fields: dict[str, Any] = {
        "network": NET,
        "network_name": "Book club",
        "discovery": (SERVER_ADDR,),
        "role": Role.MEMBER,
        "uses": 1,
        "expires_ms": 1_700_000_000_000,
        "invite_id": INVITE_ID,
    }
    return InviteToken.sign(ALICE, **(fields | overrides))


GOOD = make()


def token_bytes(text: str) -> bytes:
    body = text[len(TOKEN_PREFIX) :]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def token_text(data: bytes) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


DATA = token_bytes(GOOD.text)
WIRE = unpack_strict(DATA)
FIELDS = {key: value for key, value in WIRE.items() if key != "s"}


def resigned(signer: Identity = ALICE, **changes: Any) -> str:
    return token_text(sign_map(signer, INVITE_CONTEXT, {**FIELDS, **changes}))


def refused(text: str, error: type[RemoteProtocolError] = InviteMalformed) -> str:
    with pytest.raises(error) as caught:
        InviteToken.parse(text)
    return caught.value.message


# Round trips and the text form


def test_round_trip() -> None:
    token = InviteToken.parse(GOOD.text)
    assert token == GOOD
    assert token.text == GOOD.text
    assert token.issuer == ALICE.peer_id
    assert token.role is Role.MEMBER
    assert token.discovery_peers == (SERVER.peer_id,)


def test_text_is_the_prefix_and_unpadded_base64url_of_the_canonical_signed_map() -> None:
    assert re.fullmatch(r"smi1[A-Za-z0-9_-]+", GOOD.text)
    assert len(GOOD.text) % 4 != 1
    assert pack_canonical(WIRE) == DATA
    assert list(WIRE) == ["disc", "exp", "id", "iss", "name", "net", "role", "s", "uses"]
    verify(ALICE.public_key, INVITE_CONTEXT + pack_canonical(FIELDS), WIRE["s"])
    assert make().text == GOOD.text  # Ed25519 is deterministic


def test_whitespace_anywhere_is_ignored() -> None:
    text = GOOD.text
    pasted = (
        " \t" + text[:4] + "\n" + "\r\n".join(text[i : i + 30] for i in range(4, len(text), 30))
    )
    token = InviteToken.parse(pasted + "\n")
    assert token == GOOD
    assert token.text == GOOD.text


def test_an_inviter_token_at_every_limit_round_trips() -> None:
    token = make(
        network_name="ñ" * (MAX_NETWORK_NAME // 2),
        discovery=(SERVER_ADDR,) * MAX_DISCOVERY_ADDRS,
        role=Role.INVITER,
        uses=MAX_USES,
        expires_ms=UINT64_MAX,
    )
    assert len(token.text) <= MAX_TOKEN_BYTES
    assert InviteToken.parse(token.text) == token
    assert token.discovery_peers == (SERVER.peer_id,) * MAX_DISCOVERY_ADDRS


def test_the_token_reveals_no_member() -> None:
    assert set(WIRE) == {"net", "name", "disc", "iss", "role", "uses", "exp", "id", "s"}


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**128 - 1).map("{:032x}".format),
    st.text(min_size=1, max_size=MAX_NETWORK_NAME // 4),
    st.sampled_from([Role.MEMBER, Role.INVITER]),
    st.integers(min_value=1, max_value=MAX_USES),
    st.integers(min_value=0, max_value=UINT64_MAX),
    st.integers(min_value=0, max_value=2**128 - 1).map("{:032x}".format),
)
def test_whatever_is_signed_parses_as_it_was(
    network: str, name: str, role: Role, uses: int, exp: int, invite_id: str
) -> None:
    token = make(
        network=network,
        network_name=name,
        role=role,
        uses=uses,
        expires_ms=exp,
        invite_id=invite_id,
    )
    parsed = InviteToken.parse(token.text)
    assert parsed == token
    assert (parsed.network_name, parsed.role, parsed.uses) == (name, role, uses)


# Limits

BEYOND = [
    ("network id upper case", "network", NET.upper()),
    ("network id short", "network", NET[:31]),
    ("network name empty", "network_name", ""),
    ("network name too long", "network_name", "n" * (MAX_NETWORK_NAME + 1)),
    ("network name too long in bytes", "network_name", "ñ" * (MAX_NETWORK_NAME // 2) + "n"),
    ("no discovery address", "discovery", ()),
    ("too many discovery addresses", "discovery", (SERVER_ADDR,) * (MAX_DISCOVERY_ADDRS + 1)),
    ("discovery without /p2p/", "discovery", ("/dns4/discovery.example.org/tcp/4001",)),
    ("discovery only /p2p/", "discovery", (f"/p2p/{SERVER.peer_id}",)),
    ("discovery peer not a peer id", "discovery", ("/dns4/x/tcp/1/p2p/server",)),
    ("discovery address too long", "discovery", ("/dns4/" + "a" * 250 + SERVER_ADDR[5:],)),
    ("discovery address with a space", "discovery", (SERVER_ADDR.replace("discovery.", "a b."),)),
    ("uses zero", "uses", 0),
    ("uses too many", "uses", MAX_USES + 1),
    ("uses bool", "uses", True),
    ("expiry negative", "expires_ms", -1),
    ("invite id upper case", "invite_id", INVITE_ID.upper()),
    ("invite id long", "invite_id", INVITE_ID + "0"),
]
WIRE_KEY = {
    "network": "net",
    "network_name": "name",
    "discovery": "disc",
    "uses": "uses",
    "expires_ms": "exp",
    "invite_id": "id",
}


@pytest.mark.parametrize(("name", "field", "value"), BEYOND, ids=[x[0] for x in BEYOND])
def test_limit_beyond_its_edge_is_refused_when_made(name: str, field: str, value: Any) -> None:
    with pytest.raises(InvalidField):
        make(**{field: value})


@pytest.mark.parametrize(("name", "field", "value"), BEYOND, ids=[x[0] for x in BEYOND])
def test_limit_beyond_its_edge_is_refused_when_read(name: str, field: str, value: Any) -> None:
    wire = list(value) if isinstance(value, tuple) else value
    refused(resigned(**{WIRE_KEY[field]: wire}))


@pytest.mark.parametrize("role", ["owner", "admin", "", "Member"])
def test_no_token_grants_another_role(role: str) -> None:
    with pytest.raises((InvalidField, ValueError)):
        make(role=role)
    refused(resigned(role=role))


def test_a_token_at_every_limit_fits_2048_characters_and_a_longer_text_is_refused() -> None:
    tail = f".org/tcp/4001/p2p/{SERVER.peer_id}"
    longest = tuple(f"/dns4/{i}" + "a" * (256 - 7 - len(tail)) + tail for i in range(4))
    assert {len(addr) for addr in longest} == {256}
    token = make(
        discovery=longest,
        network_name="n" * MAX_NETWORK_NAME,
        role=Role.INVITER,
        uses=MAX_USES,
        expires_ms=UINT64_MAX,
    )
    assert len(token.text) <= MAX_TOKEN_BYTES
    assert InviteToken.parse(token.text) == token
    refused(token.text + "A" * (MAX_TOKEN_BYTES + 1 - len(token.text)))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty", ""),
        ("prefix only", "smi1"),
        ("wrong prefix", "smi2" + GOOD.text[4:]),
        ("upper-case prefix", "SMI1" + GOOD.text[4:]),
        ("no prefix", GOOD.text[4:]),
        ("4n+1 characters", GOOD.text + "A" * ((1 - len(GOOD.text[4:])) % 4)),
        ("not ASCII", GOOD.text + "é"),
        ("too long", "smi1" + "A" * MAX_TOKEN_BYTES),
        ("not a map", token_text(pack_canonical([1]))),
        ("not canonical", token_text(msgpack.packb({**FIELDS, "s": WIRE["s"]}, use_bin_type=True))),
        ("trailing byte", token_text(DATA + b"\x00")),
        ("truncated", token_text(DATA[:-1])),
        ("extra key", resigned(x=1)),
        ("no signature", token_text(pack_canonical(FIELDS))),
        ("short signature", token_text(pack_canonical({**FIELDS, "s": WIRE["s"][:63]}))),
        ("issuer not a peer id", resigned(iss="alice")),
        ("disc as str", resigned(disc=SERVER_ADDR)),
        ("role as int", resigned(role=1)),
    ],
)
def test_malformed_tokens_are_refused(name: str, text: str) -> None:
    refused(text)


def test_missing_keys_are_refused() -> None:
    for key in FIELDS:
        refused(
            token_text(
                sign_map(ALICE, INVITE_CONTEXT, {k: v for k, v in FIELDS.items() if k != key})
            )
        )


def test_parse_refuses_what_is_not_a_string() -> None:
    refused(GOOD.text.encode())  # type: ignore[arg-type]
    refused(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("signed by another peer", resigned(CAROL)),
        ("issuer swapped", token_text(pack_canonical({**WIRE, "iss": str(CAROL.peer_id)}))),
        ("uses raised", token_text(pack_canonical({**WIRE, "uses": 1000}))),
        ("role raised", token_text(pack_canonical({**WIRE, "role": "inviter"}))),
        ("expiry moved", token_text(pack_canonical({**WIRE, "exp": UINT64_MAX}))),
        (
            "signed under the record context",
            token_text(sign_map(ALICE, RECORD_CONTEXT, FIELDS)),
        ),
    ],
)
def test_forged_tokens_are_refused(name: str, text: str) -> None:
    assert "not signed" in refused(text, InviteForged)


def test_the_codes() -> None:
    assert issubclass(InviteMalformed, MalformedFrame)
    assert InviteMalformed.code == "invite_malformed"
    assert InviteForged.code == "invite_forged"
    assert not issubclass(InviteForged, MalformedFrame)


# Tampering


def test_every_single_byte_change_of_the_signed_map_is_refused() -> None:
    for position in range(len(DATA)):
        for mask in (0x01, 0x80, 0xFF):
            changed = DATA[:position] + bytes([DATA[position] ^ mask]) + DATA[position + 1 :]
            with pytest.raises((InviteMalformed, InviteForged)):
                InviteToken.parse(token_text(changed))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_no_edit_of_the_text_makes_another_valid_token(data: st.DataObject) -> None:
    text = GOOD.text
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    char = data.draw(st.characters(codec="utf-8"))
    how = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    if how == "replace":
        edited = text[:position] + char + text[position + 1 :]
    elif how == "insert":
        edited = text[:position] + char + text[position:]
    else:
        edited = text[:position] + text[position + 1 :]
    try:
        token = InviteToken.parse(edited)
    except (InviteMalformed, InviteForged):
        return
    # Only another spelling of the same token may read (white space, or base64 leniency).
    assert token == GOOD
