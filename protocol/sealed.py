"""Sealed bundles: a context bundle encrypted to one peer and signed by another, as one blob.

A context bundle (memory snippets a node agreed to share) outlives the SMP stream it came on: it
is stored, forwarded, handed to a relay. The Noise session that carried it vouches for nothing
once it is closed, so a sealed bundle carries its own guarantees:

- **Confidential.** Only the recipient can read the plaintext: it is encrypted with
  XChaCha20-Poly1305 under a key agreed between a fresh ephemeral X25519 key and the X25519 form
  of the recipient's Ed25519 identity key (the same key pair that stands for its peer ID, so no
  key has to be published or looked up first).
- **Verifiable by anyone.** The sender signs the whole bundle (header and ciphertext) with its
  Ed25519 identity key, so the sender is authenticated by the signature, never by the channel
  the bytes came over, and a store or relay can check the signature without the recipient's key.
  Because the recipient's key and the ciphertext are signed, a bundle cannot be re-addressed or
  altered; because the header, sender included, is the AEAD's associated data, a third party
  cannot strip the signature and sign someone else's ciphertext as its own (the recipient then
  cannot decrypt it: ``undecryptable_bundle``).
- **Forward secret for the sender.** The ephemeral secret is forgotten once the bundle is sealed,
  so a later theft of the sender's identity key reveals none of the bundles it sealed (the sender
  cannot read them either). A theft of the *recipient's* key reveals every bundle sealed to it:
  there is no interactive step in which a recipient could contribute a fresh key.

What a bundle does not hide: who sent it, to whom, when (``created_ms``, the sender's clock),
what kind of content it holds (the content type) and how large the plaintext is (ciphertext
minus 16 bytes). It has no freshness or replay check: the same bytes open again tomorrow, and a
caller that must not act twice on one bundle keeps its own record of what it opened.

Sealing is deterministic in the bytes ``random_bytes`` returns (32 for the ephemeral secret, then
24 for the nonce), which is how ``smp-spec/vectors/sealed.json`` is reproducible. The format is
specified in ``smp-spec/sealed.md``; in short, a canonical msgpack map (:mod:`.wire`):

    key      type  limits
    v        uint  1
    from     bin   32 bytes, the sender's Ed25519 public key
    to       bin   32 bytes, the recipient's Ed25519 public key
    epk      bin   32 bytes, the ephemeral X25519 public key
    n        bin   24 bytes, the XChaCha20-Poly1305 nonce
    ct       bin   16 to MAX_PLAINTEXT_SIZE + 16 bytes, ciphertext then tag
    ts       uint  created_ms, ms since the Unix epoch
    ct_type  str   1-64 bytes, [a-z][a-z0-9_./-]*
    s        bin   64 bytes, Ed25519 over SIGNING_CONTEXT + the map without s

Errors, each with a stable ``code``:

    SmpError
    └── BundleError                  bytes that are not a bundle this identity can open
        ├── MalformedBundle          too large, not canonical msgpack, wrong keys or fields
        ├── UnsupportedBundleVersion v is not 1 (checked before the rest of the layout)
        ├── WrongRecipient           sealed for another identity
        ├── UnexpectedSender         signed by someone other than the sender the caller expects
        ├── BadBundleSignature       not signed by the key in from
        └── UndecryptableBundle      signed, yet not decryptable with the recipient's key

Building a bundle from bad arguments (a content type off the pattern, a plaintext over the
limit, a recipient whose peer ID holds no usable Ed25519 key) is the caller's bug and raises
``ValueError`` (:class:`~secondme.protocol.fields.InvalidField`,
:class:`~secondme.protocol.identity.InvalidPeerId`), not a :class:`BundleError`.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions

from secondme.protocol.errors import MalformedFrame, SmpError
from secondme.protocol.fields import InvalidField, check_bytes, check_keys, check_str, check_uint
from secondme.protocol.framing import MAX_FRAME_SIZE
from secondme.protocol.identity import Identity, InvalidPeerId, PeerId, verify
from secondme.protocol.wire import pack_canonical, unpack_strict

SEALED_VERSION = 1
MAX_SEALED_SIZE = MAX_FRAME_SIZE
"""Bytes in one sealed bundle (4 MiB)."""
MAX_PLAINTEXT_SIZE = MAX_SEALED_SIZE - 1024
"""Bytes of plaintext; the 1 KiB left over holds the rest of the map (at most 308 bytes)."""
KEY_SIZE = 32
NONCE_SIZE = 24
TAG_SIZE = 16
SIGNATURE_SIZE = 64
MAX_CONTENT_TYPE_LEN = 64
CONTENT_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_./-]*")
SIGNING_CONTEXT = b"secondme/sealed/1 bundle\x00"
"""Prefix of the signed bytes; keeps a bundle signature from being valid for anything else."""
KEY_INFO = b"secondme/sealed/1 key"
"""HKDF ``info`` of the bundle key."""

HEADER_KEYS = ("v", "from", "to", "epk", "n", "ts", "ct_type")
"""The header: its canonical encoding is the AEAD's associated data."""
SIGNED_KEYS = (*HEADER_KEYS, "ct")
"""The keys whose canonical encoding, after SIGNING_CONTEXT, is signed."""
BUNDLE_KEYS = (*SIGNED_KEYS, "s")


class BundleError(SmpError):
    """Bytes that are not a sealed bundle this identity can open; ``code`` says why."""

    code = "bundle_error"


class MalformedBundle(BundleError):
    code = "malformed_bundle"


class UnsupportedBundleVersion(BundleError):
    code = "unsupported_bundle_version"


class WrongRecipient(BundleError):
    code = "wrong_recipient"


class UnexpectedSender(BundleError):
    code = "unexpected_sender"


class BadBundleSignature(BundleError):
    code = "bad_bundle_signature"


class UndecryptableBundle(BundleError):
    """Signed by its sender but not decryptable: the sender encrypted to another key than the
    one it named, or signed a ciphertext someone else made for another header."""

    code = "undecryptable_bundle"


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedHeader:
    """What a bundle says about itself, readable without the recipient's key.

    From :func:`peek_sealed` these are claims, good for routing and storing: only
    :func:`open_sealed` checks that the sender signed them.
    """

    sender: PeerId
    recipient: PeerId
    content_type: str
    created_ms: int

    def __post_init__(self) -> None:
        check_str(
            "content type",
            self.content_type,
            min_bytes=1,
            max_bytes=MAX_CONTENT_TYPE_LEN,
            pattern=CONTENT_TYPE_PATTERN,
        )
        check_uint("created_ms", self.created_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedBundle:
    """A bundle whose signature held and whose plaintext decrypted."""

    sender: PeerId
    recipient: PeerId
    content_type: str
    created_ms: int
    plaintext: bytes


def derive_key(shared_secret: bytes, *, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    """The 32-byte AEAD key: HKDF-SHA256 (RFC 5869) of the X25519 shared secret, salted with
    both X25519 public keys so that the key names the exchange it came from.

    For 32 bytes, HKDF-Expand is a single HMAC block: ``HMAC(PRK, info || 0x01)``.
    """
    prk = hmac.digest(ephemeral_public + recipient_public, shared_secret, "sha256")
    return hmac.digest(prk, KEY_INFO + b"\x01", "sha256")


def _x25519_public(ed25519_public: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(ed25519_public)
    except nacl.exceptions.RuntimeError as exc:
        raise InvalidPeerId("the Ed25519 key is not a point of the prime-order group") from exc


def _shared_secret(secret: bytes, public: bytes) -> bytes:
    """X25519; raises ``ValueError`` when ``public`` is of small order (an all-zero secret)."""
    try:
        shared = nacl.bindings.crypto_scalarmult(secret, public)
    except nacl.exceptions.RuntimeError as exc:
        raise ValueError("X25519 gave the all-zero shared secret") from exc
    if shared == bytes(KEY_SIZE):
        raise ValueError("X25519 gave the all-zero shared secret")
    return shared


def _signing_bytes(wire: dict[str, Any]) -> bytes:
    return SIGNING_CONTEXT + pack_canonical({key: wire[key] for key in SIGNED_KEYS})


def _associated_data(wire: dict[str, Any]) -> bytes:
    return pack_canonical({key: wire[key] for key in HEADER_KEYS})


def seal(
    sender: Identity,
    recipient: PeerId,
    plaintext: bytes,
    *,
    content_type: str,
    created_ms: int,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Encrypt ``plaintext`` to ``recipient`` and sign the result as ``sender``.

    Draws ``random_bytes(32)`` (the ephemeral X25519 secret) and then ``random_bytes(24)`` (the
    nonce); both must be fresh for every bundle. Raises :class:`InvalidField` for a content
    type, timestamp or plaintext out of its limits, and :class:`InvalidPeerId` for a recipient
    without a usable Ed25519 key.
    """
    header = SealedHeader(
        sender=sender.peer_id,
        recipient=recipient,
        content_type=content_type,
        created_ms=created_ms,
    )
    check_bytes("plaintext", plaintext, max_len=MAX_PLAINTEXT_SIZE)
    recipient_key = recipient.public_key()
    recipient_public = _x25519_public(recipient_key)
    ephemeral_secret = check_bytes(
        "ephemeral secret", random_bytes(KEY_SIZE), min_len=KEY_SIZE, max_len=KEY_SIZE
    )
    nonce = check_bytes("nonce", random_bytes(NONCE_SIZE), min_len=NONCE_SIZE, max_len=NONCE_SIZE)
    ephemeral_public = nacl.bindings.crypto_scalarmult_base(ephemeral_secret)
    # Cannot fail: _x25519_public refuses the small-order points that would give zero.
    shared_secret = _shared_secret(ephemeral_secret, recipient_public)
    key = derive_key(
        shared_secret, ephemeral_public=ephemeral_public, recipient_public=recipient_public
    )
    wire: dict[str, Any] = {
        "v": SEALED_VERSION,
        "from": sender.public_key,
        "to": recipient_key,
        "epk": ephemeral_public,
        "n": nonce,
        "ts": header.created_ms,
        "ct_type": header.content_type,
    }
    wire["ct"] = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, _associated_data(wire), nonce, key
    )
    wire["s"] = sender.sign(_signing_bytes(wire))
    return pack_canonical(wire)


@contextmanager
def _reading_bundle() -> Iterator[None]:
    """Within this block, an :class:`InvalidField` is the sender's fault: a malformed bundle."""
    try:
        yield
    except InvalidField as exc:
        raise MalformedBundle(f"sealed bundle: {exc}") from exc


def _read(data: bytes) -> tuple[dict[str, Any], SealedHeader]:
    """The bundle's map, every field checked, and its header; raises :class:`MalformedBundle`
    or :class:`UnsupportedBundleVersion` (read first: another version may lay the map out
    differently)."""
    if len(data) > MAX_SEALED_SIZE:
        raise MalformedBundle(f"sealed bundle of {len(data)} bytes exceeds {MAX_SEALED_SIZE}")
    try:
        wire = unpack_strict(data)
    except MalformedFrame as exc:
        raise MalformedBundle(f"sealed bundle: {exc.message}") from exc
    if type(wire) is not dict:
        raise MalformedBundle(f"a sealed bundle is a map, not {type(wire).__name__}")
    if "v" not in wire:
        raise MalformedBundle("sealed bundle lacks v")
    with _reading_bundle():
        version = check_uint("v", wire["v"])
    if version != SEALED_VERSION:
        raise UnsupportedBundleVersion(f"sealed bundle version {version} is not {SEALED_VERSION}")
    with _reading_bundle():
        check_keys("sealed bundle", wire, required=BUNDLE_KEYS, optional=())
        for key in ("from", "to", "epk"):
            check_bytes(key, wire[key], min_len=KEY_SIZE, max_len=KEY_SIZE)
        check_bytes("n", wire["n"], min_len=NONCE_SIZE, max_len=NONCE_SIZE)
        check_bytes("ct", wire["ct"], min_len=TAG_SIZE, max_len=MAX_PLAINTEXT_SIZE + TAG_SIZE)
        check_bytes("s", wire["s"], min_len=SIGNATURE_SIZE, max_len=SIGNATURE_SIZE)
        header = SealedHeader(
            sender=PeerId.from_public_key(wire["from"]),
            recipient=PeerId.from_public_key(wire["to"]),
            content_type=wire["ct_type"],
            created_ms=wire["ts"],
        )
    # One bundle, one byte string: a stored bundle's hash can name it.
    if pack_canonical(wire) != data:
        raise MalformedBundle("sealed bundle is not in canonical msgpack")
    return wire, header


def peek_sealed(data: bytes) -> SealedHeader:
    """The header of a bundle, checked for structure but neither verified nor decrypted.

    Raises :class:`MalformedBundle` or :class:`UnsupportedBundleVersion`; bytes it accepts may
    still fail :func:`open_sealed` at any later step.
    """
    return _read(data)[1]


def open_sealed(
    recipient: Identity, data: bytes, *, expected_sender: PeerId | None = None
) -> OpenedBundle:
    """Check and decrypt a bundle sealed for ``recipient``.

    The checks run in this order, and the first that fails raises: size and structure
    (:class:`MalformedBundle`, or :class:`UnsupportedBundleVersion` for another version), the
    recipient (:class:`WrongRecipient`), the sender when ``expected_sender`` is given
    (:class:`UnexpectedSender`), the signature (:class:`BadBundleSignature`), decryption
    (:class:`UndecryptableBundle`). Raises nothing else, whatever bytes ``data`` holds.
    """
    wire, header = _read(data)
    if wire["to"] != recipient.public_key:
        raise WrongRecipient(f"sealed bundle is for {header.recipient}, not {recipient.peer_id}")
    if expected_sender is not None and header.sender != expected_sender:
        raise UnexpectedSender(f"sealed bundle is from {header.sender}, not {expected_sender}")
    try:
        verify(wire["from"], _signing_bytes(wire), wire["s"])
    except nacl.exceptions.BadSignatureError as exc:
        raise BadBundleSignature(f"sealed bundle is not signed by {header.sender}") from exc
    recipient_secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(
        recipient.seed + recipient.public_key
    )
    # Equal to _x25519_public(recipient.public_key), at a quarter of the cost: the conversion
    # checks that the point is in the prime-order subgroup, which our own key is.
    recipient_public = nacl.bindings.crypto_scalarmult_base(recipient_secret)
    try:
        shared_secret = _shared_secret(recipient_secret, wire["epk"])
        key = derive_key(
            shared_secret, ephemeral_public=wire["epk"], recipient_public=recipient_public
        )
        plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            wire["ct"], _associated_data(wire), wire["n"], key
        )
    except (ValueError, nacl.exceptions.CryptoError) as exc:
        raise UndecryptableBundle(
            f"sealed bundle from {header.sender} does not decrypt with {recipient.peer_id}'s key"
        ) from exc
    return OpenedBundle(
        sender=header.sender,
        recipient=header.recipient,
        content_type=header.content_type,
        created_ms=header.created_ms,
        plaintext=plaintext,
    )
