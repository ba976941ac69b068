"""Group discussions, sans-IO: the group key, its sealed distribution, and the transcript.

A group's messages are encrypted with a 32-byte group key that only current members hold. The
moderator makes a key for each *epoch* and seals it to every member (one sealed bundle each,
:mod:`secondme.protocol.sealed`, content type ``group.key``); when membership changes, it makes
a new epoch, so a removed member cannot read what is said after it left.

A message is a signed map (:mod:`secondme.protocol.signed`, context ``secondme/group/1 message``
and a zero byte):

    key     type     meaning
    group   str      group id, 32 lowercase hex digits
    epoch   uint     the key epoch the ciphertext is under
    seq     uint     its place in the transcript (the moderator assigns it): 1, 2, 3, ...
    prev    bin(32)  SHA-256 of the previous message's bytes (32 zero bytes for seq 1)
    from    str      the sender's peer ID; it signs the message
    ts      uint     ms since the Unix epoch, sender's clock
    n       bin(24)  XChaCha20-Poly1305 nonce, random
    ct      bin      the encrypted body; the associated data is the canonical encoding of the
                     map's other fields except ``ct`` and ``s``
    s       bin(64)  Ed25519 signature

Because each message names the hash of the one before, a transcript is a hash chain: two
members hold the same transcript exactly when they hold the same last hash
(:attr:`Transcript.head`). :class:`Transcript` accepts the next message only if it is in
order, from a member of its epoch, signed by its sender, and decrypts; anything else raises a
:class:`GroupMessageError` with its code and leaves the transcript as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

import nacl.bindings
import nacl.exceptions

from secondme.protocol.errors import MalformedFrame, RemoteProtocolError
from secondme.protocol.fields import (
    InvalidField,
    check_bytes,
    check_keys,
    check_str,
    check_str_map,
    check_uint,
    optional_field,
)
from secondme.protocol.group_life import MemberState
from secondme.protocol.identity import PEER_ID_TEXT, Identity, InvalidPeerId, PeerId
from secondme.protocol.sealed import BundleError, open_sealed, seal
from secondme.protocol.signed import BadSignature, check_signature, read_map, sign_map
from secondme.protocol.wire import pack_canonical, unpack_strict

MESSAGE_CONTEXT = b"secondme/group/1 message\x00"
KEY_CONTENT_TYPE = "group.key"
KEY_SIZE = 32
NONCE_SIZE = 24
TAG_SIZE = 16
HASH_SIZE = 32
GENESIS = bytes(HASH_SIZE)
MAX_MESSAGE_SIZE = 256 * 1024
MAX_MEMBERS = 64
GROUP_ID = re.compile(r"[0-9a-f]{32}")
_KEYS = ("group", "epoch", "seq", "prev", "from", "ts", "n", "ct")


class GroupMessageError(RemoteProtocolError):
    """A group message or key this node refuses; ``code`` says why (the error frame's code)."""

    code = "group_invalid"


class MalformedGroupMessage(GroupMessageError):
    code = "group_malformed"


class ForgedGroupMessage(GroupMessageError):
    """Not signed by the member it names."""

    code = "group_forged"


class NotGroupMember(GroupMessageError):
    code = "group_not_member"


class UnknownEpoch(GroupMessageError):
    """Under a key this node does not hold: a stale epoch, or one it was left out of."""

    code = "group_unknown_epoch"


class OutOfOrder(GroupMessageError):
    """Not the next message: a gap, a replay of an earlier one, or a fork of the chain."""

    code = "group_out_of_order"


class Undecryptable(GroupMessageError):
    code = "group_undecryptable"


def check_group_id(value: object) -> str:
    return check_str("group", value, max_bytes=32, pattern=GROUP_ID)


# -- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupKey:
    """The key of one epoch of a group, and who holds it (the members of that epoch)."""

    group: str
    epoch: int
    key: bytes = field(repr=False)
    members: frozenset[PeerId]

    def __post_init__(self) -> None:
        check_group_id(self.group)
        check_uint("epoch", self.epoch)
        check_bytes("key", self.key, min_len=KEY_SIZE, max_len=KEY_SIZE)
        if not 1 <= len(self.members) <= MAX_MEMBERS:
            raise InvalidField(f"an epoch has 1 to {MAX_MEMBERS} members")

    @classmethod
    def generate(
        cls,
        group: str,
        epoch: int,
        members: Iterable[PeerId],
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> Self:
        return cls(group, epoch, random_bytes(KEY_SIZE), frozenset(members))

    def _wire(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "epoch": self.epoch,
            "key": self.key,
            "members": sorted(str(member) for member in self.members),
        }

    def seal_for(
        self,
        moderator: Identity,
        member: PeerId,
        *,
        created_ms: int,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> bytes:
        """The key sealed to ``member``, signed by the moderator: only that member opens it."""
        if member not in self.members:
            raise InvalidField(f"{member} is not a member of epoch {self.epoch}")
        return seal(
            moderator,
            member,
            pack_canonical(self._wire()),
            content_type=KEY_CONTENT_TYPE,
            created_ms=created_ms,
            random_bytes=random_bytes,
        )

    @classmethod
    def open(cls, member: Identity, data: bytes, *, moderator: PeerId) -> Self:
        """Open a sealed key from ``moderator``; raises :class:`GroupMessageError`."""
        try:
            opened = open_sealed(member, data, expected_sender=moderator)
        except BundleError as exc:
            raise MalformedGroupMessage(f"the sealed group key: {exc}") from exc
        if opened.content_type != KEY_CONTENT_TYPE:
            raise MalformedGroupMessage(f"a {opened.content_type!r} bundle is not a group key")
        try:
            wire = unpack_strict(opened.plaintext)
            if not isinstance(wire, Mapping) or set(wire) != {"group", "epoch", "key", "members"}:
                raise InvalidField("a group key is a map of group, epoch, key and members")
            if type(wire["members"]) is not list:
                raise InvalidField("members must be an array")
            key = cls(
                wire["group"],
                wire["epoch"],
                wire["key"],
                frozenset(
                    PeerId.from_base58(check_str("member", m, max_bytes=64))
                    for m in wire["members"]
                ),
            )
        except (InvalidField, InvalidPeerId, MalformedFrame) as exc:
            raise MalformedGroupMessage(f"the group key does not read: {exc}") from exc
        if member.peer_id not in key.members:
            raise NotGroupMember("this node is not among the members of the key it was sent")
        return key


# -- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """One message as it sits in the transcript: its header, its decrypted body, its bytes."""

    group: str
    epoch: int
    seq: int
    prev: bytes
    sender: PeerId
    ts: int
    body: bytes
    encoded: bytes = field(repr=False)

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.encoded).digest()


def _header(fields: Mapping[str, Any]) -> bytes:
    return pack_canonical({k: v for k, v in fields.items() if k not in ("ct", "s")})


def write_message(
    sender: Identity,
    key: GroupKey,
    *,
    seq: int,
    prev: bytes,
    body: bytes,
    ts: int,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Encrypt ``body`` under ``key`` as message ``seq`` after ``prev``, signed by ``sender``."""
    if sender.peer_id not in key.members:
        raise InvalidField(f"{sender.peer_id} is not a member of epoch {key.epoch}")
    check_uint("seq", seq)
    check_bytes("prev", prev, min_len=HASH_SIZE, max_len=HASH_SIZE)
    fields: dict[str, Any] = {
        "group": key.group,
        "epoch": key.epoch,
        "seq": seq,
        "prev": prev,
        "from": str(sender.peer_id),
        "ts": ts,
        "n": random_bytes(NONCE_SIZE),
    }
    fields["ct"] = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        body, _header(fields), fields["n"], key.key
    )
    encoded = sign_map(sender, MESSAGE_CONTEXT, fields)
    if len(encoded) > MAX_MESSAGE_SIZE:
        raise InvalidField(f"a group message is at most {MAX_MESSAGE_SIZE} bytes")
    return encoded


def read_message(data: bytes, keys: Mapping[int, GroupKey]) -> GroupMessage:
    """Verify and decrypt one message with the epoch keys this node holds.

    Checks, in order: structure (``group_malformed``), the epoch's key is held
    (``group_unknown_epoch``), the sender is a member of that epoch (``group_not_member``), the
    signature (``group_forged``), decryption (``group_undecryptable``). Ordering is the
    transcript's business (:class:`Transcript`).
    """
    try:
        fields, signature = read_map(
            data, what="group message", max_size=MAX_MESSAGE_SIZE, required=_KEYS, optional=()
        )
        check_group_id(fields["group"])
        check_uint("epoch", fields["epoch"])
        check_uint("seq", fields["seq"])
        check_uint("ts", fields["ts"])
        check_bytes("prev", fields["prev"], min_len=HASH_SIZE, max_len=HASH_SIZE)
        check_bytes("n", fields["n"], min_len=NONCE_SIZE, max_len=NONCE_SIZE)
        check_bytes("ct", fields["ct"], min_len=TAG_SIZE, max_len=MAX_MESSAGE_SIZE)
        sender = PeerId.from_base58(check_str("from", fields["from"], max_bytes=64))
    except (MalformedFrame, InvalidField, InvalidPeerId) as exc:
        raise MalformedGroupMessage(f"the group message does not read: {exc}") from exc
    key = keys.get(fields["epoch"])
    if key is None or key.group != fields["group"]:
        raise UnknownEpoch(f"no key of epoch {fields['epoch']} of group {fields['group']}")
    if sender not in key.members:
        raise NotGroupMember(f"{sender} is not a member of epoch {key.epoch}")
    try:
        check_signature(MESSAGE_CONTEXT, fields, signature, sender.public_key())
    except BadSignature:
        raise ForgedGroupMessage(f"the message is not signed by {sender}") from None
    try:
        body = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            fields["ct"], _header(fields), fields["n"], key.key
        )
    except nacl.exceptions.CryptoError:
        raise Undecryptable("the message does not decrypt under its epoch's key") from None
    return GroupMessage(
        group=fields["group"],
        epoch=fields["epoch"],
        seq=fields["seq"],
        prev=fields["prev"],
        sender=sender,
        ts=fields["ts"],
        body=body,
        encoded=data,
    )


class Transcript:
    """The ordered, hash-chained messages of one group, as one member holds them."""

    def __init__(self, group: str) -> None:
        self.group = check_group_id(group)
        self.messages: list[GroupMessage] = []
        self.keys: dict[int, GroupKey] = {}

    @property
    def head(self) -> bytes:
        """The hash of the last message (32 zero bytes before the first): equal heads mean
        equal transcripts."""
        return self.messages[-1].hash if self.messages else GENESIS

    @property
    def next_seq(self) -> int:
        return len(self.messages) + 1

    def add_key(self, key: GroupKey) -> None:
        if key.group != self.group:
            raise InvalidField(f"a key of group {key.group}, not {self.group}")
        self.keys[key.epoch] = key

    def append(self, data: bytes) -> GroupMessage:
        """Take the next message; raises :class:`GroupMessageError` and changes nothing if it
        is not exactly the next one of this chain, or fails :func:`read_message`."""
        message = read_message(data, self.keys)
        if message.group != self.group:
            raise UnknownEpoch(f"a message of group {message.group}, not {self.group}")
        if message.seq != self.next_seq or message.prev != self.head:
            raise OutOfOrder(
                f"message {message.seq} after {len(self.messages)} (a gap, a replay or a fork)"
            )
        if self.messages and message.epoch < self.messages[-1].epoch:
            raise UnknownEpoch(f"epoch {message.epoch} after epoch {self.messages[-1].epoch}")
        self.messages.append(message)
        return message


# -- what a message says -----------------------------------------------------------------

MAX_TEXT = 16 * 1024
MAX_REASON = 512
MAX_POSITIONS = MAX_MEMBERS


class BodyKind(StrEnum):
    """What a message is. The moderator writes every kind but ``turn`` and ``owner``."""

    QUESTION = "question"  # the question of a discussion, and its limits
    TURN = "turn"  # a member's Second Me speaking, from its own memory
    OWNER = "owner"  # a member's owner speaking in person
    SKIP = "skip"  # a member chosen to speak did not (``about``, ``reason``)
    MEMBERSHIP = "membership"  # ``about`` joined, left or was removed (``reason``)
    SUMMARY = "summary"  # each member's position and what was agreed
    END = "end"  # the discussion ended (``reason``)
    MODERATOR = "moderator"  # ``about`` moderates from here on (``reason``, ``roll``)


_BODY_OPTIONAL = (
    "reason",
    "about",
    "relevance",
    "rounds",
    "until",
    "budget_s",
    "positions",
    "roll",
)
_MAPS = ("positions", "roll")
ROLL_STATUSES = (MemberState.ACTIVE.value, MemberState.INVITED.value)
"""What a ``moderator`` body's ``roll`` may say of a member."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Body:
    """The plaintext of a group message: a canonical msgpack map of these keys (``None``
    fields are left out)."""

    kind: BodyKind
    text: str = ""
    reason: str | None = None
    about: str | None = None
    relevance: int | None = None
    """Per mille: how near the speaker's memory was to the turn before (0-1000)."""
    rounds: int | None = None
    until: str | None = None
    budget_s: int | None = None
    positions: Mapping[str, str] | None = None
    roll: Mapping[str, str] | None = None
    """In a ``moderator`` body: the roll the new moderator takes over (peer -> status)."""

    def __post_init__(self) -> None:
        if self.kind not in BodyKind.__members__.values():
            raise InvalidField(f"unknown message kind {self.kind!r}")
        object.__setattr__(self, "kind", BodyKind(self.kind))
        check_str("text", self.text, max_bytes=MAX_TEXT)
        if self.reason is not None:
            check_str("reason", self.reason, max_bytes=MAX_REASON)
        if self.about is not None:
            check_str("about", self.about, max_bytes=64, pattern=PEER_ID_TEXT)
        if self.relevance is not None:
            check_uint("relevance", self.relevance, maximum=1000)
        for name in ("rounds", "budget_s"):
            if getattr(self, name) is not None:
                check_uint(name, getattr(self, name), maximum=100_000)
        if self.until is not None:
            check_str("until", self.until, max_bytes=32)
        if self.positions is not None:
            positions = check_str_map(
                "positions",
                self.positions,
                max_items=MAX_POSITIONS,
                max_key_bytes=64,
                max_value_bytes=MAX_REASON * 4,
            )
            for peer in positions:
                check_str("positions key", peer, max_bytes=64, pattern=PEER_ID_TEXT)
            object.__setattr__(self, "positions", positions)
        if self.roll is not None:
            roll = check_str_map(
                "roll", self.roll, max_items=MAX_MEMBERS, max_key_bytes=64, max_value_bytes=16
            )
            for peer, status in roll.items():
                check_str("roll key", peer, max_bytes=64, pattern=PEER_ID_TEXT)
                if status not in ROLL_STATUSES:
                    raise InvalidField(f"a roll status is one of {', '.join(ROLL_STATUSES)}")
            object.__setattr__(self, "roll", roll)

    def encode(self) -> bytes:
        wire: dict[str, Any] = {"kind": str(self.kind), "text": self.text}
        for name in _BODY_OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                wire[name] = dict(value) if name in _MAPS else value
        return pack_canonical(wire)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Read a decrypted body; raises :class:`MalformedGroupMessage`."""
        try:
            wire = unpack_strict(data)
            if not isinstance(wire, Mapping):
                raise InvalidField("a message body is a map")
            check_keys("body", wire, required=("kind", "text"), optional=_BODY_OPTIONAL)
            for name in _BODY_OPTIONAL:
                optional_field(wire, name)
            return cls(**wire)
        except (InvalidField, MalformedFrame) as exc:
            raise MalformedGroupMessage(f"the message body does not read: {exc}") from exc
