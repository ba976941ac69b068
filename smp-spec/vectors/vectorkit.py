"""What every vector generator beside this file shares: fixed draws, the people, JSON, envelopes.

The generators are scripts (``python smp-spec/vectors/generate_groups.py``) that import this
module from their own folder. Everything here is deterministic: a "random" value is the hash of
a label, so that a run gives the same bytes as the last one. Each generator draws its nonces
and ids under its own family name (``Draws("group")``), so no two generators share one; the
seeds of the people are the same in every file, so alice is the same peer everywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from secondme.protocol.envelope import SMP_1_0, Envelope, Version
from secondme.protocol.framing import encode_frame
from secondme.protocol.identity import Identity
from secondme.protocol.messages import Message

HERE = Path(__file__).resolve().parent
"""The folder the generators write their files into (this one)."""
NOW_MS = 1_700_000_000_000
"""The time of every vector unless it says otherwise: 2023-11-14T22:13:20Z."""


def fixed_bytes(text: str) -> bytes:
    """32 bytes that stand in for a random draw: the SHA-256 of ``text``."""
    return hashlib.sha256(text.encode()).digest()


def seed(label: str) -> bytes:
    """The Ed25519 seed of the person called ``label``, the same in every vector file."""
    return fixed_bytes(f"smp test vector seed: {label}")


def person(label: str) -> Identity:
    return Identity.from_seed(seed(label))


ALICE = person("alice")
BOB = person("bob")
CAROL = person("carol")
DAVE = person("dave")


@dataclass(frozen=True, slots=True)
class Draws:
    """Fixed draws of one generator: ``{family} test vector {what}: {label}``, hashed."""

    family: str
    nonce_name: str = "nonce"
    nonce_size: int = 16

    def nonce(self, label: str) -> bytes:
        return fixed_bytes(f"{self.family} test vector {self.nonce_name}: {label}")[
            : self.nonce_size
        ]

    def hex_id(self, label: str) -> str:
        """A network, invite or group id: 32 lowercase hex digits."""
        return fixed_bytes(f"{self.family} test vector id: {label}").hex()[:32]

    def random(self, label: str, size: int) -> bytes:
        """The first ``size`` bytes (at most 32) of a draw named ``label``."""
        assert size <= 32
        return fixed_bytes(f"{self.family} test vector random: {label}")[:size]


def replaying(*draws: bytes) -> Callable[[int], bytes]:
    """A ``random_bytes`` that returns ``draws`` in order, each for a request of its size."""
    pending = list(draws)

    def random_bytes(size: int) -> bytes:
        draw = pending.pop(0)
        assert len(draw) == size, (len(draw), size)
        return draw

    return random_bytes


def to_json(value: Any) -> Any:
    """JSON for a decoded msgpack value: bytes become ``{"$bytes": hex}``."""
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def identity_json(identity: Identity) -> dict[str, str]:
    return {
        "seed": identity.seed.hex(),
        "public_key": identity.public_key.hex(),
        "peer_id": str(identity.peer_id),
    }


def raw_map(pairs: list[tuple[str, bytes]]) -> bytes:
    """A msgpack map from already-encoded values, in the order given (for encodings
    msgpack-python will not write)."""
    assert len(pairs) < 16
    out = bytes([0x80 | len(pairs)])
    for key, encoded in pairs:
        out += msgpack.packb(key) + encoded
    return out


def envelope(
    message: Message,
    *,
    signer: Identity,
    nonce: bytes,
    request_id: int | None = 1,
    timestamp_ms: int = NOW_MS,
    grant: bytes | None = None,
    version: Version = SMP_1_0,
) -> Envelope:
    """``message`` in an envelope signed by ``signer``."""
    return Envelope.sign(
        signer,
        version=version,
        message_type=message.TYPE,
        request_id=request_id,
        kind=message.KIND,
        timestamp_ms=timestamp_ms,
        nonce=nonce,
        grant=grant,
        body=message.to_body(),
    )


def envelope_json(name: str, description: str, sent: Envelope, signer: str) -> dict[str, Any]:
    """A vector of one envelope: its body, wire map, signing bytes, payload and frame."""
    payload = sent.encode()
    return {
        "name": name,
        "description": description,
        "signer": signer,
        "type": sent.message_type,
        "kind": sent.kind.value,
        "body": to_json(dict(sent.body)),
        "envelope": to_json(sent.to_wire()),
        "signing_bytes": sent.signing_bytes().hex(),
        "payload": payload.hex(),
        "frame": encode_frame(payload).hex(),
    }


def render(document: dict[str, Any]) -> str:
    """A vector file's text: two-space JSON, UTF-8 as is, one final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
