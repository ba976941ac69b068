"""Sealed bundles: only the recipient opens them, nobody alters or re-addresses them, garbage is a
BundleError, and every vector in smp-spec/vectors/sealed.json holds."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import msgpack
import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secondme.protocol.errors import SmpError
from secondme.protocol.fields import InvalidField
from secondme.protocol.identity import Identity, InvalidPeerId, PeerId, verify
from secondme.protocol.sealed import (
    BUNDLE_KEYS,
    CONTENT_TYPE_PATTERN,
    KEY_INFO,
    MAX_CONTENT_TYPE_LEN,
    MAX_PLAINTEXT_SIZE,
    MAX_SEALED_SIZE,
    SIGNING_CONTEXT,
    BadBundleSignature,
    BundleError,
    MalformedBundle,
    OpenedBundle,
    SealedHeader,
    UndecryptableBundle,
    UnexpectedSender,
    UnsupportedBundleVersion,
    WrongRecipient,
    derive_key,
    open_sealed,
    peek_sealed,
    seal,
)
from secondme.protocol.wire import pack_canonical, unpack_strict

VECTORS = Path(__file__).resolve().parents[3] / "smp-spec" / "vectors"
NOW = 1_700_000_000_000
ALICE = Identity.from_seed(bytes([1]) * 32)
BOB = Identity.from_seed(bytes([2]) * 32)
CAROL = Identity.from_seed(bytes([3]) * 32)
PLAINTEXT = b"Alice's node shares: Bob likes sourdough and the Lisbon trip."


def sealed(
    plaintext: bytes = PLAINTEXT,
    *,
    sender: Identity = ALICE,
    recipient: Identity = BOB,
    content_type: str = "secondme/context-bundle",
    created_ms: int = NOW,
    **options: Any,
) -> bytes:
    return seal(
        sender,
        recipient.peer_id,
        plaintext,
        content_type=content_type,
        created_ms=created_ms,
        **options,
    )


def replaying(*draws: bytes):
    pending = list(draws)

    def random_bytes(size: int) -> bytes:
        draw = pending.pop(0)
        assert len(draw) == size
        return draw

    return random_bytes


def resign(wire: dict[str, Any], signer: Identity) -> bytes:
    unsigned = {key: value for key, value in wire.items() if key != "s"}
    signature = signer.sign(SIGNING_CONTEXT + pack_canonical(unsigned))
    return pack_canonical({**wire, "s": signature})


def refused(data: bytes, opener: Identity = BOB, **options: Any) -> str:
    """The code ``open_sealed`` refuses ``data`` with (the test fails if it opens)."""
    with pytest.raises(BundleError) as caught:
        open_sealed(opener, data, **options)
    return caught.value.code


# Round trip and addressing


def test_round_trip() -> None:
    opened = open_sealed(BOB, sealed())
    assert opened == OpenedBundle(
        sender=ALICE.peer_id,
        recipient=BOB.peer_id,
        content_type="secondme/context-bundle",
        created_ms=NOW,
        plaintext=PLAINTEXT,
    )


def test_round_trip_of_an_empty_plaintext() -> None:
    assert open_sealed(BOB, sealed(b"")).plaintext == b""


def test_round_trip_at_every_limit() -> None:
    plaintext = bytes(range(256)) * (MAX_PLAINTEXT_SIZE // 256)
    plaintext += b"\x01" * (MAX_PLAINTEXT_SIZE - len(plaintext))
    content_type = "z" * MAX_CONTENT_TYPE_LEN
    bundle = sealed(plaintext, content_type=content_type, created_ms=2**64 - 1)
    assert len(bundle) <= MAX_SEALED_SIZE
    opened = open_sealed(BOB, bundle)
    assert (opened.plaintext, opened.content_type, opened.created_ms) == (
        plaintext,
        content_type,
        2**64 - 1,
    )


def test_a_sender_can_seal_to_itself() -> None:
    assert open_sealed(ALICE, sealed(recipient=ALICE)).plaintext == PLAINTEXT


def test_peek_reads_the_header_without_any_key() -> None:
    assert peek_sealed(sealed()) == SealedHeader(
        sender=ALICE.peer_id,
        recipient=BOB.peer_id,
        content_type="secondme/context-bundle",
        created_ms=NOW,
    )


def test_peek_does_not_verify() -> None:
    wire = unpack_strict(sealed())
    forged = pack_canonical({**wire, "ts": 1})
    assert peek_sealed(forged).created_ms == 1
    assert refused(forged) == "bad_bundle_signature"


@pytest.mark.parametrize("other", [ALICE, CAROL], ids=["the sender", "a third party"])
def test_only_the_recipient_can_open(other: Identity) -> None:
    bundle = sealed()
    assert open_sealed(BOB, bundle).plaintext == PLAINTEXT
    with pytest.raises(WrongRecipient):
        open_sealed(other, bundle)


def test_a_bundle_a_third_party_takes_over_does_not_decrypt_for_it() -> None:
    """Carol re-addresses bob's bundle to herself and signs it as hers: it passes her
    recipient and signature checks, but it was encrypted to bob's key."""
    wire = unpack_strict(sealed())
    readdressed = resign({**wire, "from": CAROL.public_key, "to": CAROL.public_key}, CAROL)
    assert refused(readdressed, CAROL) == "undecryptable_bundle"


def test_expected_sender() -> None:
    bundle = sealed()
    assert open_sealed(BOB, bundle, expected_sender=ALICE.peer_id).sender == ALICE.peer_id
    with pytest.raises(UnexpectedSender):
        open_sealed(BOB, bundle, expected_sender=CAROL.peer_id)


def test_recipient_is_checked_before_the_sender() -> None:
    assert refused(sealed(), CAROL, expected_sender=CAROL.peer_id) == "wrong_recipient"


# Tampering


def value_span(bundle: bytes, key: str) -> range:
    """Where the bytes of ``key``'s value lie in a canonical bundle, past their msgpack header
    (a bin's or str's content, an integer's digits)."""
    wire = unpack_strict(bundle)
    position = 1  # the fixmap header of nine keys
    for name in sorted(wire):  # the keys are ASCII, so this is the canonical order
        position += len(pack_canonical(name))
        encoded = pack_canonical(wire[name])
        if name == key:
            value = wire[name]
            if isinstance(value, bytes):
                width = len(value)
            elif isinstance(value, str):
                width = len(value.encode("utf-8"))
            else:
                width = max(1, len(encoded) - 1)
            end = position + len(encoded)
            return range(end - width, end)
        position += len(encoded)
    raise AssertionError(f"no key {key}")


def expected_code(key: str, tampered: bytes) -> str:
    if key == "v":
        return "unsupported_bundle_version"
    if key == "to":
        return "wrong_recipient"
    if key == "ct_type":
        return "bad_bundle_signature" if header_parses(tampered) else "malformed_bundle"
    return "bad_bundle_signature"


def header_parses(data: bytes) -> bool:
    try:
        peek_sealed(data)
    except MalformedBundle:
        return False
    return True


@pytest.mark.parametrize("key", BUNDLE_KEYS)
def test_tampering_any_byte_of_any_field_is_refused_with_its_code(key: str) -> None:
    bundle = sealed(created_ms=NOW)
    span = value_span(bundle, key)
    assert len(span) >= 1
    for position in span:
        tampered = bytearray(bundle)
        tampered[position] ^= 0x01
        assert refused(bytes(tampered)) == expected_code(key, bytes(tampered)), position


def test_tampered_content_type_codes_cover_both_outcomes() -> None:
    """``[a-z]`` flipped to a character off the pattern is malformed; to another letter, the
    signature no longer holds: both branches of expected_code are exercised."""
    bundle = sealed(content_type="a/b")
    span = value_span(bundle, "ct_type")
    codes = set()
    for position in span:
        tampered = bytearray(bundle)
        tampered[position] ^= 0x01
        codes.add(refused(bytes(tampered)))
    assert codes == {"malformed_bundle", "bad_bundle_signature"}


@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_no_single_byte_change_anywhere_opens(flip: int) -> None:
    bundle = sealed(b"short")
    for position in range(len(bundle)):
        tampered = bytearray(bundle)
        tampered[position] ^= flip
        refused(bytes(tampered))


def test_readdressing_and_signing_again_by_a_third_party_is_refused() -> None:
    wire = unpack_strict(sealed())
    readdressed = resign({**wire, "to": CAROL.public_key}, CAROL)
    assert refused(readdressed, CAROL) == "bad_bundle_signature"


def test_a_third_party_cannot_sign_anothers_ciphertext_as_its_own() -> None:
    wire = unpack_strict(sealed())
    claimed = resign({**wire, "from": CAROL.public_key}, CAROL)
    assert refused(claimed) == "undecryptable_bundle"


def test_a_sender_that_encrypts_to_another_key_than_it_names_is_caught() -> None:
    wire = unpack_strict(sealed(recipient=CAROL))
    assert refused(resign({**wire, "to": BOB.public_key}, ALICE)) == "undecryptable_bundle"


def test_a_small_order_ephemeral_key_is_refused() -> None:
    wire = unpack_strict(sealed())
    for point in (bytes(32), bytes([1]) + bytes(31)):
        assert refused(resign({**wire, "epk": point}, ALICE)) == "undecryptable_bundle"


# Malformed input


def test_every_truncation_is_malformed() -> None:
    bundle = sealed(b"short")
    for length in range(len(bundle)):
        assert refused(bundle[:length]) == "malformed_bundle", length


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", pack_canonical([1, 2]), pack_canonical("bundle"), pack_canonical(None)],
    ids=["empty", "not msgpack", "array", "string", "nil"],
)
def test_not_a_map_is_malformed(data: bytes) -> None:
    assert refused(data) == "malformed_bundle"
    with pytest.raises(MalformedBundle):
        peek_sealed(data)


def test_trailing_bytes_are_malformed() -> None:
    assert refused(sealed() + b"\x00") == "malformed_bundle"


def test_an_extra_key_is_malformed_even_when_signed() -> None:
    wire = unpack_strict(sealed())
    assert refused(resign({**wire, "x": 1}, ALICE)) == "malformed_bundle"


@pytest.mark.parametrize("key", [key for key in BUNDLE_KEYS if key not in ("v", "s")])
def test_a_missing_key_is_malformed_even_when_signed(key: str) -> None:
    wire = unpack_strict(sealed())
    del wire[key]
    assert refused(resign(wire, ALICE)) == "malformed_bundle"


def test_a_missing_version_or_signature_is_malformed() -> None:
    wire = unpack_strict(sealed())
    for key in ("v", "s"):
        assert refused(pack_canonical({k: v for k, v in wire.items() if k != key})) == (
            "malformed_bundle"
        )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("v", "1"),
        ("v", True),
        ("v", -1),
        ("from", bytes(31)),
        ("to", "not bytes"),
        ("epk", bytes(33)),
        ("n", bytes(12)),
        ("ct", bytes(15)),
        ("ts", -1),
        ("ts", "now"),
        ("ct_type", ""),
        ("ct_type", "Text/plain"),
        ("ct_type", "x" * (MAX_CONTENT_TYPE_LEN + 1)),
        ("ct_type", b"text/plain"),
        ("s", bytes(63)),
    ],
    ids=lambda item: repr(item)[:24],
)
def test_a_field_of_the_wrong_type_or_size_is_malformed(key: str, value: Any) -> None:
    wire = {**unpack_strict(sealed()), key: value}
    data = pack_canonical(wire) if key == "s" else resign(wire, ALICE)
    assert refused(data) == "malformed_bundle"


def test_a_ciphertext_over_the_limit_is_malformed_though_the_bundle_fits() -> None:
    wire = unpack_strict(sealed())
    bundle = pack_canonical({**wire, "ct": bytes(MAX_PLAINTEXT_SIZE + 17)})
    assert len(bundle) <= MAX_SEALED_SIZE
    assert refused(bundle) == "malformed_bundle"


def test_oversize_input_is_malformed() -> None:
    assert refused(bytes(MAX_SEALED_SIZE + 1)) == "malformed_bundle"
    with pytest.raises(MalformedBundle, match="exceeds"):
        peek_sealed(sealed() + bytes(MAX_SEALED_SIZE))


def test_a_non_canonical_encoding_is_malformed() -> None:
    wire = unpack_strict(sealed())
    reordered = {key: wire[key] for key in BUNDLE_KEYS}
    assert refused(msgpack.packb(reordered, use_bin_type=True)) == "malformed_bundle"
    wide_ts = msgpack.packb({**wire, "ts": 5}, use_bin_type=True).replace(
        b"\xa2ts\x05", b"\xa2ts\xcf" + (5).to_bytes(8, "big")
    )
    assert unpack_strict(wide_ts)["ts"] == 5
    assert refused(wide_ts) == "malformed_bundle"


def test_another_version_is_refused_before_its_layout_is_read() -> None:
    wire = unpack_strict(sealed())
    assert refused(resign({**wire, "v": 2}, ALICE)) == "unsupported_bundle_version"
    with pytest.raises(UnsupportedBundleVersion):
        peek_sealed(pack_canonical({"v": 2, "anything": [1, 2, 3]}))


# Randomness


def test_sealing_is_deterministic_in_its_random_bytes() -> None:
    draws = (bytes(range(32)), bytes(range(100, 124)))
    first = sealed(random_bytes=replaying(*draws))
    second = sealed(random_bytes=replaying(*draws))
    assert first == second
    wire = unpack_strict(first)
    assert wire["epk"] == nacl.bindings.crypto_scalarmult_base(draws[0])
    assert wire["n"] == draws[1]


def test_two_seals_of_one_plaintext_differ() -> None:
    first, second = unpack_strict(sealed()), unpack_strict(sealed())
    assert first["epk"] != second["epk"]
    assert first["n"] != second["n"]
    assert first["ct"] != second["ct"]


# Misuse when sealing


@pytest.mark.parametrize(
    "arguments",
    [
        {"content_type": "Text/Plain"},
        {"content_type": ""},
        {"content_type": "x" * (MAX_CONTENT_TYPE_LEN + 1)},
        {"created_ms": -1},
        {"created_ms": 2**64},
        {"plaintext": bytes(MAX_PLAINTEXT_SIZE + 1)},
        {"plaintext": "text, not bytes"},
        {"random_bytes": lambda size: bytes(size - 1)},
    ],
    ids=lambda arguments: next(iter(arguments)),
)
def test_sealing_bad_arguments_is_a_local_error(arguments: dict[str, Any]) -> None:
    with pytest.raises(InvalidField):
        sealed(**arguments)


def test_sealing_to_a_peer_without_an_ed25519_point_is_a_local_error() -> None:
    with pytest.raises(InvalidPeerId):
        seal(ALICE, PeerId(b"\x00\x01"), b"", content_type="a", created_ms=0)
    with pytest.raises(InvalidPeerId):
        seal(ALICE, PeerId.from_public_key(bytes(32)), b"", content_type="a", created_ms=0)


# Errors and key derivation


def test_error_codes_are_distinct_and_stable() -> None:
    classes = [
        MalformedBundle,
        UnsupportedBundleVersion,
        WrongRecipient,
        UnexpectedSender,
        BadBundleSignature,
        UndecryptableBundle,
    ]
    assert [cls.code for cls in classes] == [
        "malformed_bundle",
        "unsupported_bundle_version",
        "wrong_recipient",
        "unexpected_sender",
        "bad_bundle_signature",
        "undecryptable_bundle",
    ]
    assert all(issubclass(cls, BundleError) for cls in classes)
    assert issubclass(BundleError, SmpError)


def test_derive_key_is_hkdf_sha256() -> None:
    hkdf = pytest.importorskip("cryptography.hazmat.primitives.kdf.hkdf")
    hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
    shared, epk, recipient = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96))
    reference = hkdf.HKDF(
        algorithm=hashes.SHA256(), length=32, salt=epk + recipient, info=KEY_INFO
    ).derive(shared)
    assert derive_key(shared, ephemeral_public=epk, recipient_public=recipient) == reference


# Fuzzing: garbage is a BundleError, never anything else


def only_bundle_errors(data: bytes) -> None:
    for action in (lambda: open_sealed(BOB, data), lambda: peek_sealed(data)):
        with contextlib.suppress(BundleError):
            action()


@given(st.binary(max_size=600))
def test_random_bytes_raise_only_bundle_errors(data: bytes) -> None:
    only_bundle_errors(data)


FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.binary(max_size=80),
    st.text(max_size=70),
    st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1), max_size=3),
)


@given(st.dictionaries(st.sampled_from([*BUNDLE_KEYS, "x"]), FIELD_VALUES, max_size=10))
def test_random_maps_raise_only_bundle_errors(wire: dict[str, Any]) -> None:
    only_bundle_errors(pack_canonical(wire))


GOOD = sealed(b"fuzz me")


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.integers(min_value=1, max_value=255))
def test_a_changed_byte_is_always_refused(position: int, flip: int) -> None:
    tampered = bytearray(GOOD)
    tampered[position] ^= flip
    refused(bytes(tampered))


@given(
    st.binary(max_size=2048),
    st.from_regex(CONTENT_TYPE_PATTERN, fullmatch=True).filter(
        lambda text: len(text) <= MAX_CONTENT_TYPE_LEN
    ),
    st.integers(min_value=0, max_value=2**64 - 1),
)
def test_whatever_is_sealed_opens_as_it_was(plaintext: bytes, content_type: str, ts: int) -> None:
    opened = open_sealed(BOB, sealed(plaintext, content_type=content_type, created_ms=ts))
    assert (opened.plaintext, opened.content_type, opened.created_ms) == (
        plaintext,
        content_type,
        ts,
    )


# Vectors


def load_vectors() -> dict[str, Any]:
    return json.loads((VECTORS / "sealed.json").read_text(encoding="utf-8"))


VECTOR_FILE = load_vectors()


@pytest.mark.parametrize("vector", VECTOR_FILE["valid"], ids=lambda vector: vector["name"])
def test_valid_vector(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    outputs = {
        key: bytes.fromhex(value)
        for key, value in vector["outputs"].items()
        if not key.endswith("peer_id")
    }
    sender = Identity.from_seed(bytes.fromhex(inputs["sender_seed"]))
    recipient = Identity.from_seed(bytes.fromhex(inputs["recipient_seed"]))
    ephemeral_secret = bytes.fromhex(inputs["ephemeral_secret"])
    nonce = bytes.fromhex(inputs["nonce"])
    plaintext = bytes.fromhex(inputs["plaintext"])

    bundle = seal(
        sender,
        recipient.peer_id,
        plaintext,
        content_type=inputs["content_type"],
        created_ms=inputs["created_ms"],
        random_bytes=replaying(ephemeral_secret, nonce),
    )
    assert bundle == outputs["bundle"]
    assert open_sealed(recipient, bundle, expected_sender=sender.peer_id) == OpenedBundle(
        sender=sender.peer_id,
        recipient=recipient.peer_id,
        content_type=inputs["content_type"],
        created_ms=inputs["created_ms"],
        plaintext=plaintext,
    )
    assert str(sender.peer_id) == vector["outputs"]["sender_peer_id"]
    assert str(recipient.peer_id) == vector["outputs"]["recipient_peer_id"]

    # Every intermediate value, each step recomputed from the previous ones.
    x25519_public = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(recipient.public_key)
    x25519_secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(
        recipient.seed + recipient.public_key
    )
    assert outputs["sender_public_key"] == sender.public_key
    assert outputs["recipient_public_key"] == recipient.public_key
    assert outputs["recipient_x25519_public"] == x25519_public
    assert outputs["recipient_x25519_secret"] == x25519_secret
    assert nacl.bindings.crypto_scalarmult_base(x25519_secret) == x25519_public
    assert outputs["ephemeral_public"] == nacl.bindings.crypto_scalarmult_base(ephemeral_secret)
    shared = outputs["shared_secret"]
    assert nacl.bindings.crypto_scalarmult(ephemeral_secret, x25519_public) == shared
    assert nacl.bindings.crypto_scalarmult(x25519_secret, outputs["ephemeral_public"]) == shared
    assert outputs["key"] == derive_key(
        shared, ephemeral_public=outputs["ephemeral_public"], recipient_public=x25519_public
    )
    wire = unpack_strict(bundle)
    header = {key: value for key, value in wire.items() if key not in ("ct", "s")}
    assert outputs["associated_data"] == pack_canonical(header)
    assert wire["ct"] == outputs["ciphertext"]
    assert wire["n"] == nonce
    assert plaintext == nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        outputs["ciphertext"], outputs["associated_data"], nonce, outputs["key"]
    )
    unsigned = {key: value for key, value in wire.items() if key != "s"}
    assert outputs["signed_bytes"] == SIGNING_CONTEXT + pack_canonical(unsigned)
    assert wire["s"] == outputs["signature"]
    verify(sender.public_key, outputs["signed_bytes"], outputs["signature"])


@pytest.mark.parametrize("vector", VECTOR_FILE["invalid"], ids=lambda vector: vector["name"])
def test_invalid_vector(vector: dict[str, Any]) -> None:
    opener = Identity.from_seed(bytes.fromhex(vector["opener_seed"]))
    expected_sender = vector.get("expected_sender")
    code = refused(
        bytes.fromhex(vector["bundle"]),
        opener,
        expected_sender=None if expected_sender is None else PeerId.from_base58(expected_sender),
    )
    assert code == vector["error"]


def test_vectors_have_unique_names_and_name_every_code() -> None:
    names = [vector["name"] for vector in VECTOR_FILE["valid"] + VECTOR_FILE["invalid"]]
    assert len(names) == len(set(names))
    assert {vector["error"] for vector in VECTOR_FILE["invalid"]} == {
        "malformed_bundle",
        "unsupported_bundle_version",
        "wrong_recipient",
        "unexpected_sender",
        "bad_bundle_signature",
        "undecryptable_bundle",
    }


def test_vector_identities_are_the_smp_vector_peers() -> None:
    smp_peers = json.loads((VECTORS / "peer_ids.json").read_text(encoding="utf-8"))["vectors"]
    by_name = {vector["name"]: vector for vector in smp_peers}
    for name, identity in VECTOR_FILE["identities"].items():
        assert identity["peer_id"] == by_name[name]["peer_id"]
        assert identity["seed"] == by_name[name]["seed"]


def test_vector_file_matches_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(VECTORS))  # the generators import vectorkit beside them
    spec = importlib.util.spec_from_file_location(
        "smp_sealed_vectors_generate", VECTORS / "generate_sealed.py"
    )
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert (VECTORS / "sealed.json").read_text(encoding="utf-8") == generate.render(
        generate.document()
    )
