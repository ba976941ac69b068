"""Signed maps: the one encoding for small objects that travel and are checked by third parties.

Peer records and invite tokens are each a msgpack map whose last key ``s`` is an Ed25519
signature over ``context || canonical(map without s)``. The context string names what the
object is, so a signature made for one kind of object is never valid for another (nor for an
SMP envelope, whose context differs). Decoding is strict (:mod:`secondme.protocol.wire`) and
requires the canonical encoding, so one object has exactly one byte form and one hash.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import nacl.exceptions

from secondme.protocol.errors import MalformedFrame
from secondme.protocol.fields import InvalidField, check_keys
from secondme.protocol.identity import Identity, verify
from secondme.protocol.wire import Value, pack_canonical, unpack_strict

SIGNATURE_KEY = "s"
SIGNATURE_SIZE = 64


class BadSignature(ValueError):
    """The signature does not verify against the key the object names."""


def signing_bytes(context: bytes, fields: Mapping[str, Value]) -> bytes:
    return context + pack_canonical(dict(fields))


def sign_map(identity: Identity, context: bytes, fields: Mapping[str, Value]) -> bytes:
    """The canonical bytes of ``fields`` plus ``s``, signed by ``identity``."""
    if SIGNATURE_KEY in fields:
        raise ValueError("the fields already hold a signature")
    signature = identity.sign(signing_bytes(context, fields))
    return pack_canonical({**fields, SIGNATURE_KEY: signature})


def read_map(
    data: bytes, *, what: str, max_size: int, required: Collection[str], optional: Collection[str]
) -> tuple[dict[str, Any], bytes]:
    """Parse a signed map without verifying it: (fields without ``s``, signature).

    Raises :class:`MalformedFrame` for bytes that are too large, not strict msgpack, not a
    map with exactly the allowed keys, or not in canonical form.
    """
    if type(data) is not bytes or len(data) > max_size:
        raise MalformedFrame(f"{what} must be at most {max_size} bytes")
    try:
        value = unpack_strict(data)  # checks the structure first
    except MalformedFrame as exc:
        raise MalformedFrame(f"{what}: {exc.message}") from exc
    if not isinstance(value, dict):
        raise MalformedFrame(f"{what} must be a map")
    try:
        check_keys(what, value, required=(*required, SIGNATURE_KEY), optional=optional)
    except InvalidField as exc:
        raise MalformedFrame(str(exc)) from exc
    if pack_canonical(value) != data:
        raise MalformedFrame(f"{what} is not in canonical form")
    signature = value.pop(SIGNATURE_KEY)
    if type(signature) is not bytes or len(signature) != SIGNATURE_SIZE:
        raise MalformedFrame(f"{what} signature must be {SIGNATURE_SIZE} bytes")
    return value, signature


def check_signature(
    context: bytes, fields: Mapping[str, Value], signature: bytes, public_key: bytes
) -> None:
    """Raises :class:`BadSignature` unless ``public_key`` signed ``fields`` under ``context``."""
    try:
        verify(public_key, signing_bytes(context, fields), signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise BadSignature(str(exc)) from None
