"""The SMP envelope: one signed msgpack map per frame, around every request, response and error.

An envelope says which protocol version it speaks, which message type its body holds, which
request it is or answers, when and with which nonce it was made (for the replay window), the
grant that authorises a request, and the sender's Ed25519 signature over all of that. Decoding
is strict (:mod:`secondme.protocol.wire`): a peer cannot make this node hold unbounded memory,
recurse deeply, or read one payload two ways.

Wire keys (a map; all nine are required and no other key is allowed):

    key   field          type                        limits
    v     version        array [major, minor]        two uints <= 65535; major must be 1
    t     message_type   str                         1-64 bytes, [a-z][a-z0-9_./-]*
    id    request_id     uint64 or nil               nil only in an error that could not
                                                     read the request's id
    k     kind           str                         "request", "response" or "error"
    ts    timestamp_ms   uint64                      ms since the Unix epoch, sender's clock
    n     nonce          bin                         exactly 16 bytes, random
    g     grant          bin or nil                  1-65536 bytes; nil unless kind is request
    b     body           map (str keys)              checked by the message type
    s     signature      bin                         exactly 64 bytes, Ed25519

The signature covers the canonical encoding (:func:`~secondme.protocol.wire.pack_canonical`)
of the array ``["secondme/smp/1 envelope", major, minor, t, id, k, ts, n, g, b]``; the first
element keeps a signature made for SMP from being valid for anything else the same key signs.
The key that verifies it comes from the peer ID of the Noise session, never from the envelope.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import nacl.exceptions

from secondme.protocol.errors import (
    FrameTooLarge,
    InvalidSignature,
    LocalProtocolError,
    MalformedFrame,
    UnsupportedVersion,
)
from secondme.protocol.fields import (
    InvalidField,
    check_bytes,
    check_keys,
    check_str,
    check_uint,
    reading_body,
)
from secondme.protocol.framing import MAX_FRAME_SIZE
from secondme.protocol.identity import Identity, InvalidPeerId, PeerId, verify
from secondme.protocol.wire import (
    MAX_KEY_LEN,
    Value,
    check_structure,
    pack_canonical,
    unpack_strict,
)

PROTOCOL_ID = "/secondme/smp/1.0.0"
"""The libp2p protocol id of SMP streams; its version is the major version of the envelope."""
WIRE_MAJOR = 1
"""The major version whose envelope layout this module reads and writes."""
MAX_ENVELOPE_SIZE = MAX_FRAME_SIZE
NONCE_SIZE = 16
SIGNATURE_SIZE = 64
MAX_GRANT_SIZE = 64 * 1024
MAX_TYPE_LEN = 64
MAX_VERSION_PART = 65_535
TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_./-]*")
SIGNING_CONTEXT = "secondme/smp/1 envelope"

ENVELOPE_KEYS = ("v", "t", "id", "k", "ts", "n", "g", "b", "s")


class Kind(StrEnum):
    """What an envelope is: a request, or one of the two ways to answer it."""

    REQUEST = "request"
    RESPONSE = "response"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Version:
    """A protocol version; peers agree when the majors are equal (see ``session``)."""

    major: int
    minor: int

    def __post_init__(self) -> None:
        check_uint("version major", self.major, maximum=MAX_VERSION_PART)
        check_uint("version minor", self.minor, maximum=MAX_VERSION_PART)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Read ``"1.0"``; raises :class:`InvalidField` on anything else."""
        match = re.fullmatch(r"(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})", text)
        if match is None:
            raise InvalidField(f"{text!r} is not a version like '1.0'")
        return cls(major=int(match[1]), minor=int(match[2]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


SMP_1_0 = Version(major=1, minor=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One decoded (or about to be encoded) envelope; see the module docstring for the keys."""

    version: Version
    message_type: str
    request_id: int | None
    kind: Kind
    timestamp_ms: int
    nonce: bytes
    grant: bytes | None
    body: Mapping[str, Value]
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.version, Version):
            raise InvalidField("version must be a Version")
        if self.version.major != WIRE_MAJOR:
            raise InvalidField(f"this envelope layout is version {WIRE_MAJOR}.x's")
        check_str("type", self.message_type, min_bytes=1, max_bytes=MAX_TYPE_LEN)
        if TYPE_PATTERN.fullmatch(self.message_type) is None:
            raise InvalidField(f"type {self.message_type!r} does not match {TYPE_PATTERN.pattern}")
        if type(self.kind) is not Kind:
            raise InvalidField(f"kind must be a Kind, not {type(self.kind).__name__}")
        if self.request_id is None:
            if self.kind is not Kind.ERROR:
                raise InvalidField(f"a {self.kind} needs a request id")
        else:
            check_uint("request id", self.request_id)
        check_uint("timestamp", self.timestamp_ms)
        check_bytes("nonce", self.nonce, min_len=NONCE_SIZE, max_len=NONCE_SIZE)
        if self.grant is not None:
            check_bytes("grant", self.grant, min_len=1, max_len=MAX_GRANT_SIZE)
            if self.kind is not Kind.REQUEST:
                raise InvalidField(f"a {self.kind} carries no grant")
        if not isinstance(self.body, Mapping):
            raise InvalidField(f"body must be a map, not {type(self.body).__name__}")
        for key in self.body:
            check_str("body key", key, min_bytes=1, max_bytes=MAX_KEY_LEN)
        object.__setattr__(self, "body", MappingProxyType(dict(self.body)))
        check_bytes("signature", self.signature, min_len=SIGNATURE_SIZE, max_len=SIGNATURE_SIZE)

    @classmethod
    def sign(
        cls,
        identity: Identity,
        *,
        version: Version,
        message_type: str,
        request_id: int | None,
        kind: Kind,
        timestamp_ms: int,
        nonce: bytes,
        grant: bytes | None,
        body: Mapping[str, Value],
    ) -> Envelope:
        """An envelope with these fields, signed by ``identity``; raises :class:`InvalidField`
        for a field out of its limits or a body SMP cannot encode."""
        unsigned = cls(
            version=version,
            message_type=message_type,
            request_id=request_id,
            kind=kind,
            timestamp_ms=timestamp_ms,
            nonce=nonce,
            grant=grant,
            body=body,
            signature=bytes(SIGNATURE_SIZE),
        )
        try:
            signing_bytes = unsigned.signing_bytes()
        except TypeError as exc:
            raise InvalidField(f"body cannot be encoded: {exc}") from exc
        return dataclasses.replace(unsigned, signature=identity.sign(signing_bytes))

    def signing_bytes(self) -> bytes:
        """The exact bytes the signature covers (canonical msgpack of a fixed-order array)."""
        return pack_canonical(
            [
                SIGNING_CONTEXT,
                self.version.major,
                self.version.minor,
                self.message_type,
                self.request_id,
                self.kind.value,
                self.timestamp_ms,
                self.nonce,
                self.grant,
                self.body,
            ]
        )

    def verify(self, peer: PeerId) -> None:
        """Check that the key inside ``peer`` signed this envelope; raises
        :class:`InvalidSignature` otherwise (never returns a boolean)."""
        try:
            public_key = peer.public_key()
        except InvalidPeerId as exc:
            raise InvalidSignature(f"peer {peer} has no Ed25519 key to verify with") from exc
        try:
            verify(public_key, self.signing_bytes(), self.signature)
        except nacl.exceptions.BadSignatureError as exc:
            raise InvalidSignature(f"envelope is not signed by {peer}") from exc

    def to_wire(self) -> dict[str, Value]:
        """The envelope as the map that goes on the wire (bytes stay bytes)."""
        return {
            "v": [self.version.major, self.version.minor],
            "t": self.message_type,
            "id": self.request_id,
            "k": self.kind.value,
            "ts": self.timestamp_ms,
            "n": self.nonce,
            "g": self.grant,
            "b": dict(self.body),
            "s": self.signature,
        }

    def encode(self) -> bytes:
        """The payload of one frame; raises :class:`LocalProtocolError` if a peer would refuse
        it (too large, too deep, too many values), since sending it would only waste a trip."""
        try:
            payload = pack_canonical(self.to_wire())
        except TypeError as exc:
            raise LocalProtocolError(f"body cannot be encoded: {exc}") from exc
        if len(payload) > MAX_ENVELOPE_SIZE:
            raise LocalProtocolError(
                f"envelope of {len(payload)} bytes exceeds {MAX_ENVELOPE_SIZE} bytes"
            )
        try:
            check_structure(payload)
        except MalformedFrame as exc:
            raise LocalProtocolError(f"a peer would refuse this envelope: {exc}") from exc
        return payload


def _read_version(value: Any) -> Version:
    if type(value) is not list or len(value) != 2:
        raise MalformedFrame("envelope key v must be an array [major, minor]")
    with reading_body("envelope key v"):
        version = Version(major=value[0], minor=value[1])
    if version.major != WIRE_MAJOR:
        raise UnsupportedVersion(f"version {version} is not {WIRE_MAJOR}.x")
    return version


def decode_envelope(payload: bytes) -> Envelope:
    """Read one frame payload; checks structure and field types, not the signature.

    Raises :class:`MalformedFrame`, or :class:`UnsupportedVersion` when the map's ``v`` names
    another major version (checked before any other key, because another major may lay the
    rest of the map out differently).
    """
    if len(payload) > MAX_ENVELOPE_SIZE:
        raise FrameTooLarge(f"envelope of {len(payload)} bytes exceeds {MAX_ENVELOPE_SIZE}")
    wire = unpack_strict(payload)
    if type(wire) is not dict:
        raise MalformedFrame(f"an envelope is a map, not {type(wire).__name__}")
    if "v" not in wire:
        raise MalformedFrame("envelope lacks v")
    version = _read_version(wire["v"])
    with reading_body("envelope"):
        check_keys("envelope", wire, required=ENVELOPE_KEYS, optional=())
        kind_text = check_str("kind", wire["k"], max_bytes=16)
        try:
            kind = Kind(kind_text)
        except ValueError as exc:
            raise InvalidField(f"kind {kind_text!r} is not one of {', '.join(Kind)}") from exc
        return Envelope(
            version=version,
            message_type=wire["t"],
            request_id=wire["id"],
            kind=kind,
            timestamp_ms=wire["ts"],
            nonce=wire["n"],
            grant=wire["g"],
            body=wire["b"],
            signature=wire["s"],
        )
