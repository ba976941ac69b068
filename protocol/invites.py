"""Invite tokens: a network owner's (or an allowed inviter's) signed permission to join.

A token names the network, the discovery servers that serve it, who issued it, the role the
joiner gets, how many joins it allows and until when. It is one copy-pasteable string:
``smi1`` followed by the unpadded base64url of a signed map (:mod:`secondme.protocol.signed`,
context ``secondme/discovery/1 invite`` and a zero byte).

    key    type    limits
    net    str     network id, 32 lowercase hex digits
    name   str     the network's name, 1-64 bytes (for display; the id is what counts)
    disc   [str]   1-4 discovery multiaddrs, each ending in /p2p/<server peer id>
    iss    str     the issuer's peer ID; it signs the token
    role   str     "member" or "inviter" (an inviter may issue invites of its own)
    uses   uint    1-1000 joins
    exp    uint64  expiry, ms since the Unix epoch
    id     str     invite id, 32 lowercase hex digits (what ``invite revoke`` names)
    s      bin     64-byte Ed25519 signature by ``iss``

The token reveals no member: what the joiner learns of the network comes from the discovery
server, after it bound one use of the token to the joiner's peer ID.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self

from secondme.protocol.errors import MalformedFrame, RemoteProtocolError
from secondme.protocol.fields import InvalidField, check_str, check_uint, reading_body
from secondme.protocol.identity import Identity, InvalidPeerId, PeerId
from secondme.protocol.records import MULTIADDR, NETWORK_ID
from secondme.protocol.signed import BadSignature, check_signature, read_map, sign_map

INVITE_CONTEXT = b"secondme/discovery/1 invite\x00"
TOKEN_PREFIX = "smi1"
MAX_TOKEN_BYTES = 2048
MAX_NETWORK_NAME = 64
MAX_DISCOVERY_ADDRS = 4
MAX_USES = 1000
INVITE_ID = re.compile(r"[0-9a-f]{32}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_KEYS = ("net", "name", "disc", "iss", "role", "uses", "exp", "id")


class Role(StrEnum):
    MEMBER = "member"
    INVITER = "inviter"
    OWNER = "owner"
    """Only the network's creator holds it; no token grants it."""


class InviteMalformed(MalformedFrame):
    code = "invite_malformed"


class InviteForged(RemoteProtocolError):
    """The signature does not verify, or the issuer may not invite to that network."""

    code = "invite_forged"


def _server_peer(addr: str) -> PeerId:
    head, sep, tail = addr.rpartition("/p2p/")
    if not sep or not head:
        raise InvalidField(f"{addr!r} does not end in /p2p/<peer id>")
    try:
        return PeerId.from_base58(tail)
    except InvalidPeerId as exc:
        raise InvalidField(f"{addr!r}: {exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteToken:
    """One signed invite; :meth:`sign` makes it, :meth:`parse` reads and verifies it."""

    network: str
    network_name: str
    discovery: tuple[str, ...]
    issuer: PeerId
    role: Role
    uses: int
    expires_ms: int
    invite_id: str
    text: str = field(default="", compare=False, repr=False)
    """The token as the owner copies it (set by :meth:`sign` and :meth:`parse`)."""

    def __post_init__(self) -> None:
        check_str("network", self.network, max_bytes=32, pattern=NETWORK_ID)
        check_str("network_name", self.network_name, min_bytes=1, max_bytes=MAX_NETWORK_NAME)
        if type(self.discovery) is not tuple or not 1 <= len(self.discovery) <= MAX_DISCOVERY_ADDRS:
            raise InvalidField(f"discovery must hold 1 to {MAX_DISCOVERY_ADDRS} multiaddrs")
        for addr in self.discovery:
            check_str("discovery address", addr, min_bytes=1, max_bytes=256, pattern=MULTIADDR)
            _server_peer(addr)
        if self.role not in (Role.MEMBER, Role.INVITER):
            raise InvalidField(f"role must be member or inviter, not {self.role!r}")
        check_uint("uses", self.uses, maximum=MAX_USES)
        if self.uses < 1:
            raise InvalidField("uses must be at least 1")
        check_uint("expires_ms", self.expires_ms)
        check_str("invite_id", self.invite_id, max_bytes=32, pattern=INVITE_ID)

    def _fields(self) -> dict:
        return {
            "net": self.network,
            "name": self.network_name,
            "disc": list(self.discovery),
            "iss": str(self.issuer),
            "role": self.role.value,
            "uses": self.uses,
            "exp": self.expires_ms,
            "id": self.invite_id,
        }

    @property
    def discovery_peers(self) -> tuple[PeerId, ...]:
        return tuple(_server_peer(addr) for addr in self.discovery)

    @classmethod
    def sign(
        cls,
        identity: Identity,
        *,
        network: str,
        network_name: str,
        discovery: tuple[str, ...],
        role: Role,
        uses: int,
        expires_ms: int,
        invite_id: str,
    ) -> Self:
        token = cls(
            network=network,
            network_name=network_name,
            discovery=tuple(discovery),
            issuer=identity.peer_id,
            role=Role(role),
            uses=uses,
            expires_ms=expires_ms,
            invite_id=invite_id,
        )
        encoded = sign_map(identity, INVITE_CONTEXT, token._fields())
        text = TOKEN_PREFIX + base64.urlsafe_b64encode(encoded).rstrip(b"=").decode("ascii")
        if len(text) > MAX_TOKEN_BYTES:
            raise InvalidField(f"the token is {len(text)} characters, above {MAX_TOKEN_BYTES}")
        object.__setattr__(token, "text", text)
        return token

    @classmethod
    def parse(cls, text: str) -> Self:
        """Read and verify a token; raises :class:`InviteMalformed` or :class:`InviteForged`."""
        if type(text) is not str:
            raise InviteMalformed("an invite token is a string")
        text = "".join(text.split())  # a token pasted across lines still reads
        if not text.startswith(TOKEN_PREFIX) or len(text) > MAX_TOKEN_BYTES:
            raise InviteMalformed(f"not an invite token (they start with {TOKEN_PREFIX!r})")
        body = text[len(TOKEN_PREFIX) :]
        try:
            # Strict: the URL-safe alphabet only, no padding, no stray bits; one token has
            # exactly one text.
            if _BASE64URL.fullmatch(body) is None:
                raise ValueError("outside the base64url alphabet")
            data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
            if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != body:
                raise ValueError("not the canonical base64url of its bytes")
        except (binascii.Error, ValueError):
            raise InviteMalformed("the invite token is not unpadded base64url") from None
        try:
            fields, signature = read_map(
                data, what="invite token", max_size=MAX_TOKEN_BYTES, required=_KEYS, optional=()
            )
            with reading_body("invite token"):
                try:
                    issuer = PeerId.from_base58(check_str("iss", fields["iss"], max_bytes=64))
                except InvalidPeerId as exc:
                    raise InvalidField(f"iss: {exc}") from exc
                if type(fields["disc"]) is not list:
                    raise InvalidField("disc must be an array")
                if fields["role"] not in (Role.MEMBER.value, Role.INVITER.value):
                    raise InvalidField(f"role {fields['role']!r} is not member or inviter")
                token = cls(
                    network=fields["net"],
                    network_name=fields["name"],
                    discovery=tuple(fields["disc"]),
                    issuer=issuer,
                    role=Role(fields["role"]),
                    uses=fields["uses"],
                    expires_ms=fields["exp"],
                    invite_id=fields["id"],
                )
        except MalformedFrame as exc:
            raise InviteMalformed(exc.message) from exc
        try:
            check_signature(INVITE_CONTEXT, fields, signature, issuer.public_key())
        except BadSignature:
            raise InviteForged(f"the invite token is not signed by its issuer {issuer}") from None
        object.__setattr__(token, "text", TOKEN_PREFIX + body)
        return token
