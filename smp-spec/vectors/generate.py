"""Write the SMP 1.0 test vectors (``*.json`` beside this file) from fixed seeds and values.

Run ``python smp-spec/vectors/generate.py`` from the repository root after a change to the
protocol; the output is the same byte for byte on every run (fixed seeds, timestamps, nonces and
request ids, no randomness), and ``tests/unit/protocol/test_vectors.py`` checks both that every
vector holds and that the files are what this script writes now.

The files, described in ``smp-spec/README.md`` ("Test vectors"):

- ``peer_ids.json``: seed -> Ed25519 public key -> libp2p peer id;
- ``canonical.json``: values -> their canonical msgpack encoding;
- ``valid.json``: frames a receiver must accept, with the envelope and message they hold;
- ``invalid.json``: frames a receiver must refuse, with the error code it must answer.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from secondme.protocol.envelope import (
    PROTOCOL_ID,
    SIGNING_CONTEXT,
    SMP_1_0,
    Envelope,
    Version,
)
from secondme.protocol.framing import MAX_FRAME_SIZE, encode_frame, encode_uvarint
from secondme.protocol.identity import Identity, PeerId, encode_public_key
from secondme.protocol.messages import (
    MAX_PING_PAYLOAD,
    ErrorMessage,
    Hello,
    HelloResponse,
    Message,
    Ping,
    Pong,
)
from secondme.protocol.replay import DEFAULT_SKEW_MS
from secondme.protocol.wire import MAX_DEPTH, pack_canonical

from vectorkit import (
    ALICE,
    BOB,
    CAROL,
    HERE,
    NOW_MS,
    Draws,
    envelope,
    identity_json,
    raw_map,
    render,
    seed,
    to_json,
)

LIBP2P_SPEC_SEED = bytes.fromhex("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d")

ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493
"""ℓ, the order of the Ed25519 base point."""
_FIELD = 2**255 - 19
IDENTITY_POINT = (1).to_bytes(32, "little")
"""The neutral element (y = 1): a point of small order."""
NON_CANONICAL_IDENTITY = (_FIELD + 1).to_bytes(32, "little")
"""The neutral element written with y = p + 1, which no canonical encoding uses."""
ORDER_TWO_POINT = (_FIELD - 1).to_bytes(32, "little")
"""(0, −1), the point of order 2."""


def _cofactored_only_signature(identity: Identity, message: bytes) -> bytes:
    """A signature by ``identity`` whose R is the point of order 2 and whose S satisfies only
    the cofactored equation 8[S]B = 8R + 8[k]A (as ZIP-215 checks it), not [S]B = R + [k]A."""
    digest = hashlib.sha512(identity.seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar = (scalar & ((1 << 254) - 8)) | (1 << 254)
    k = hashlib.sha512(ORDER_TWO_POINT + identity.public_key + message).digest()
    s = int.from_bytes(k, "little") % ED25519_ORDER * scalar % ED25519_ORDER
    return ORDER_TWO_POINT + s.to_bytes(32, "little")


DRAWS = Draws("smp")


def _envelope(
    message: Message, *, signer: Identity = ALICE, nonce_label: str, **fields: Any
) -> Envelope:
    """``message`` from alice unless ``signer`` says otherwise, its nonce drawn by label."""
    return envelope(message, signer=signer, nonce=DRAWS.nonce(nonce_label), **fields)


def _resign(wire: dict[str, Any], signer: Identity = ALICE) -> dict[str, Any]:
    """Sign a raw wire map (which may break rules the Envelope class enforces) the way a
    sender would, so that a vector's only defect is the one it is named for."""
    if not (isinstance(wire["v"], list) and len(wire["v"]) == 2):
        return wire  # no signing bytes exist without [major, minor]; the old signature stays
    major, minor = wire["v"]
    fields = [SIGNING_CONTEXT, major, minor, wire["t"], wire["id"], wire["k"], wire["ts"]]
    fields += [wire["n"], wire["g"], wire["b"]]
    return {**wire, "s": signer.sign(pack_canonical(fields))}


def _pack(wire: dict[str, Any]) -> bytes:
    return msgpack.packb(wire, use_bin_type=True)


def _ping_wire(label: str, **changes: Any) -> dict[str, Any]:
    wire = _envelope(Ping(), nonce_label=label).to_wire()
    wire.update(changes)
    return _resign(wire)


def peer_id_vectors() -> list[dict[str, str]]:
    seeds = [("libp2p peer-id spec", LIBP2P_SPEC_SEED), ("all zero", bytes(32))]
    seeds += [(name, seed(name)) for name in ("alice", "bob", "carol")]
    return [
        {
            "name": name,
            "seed": seed.hex(),
            "public_key": Identity.from_seed(seed).public_key.hex(),
            "public_key_protobuf": encode_public_key(Identity.from_seed(seed).public_key).hex(),
            "peer_id": str(Identity.from_seed(seed).peer_id),
        }
        for name, seed in seeds
    ]


def canonical_vectors() -> list[dict[str, Any]]:
    values: list[tuple[str, Any]] = [
        ("integers at every width boundary", [0, 127, 128, 255, 256, 65535, 65536]),
        ("large unsigned integers", [2**32 - 1, 2**32, 2**64 - 1]),
        ("negative integers", [-1, -32, -33, -128, -129, -32768, -32769, -(2**63)]),
        ("strings at header boundaries", ["", "a" * 31, "a" * 32, "é"]),
        ("bytes are bin, text is str", [b"", b"\x00\xff", "\x00\xff"]),
        ("nil and booleans", [None, False, True]),
        ("map keys sorted by their UTF-8 bytes", {"b": 1, "a": 2, "B": 3, "aa": 4, "é": 5}),
        ("nested maps sorted too", {"z": {"y": 1, "x": 2}, "a": [{"d": 1, "c": 2}]}),
        (
            "keys sorted by UTF-8 bytes, not by UTF-16 code units",
            {"\U0001f600": 1, "\uff61": 2, "\ue000": 3},
        ),
    ]
    return [
        {"name": name, "value": to_json(value), "encoding": pack_canonical(value).hex()}
        for name, value in values
    ]


def _valid(
    name: str,
    description: str,
    envelope: Envelope,
    *,
    role: str = "responder",
    session: Identity = ALICE,
    payload: bytes | None = None,
    answers: dict[str, Any] | None = None,
    preceded_by: tuple[bytes, ...] = (),
    result: dict[str, Any],
) -> dict[str, Any]:
    payload = envelope.encode() if payload is None else payload
    vector: dict[str, Any] = {
        "name": name,
        "description": description,
        "role": role,
        "now_ms": NOW_MS,
        "session_peer_id": str(session.peer_id),
        "signer": identity_json(session),
    }
    if answers is not None:
        vector["answers"] = answers
    if preceded_by:
        vector["preceded_by"] = [encode_frame(prior).hex() for prior in preceded_by]
    vector |= {
        "frame": encode_frame(payload).hex(),
        "payload": payload.hex(),
        "signing_bytes": envelope.signing_bytes().hex(),
        "envelope": to_json(envelope.to_wire()),
        "result": result,
    }
    return vector


def _message_json(message: Message) -> dict[str, Any]:
    return {"type": message.TYPE, "kind": message.KIND.value, "body": to_json(message.to_body())}


def valid_vectors() -> list[dict[str, Any]]:
    vectors = []

    def request(name: str, description: str, message: Message, **fields: Any) -> None:
        version = fields.get("version", SMP_1_0)
        envelope = _envelope(message, nonce_label=name, **fields)
        negotiated = Version(major=1, minor=min(version.minor, 0))
        result = {"message": _message_json(message), "negotiated_version": str(negotiated)}
        vectors.append(_valid(name, description, envelope, result=result))

    request("ping", "The smallest request: ping with an empty body.", Ping())
    request(
        "ping_with_payload_and_grant",
        "A ping carrying a payload and an (opaque) grant.",
        Ping(payload=b"hello, bob"),
        request_id=0x0123456789ABCDEF,
        grant=b"opaque grant token",
    )
    request(
        "hello",
        "A hello naming the requester (non-ASCII UTF-8) and its versions.",
        Hello(display_name="Zoë 🌍", versions=(SMP_1_0,)),
        request_id=2**64 - 1,
    )
    request(
        "ping_newer_minor",
        "A request in version 1.3 from a newer peer: accepted, answered in 1.0.",
        Ping(),
        version=Version(major=1, minor=3),
    )
    request(
        "ping_at_past_skew_edge",
        "A timestamp exactly 120 s behind the receiver's clock is still fresh.",
        Ping(),
        timestamp_ms=NOW_MS - DEFAULT_SKEW_MS,
    )
    request(
        "ping_at_future_skew_edge",
        "A timestamp exactly 120 s ahead of the receiver's clock is still fresh.",
        Ping(),
        timestamp_ms=NOW_MS + DEFAULT_SKEW_MS,
    )

    envelope = _envelope(Ping(), nonce_label="ping_noncanonical_wire", request_id=7)
    wire = envelope.to_wire()
    reordered = {key: wire[key] for key in ("v", "t", "id", "k", "ts", "n", "g", "b", "s")}
    payload = raw_map(
        [
            (key, b"\xcf" + (7).to_bytes(8, "big") if key == "id" else _pack(value))
            for key, value in reordered.items()
        ]
    )
    vectors.append(
        _valid(
            "ping_noncanonical_wire",
            "Keys in another order and the id as a uint64: the wire encoding need not be "
            "canonical, only the signing bytes are.",
            envelope,
            payload=payload,
            result={"message": _message_json(Ping()), "negotiated_version": "1.0"},
        )
    )

    # A refusal at or before the replay step leaves the nonce unused (README section 10).
    forged = "nonce_unused_after_bad_signature"
    stale = "nonce_unused_after_stale"
    for name, description, first in [
        (
            forged,
            "A ping whose nonce a forged frame used first: refused before the replay step, the "
            "forgery left the nonce unused.",
            {**_ping_wire(forged), "s": bytes(64)},
        ),
        (
            stale,
            "A ping whose nonce a stale request used first: refused at the replay step, the "
            "stale request left the nonce unused.",
            _ping_wire(stale, ts=NOW_MS - DEFAULT_SKEW_MS - 1),
        ),
    ]:
        vectors.append(
            _valid(
                name,
                description,
                _envelope(Ping(), nonce_label=name),
                preceded_by=(_pack(first),),
                result={"message": _message_json(Ping()), "negotiated_version": "1.0"},
            )
        )

    def answer(
        name: str, description: str, message: Message, request: Message, **fields: Any
    ) -> None:
        fields.setdefault("request_id", 1)
        envelope = _envelope(message, signer=BOB, nonce_label=name, **fields)
        if isinstance(message, ErrorMessage):
            result = {"remote_error": to_json(message.to_body())}
        else:
            result = {"message": _message_json(message)}
        vectors.append(
            _valid(
                name,
                description,
                envelope,
                role="requester",
                session=BOB,
                answers={"request_id": 1, "type": request.TYPE, "version": "1.0"},
                result=result,
            )
        )

    answer("pong", "The answer to a ping, echoing its payload.", Pong(payload=b"hi"), Ping())
    answer(
        "hello_response",
        "The answer to a hello: name, versions, public profile, software.",
        HelloResponse(
            display_name="Bob",
            versions=(SMP_1_0,),
            profile={"city": "Lisbon", "interests": "hiking, cooking"},
            agent="secondme-node/0.1.0",
        ),
        Hello(),
    )
    answer(
        "error_rate_limited",
        "An error answer with a retry delay; the requester raises it as a remote error.",
        ErrorMessage(code="rate_limited", message="slow down", retry_after_ms=1500),
        Ping(),
    )
    answer(
        "error_without_request_id",
        "An error answering a request whose id could not be read (id is nil).",
        ErrorMessage(code="malformed", message="not valid msgpack"),
        Ping(),
        request_id=None,
    )
    answer(
        "error_unknown_code",
        "An error code this version does not register: still a valid answer.",
        ErrorMessage(code="some_future_code", message=""),
        Ping(),
    )
    return vectors


def invalid_vectors() -> list[dict[str, Any]]:
    vectors = []

    def add(
        name: str,
        description: str,
        *,
        frame: bytes | None = None,
        payload: bytes | None = None,
        error: str,
        role: str = "responder",
        session: Identity | PeerId = ALICE,
        preceded_by: tuple[bytes, ...] = (),
        answers: dict[str, Any] | None = None,
    ) -> None:
        assert (frame is None) != (payload is None)
        peer = session.peer_id if isinstance(session, Identity) else session
        vector: dict[str, Any] = {
            "name": name,
            "description": description,
            "role": role,
            "now_ms": NOW_MS,
            "session_peer_id": str(peer),
        }
        if answers is not None:
            vector["answers"] = answers
        if preceded_by:
            vector["preceded_by"] = [encode_frame(payload).hex() for payload in preceded_by]
        vector["frame"] = (encode_frame(payload) if frame is None else frame).hex()
        vector["error"] = error
        vectors.append(vector)

    good = _envelope(Ping(), nonce_label="good").encode()

    # Framing
    add(
        "frame_oversized_prefix",
        "A length prefix of 4 MiB + 1; refuse before reading any payload.",
        frame=encode_uvarint(MAX_FRAME_SIZE + 1),
        error="frame_too_large",
    )
    add(
        "frame_truncated_payload",
        "The prefix promises 100 bytes; the stream ends after 10.",
        frame=encode_uvarint(100) + good[:10],
        error="malformed",
    )
    add(
        "frame_truncated_prefix",
        "The stream ends inside the length prefix.",
        frame=b"\x80",
        error="malformed",
    )
    add(
        "frame_non_minimal_prefix",
        "The length 5 written in two bytes (0x85 0x00).",
        frame=b"\x85\x00" + b"\x00" * 5,
        error="malformed",
    )
    add(
        "frame_prefix_too_long",
        "Nine prefix bytes that all have the continuation bit.",
        frame=b"\x80" * 9 + b"\x01",
        error="malformed",
    )
    add(
        "frame_non_minimal_and_too_large",
        "8 MiB written in five bytes (80 80 80 84 00): not minimal and above the limit; the "
        "minimality check comes first, so malformed.",
        frame=bytes.fromhex("8080808400"),
        error="malformed",
    )
    add(
        "frame_nine_byte_prefix_too_large",
        "A minimal nine-byte prefix (2^62): frame_too_large from the prefix alone.",
        frame=encode_uvarint(2**62),
        error="frame_too_large",
    )

    # msgpack
    add("empty_payload", "A frame of zero bytes.", payload=b"", error="malformed")
    add(
        "not_msgpack",
        "The byte 0xc1, which msgpack never uses.",
        payload=b"\xc1",
        error="malformed",
    )
    add(
        "truncated_msgpack",
        "A complete frame whose msgpack ends early.",
        payload=good[:-5],
        error="malformed",
    )
    add(
        "trailing_bytes",
        "A valid envelope followed by one more byte.",
        payload=good + b"\x00",
        error="malformed",
    )
    add("not_a_map", "An array instead of a map.", payload=_pack([1, 0]), error="malformed")
    add(
        "duplicate_key",
        "The key t twice: the map is ambiguous, whatever the values.",
        payload=raw_map(
            [(key, _pack(value)) for key, value in _ping_wire("dup").items()]
            + [("t", _pack("ping"))]
        ),
        error="malformed",
    )
    add(
        "invalid_utf8",
        "The type string holds bytes that are not UTF-8.",
        payload=raw_map(
            [
                (key, b"\xa2\xff\xfe" if key == "t" else _pack(value))
                for key, value in _ping_wire("utf8").items()
            ]
        ),
        error="malformed",
    )
    add(
        "float_in_body",
        "A float inside the body: floats are not allowed anywhere.",
        payload=_pack({**_ping_wire("float"), "b": {"payload": 1.5}}),
        error="malformed",
    )
    add(
        "ext_in_body",
        "A msgpack extension value (a timestamp) inside the body.",
        payload=raw_map(
            [
                (key, b"\x81\xa1x\xd6\xff\x00\x00\x00\x00" if key == "b" else _pack(value))
                for key, value in _ping_wire("ext").items()
            ]
        ),
        error="malformed",
    )
    nested: Any = b"deep"
    for _ in range(MAX_DEPTH - 1):  # inside the envelope map and the body map
        nested = [nested]
    add(
        "too_deep",
        f"Containers nested {MAX_DEPTH + 1} deep (the limit is {MAX_DEPTH}).",
        payload=_pack(_ping_wire("deep", b={"payload": nested})),
        error="malformed",
    )
    add(
        "non_string_map_key",
        "A body map with an integer key.",
        payload=_pack({**_ping_wire("intkey"), "b": {1: b""}}),
        error="malformed",
    )

    # Envelope fields
    def field_case(name: str, description: str, error: str = "malformed", **changes: Any) -> None:
        add(name, description, payload=_pack(_ping_wire(name, **changes)), error=error)

    wire = _ping_wire("unknown_key")
    add(
        "unknown_top_level_key",
        "An extra key x.",
        payload=_pack({**wire, "x": 1}),
        error="malformed",
    )
    wire = _ping_wire("missing_key")
    del wire["ts"]
    add("missing_key", "No ts key.", payload=_pack(wire), error="malformed")
    field_case("request_id_string", "The request id as a string.", id="1")
    field_case("request_id_bool", "The request id as true (not an integer).", id=True)
    field_case("request_id_nil_in_request", "Only errors may have a nil id.", id=None)
    field_case("timestamp_negative", "A timestamp below zero.", ts=-1)
    field_case("nonce_short", "A 15-byte nonce.", n=bytes(15))
    field_case("nonce_as_string", "The nonce as a string.", n="0123456789abcdef")
    field_case("unknown_kind", "A kind that is not request, response or error.", k="notify")
    field_case("empty_grant", "A zero-byte grant (absent is nil).", g=b"")
    field_case("grant_too_large", "A grant over 64 KiB.", g=bytes(64 * 1024 + 1))
    field_case("version_as_string", "v as a string instead of [major, minor].", v="1.0")
    field_case("version_minor_out_of_range", "v = [1, 65536]: a minor above 65 535.", v=[1, 65536])
    field_case(
        "version_range_before_major",
        "v = [2, 65536]: the range is checked at step 4, before the major (step 5), so "
        "malformed, not unsupported_version.",
        v=[2, 65536],
    )
    field_case("body_not_a_map", "The body as an array.", b=[])
    field_case("bad_type_name", "A type with an upper-case letter.", t="Ping")
    field_case(
        "unknown_major_version",
        "Version 2.0: refused as unsupported, not as malformed.",
        error="unsupported_version",
        v=[2, 0],
    )
    wire = _ping_wire("unknown_major_and_key", v=[2, 0])
    add(
        "unknown_major_version_first",
        "Version 2.0 and an unknown key: the version is checked first.",
        payload=_pack({**wire, "x": 1}),
        error="unsupported_version",
    )

    # Signature
    wire = _ping_wire("bad_signature")
    wire["s"] = bytes([wire["s"][0] ^ 1]) + wire["s"][1:]
    add(
        "bad_signature",
        "One bit of the signature flipped.",
        payload=_pack(wire),
        error="bad_signature",
    )
    add(
        "signed_by_another_key",
        "A well-formed envelope signed by carol, arriving over alice's session.",
        payload=_envelope(Ping(), signer=CAROL, nonce_label="carol").encode(),
        error="bad_signature",
    )
    wire = _ping_wire("tampered")
    wire["b"] = {"payload": b"changed"}
    add(
        "body_changed_after_signing",
        "The signature is alice's, for another body.",
        payload=_pack(wire),
        error="bad_signature",
    )
    wire = _ping_wire("s_not_canonical")
    s_plus_order = int.from_bytes(wire["s"][32:], "little") + ED25519_ORDER
    add(
        "signature_s_not_below_the_order",
        "Alice's valid signature with the group order added to S: the same point, but S must be "
        "below the order.",
        payload=_pack({**wire, "s": wire["s"][:32] + s_plus_order.to_bytes(32, "little")}),
        error="bad_signature",
    )
    for name, description, key in [
        (
            "zip215_small_order_key",
            "Session key: the identity point (small order). Signature: R = the identity point, "
            "S = 0, which ZIP-215 accepts for any message; strict verification refuses it.",
            IDENTITY_POINT,
        ),
        (
            "zip215_non_canonical_key",
            "Session key: the identity point written with y = p + 1, and the same signature: "
            "ZIP-215 reads non-canonical encodings, strict verification refuses them.",
            NON_CANONICAL_IDENTITY,
        ),
    ]:
        add(
            name,
            description,
            payload=_pack({**_ping_wire(name), "s": IDENTITY_POINT + bytes(32)}),
            error="bad_signature",
            session=PeerId.from_public_key(key),
        )
    wire = _ping_wire("zip215_small_order_r")
    major, minor = wire["v"]
    signed = [SIGNING_CONTEXT, major, minor, wire["t"], wire["id"], wire["k"], wire["ts"]]
    signed += [wire["n"], wire["g"], wire["b"]]
    add(
        "zip215_small_order_r",
        "Alice's key, R = the point of order 2, S = k·a: the cofactored equation holds (ZIP-215 "
        "accepts), the cofactorless one does not, and R has small order: refused.",
        payload=_pack({**wire, "s": _cofactored_only_signature(ALICE, pack_canonical(signed))}),
        error="bad_signature",
    )

    # Kind, type and body
    add(
        "response_as_request",
        "A pong sent where a request belongs.",
        payload=_envelope(Pong(), nonce_label="pong_as_request").encode(),
        error="unexpected_message",
    )
    add(
        "error_as_request",
        "An error sent where a request belongs.",
        payload=_envelope(ErrorMessage(code="internal"), nonce_label="err_as_req").encode(),
        error="unexpected_message",
    )
    field_case(
        "unknown_type", "A request type this version does not know.", "unknown_type", t="teleport"
    )
    pong = _envelope(Pong(), nonce_label="grant_on_a_response").to_wire()
    add(
        "grant_on_a_response",
        "A pong carrying a grant where a request belongs: a grant on anything but a request is "
        "step 6 (malformed), before the kind (step 8) would say unexpected_message.",
        payload=_pack(_resign({**pong, "g": b"grant"})),
        error="malformed",
    )
    field_case(
        "ping_payload_too_large",
        "A ping payload of 64 KiB + 1 bytes.",
        b={"payload": bytes(MAX_PING_PAYLOAD + 1)},
    )
    field_case("ping_unknown_body_key", "A ping body with an extra key.", b={"extra": 1})
    field_case("ping_nil_payload", "An optional field as nil (leave it out).", b={"payload": None})
    field_case(
        "hello_bad_version_string",
        "A hello listing the version '1.x'.",
        t="hello",
        b={"versions": ["1.x"]},
    )

    # Freshness and replay
    field_case("stale_past", "A timestamp 120 001 ms behind.", "stale", ts=NOW_MS - 120_001)
    field_case("stale_future", "A timestamp 120 001 ms ahead.", "stale", ts=NOW_MS + 120_001)
    add(
        "replayed_frame",
        "The same frame twice: the first is accepted, the second refused.",
        preceded_by=(good,),
        payload=good,
        error="replayed",
    )
    add(
        "replayed_nonce",
        "A different request reusing the nonce of an accepted one.",
        preceded_by=(good,),
        payload=_envelope(Hello(), nonce_label="good", request_id=2).encode(),
        error="replayed",
    )
    for name, description, changes in [
        (
            "replayed_after_unknown_type",
            "A ping reusing the nonce of a request refused as unknown_type: that request passed "
            "the replay step, so its nonce is used.",
            {"t": "teleport"},
        ),
        (
            "replayed_after_malformed_body",
            "A ping reusing the nonce of a ping refused for its body (step 12): used too.",
            {"b": {"extra": 1}},
        ),
    ]:
        add(
            name,
            description,
            preceded_by=(_pack(_ping_wire(name, **changes)),),
            payload=_envelope(Ping(), nonce_label=name, request_id=2).encode(),
            error="replayed",
        )

    # Answers (the receiver asked a ping with request id 1 in version 1.0 and awaits bob's)
    answers = {"request_id": 1, "type": "ping", "version": "1.0"}

    def answer_case(name: str, description: str, payload: bytes, error: str) -> None:
        add(
            name,
            description,
            payload=payload,
            error=error,
            role="requester",
            session=BOB,
            answers=answers,
        )

    answer_case(
        "answer_other_request_id",
        "A pong for request 2.",
        _envelope(Pong(), signer=BOB, request_id=2, nonce_label="a1").encode(),
        "unexpected_message",
    )
    answer_case(
        "answer_wrong_type",
        "A hello response to a ping.",
        _envelope(
            HelloResponse(display_name="Bob", versions=(SMP_1_0,), agent="x"),
            signer=BOB,
            nonce_label="a2",
        ).encode(),
        "unexpected_message",
    )
    answer_case(
        "answer_is_a_request",
        "A ping sent back instead of a pong.",
        _envelope(Ping(), signer=BOB, nonce_label="a3").encode(),
        "unexpected_message",
    )
    answer_case(
        "answer_signed_by_another_key",
        "A pong signed by carol on bob's session.",
        _envelope(Pong(), signer=CAROL, nonce_label="a4").encode(),
        "bad_signature",
    )
    pong = _envelope(Pong(), signer=BOB, nonce_label="a6").to_wire()
    answer_case(
        "answer_with_a_grant",
        "A pong carrying a grant: only a request may.",
        _pack(_resign({**pong, "g": b"grant"}, BOB)),
        "malformed",
    )
    error = _envelope(ErrorMessage(code="internal"), signer=BOB, nonce_label="a7").to_wire()
    answer_case(
        "error_without_message",
        "An error body with a code and no message: code and message are both required.",
        _pack(_resign({**error, "b": {"code": "internal"}}, BOB)),
        "malformed",
    )
    answer_case(
        "answer_in_higher_minor",
        "A pong in version 1.1 to a 1.0 request.",
        _envelope(Pong(), signer=BOB, nonce_label="a5", version=Version(major=1, minor=1)).encode(),
        "unsupported_version",
    )
    return vectors


def _document(description: str, vectors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "description": description,
        "protocol": PROTOCOL_ID,
        "receiver": {"versions": ["1.0"], "skew_ms": DEFAULT_SKEW_MS},
        "vectors": vectors,
    }


def documents() -> dict[str, dict[str, Any]]:
    """Every vector file, by name, as the JSON it holds."""
    return {
        "peer_ids.json": {
            "description": "Ed25519 seed -> public key -> libp2p peer id (identity multihash).",
            "vectors": peer_id_vectors(),
        },
        "canonical.json": {
            "description": "Values (bytes as {'$bytes': hex}) and their canonical msgpack.",
            "vectors": canonical_vectors(),
        },
        "valid.json": _document("Frames a receiver must accept.", valid_vectors()),
        "invalid.json": _document(
            "Frames a receiver must refuse, and the error code to answer.", invalid_vectors()
        ),
    }


def main(write: Callable[[Path, str], object] = Path.write_text) -> int:
    for name, document in documents().items():
        write(HERE / name, render(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
