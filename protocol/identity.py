"""Peer identity: Ed25519 keys and the libp2p peer IDs derived from them.

Sans-IO and dependency-light so every package (node, discovery, a second implementation) derives
the same peer ID from the same key. A libp2p peer ID for an Ed25519 key is the *identity*
multihash of the protobuf-encoded public key (``PublicKey{Type: Ed25519, Data: 32 bytes}``),
written in base58btc; it starts with ``12D3KooW``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import base58
import nacl.exceptions
import nacl.signing

ED25519_KEY_TYPE = 1
PEER_ID_TEXT = re.compile(r"[1-9A-HJ-NP-Za-km-z]{40,64}")
"""What a peer ID looks like in a message field (base58); :meth:`PeerId.from_base58` decides."""
_IDENTITY_MULTIHASH = 0x00
_PROTOBUF_TYPE_FIELD = 0x08
_PROTOBUF_DATA_FIELD = 0x12


class InvalidPeerId(ValueError):
    """A string or byte string is not an Ed25519 libp2p peer ID."""


def encode_public_key(public_key: bytes) -> bytes:
    """The libp2p protobuf encoding of an Ed25519 public key (36 bytes)."""
    if len(public_key) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
    return bytes([_PROTOBUF_TYPE_FIELD, ED25519_KEY_TYPE, _PROTOBUF_DATA_FIELD, 32]) + public_key


@dataclass(frozen=True, slots=True)
class PeerId:
    """A libp2p peer ID of an Ed25519 key; compares by value, prints as base58."""

    multihash: bytes

    @classmethod
    def from_public_key(cls, public_key: bytes) -> PeerId:
        encoded = encode_public_key(public_key)
        return cls(bytes([_IDENTITY_MULTIHASH, len(encoded)]) + encoded)

    @classmethod
    def from_base58(cls, text: str) -> PeerId:
        try:
            raw = base58.b58decode(text)
        except ValueError as exc:
            raise InvalidPeerId(f"not base58: {text!r}") from exc
        peer = cls(raw)
        peer.public_key()
        return peer

    def public_key(self) -> bytes:
        """The Ed25519 public key inside this peer ID; raises :class:`InvalidPeerId`."""
        raw = self.multihash
        if len(raw) != 38 or raw[0] != _IDENTITY_MULTIHASH or raw[1] != 36:
            raise InvalidPeerId("not an identity multihash of an Ed25519 key")
        if raw[2:6] != bytes([_PROTOBUF_TYPE_FIELD, ED25519_KEY_TYPE, _PROTOBUF_DATA_FIELD, 32]):
            raise InvalidPeerId("not an Ed25519 public key")
        return raw[6:]

    def __str__(self) -> str:
        return _base58(self.multihash)


@functools.lru_cache(maxsize=4096)
def _base58(raw: bytes) -> str:
    """Peer IDs are printed on every request (logs, audit, grants); base58 in pure Python is
    slow enough to matter there."""
    return base58.b58encode(raw).decode("ascii")


class Identity:
    """An Ed25519 signing key and the peer ID it stands for."""

    __slots__ = ("_signing_key",)

    def __init__(self, signing_key: nacl.signing.SigningKey) -> None:
        self._signing_key = signing_key

    @classmethod
    def generate(cls) -> Identity:
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        if len(seed) != 32:
            raise ValueError(f"an Ed25519 seed has 32 bytes, not {len(seed)}")
        return cls(nacl.signing.SigningKey(seed))

    @property
    def seed(self) -> bytes:
        return bytes(self._signing_key)

    @property
    def public_key(self) -> bytes:
        return bytes(self._signing_key.verify_key)

    @property
    def peer_id(self) -> PeerId:
        return PeerId.from_public_key(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """A detached 64-byte signature."""
        return self._signing_key.sign(message).signature


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Check a detached signature; raises ``nacl.exceptions.BadSignatureError`` if it is wrong."""
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.ValueError as exc:
        raise nacl.exceptions.BadSignatureError(str(exc)) from exc
