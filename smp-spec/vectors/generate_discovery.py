"""Write the discovery test vectors (``discovery.json`` beside this file) from fixed values.

Run ``python smp-spec/vectors/generate_discovery.py`` from the repository root after a change to
``protocol/records.py``, ``protocol/invites.py``, ``protocol/discovery.py`` or
``discovery/service.py``; the output is the same byte for byte on every run (fixed seeds,
timestamps, nonces and request ids; Ed25519 signatures are deterministic), and
``tests/unit/protocol/test_discovery_vectors.py`` checks both that every vector holds and that
the file is what this script writes now.

Everything is made by the real code: records and tokens by ``PeerRecord.sign`` and
``InviteToken.sign``, envelopes by ``Envelope.sign``, and the outcome of every server step by
running ``DiscoveryService`` on a fresh SQLite store. Invalid records and tokens are built by
hand (each re-signed, so that its only defect is the one it is named for), and the generator
checks that the real code refuses each with the code the vector states.

The file, described in ``smp-spec/discovery.md`` ("Test vectors"), holds:

- ``records``: peer records to accept (with every field and the signed bytes) and to refuse;
- ``tokens``: invite tokens to accept, other spellings of one, and tokens to refuse;
- ``envelopes``: one request envelope of each discovery type and one answer of each;
- ``scenarios``: request sequences run against a fresh server, with each step's answer.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import msgpack

from secondme.discovery.service import DiscoveryLimits, DiscoveryService
from secondme.discovery.store.sqlite import SqliteStore
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
from secondme.protocol.envelope import Kind
from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.identity import Identity
from secondme.protocol.invites import (
    INVITE_CONTEXT,
    MAX_DISCOVERY_ADDRS,
    MAX_NETWORK_NAME,
    MAX_TOKEN_BYTES,
    MAX_USES,
    TOKEN_PREFIX,
    InviteMalformed,
    InviteToken,
    Role,
)
from secondme.protocol.messages import (
    MAX_DISPLAY_NAME,
    MAX_PROFILE_FIELDS,
    MAX_PROFILE_KEY,
    MAX_PROFILE_VALUE,
    ErrorMessage,
    Message,
    Request,
)
from secondme.protocol.records import (
    MAX_ADDR_LEN,
    MAX_ADDRS,
    MAX_RECORD_SIZE,
    RECORD_CONTEXT,
    PeerRecord,
    RecordInvalid,
)
from secondme.protocol.wire import pack_canonical, unpack_strict

from vectorkit import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    HERE,
    NOW_MS,
    Draws,
    envelope,
    envelope_json,
    identity_json,
    person,
    raw_map,
    render,
    to_json,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
RECORD_EXP = NOW_MS + 2 * HOUR_MS
TOKEN_EXP = NOW_MS + 7 * DAY_MS
UINT64_MAX = 2**64 - 1


DRAWS = Draws("discovery")
SERVER = person("discovery server")
IDENTITIES = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE, "server": SERVER}
NAME_OF = {str(identity.peer_id): name for name, identity in IDENTITIES.items()}

BOOKS = DRAWS.hex_id("book club")
HIKING = DRAWS.hex_id("hiking")
UNKNOWN = DRAWS.hex_id("a network nobody created")
SERVERS = (
    f"/dns4/discovery.example.org/tcp/4001/p2p/{SERVER.peer_id}",
    f"/ip4/198.51.100.7/udp/4001/quic-v1/p2p/{SERVER.peer_id}",
)


def addr(identity: Identity, base: str = "/ip4/192.0.2.1/tcp/4001") -> str:
    return f"{base}/p2p/{identity.peer_id}"


def record(identity: Identity, *, seq: int = 1, exp: int = RECORD_EXP, **fields: Any) -> PeerRecord:
    fields.setdefault("addrs", (addr(identity),))
    fields.setdefault("display_name", NAME_OF[str(identity.peer_id)].title())
    return PeerRecord.sign(identity, seq=seq, expires_ms=exp, **fields)


def token(
    issuer: Identity,
    label: str,
    *,
    network: str = BOOKS,
    name: str = "Book club",
    role: Role = Role.MEMBER,
    uses: int = 1,
    exp: int = TOKEN_EXP,
    discovery: tuple[str, ...] = SERVERS[:1],
) -> InviteToken:
    return InviteToken.sign(
        issuer,
        network=network,
        network_name=name,
        discovery=discovery,
        role=role,
        uses=uses,
        expires_ms=exp,
        invite_id=DRAWS.hex_id(f"invite {label}"),
    )


# -- signed maps built by hand --------------------------------------------------------------


def unsigned_fields(data: bytes) -> dict[str, Any]:
    fields = unpack_strict(data)
    del fields["s"]
    return fields


def signed_map(fields: dict[str, Any], signer: Identity, context: bytes) -> bytes:
    """Sign a raw map (which may break rules the classes enforce) the way a signer would."""
    return pack_canonical({**fields, "s": signer.sign(context + pack_canonical(fields))})


def token_text(data: bytes) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# -- records --------------------------------------------------------------------------------


def _record_json(name: str, description: str, signer: Identity, rec: PeerRecord) -> dict:
    fields = unsigned_fields(rec.encoded)
    signature = unpack_strict(rec.encoded)["s"]
    return {
        "name": name,
        "description": description,
        "signer_seed": signer.seed.hex(),
        "fields": fields,
        "signing_bytes": (RECORD_CONTEXT + pack_canonical(fields)).hex(),
        "signature": signature.hex(),
        "size": len(rec.encoded),
        "record": rec.encoded.hex(),
    }


def _long_addr(identity: Identity, index: int, length: int = MAX_ADDR_LEN) -> str:
    tail = f"{index}.example.org/tcp/4001/p2p/{identity.peer_id}"
    return "/dns4/" + "a" * (length - len("/dns4/") - len(tail)) + tail


def record_at_limits(size: int = MAX_RECORD_SIZE) -> dict[str, Any]:
    """Carol's record with every field at its limit and profile entries filling it to exactly
    ``size`` bytes (the signature's bytes do not change the size)."""
    base = {
        "addrs": tuple(_long_addr(CAROL, i) for i in range(MAX_ADDRS)),
        "display_name": "é" * (MAX_DISPLAY_NAME // 2),
        "seq": UINT64_MAX,
        "expires_ms": UINT64_MAX,
    }

    def fields_of(profile: dict[str, str]) -> dict[str, Any]:
        return {
            "peer": str(CAROL.peer_id),
            "addrs": list(base["addrs"]),
            "name": base["display_name"],
            "profile": profile,
            "seq": base["seq"],
            "exp": base["expires_ms"],
            "s": bytes(64),
        }

    def size_of(profile: dict[str, str]) -> int:
        return len(pack_canonical(fields_of(profile)))

    profile: dict[str, str] = {}
    # Fields of 64 + 512 bytes while more than a maximal field's worth is left, then one that
    # fits exactly.
    while size - size_of(profile) > MAX_PROFILE_VALUE:
        key = f"field {len(profile):02d}".ljust(MAX_PROFILE_KEY, "_")
        profile[key] = "v" * (MAX_PROFILE_VALUE // 2)
    last = f"field {len(profile):02d}"
    for key_len in range(len(last), MAX_PROFILE_KEY + 1):
        key = last.ljust(key_len, "_")
        empty = size_of({**profile, key: ""})
        # A str header takes 1 to 3 bytes, so the value length is within 2 of the gap.
        for value_len in range(max(0, size - empty - 2), min(MAX_PROFILE_VALUE, size - empty) + 1):
            candidate = {**profile, key: "w" * value_len}
            if size_of(candidate) == size:
                assert len(candidate) <= MAX_PROFILE_FIELDS
                return {**base, "profile": candidate, "fields": fields_of(candidate)}
    raise AssertionError(f"no profile fills a record to {size} bytes")


def valid_records() -> list[dict[str, Any]]:
    limits = record_at_limits()
    at_limits = PeerRecord.sign(
        CAROL,
        addrs=limits["addrs"],
        display_name=limits["display_name"],
        profile=limits["profile"],
        seq=limits["seq"],
        expires_ms=limits["expires_ms"],
    )
    assert len(at_limits.encoded) == MAX_RECORD_SIZE
    return [
        _record_json(
            "minimal",
            "One address, an empty name and profile.",
            ALICE,
            record(ALICE, display_name=""),
        ),
        _record_json(
            "typical",
            "Two addresses (IPv4 TCP, IPv6 QUIC), a non-ASCII name and a public profile; seq "
            "is a millisecond time, as this implementation's nodes choose it.",
            BOB,
            record(
                BOB,
                addrs=(addr(BOB), addr(BOB, "/ip6/2001:db8::1/udp/4001/quic-v1")),
                display_name="Bob Zoë 🌍",
                profile={"city": "Lisbon", "interests": "hiking, cooking"},
                seq=NOW_MS,
            ),
        ),
        _record_json(
            "at_limits",
            f"8 addresses of 256 bytes, a 128-byte name, seq and exp 2^64-1, and "
            f"profile fields filling the record to exactly {MAX_RECORD_SIZE} bytes.",
            CAROL,
            at_limits,
        ),
    ]


def invalid_records() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = []
    good = record(ALICE, addrs=(addr(ALICE), addr(ALICE, "/ip4/192.0.2.1/udp/4001/quic-v1")))
    base = unsigned_fields(good.encoded)
    signature = unpack_strict(good.encoded)["s"]

    def add(name: str, description: str, data: bytes) -> None:
        try:
            PeerRecord.decode(data)
        except RecordInvalid:
            pass
        else:  # pragma: no cover - the generator's own check
            raise AssertionError(f"record vector {name} is accepted")
        vectors.append(
            {
                "name": name,
                "description": description,
                "record": data.hex(),
                "error": "record_invalid",
            }
        )

    def changed(**changes: Any) -> bytes:
        return signed_map({**base, **changes}, ALICE, RECORD_CONTEXT)

    def without(key: str) -> bytes:
        return signed_map({k: v for k, v in base.items() if k != key}, ALICE, RECORD_CONTEXT)

    # Bytes and encoding
    add("empty", "Zero bytes.", b"")
    add("not_a_map", "An array instead of a map.", pack_canonical([1]))
    add("truncated", "A valid record without its last byte.", good.encoded[:-1])
    add("trailing_byte", "A valid record and one more byte.", good.encoded + b"\x00")
    add(
        "not_canonical_key_order",
        "A valid record's map with its keys in the order of the field table: the same values "
        "and signature, another encoding.",
        msgpack.packb(
            {key: {**base, "s": signature}[key] for key in (*base, "s")}, use_bin_type=True
        ),
    )
    add(
        "not_canonical_integer",
        "A valid record with seq 1 written as a uint 64 (cf 00 00 00 00 00 00 00 01).",
        raw_map(
            [
                (key, b"\xcf" + (1).to_bytes(8, "big") if key == "seq" else pack_canonical(value))
                for key, value in sorted({**base, "s": signature}.items())
            ]
        ),
    )
    add(
        "float",
        "seq as the float 1.0 (floats are refused anywhere), with the valid record's signature.",
        msgpack.packb(
            dict(sorted({**base, "seq": 1.0, "s": signature}.items())), use_bin_type=True
        ),
    )
    oversized = record_at_limits(MAX_RECORD_SIZE + 1)["fields"]
    del oversized["s"]
    add(
        "too_large",
        f"Every field within its limit but {MAX_RECORD_SIZE + 1} bytes in all, signed.",
        signed_map(oversized, CAROL, RECORD_CONTEXT),
    )
    # Keys
    add("extra_key", "An eighth key x, signed.", changed(x=1))
    add(
        "lists_networks",
        "A nets key with one network id (a record names no network), signed.",
        changed(nets=[BOOKS]),
    )
    add(
        "missing_profile",
        "No profile key (an empty map is written, never left out), signed.",
        without("profile"),
    )
    add("missing_signature", "No s.", pack_canonical(base))
    add("signature_63_bytes", "s is 63 bytes.", pack_canonical({**base, "s": signature[:63]}))
    add("signature_as_str", "s is a str.", pack_canonical({**base, "s": "x" * 64}))
    # Signature
    flipped = bytes([signature[0] ^ 0x01]) + signature[1:]
    add("bad_signature", "One bit of s flipped.", pack_canonical({**base, "s": flipped}))
    add(
        "field_changed_after_signing",
        "seq changed from 1 to 2, the old signature kept.",
        pack_canonical({**base, "seq": 2, "s": signature}),
    )
    add(
        "signed_by_another_peer",
        "peer names alice; carol signed it.",
        signed_map(base, CAROL, RECORD_CONTEXT),
    )
    add(
        "signed_under_invite_context",
        "Alice's signature over the invite context instead of the record context.",
        signed_map(base, ALICE, INVITE_CONTEXT),
    )
    add(
        "signed_without_context",
        "Alice's signature over canonical(map without s) alone.",
        pack_canonical({**base, "s": ALICE.sign(pack_canonical(base))}),
    )
    # peer
    add("peer_not_base58", "peer is 'not a peer id', signed.", changed(peer="not a peer id"))
    add(
        "peer_not_ed25519",
        "peer is an RSA-style (SHA-256 multihash) peer id, signed by alice.",
        changed(peer="QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
    )
    # addrs
    add("no_addrs", "addrs is empty, signed.", changed(addrs=[]))
    add(
        "too_many_addrs",
        f"{MAX_ADDRS + 1} addresses, signed.",
        changed(addrs=[addr(ALICE, f"/ip4/192.0.2.{i}/tcp/4001") for i in range(MAX_ADDRS + 1)]),
    )
    add(
        "addr_of_another_peer",
        "An address ending in /p2p/<carol>, signed by alice.",
        changed(addrs=[addr(ALICE), addr(CAROL)]),
    )
    add(
        "addr_without_p2p",
        "An address without a /p2p/ part, signed.",
        changed(addrs=["/ip4/192.0.2.1/tcp/4001"]),
    )
    add(
        "addr_only_p2p",
        "The address /p2p/<alice> alone (nothing to dial), signed.",
        changed(addrs=[f"/p2p/{ALICE.peer_id}"]),
    )
    add(
        "addr_too_long",
        f"An address of {MAX_ADDR_LEN + 1} bytes, signed.",
        changed(addrs=[_long_addr(ALICE, 0, MAX_ADDR_LEN + 1)]),
    )
    add(
        "addr_with_space",
        "An address holding a space (outside the multiaddr pattern), signed.",
        changed(addrs=[addr(ALICE, "/dns4/my host/tcp/4001")]),
    )
    add("addr_repeated", "The same address twice, signed.", changed(addrs=[addr(ALICE)] * 2))
    add("addrs_as_str", "addrs is one str, not an array, signed.", changed(addrs=addr(ALICE)))
    # name, profile
    add(
        "name_too_long",
        f"A name of {MAX_DISPLAY_NAME + 1} bytes, signed.",
        changed(name="n" * (MAX_DISPLAY_NAME + 1)),
    )
    add(
        "profile_too_many_fields",
        f"{MAX_PROFILE_FIELDS + 1} profile fields, signed.",
        changed(profile={f"k{i}": "v" for i in range(MAX_PROFILE_FIELDS + 1)}),
    )
    add("profile_empty_key", "A profile key of zero bytes, signed.", changed(profile={"": "v"}))
    add(
        "profile_value_too_long",
        f"A profile value of {MAX_PROFILE_VALUE + 1} bytes, signed.",
        changed(profile={"bio": "b" * (MAX_PROFILE_VALUE + 1)}),
    )
    add(
        "profile_value_int",
        "A profile value that is an integer, signed.",
        changed(profile={"a": 1}),
    )
    # integers
    add("seq_negative", "seq is -1, signed.", changed(seq=-1))
    add("seq_as_bool", "seq is true, signed.", changed(seq=True))
    add("exp_negative", "exp is -1, signed.", changed(exp=-1))
    return vectors


# -- tokens ---------------------------------------------------------------------------------


def _token_json(name: str, description: str, signer: Identity, tok: InviteToken) -> dict:
    body = tok.text[len(TOKEN_PREFIX) :]
    data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    fields = unsigned_fields(data)
    return {
        "name": name,
        "description": description,
        "signer_seed": signer.seed.hex(),
        "fields": fields,
        "signing_bytes": (INVITE_CONTEXT + pack_canonical(fields)).hex(),
        "signature": unpack_strict(data)["s"].hex(),
        "bytes": data.hex(),
        "text": tok.text,
    }


MEMBER_TOKEN = token(ALICE, "member", uses=1)
INVITER_TOKEN = InviteToken.sign(
    ALICE,
    network=HIKING,
    network_name="Caminhadas à beira-mar 🌊 " + "x" * (MAX_NETWORK_NAME - 29),
    discovery=(*SERVERS, f"/ip6/2001:db8::7/tcp/4001/p2p/{SERVER.peer_id}", SERVERS[0]),
    role=Role.INVITER,
    uses=MAX_USES,
    expires_ms=UINT64_MAX,
    invite_id=DRAWS.hex_id("invite inviter"),
)


def valid_tokens() -> list[dict[str, Any]]:
    assert len(INVITER_TOKEN.network_name.encode()) == MAX_NETWORK_NAME
    return [
        _token_json(
            "member",
            "Alice invites one member to the book club, through one discovery server.",
            ALICE,
            MEMBER_TOKEN,
        ),
        _token_json(
            "inviter_at_limits",
            f"An inviter invite with a {MAX_NETWORK_NAME}-byte non-ASCII name, "
            f"{MAX_DISCOVERY_ADDRS} discovery addresses (one repeated), {MAX_USES} uses and "
            "exp 2^64-1.",
            ALICE,
            INVITER_TOKEN,
        ),
    ]


def equivalent_tokens() -> list[dict[str, Any]]:
    text = MEMBER_TOKEN.text
    lines = [text[i : i + 40] for i in range(0, len(text), 40)]
    return [
        {
            "name": "wrapped_lines",
            "description": "The member token pasted across lines (CR LF) with spaces around it.",
            "text": "  " + "\r\n".join(lines) + "\n",
            "same_as": "member",
        },
        {
            "name": "tabs_inside",
            "description": "The member token with a tab after the prefix and a space inside.",
            "text": text[:4] + "\t" + text[4:100] + " " + text[100:],
            "same_as": "member",
        },
    ]


def invalid_tokens() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = []
    text = MEMBER_TOKEN.text
    body = text[len(TOKEN_PREFIX) :]
    data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    base = unsigned_fields(data)
    signature = unpack_strict(data)["s"]

    def add(name: str, description: str, value: str, error: str) -> None:
        vectors.append({"name": name, "description": description, "text": value, "error": error})

    def encoded(data: bytes) -> str:
        return token_text(data)

    def changed(**changes: Any) -> str:
        return encoded(signed_map({**base, **changes}, ALICE, INVITE_CONTEXT))

    # Text form
    add("empty", "The empty string.", "", "invite_malformed")
    add("prefix_only", "smi1 and nothing after it.", TOKEN_PREFIX, "invite_malformed")
    add("wrong_prefix", "smi2 instead of smi1.", "smi2" + body, "invite_malformed")
    add("prefix_upper_case", "SMI1 instead of smi1.", "SMI1" + body, "invite_malformed")
    add("no_prefix", "The base64url alone.", body, "invite_malformed")
    add(
        "base64_length",
        "The member token with 'A's added to a length of 4n+1 base64url characters, which "
        "no byte string encodes to.",
        text + "A" * ((1 - len(body)) % 4),
        "invite_malformed",
    )
    add(
        "too_long",
        f"A token of {MAX_TOKEN_BYTES + 1} characters (base64url of a long map).",
        TOKEN_PREFIX + "A" * (MAX_TOKEN_BYTES + 1 - len(TOKEN_PREFIX)),
        "invite_malformed",
    )
    # Strict base64url (one text per token)
    add(
        "base64_padding",
        "The member token with '=' padding added.",
        text + "=" * (-len(body) % 4 or 4),
        "invite_malformed",
    )
    add(
        "base64_not_in_alphabet",
        "The member token with '!!!!' after the prefix.",
        TOKEN_PREFIX + "!!!!" + body,
        "invite_malformed",
    )
    add(
        "base64_standard_alphabet",
        "The member token's bytes in the standard alphabet (+ and /), which base64url does not "
        "use.",
        TOKEN_PREFIX + base64.b64encode(data).rstrip(b"=").decode(),
        "invite_malformed",
    )
    assert "+" in base64.b64encode(data).decode() or "/" in base64.b64encode(data).decode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(body) % 4 == 2  # the last character holds 2 bits of data and 4 zero bits
    add(
        "base64_trailing_bits",
        "The member token with the last character's 4 unused (zero) bits set to 0001: the same "
        "bytes, another text.",
        text[:-1] + alphabet[alphabet.index(text[-1]) | 1],
        "invite_malformed",
    )
    # Signed map
    add(
        "not_a_map",
        "base64url of the msgpack array [1].",
        encoded(pack_canonical([1])),
        "invite_malformed",
    )
    add(
        "not_canonical",
        "The member token's map with its keys in the order of the field table.",
        encoded(msgpack.packb({**base, "s": signature}, use_bin_type=True)),
        "invite_malformed",
    )
    add("extra_key", "A tenth key x, signed.", changed(x=1), "invite_malformed")
    add(
        "missing_id",
        "No id, signed.",
        encoded(signed_map({k: v for k, v in base.items() if k != "id"}, ALICE, INVITE_CONTEXT)),
        "invite_malformed",
    )
    add(
        "signature_63_bytes",
        "s is 63 bytes.",
        encoded(pack_canonical({**base, "s": signature[:63]})),
        "invite_malformed",
    )
    # Fields
    add(
        "role_owner",
        'role is "owner", signed: no token grants it.',
        changed(role="owner"),
        "invite_malformed",
    )
    add("role_unknown", 'role is "admin", signed.', changed(role="admin"), "invite_malformed")
    add("uses_zero", "uses is 0, signed.", changed(uses=0), "invite_malformed")
    add(
        "uses_too_many",
        f"uses is {MAX_USES + 1}, signed.",
        changed(uses=MAX_USES + 1),
        "invite_malformed",
    )
    add("name_empty", "An empty network name, signed.", changed(name=""), "invite_malformed")
    add(
        "name_too_long",
        f"A network name of {MAX_NETWORK_NAME + 1} bytes, signed.",
        changed(name="n" * (MAX_NETWORK_NAME + 1)),
        "invite_malformed",
    )
    add(
        "net_not_hex",
        "net is not 32 lowercase hex digits, signed.",
        changed(net="Book club"),
        "invite_malformed",
    )
    add(
        "id_uppercase",
        "id in upper case, signed.",
        changed(id=base["id"].upper()),
        "invite_malformed",
    )
    add("no_discovery", "disc is empty, signed.", changed(disc=[]), "invite_malformed")
    add(
        "too_many_discovery",
        f"{MAX_DISCOVERY_ADDRS + 1} discovery addresses, signed.",
        changed(disc=[SERVERS[0]] * (MAX_DISCOVERY_ADDRS + 1)),
        "invite_malformed",
    )
    add(
        "discovery_without_p2p",
        "A discovery address without /p2p/<server>, signed.",
        changed(disc=["/dns4/discovery.example.org/tcp/4001"]),
        "invite_malformed",
    )
    add(
        "discovery_only_p2p",
        "The discovery address /p2p/<server> alone, signed.",
        changed(disc=[f"/p2p/{SERVER.peer_id}"]),
        "invite_malformed",
    )
    add(
        "discovery_bad_peer",
        "A discovery address ending in /p2p/ and a string that is no peer id, signed.",
        changed(disc=["/dns4/discovery.example.org/tcp/4001/p2p/server"]),
        "invite_malformed",
    )
    add("iss_not_peer", "iss is not a peer id, signed.", changed(iss="alice"), "invite_malformed")
    add("exp_negative", "exp is -1, signed.", changed(exp=-1), "invite_malformed")
    # Signature
    add(
        "uses_tampered",
        "uses changed from 1 to 1000 after signing (re-encoded canonically, old signature).",
        encoded(pack_canonical({**base, "uses": 1000, "s": signature})),
        "invite_forged",
    )
    add(
        "network_tampered",
        "net changed to another network after signing.",
        encoded(pack_canonical({**base, "net": HIKING, "s": signature})),
        "invite_forged",
    )
    add(
        "issuer_swapped",
        "iss changed to carol, alice's signature kept.",
        encoded(pack_canonical({**base, "iss": str(CAROL.peer_id), "s": signature})),
        "invite_forged",
    )
    add(
        "signed_by_another_peer",
        "iss names alice; carol signed it.",
        encoded(signed_map(base, CAROL, INVITE_CONTEXT)),
        "invite_forged",
    )
    add(
        "signed_under_record_context",
        "Alice's signature over the peer-record context.",
        encoded(signed_map(base, ALICE, RECORD_CONTEXT)),
        "invite_forged",
    )
    return vectors


# -- envelopes ------------------------------------------------------------------------------


def request_messages() -> list[tuple[str, str, Identity, Request]]:
    bob_record = record(BOB, seq=2)
    return [
        (
            "network_create",
            "Alice creates the book club.",
            ALICE,
            NetworkCreate(network=BOOKS, name="Book club"),
        ),
        (
            "join",
            "Bob redeems alice's member token with his record.",
            BOB,
            Join(token=MEMBER_TOKEN.text, record=record(BOB).encoded),
        ),
        ("register", "Bob refreshes his record.", BOB, Register(record=bob_record.encoded)),
        (
            "members_first_page",
            "The first page, with the default limit written out.",
            BOB,
            Members(network=BOOKS),
        ),
        (
            "members_next_page",
            "A later page: after the last peer of the previous one, at most 2 members.",
            BOB,
            Members(network=BOOKS, after=str(ALICE.peer_id), limit=2),
        ),
        ("lookup", "Bob asks for alice's record.", BOB, Lookup(peer=str(ALICE.peer_id))),
        (
            "member_remove",
            "Alice removes bob.",
            ALICE,
            MemberRemove(network=BOOKS, peer=str(BOB.peer_id)),
        ),
        (
            "invite_revoke",
            "Alice revokes her member invite, naming its expiry.",
            ALICE,
            InviteRevoke(network=BOOKS, invite_id=MEMBER_TOKEN.invite_id, expires_ms=TOKEN_EXP),
        ),
        ("network_leave", "Bob leaves the book club.", BOB, NetworkLeave(network=BOOKS)),
        ("network_close", "Alice closes the book club.", ALICE, NetworkClose(network=BOOKS)),
    ]


def response_messages() -> list[tuple[str, str, str, Message]]:
    alice_record = record(ALICE)
    return [
        (
            "network",
            "The created network.",
            "network_create",
            NetworkInfo(
                network=BOOKS, name="Book club", owner=str(ALICE.peer_id), created_ms=NOW_MS
            ),
        ),
        (
            "joined",
            "Bob is a member.",
            "join",
            Joined(network=BOOKS, name="Book club", owner=str(ALICE.peer_id), role="member"),
        ),
        (
            "registered",
            "The record is stored; bob is in one network.",
            "register",
            Registered(seq=2, expires_ms=RECORD_EXP, networks=(BOOKS,)),
        ),
        (
            "member_page",
            "A page of two members, one without a live record, and the cursor to the next.",
            "members_first_page",
            MemberPage(
                members=(
                    Member(
                        peer=str(ALICE.peer_id),
                        role="owner",
                        joined_ms=NOW_MS - DAY_MS,
                        record=alice_record.encoded,
                    ),
                    Member(peer=str(BOB.peer_id), role="member", joined_ms=NOW_MS),
                ),
                next=str(BOB.peer_id),
            ),
        ),
        ("peer", "Alice's record.", "lookup", PeerFound(record=alice_record.encoded)),
        ("done", "The answer to every request that returns nothing.", "member_remove", Done()),
        (
            "error_invite_spent",
            "A discovery refusal: an error envelope with a discovery code.",
            "join",
            ErrorMessage(code="invite_spent", message="every use of this invite is taken"),
        ),
    ]


def envelope_vectors() -> dict[str, Any]:
    requests = []
    by_name: dict[str, int] = {}
    for index, (name, description, signer, message) in enumerate(request_messages(), 1):
        request_id = 0x0D15C0_0000_0000 + index
        by_name[name] = request_id
        sent = envelope(message, signer=signer, nonce=DRAWS.nonce(name), request_id=request_id)
        vector = envelope_json(name, description, sent, NAME_OF[str(signer.peer_id)])
        vector["request_id"] = request_id
        requests.append(vector)
    responses = []
    for name, description, answers, message in response_messages():
        request_id = by_name[answers]
        sent = envelope(message, signer=SERVER, nonce=DRAWS.nonce(name), request_id=request_id)
        vector = envelope_json(name, description, sent, "server")
        vector["answers"] = answers
        responses.append(vector)
    return {
        "now_ms": NOW_MS,
        "receiver": "server",
        "requests": requests,
        "responses": responses,
    }


# -- scenarios ------------------------------------------------------------------------------


class Step(NamedTuple):
    who: Identity
    message: Request
    expect: str | None
    now_ms: int
    note: str


class Scenario:
    """Requests to run in order against a fresh server, each with the code it must fail with
    (or ``None``: it must be answered)."""

    def __init__(self, name: str, description: str, limits: dict[str, int] | None = None):
        self.name = name
        self.description = description
        self.limits = limits or {}
        self.steps: list[Step] = []
        self.now_ms = NOW_MS

    def at(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def ask(
        self, who: Identity, message: Request, expect: str | None = None, note: str = ""
    ) -> None:
        self.steps.append(Step(who, message, expect, self.now_ms, note))


async def _run(scenario: Scenario, path: Path) -> list[dict[str, Any]]:
    store = SqliteStore(path)
    clock = ManualClock(NOW_MS)
    service = DiscoveryService(store, clock, DiscoveryLimits(**scenario.limits))
    out = []
    try:
        for index, step in enumerate(scenario.steps):
            clock.set(step.now_ms)
            # Every request body reads back, through the registry, as the message it came from.
            parsed = DISCOVERY_MESSAGES.lookup(Kind.REQUEST, step.message.TYPE).from_body(
                step.message.to_body()
            )
            assert parsed == step.message
            try:
                answer = await service.handle(step.who.peer_id, step.message)
            except RemoteProtocolError as exc:
                expected: dict[str, Any] = {"error": exc.code}
                if step.expect != exc.code:
                    raise AssertionError(
                        f"{scenario.name} step {index} ({step.note}): {exc.code} {exc.message}, "
                        f"expected {step.expect}"
                    ) from exc
            else:
                if step.expect is not None:
                    raise AssertionError(
                        f"{scenario.name} step {index} ({step.note}): answered, expected "
                        f"{step.expect}"
                    )
                assert type(answer) is type(step.message).RESPONSE
                expected = {"type": answer.TYPE, "body": to_json(answer.to_body())}
            vector: dict[str, Any] = {
                "now_ms": step.now_ms,
                "as": NAME_OF[str(step.who.peer_id)],
                "type": step.message.TYPE,
                "body": to_json(step.message.to_body()),
                "expected": expected,
            }
            if step.note:
                vector = {"note": step.note, **vector}
            out.append(vector)
    finally:
        store.close()
    return out


def scenarios() -> list[Scenario]:
    out = []

    s = Scenario(
        "create_join_read",
        "A network's life from creation: create (and its retry), a join, what members and "
        "non-members may read, and the end of a multi-use token.",
    )
    out.append(s)
    two_uses = token(ALICE, "two uses", uses=2)
    s.ask(ALICE, NetworkCreate(network=BOOKS, name="Book club"), note="create")
    s.at(NOW_MS + 1000)
    s.ask(
        ALICE,
        NetworkCreate(network=BOOKS, name="Another name"),
        note="a retried create by the owner answers the stored network, unchanged",
    )
    s.ask(CAROL, NetworkCreate(network=BOOKS, name="Mine"), "network_exists", "another owner")
    s.ask(ALICE, Register(record=record(ALICE).encoded), note="the owner registers")
    s.ask(CAROL, Register(record=record(CAROL).encoded), "not_member", "a non-member may not")
    s.at(NOW_MS + 2000)
    s.ask(BOB, Join(token=two_uses.text, record=record(BOB).encoded), note="first use")
    s.ask(BOB, Members(network=BOOKS), note="a member lists the members, with their records")
    s.ask(CAROL, Members(network=BOOKS), "not_member", "a non-member learns nothing")
    s.ask(CAROL, Members(network=UNKNOWN), "not_member", "not even whether a network exists")
    s.ask(BOB, Lookup(peer=str(ALICE.peer_id)), note="a member looks up another")
    s.ask(CAROL, Lookup(peer=str(ALICE.peer_id)), "not_member", "no shared network")
    s.ask(CAROL, Lookup(peer=str(CAROL.peer_id)), "no_record", "a peer may look itself up")
    s.at(NOW_MS + 3000)
    s.ask(CAROL, Join(token=two_uses.text, record=record(CAROL).encoded), note="second use")
    s.ask(
        BOB,
        Join(token=two_uses.text, record=record(BOB, seq=2).encoded),
        note="the holder of a use joins again at no cost (its record is stored)",
    )
    s.ask(
        DAVE, Join(token=two_uses.text, record=record(DAVE).encoded), "invite_spent", "no use left"
    )
    s.ask(
        DAVE,
        Join(token=two_uses.text, record=record(CAROL, seq=2).encoded),
        "record_invalid",
        "the record is checked before the invite's uses",
    )
    s.ask(DAVE, Lookup(peer=str(DAVE.peer_id)), "no_record", "a refused join stores nothing")
    s.ask(CAROL, Members(network=BOOKS, limit=2), note="a page of 2, and the cursor")
    page = [str(p.peer_id) for p in (ALICE, BOB, CAROL)]
    s.ask(CAROL, Members(network=BOOKS, after=sorted(page)[1], limit=2), note="the last page")

    s = Scenario(
        "join_checks",
        "Every refusal of disc.join, in the order the server checks; a refused join spends no "
        "use of the token.",
    )
    out.append(s)
    single = token(ALICE, "single")
    inviter = token(ALICE, "bob inviter", role=Role.INVITER)
    s.ask(ALICE, NetworkCreate(network=BOOKS, name="Book club"), note="create")
    s.ask(BOB, Join(token="smi1", record=record(CAROL).encoded), "invite_malformed", "token first")
    tampered = next(v["text"] for v in invalid_tokens() if v["name"] == "uses_tampered")
    s.ask(BOB, Join(token=tampered, record=record(CAROL).encoded), "invite_forged", "signature")
    s.ask(
        BOB,
        Join(token=single.text, record=record(CAROL).encoded),
        "record_invalid",
        "then the record: it must be the sender's",
    )
    s.ask(
        BOB,
        Join(token=single.text, record=record(BOB, exp=NOW_MS + HOUR_MS - 1).encoded),
        "ttl_out_of_range",
        "and expire 1 h to 72 h from now",
    )
    expiring = token(ALICE, "expiring", exp=NOW_MS + 5000)
    s.at(NOW_MS + 4999)
    s.ask(BOB, Join(token=expiring.text, record=record(BOB).encoded), note="1 ms before exp")
    s.at(NOW_MS + 5000)
    s.ask(
        CAROL,
        Join(token=expiring.text, record=record(CAROL, exp=NOW_MS + 2 * HOUR_MS).encoded),
        "invite_expired",
        "at exp the token has expired",
    )
    s.at(NOW_MS)
    s.ask(
        CAROL,
        Join(token=token(ALICE, "elsewhere", network=UNKNOWN).text, record=record(CAROL).encoded),
        "unknown_network",
        "a token for a network the server does not have",
    )
    s.ask(
        CAROL,
        Join(token=token(DAVE, "by a stranger").text, record=record(CAROL).encoded),
        "invite_forged",
        "an issuer that is neither the owner nor an inviter",
    )
    s.ask(
        DAVE,
        Join(token=token(BOB, "by a member").text, record=record(DAVE).encoded),
        "invite_forged",
        "bob is a plain member: he may not invite",
    )
    s.ask(
        BOB,
        Join(token=inviter.text, record=record(BOB, seq=2).encoded),
        note="bob rises to inviter",
    )
    s.ask(
        DAVE,
        Join(
            token=token(BOB, "inviter by inviter", role=Role.INVITER).text,
            record=record(DAVE).encoded,
        ),
        "invite_forged",
        "an inviter may invite members only",
    )
    s.ask(
        BOB,
        Join(token=single.text, record=record(BOB, seq=2).encoded),
        "record_stale",
        "a record whose seq is not above the stored one; checked before a use is bound",
    )
    s.ask(
        CAROL,
        Join(token=single.text, record=record(CAROL).encoded),
        note="the single use is still there for carol",
    )
    s.ask(DAVE, Join(token=single.text, record=record(DAVE).encoded), "invite_spent", "and gone")
    by_bob = token(BOB, "member by inviter")
    s.ask(
        CAROL,
        InviteRevoke(network=BOOKS, invite_id=by_bob.invite_id, expires_ms=TOKEN_EXP),
        "not_owner",
        "a member may not revoke",
    )
    s.ask(
        BOB,
        InviteRevoke(network=BOOKS, invite_id=by_bob.invite_id, expires_ms=TOKEN_EXP),
        note="an inviter revokes before any use",
    )
    s.ask(
        DAVE,
        Join(token=by_bob.text, record=record(DAVE).encoded),
        "invite_revoked",
        "the revoked invite",
    )
    s.ask(
        ALICE,
        InviteRevoke(network=UNKNOWN, invite_id=by_bob.invite_id, expires_ms=TOKEN_EXP),
        "not_member",
        "a network one is not in (or that does not exist): the asker learns nothing about it",
    )
    s.ask(
        CAROL,
        Join(token=single.text, record=record(CAROL, seq=2).encoded),
        note="carol holds a use of single: joining again costs nothing",
    )
    s.ask(
        ALICE,
        InviteRevoke(network=BOOKS, invite_id=single.invite_id, expires_ms=TOKEN_EXP),
        note="the owner revokes an invite that was used",
    )
    s.ask(
        CAROL,
        Join(token=single.text, record=record(CAROL, seq=3).encoded),
        "invite_revoked",
        "after a revocation, even for the holder of a use",
    )

    s = Scenario(
        "registration",
        "disc.register: the record's checks in order (signature and peer, TTL, seq), then "
        "membership.",
    )
    out.append(s)
    s.ask(ALICE, NetworkCreate(network=BOOKS, name="Book club"), note="create")
    s.ask(
        ALICE,
        Register(record=record(ALICE, seq=5, exp=NOW_MS + HOUR_MS).encoded),
        note="exp exactly 1 h from now",
    )
    s.ask(
        ALICE,
        Register(record=record(ALICE, seq=6, exp=NOW_MS + 72 * HOUR_MS).encoded),
        note="exp exactly 72 h from now",
    )
    s.ask(
        ALICE,
        Register(record=record(ALICE, seq=7, exp=NOW_MS + 72 * HOUR_MS + 1).encoded),
        "ttl_out_of_range",
        "1 ms beyond 72 h",
    )
    s.ask(
        ALICE,
        Register(record=record(ALICE, seq=7, exp=NOW_MS - 1).encoded),
        "ttl_out_of_range",
        "already expired",
    )
    s.ask(ALICE, Register(record=record(ALICE, seq=6).encoded), "record_stale", "the same seq")
    s.ask(ALICE, Register(record=record(ALICE, seq=5).encoded), "record_stale", "a lower seq")
    s.ask(
        ALICE,
        Register(record=record(ALICE, seq=5, exp=NOW_MS).encoded),
        "ttl_out_of_range",
        "TTL is checked before seq",
    )
    s.ask(
        ALICE,
        Register(record=record(CAROL, seq=9, exp=NOW_MS).encoded),
        "record_invalid",
        "the peer is checked before TTL",
    )
    s.ask(
        ALICE,
        Register(
            record=bytes.fromhex(
                next(v["record"] for v in invalid_records() if v["name"] == "bad_signature")
            )
        ),
        "record_invalid",
        "a record that does not verify",
    )
    s.ask(ALICE, Register(record=record(ALICE, seq=7).encoded), note="a higher seq replaces")
    s.ask(ALICE, Lookup(peer=str(ALICE.peer_id)), note="the record now stored")
    s.ask(
        CAROL,
        Register(record=record(CAROL, exp=NOW_MS).encoded),
        "ttl_out_of_range",
        "the record's checks come before membership",
    )

    s = Scenario(
        "expiry_and_pages",
        "Records expire from view; a page stops at the byte cap and says where to go on.",
        limits={"max_page_bytes": 800},
    )
    out.append(s)
    three = token(ALICE, "three", uses=3)
    s.ask(ALICE, NetworkCreate(network=BOOKS, name="Book club"), note="create")
    s.ask(
        ALICE,
        Register(record=record(ALICE, exp=NOW_MS + 3 * HOUR_MS).encoded),
        note="the owner's record lives 3 h",
    )
    for who in (BOB, CAROL, DAVE):
        s.ask(who, Join(token=three.text, record=record(who).encoded), note="records live 2 h")
    s.ask(
        ALICE,
        Members(network=BOOKS),
        note="the byte cap (128 bytes a member plus its record) ends the page early",
    )
    s.at(RECORD_EXP - 1)
    s.ask(BOB, Lookup(peer=str(CAROL.peer_id)), note="1 ms before exp the record is live")
    s.at(RECORD_EXP)
    s.ask(BOB, Lookup(peer=str(CAROL.peer_id)), "no_record", "at exp it is not")
    s.ask(ALICE, Members(network=BOOKS), note="members without a live record have no record key")

    s = Scenario(
        "leave_remove_close",
        "Who may end a membership or a network.",
    )
    out.append(s)
    s.ask(ALICE, NetworkCreate(network=BOOKS, name="Book club"), note="create")
    s.ask(
        BOB,
        Join(token=token(ALICE, "bob", uses=2).text, record=record(BOB).encoded),
        note="a token of 2 uses",
    )
    s.ask(CAROL, Join(token=token(ALICE, "carol").text, record=record(CAROL).encoded), note="join")
    s.ask(
        CAROL,
        MemberRemove(network=BOOKS, peer=str(BOB.peer_id)),
        "not_owner",
        "only the owner removes",
    )
    s.ask(
        ALICE,
        MemberRemove(network=BOOKS, peer=str(ALICE.peer_id)),
        "forbidden",
        "the owner cannot remove itself",
    )
    s.ask(
        ALICE,
        MemberRemove(network=BOOKS, peer=str(DAVE.peer_id)),
        "not_member",
        "dave is no member",
    )
    s.ask(
        ALICE,
        MemberRemove(network=UNKNOWN, peer=str(BOB.peer_id)),
        "not_member",
        "owner-only requests on a network one is not in, existing or not",
    )
    s.ask(ALICE, MemberRemove(network=BOOKS, peer=str(BOB.peer_id)), note="the owner removes bob")
    s.ask(BOB, Members(network=BOOKS), "not_member", "bob reads nothing any more")
    s.ask(
        BOB,
        Join(token=token(ALICE, "bob", uses=2).text, record=record(BOB, seq=2).encoded),
        "invite_spent",
        "nor comes back with the use he holds, though the token has one left",
    )
    s.ask(ALICE, NetworkLeave(network=BOOKS), "forbidden", "the owner closes, it does not leave")
    s.ask(DAVE, NetworkLeave(network=BOOKS), "not_member", "dave is no member")
    s.ask(CAROL, NetworkLeave(network=BOOKS), note="carol leaves")
    s.ask(
        CAROL,
        NetworkClose(network=BOOKS),
        "not_member",
        "carol is no member now: not_member, as for a network that does not exist",
    )
    s.ask(ALICE, NetworkClose(network=UNKNOWN), "not_member", "no such network: not_member")
    s.ask(ALICE, NetworkClose(network=BOOKS), note="the owner closes")
    s.ask(ALICE, Members(network=BOOKS), "not_member", "the network is gone")
    s.ask(ALICE, NetworkLeave(network=BOOKS), "not_member", "nor a membership to leave")

    s = Scenario(
        "limits",
        "The server's per-peer limits, set low: a peer owns at most 1 network, a network has "
        "at most 2 members.",
        limits={"max_networks_owned": 1, "max_members": 2},
    )
    out.append(s)
    s.ask(ALICE, NetworkCreate(network=BOOKS, name="Book club"), note="create")
    s.ask(ALICE, NetworkCreate(network=HIKING, name="Hiking"), "limit_reached", "a second network")
    s.ask(ALICE, NetworkCreate(network=BOOKS, name="Book club"), note="a retry is not a new one")
    many = token(ALICE, "many", uses=5)
    s.ask(BOB, Join(token=many.text, record=record(BOB).encoded), note="the second member")
    s.ask(
        CAROL,
        Join(token=many.text, record=record(CAROL).encoded),
        "limit_reached",
        "a third member; the use is not bound",
    )
    s.ask(
        BOB, Join(token=many.text, record=record(BOB, seq=2).encoded), note="a member is no new one"
    )
    return out


def scenario_vectors() -> list[dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, scenario in enumerate(scenarios()):
            steps = asyncio.run(_run(scenario, Path(tmp) / f"{index}.sqlite"))
            vector: dict[str, Any] = {"name": scenario.name, "description": scenario.description}
            if scenario.limits:
                vector["limits"] = scenario.limits
            vector["steps"] = steps
            out.append(vector)
    return out


# -- the file -------------------------------------------------------------------------------


def _check_tokens(valid: list[dict], invalid: list[dict]) -> None:
    """The generator's own check: the real parser reads each token as the vector says."""
    for vector in valid:
        assert InviteToken.parse(vector["text"]).text == vector["text"]
    for vector in invalid:
        try:
            InviteToken.parse(vector["text"])
        except RemoteProtocolError as exc:
            assert exc.code == vector["error"], (vector["name"], exc.code)
            assert isinstance(exc, InviteMalformed) == (exc.code == "invite_malformed")
        else:  # pragma: no cover - the generator's own check
            raise AssertionError(f"token vector {vector['name']} is accepted")


def document() -> dict[str, Any]:
    limits = DiscoveryLimits()
    tokens_valid, tokens_invalid = valid_tokens(), invalid_tokens()
    _check_tokens(tokens_valid, tokens_invalid)
    return {
        "description": "Discovery (secondme/discovery/1): peer records, invite tokens, the "
        "disc.* envelopes, and request sequences with the server's answers.",
        "protocol_id": DISCOVERY_PROTOCOL_ID,
        "contexts": {"peer_record": RECORD_CONTEXT.hex(), "invite": INVITE_CONTEXT.hex()},
        "token_prefix": TOKEN_PREFIX,
        "limits": {
            "max_record_size": MAX_RECORD_SIZE,
            "max_addrs": MAX_ADDRS,
            "max_addr_len": MAX_ADDR_LEN,
            "max_display_name": MAX_DISPLAY_NAME,
            "max_profile_fields": MAX_PROFILE_FIELDS,
            "max_profile_key": MAX_PROFILE_KEY,
            "max_profile_value": MAX_PROFILE_VALUE,
            "max_token_chars": MAX_TOKEN_BYTES,
            "max_network_name": MAX_NETWORK_NAME,
            "max_discovery_addrs": MAX_DISCOVERY_ADDRS,
            "max_uses": MAX_USES,
            "max_page": MAX_PAGE,
            "default_page": DEFAULT_PAGE,
        },
        "server_defaults": {
            "min_ttl_ms": limits.min_ttl_ms,
            "max_ttl_ms": limits.max_ttl_ms,
            "max_networks_owned": limits.max_networks_owned,
            "max_members": limits.max_members,
            "max_page_bytes": limits.max_page_bytes,
            "requests_per_s": limits.requests_per_s,
            "burst": limits.burst,
        },
        "identities": {name: identity_json(identity) for name, identity in IDENTITIES.items()},
        "records": {"valid": valid_records(), "invalid": invalid_records()},
        "tokens": {
            "valid": tokens_valid,
            "equivalent": equivalent_tokens(),
            "invalid": tokens_invalid,
        },
        "envelopes": envelope_vectors(),
        "scenarios": scenario_vectors(),
    }


def main(write: Callable[[Path, str], object] = Path.write_text) -> int:
    write(HERE / "discovery.json", render(document()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
