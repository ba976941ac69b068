"""Signed peer records: where a node listens and what it shows of itself, signed by that node.

A node hands its record to the discovery server, which stores it and hands it to members of
the node's networks; every reader checks the signature against the peer ID inside the record,
so the server can neither forge nor alter one, only withhold it. A record carries a sequence
number (a newer record replaces an older one, never the reverse) and an expiry.

A record names no network: the same record reaches every server the node uses and every member
of each of its networks, so a network id in it would tell each of them of the node's other
networks. Who is in which network is each server's own knowledge of the networks it hosts.

Wire form: a canonical msgpack map, signed as described in :mod:`secondme.protocol.signed`
with the context ``secondme/discovery/1 peer-record`` followed by a zero byte.

    key      type        limits
    peer     str         the signer's peer ID (base58, Ed25519)
    addrs    [str]       1-8 multiaddrs, each <= 256 bytes, each ending in /p2p/<peer>
    name     str         display name, <= 128 bytes
    profile  {str: str}  public profile fields: <= 32, keys <= 64 bytes, values <= 1 KiB
    seq      uint64      strictly increasing per peer
    exp      uint64      expiry, ms since the Unix epoch
    s        bin         64-byte Ed25519 signature
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Self

from secondme.protocol.errors import MalformedFrame
from secondme.protocol.fields import (
    InvalidField,
    check_str,
    check_str_map,
    check_uint,
    reading_body,
)
from secondme.protocol.identity import Identity, InvalidPeerId, PeerId
from secondme.protocol.messages import (
    MAX_DISPLAY_NAME,
    MAX_PROFILE_FIELDS,
    MAX_PROFILE_KEY,
    MAX_PROFILE_VALUE,
)
from secondme.protocol.signed import BadSignature, check_signature, read_map, sign_map

RECORD_CONTEXT = b"secondme/discovery/1 peer-record\x00"
MAX_RECORD_SIZE = 16 * 1024
MAX_ADDRS = 8
MAX_ADDR_LEN = 256
NETWORK_ID = re.compile(r"[0-9a-f]{32}")
MULTIADDR = re.compile(r"(/[A-Za-z0-9._:\-]+)+")
_KEYS = ("peer", "addrs", "name", "profile", "seq", "exp")


class RecordInvalid(MalformedFrame):
    """A record that cannot be read, breaks a limit, or is not signed by its peer."""

    code = "record_invalid"


def check_addrs(name: str, value: object, peer: PeerId, *, max_items: int) -> tuple[str, ...]:
    if type(value) is not tuple or not 1 <= len(value) <= max_items:
        raise InvalidField(f"{name} must hold 1 to {max_items} multiaddrs")
    suffix = f"/p2p/{peer}"
    for addr in value:
        check_str(f"{name} item", addr, min_bytes=1, max_bytes=MAX_ADDR_LEN, pattern=MULTIADDR)
        if not addr.endswith(suffix) or addr == suffix:
            raise InvalidField(f"{addr!r} does not end in {suffix}")
    if len(set(value)) != len(value):
        raise InvalidField(f"{name} repeats an address")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerRecord:
    """One peer's signed self-description; build with :meth:`sign`, read with :meth:`decode`."""

    peer: PeerId
    addrs: tuple[str, ...]
    display_name: str
    profile: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    seq: int
    expires_ms: int
    encoded: bytes = field(default=b"", compare=False, repr=False)
    """The exact signed bytes (set by :meth:`sign` and :meth:`decode`)."""

    def __post_init__(self) -> None:
        check_addrs("addrs", self.addrs, self.peer, max_items=MAX_ADDRS)
        check_str("display_name", self.display_name, max_bytes=MAX_DISPLAY_NAME)
        object.__setattr__(
            self,
            "profile",
            check_str_map(
                "profile",
                self.profile,
                max_items=MAX_PROFILE_FIELDS,
                max_key_bytes=MAX_PROFILE_KEY,
                max_value_bytes=MAX_PROFILE_VALUE,
            ),
        )
        check_uint("seq", self.seq)
        check_uint("expires_ms", self.expires_ms)

    def _fields(self) -> dict:
        return {
            "peer": str(self.peer),
            "addrs": list(self.addrs),
            "name": self.display_name,
            "profile": dict(self.profile),
            "seq": self.seq,
            "exp": self.expires_ms,
        }

    @classmethod
    def sign(
        cls,
        identity: Identity,
        *,
        addrs: tuple[str, ...],
        display_name: str,
        profile: Mapping[str, str] | None = None,
        seq: int,
        expires_ms: int,
    ) -> Self:
        unsigned = cls(
            peer=identity.peer_id,
            addrs=tuple(addrs),
            display_name=display_name,
            profile=MappingProxyType(dict(profile or {})),
            seq=seq,
            expires_ms=expires_ms,
        )
        encoded = sign_map(identity, RECORD_CONTEXT, unsigned._fields())
        if len(encoded) > MAX_RECORD_SIZE:
            raise InvalidField(f"the record is {len(encoded)} bytes, above {MAX_RECORD_SIZE}")
        object.__setattr__(unsigned, "encoded", encoded)
        return unsigned

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Read and verify a record; raises :class:`RecordInvalid` for anything wrong."""
        try:
            fields, signature = read_map(
                data, what="peer record", max_size=MAX_RECORD_SIZE, required=_KEYS, optional=()
            )
        except MalformedFrame as exc:
            raise RecordInvalid(exc.message) from exc
        try:
            with reading_body("peer record"):
                try:
                    peer = PeerId.from_base58(check_str("peer", fields["peer"], max_bytes=64))
                except InvalidPeerId as exc:
                    raise InvalidField(f"peer: {exc}") from exc
                if type(fields["addrs"]) is not list:
                    raise InvalidField("addrs must be an array")
                record = cls(
                    peer=peer,
                    addrs=tuple(fields["addrs"]),
                    display_name=fields["name"],
                    profile=fields["profile"],
                    seq=fields["seq"],
                    expires_ms=fields["exp"],
                )
        except MalformedFrame as exc:
            raise RecordInvalid(exc.message) from exc
        try:
            check_signature(RECORD_CONTEXT, fields, signature, peer.public_key())
        except BadSignature:
            raise RecordInvalid(f"the record is not signed by {peer}") from None
        object.__setattr__(record, "encoded", data)
        return record
