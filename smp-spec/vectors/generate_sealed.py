"""Write the sealed-bundle test vectors (``sealed.json`` beside this file) from fixed values.

Run ``python smp-spec/vectors/generate_sealed.py`` from the repository root after a change to
``protocol/sealed.py``; the output is the same byte for byte on every run (fixed seeds, ephemeral
secrets, nonces and timestamps, no randomness), and ``tests/unit/protocol/test_sealed.py`` checks
both that every vector holds and that the file is what this script writes now.

The identities are those of the SMP vectors (``peer_ids.json``: alice, bob, carol). The file,
described in ``smp-spec/sealed.md`` ("Test vectors"), holds:

- ``valid``: bundles the recipient must open, with every intermediate value of sealing;
- ``invalid``: bundles the opener must refuse, with the error code it must raise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import nacl.bindings

from secondme.protocol.identity import Identity
from secondme.protocol.sealed import (
    MAX_CONTENT_TYPE_LEN,
    MAX_PLAINTEXT_SIZE,
    MAX_SEALED_SIZE,
    SIGNING_CONTEXT,
    derive_key,
    seal,
)
from secondme.protocol.wire import pack_canonical

from vectorkit import ALICE, BOB, CAROL, HERE, NOW_MS, Draws, fixed_bytes, render, replaying

DRAWS = Draws("sealed", nonce_size=24)
CREATED_MS = NOW_MS
"""The created_ms of every bundle unless a vector says otherwise: 2023-11-14T22:13:20Z."""


def _ephemeral_secret(label: str) -> bytes:
    return fixed_bytes(f"sealed test vector ephemeral secret: {label}")


def _seal(
    label: str,
    sender: Identity,
    recipient: Identity,
    plaintext: bytes,
    *,
    content_type: str = "text/plain",
    created_ms: int = CREATED_MS,
) -> bytes:
    return seal(
        sender,
        recipient.peer_id,
        plaintext,
        content_type=content_type,
        created_ms=created_ms,
        random_bytes=replaying(_ephemeral_secret(label), DRAWS.nonce(label)),
    )


def _decode(bundle: bytes) -> dict[str, Any]:
    return msgpack.unpackb(bundle, raw=False)


def _resign(wire: dict[str, Any], signer: Identity) -> dict[str, Any]:
    """Sign a raw map (which may break rules ``seal`` enforces) the way a sender would, so that
    a vector's only defect is the one it is named for."""
    unsigned = {key: value for key, value in wire.items() if key != "s"}
    return {**wire, "s": signer.sign(SIGNING_CONTEXT + pack_canonical(unsigned))}


def _valid(
    name: str,
    description: str,
    sender: Identity,
    recipient: Identity,
    plaintext: bytes,
    *,
    content_type: str = "text/plain",
    created_ms: int = CREATED_MS,
) -> dict[str, Any]:
    bundle = _seal(
        name, sender, recipient, plaintext, content_type=content_type, created_ms=created_ms
    )
    wire = _decode(bundle)
    ephemeral_secret = _ephemeral_secret(name)
    recipient_sk = recipient.seed + recipient.public_key
    recipient_x25519_public = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(
        recipient.public_key
    )
    shared_secret = nacl.bindings.crypto_scalarmult(ephemeral_secret, recipient_x25519_public)
    aead_key = derive_key(
        shared_secret, ephemeral_public=wire["epk"], recipient_public=recipient_x25519_public
    )
    header = {key: value for key, value in wire.items() if key not in ("ct", "s")}
    unsigned = {key: value for key, value in wire.items() if key != "s"}
    return {
        "name": name,
        "description": description,
        "inputs": {
            "sender_seed": sender.seed.hex(),
            "recipient_seed": recipient.seed.hex(),
            "ephemeral_secret": ephemeral_secret.hex(),
            "nonce": DRAWS.nonce(name).hex(),
            "content_type": content_type,
            "created_ms": created_ms,
            "plaintext": plaintext.hex(),
        },
        "outputs": {
            "sender_public_key": sender.public_key.hex(),
            "sender_peer_id": str(sender.peer_id),
            "recipient_public_key": recipient.public_key.hex(),
            "recipient_peer_id": str(recipient.peer_id),
            "recipient_x25519_public": recipient_x25519_public.hex(),
            "recipient_x25519_secret": nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(
                recipient_sk
            ).hex(),
            "ephemeral_public": wire["epk"].hex(),
            "shared_secret": shared_secret.hex(),
            "key": aead_key.hex(),
            "associated_data": pack_canonical(header).hex(),
            "ciphertext": wire["ct"].hex(),
            "signed_bytes": (SIGNING_CONTEXT + pack_canonical(unsigned)).hex(),
            "signature": wire["s"].hex(),
            "bundle": bundle.hex(),
        },
    }


SNIPPETS = pack_canonical(
    {"snippets": [f"snippet {i}: the Lisbon trip, day {i}" for i in range(9)]}
)


def valid_vectors() -> list[dict[str, Any]]:
    return [
        _valid(
            "text",
            "A short UTF-8 note from alice to bob.",
            ALICE,
            BOB,
            "Bob: Zoë likes hiking near Lisbon 🌍".encode(),
        ),
        _valid(
            "empty_plaintext",
            "An empty plaintext: the ciphertext is the 16-byte tag alone.",
            ALICE,
            BOB,
            b"",
            content_type="application/octet-stream",
        ),
        _valid(
            "context_bundle_bin16",
            f"{len(SNIPPETS)} bytes of msgpack snippets: the ciphertext, over 255 bytes, takes "
            "a bin 16 header.",
            ALICE,
            BOB,
            SNIPPETS,
            content_type="secondme/context-bundle",
        ),
        _valid(
            "limits",
            "Bob to alice, created_ms 0, a content type of the full 64 bytes.",
            BOB,
            ALICE,
            b"\x00\xff" * 8,
            content_type="x" + "0123456789_./-ab" * 3 + "z" * (MAX_CONTENT_TYPE_LEN - 49),
            created_ms=0,
        ),
    ]


def invalid_vectors() -> list[dict[str, Any]]:
    vectors = []

    def add(
        name: str,
        description: str,
        bundle: bytes,
        error: str,
        *,
        opener: Identity = BOB,
        expected_sender: Identity | None = None,
    ) -> None:
        vector: dict[str, Any] = {
            "name": name,
            "description": description,
            "opener_seed": opener.seed.hex(),
        }
        if expected_sender is not None:
            vector["expected_sender"] = str(expected_sender.peer_id)
        vector |= {"bundle": bundle.hex(), "error": error}
        vectors.append(vector)

    good = _seal("good", ALICE, BOB, b"for bob only")
    wire = _decode(good)

    def changed(**changes: Any) -> bytes:
        """``good`` with some fields changed and alice's signature made again."""
        return pack_canonical(_resign({**wire, **changes}, ALICE))

    # Structure
    add("empty", "Zero bytes.", b"", "malformed_bundle")
    add("not_a_map", "An array instead of a map.", pack_canonical([1]), "malformed_bundle")
    add("truncated", "The good bundle without its last byte.", good[:-1], "malformed_bundle")
    add("trailing_byte", "The good bundle and one more byte.", good + b"\x00", "malformed_bundle")
    add(
        "not_canonical",
        "The good bundle's map with its keys in the order of the format table: the same "
        "values, another encoding.",
        msgpack.packb(
            {key: wire[key] for key in ("v", "from", "to", "epk", "n", "ct", "ts", "ct_type", "s")},
            use_bin_type=True,
        ),
        "malformed_bundle",
    )
    add("extra_key", "A tenth key x, signed.", changed(x=1), "malformed_bundle")
    unsigned = {key: value for key, value in wire.items() if key != "ts"}
    add(
        "missing_key",
        "No ts, signed.",
        pack_canonical(_resign(unsigned, ALICE)),
        "malformed_bundle",
    )
    add("v_as_string", 'v is the string "1".', changed(v="1"), "malformed_bundle")
    add("short_nonce", "A 12-byte nonce, signed.", changed(n=wire["n"][:12]), "malformed_bundle")
    add(
        "short_signature",
        "A 63-byte signature.",
        pack_canonical({**wire, "s": wire["s"][:63]}),
        "malformed_bundle",
    )
    add("ct_shorter_than_tag", "A 15-byte ct, signed.", changed(ct=bytes(15)), "malformed_bundle")
    add("negative_ts", "ts is -1, signed.", changed(ts=-1), "malformed_bundle")
    add(
        "content_type_uppercase",
        "The content type Text/Plain, signed.",
        changed(ct_type="Text/Plain"),
        "malformed_bundle",
    )

    # Version: read before the rest of the layout
    add(
        "version_2",
        "v is 2, signed; otherwise version 1's layout.",
        changed(v=2),
        "unsupported_bundle_version",
    )
    add(
        "version_2_other_layout",
        "v is 2 and the map holds nothing version 1 knows.",
        pack_canonical({"v": 2, "payload": b"?"}),
        "unsupported_bundle_version",
    )

    # Addressing
    add(
        "wrong_recipient",
        "The good bundle, opened by carol.",
        good,
        "wrong_recipient",
        opener=CAROL,
    )
    add(
        "unexpected_sender",
        "The good bundle, opened by bob who expects a bundle from carol.",
        good,
        "unexpected_sender",
        expected_sender=CAROL,
    )

    # Signature
    flipped = bytearray(wire["ct"])
    flipped[0] ^= 0x01
    add(
        "ciphertext_changed",
        "One bit of ct flipped after signing.",
        pack_canonical({**wire, "ct": bytes(flipped)}),
        "bad_bundle_signature",
    )
    add(
        "readdressed_by_third_party",
        "to changed to carol and the bundle signed again by carol; from is still alice.",
        pack_canonical(_resign({**wire, "to": CAROL.public_key}, CAROL)),
        "bad_bundle_signature",
        opener=CAROL,
    )
    add(
        "sender_not_a_point",
        "from is 32 bytes that are not an Ed25519 point.",
        pack_canonical({**wire, "from": b"\xff" * 32}),
        "bad_bundle_signature",
    )

    # Decryption, after a valid signature
    add(
        "resigned_by_third_party",
        "carol put her key in from and signed alice's ciphertext as hers: the associated "
        "data no longer matches.",
        pack_canonical(_resign({**wire, "from": CAROL.public_key}, CAROL)),
        "undecryptable_bundle",
    )
    for_carol = _decode(_seal("for_carol", ALICE, CAROL, b"for bob only"))
    add(
        "sealed_to_another_key",
        "alice encrypted to carol's key, then named bob in to and signed.",
        pack_canonical(_resign({**for_carol, "to": BOB.public_key}, ALICE)),
        "undecryptable_bundle",
    )
    add(
        "small_order_ephemeral_key",
        "epk is the X25519 point 0 (small order), signed: the shared secret would be zero.",
        changed(epk=bytes(32)),
        "undecryptable_bundle",
    )
    return vectors


def document() -> dict[str, Any]:
    return {
        "description": "Sealed bundles (secondme/sealed/1): bundles to open and to refuse.",
        "limits": {
            "max_sealed_size": MAX_SEALED_SIZE,
            "max_plaintext_size": MAX_PLAINTEXT_SIZE,
            "max_content_type_len": MAX_CONTENT_TYPE_LEN,
        },
        "identities": {
            name: {
                "seed": identity.seed.hex(),
                "public_key": identity.public_key.hex(),
                "peer_id": str(identity.peer_id),
            }
            for name, identity in (("alice", ALICE), ("bob", BOB), ("carol", CAROL))
        },
        "valid": valid_vectors(),
        "invalid": invalid_vectors(),
    }


def main(write: Callable[[Path, str], object] = Path.write_text) -> int:
    write(HERE / "sealed.json", render(document()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
