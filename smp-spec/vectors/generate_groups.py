"""Write the group test vectors (``groups.json`` beside this file) from fixed values.

Run ``python smp-spec/vectors/generate_groups.py`` from the repository root after a change to
``protocol/groups.py`` or ``protocol/group_messages.py``; the output is the same byte for byte
on every run (fixed seeds, group keys, ephemeral secrets, nonces, timestamps and request ids;
Ed25519 signatures are deterministic), and ``tests/unit/protocol/test_group_vectors.py`` checks
both that every vector holds and that the file is what this script writes now.

Everything valid is made by the real code: sealed keys by ``GroupKey.seal_for``, messages by
``write_message``, bodies by ``Body.encode``, envelopes by ``Envelope.sign``. Invalid keys,
messages and bodies are built by hand (each signed again where that matters, so that its one
defect is the one it is named for), and the generator checks that the real code refuses each
with the code the vector states.

The file, described in ``smp-spec/groups.md`` ("Test vectors"), holds:

- ``sealed_keys``: epoch keys sealed by the moderator to a member, and sealed keys to refuse;
- ``messages``: group messages with every intermediate value;
- ``transcript``: a discussion of nine messages across a key rotation, then a hand-over of
  moderation, ten in all, with every head, and
  what a removed member can read of it;
- ``invalid_messages``: messages a member must refuse, with its state and the code;
- ``bodies``: message bodies to read, other spellings of one, and bodies to refuse;
- ``sync``: what a moderator answers to ``group.sync``;
- ``envelopes``: one request envelope of each group type and one answer of each.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import base58
import msgpack

from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.group_messages import (
    END_REASONS,
    MAX_GROUP_NAME,
    MAX_SEALED_KEY,
    MAX_SYNC_KEYS,
    MAX_SYNC_MESSAGES,
    MAX_TOPIC,
    RELEVANCE_STEP,
    GroupAccept,
    GroupEnd,
    GroupInvite,
    GroupInvited,
    GroupKeyUpdate,
    GroupLeave,
    GroupMessages,
    GroupOk,
    GroupPost,
    GroupPosted,
    GroupRaise,
    GroupSaid,
    GroupSync,
    GroupTurn,
)
from secondme.protocol.groups import (
    GENESIS,
    HASH_SIZE,
    KEY_CONTENT_TYPE,
    KEY_SIZE,
    MAX_MEMBERS,
    MAX_MESSAGE_SIZE,
    MAX_POSITIONS,
    MAX_REASON,
    MAX_TEXT,
    MESSAGE_CONTEXT,
    NONCE_SIZE,
    Body,
    BodyKind,
    GroupKey,
    Transcript,
    write_message,
)
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import ErrorMessage, Message, Request
from secondme.protocol.sealed import SIGNING_CONTEXT as SEALED_CONTEXT
from secondme.protocol.sealed import seal
from secondme.protocol.signed import sign_map
from secondme.protocol.wire import pack_canonical, unpack_strict

from vectorkit import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    HERE,
    NOW_MS,
    Draws,
    envelope,
    envelope_json,
    identity_json,
    person,
    render,
    replaying,
)

UINT64_MAX = 2**64 - 1


DRAWS = Draws("group", nonce_name="envelope nonce")
IDENTITIES = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE}
NAME_OF = {str(identity.peer_id): name for name, identity in IDENTITIES.items()}
MODERATOR = ALICE

GROUP = DRAWS.hex_id("weekend hike")
OTHER_GROUP = DRAWS.hex_id("book club")
GROUP_NAME = "Weekend hike"
TOPIC = "Trails near Lisbon, and who brings what"

EPOCH_1 = GroupKey(
    GROUP,
    1,
    DRAWS.random("weekend hike, epoch 1 key", KEY_SIZE),
    frozenset({ALICE.peer_id, BOB.peer_id, CAROL.peer_id}),
)
EPOCH_2 = GroupKey(
    GROUP,
    2,
    DRAWS.random("weekend hike, epoch 2 key", KEY_SIZE),
    frozenset({ALICE.peer_id, BOB.peer_id}),
)
KEYS = {1: EPOCH_1, 2: EPOCH_2}


def _members(members: frozenset[PeerId]) -> list[str]:
    return sorted(str(member) for member in members)


def _key_plaintext(group: str, epoch: int, key: bytes, members: list[str]) -> bytes:
    """The plaintext of a sealed group key, written out here rather than by the code under
    test: the canonical map of the four fields."""
    return pack_canonical({"group": group, "epoch": epoch, "key": key, "members": members})


def _expect(code: str, action: Callable[[], object], what: str) -> None:
    """The generator's own check: ``action`` fails with ``code``."""
    try:
        action()
    except RemoteProtocolError as exc:
        assert exc.code == code, (what, exc.code, code)
    else:  # pragma: no cover - the generator's own check
        raise AssertionError(f"{what} is accepted, not refused with {code}")


# -- sealed keys ----------------------------------------------------------------------------


def _seal_draws(label: str) -> tuple[bytes, bytes]:
    return DRAWS.random(f"{label}: ephemeral secret", 32), DRAWS.random(f"{label}: nonce", 24)


def seal_key(label: str, key: GroupKey, member: Identity, created_ms: int = NOW_MS) -> bytes:
    return key.seal_for(
        MODERATOR,
        member.peer_id,
        created_ms=created_ms,
        random_bytes=replaying(*_seal_draws(label)),
    )


def _sealed_key_json(
    name: str, description: str, key: GroupKey, member: Identity, created_ms: int = NOW_MS
) -> dict[str, Any]:
    ephemeral_secret, nonce = _seal_draws(name)
    sealed = seal_key(name, key, member, created_ms)
    members = _members(key.members)
    assert len(sealed) <= MAX_SEALED_KEY
    assert GroupKey.open(member, sealed, moderator=MODERATOR.peer_id) == key
    return {
        "name": name,
        "description": description,
        "inputs": {
            "moderator_seed": MODERATOR.seed.hex(),
            "member_seed": member.seed.hex(),
            "group": key.group,
            "epoch": key.epoch,
            "key": key.key.hex(),
            "members": members,
            "created_ms": created_ms,
            "ephemeral_secret": ephemeral_secret.hex(),
            "nonce": nonce.hex(),
        },
        "outputs": {
            "member_peer_id": str(member.peer_id),
            "plaintext": _key_plaintext(key.group, key.epoch, key.key, members).hex(),
            "sealed": sealed.hex(),
            "size": len(sealed),
        },
    }


FULL_EPOCH = GroupKey(
    DRAWS.hex_id("a full group"),
    7,
    DRAWS.random("a full group, epoch 7 key", KEY_SIZE),
    frozenset(
        {ALICE.peer_id, BOB.peer_id}
        | {person(f"member {index}").peer_id for index in range(MAX_MEMBERS - 2)}
    ),
)


def valid_sealed_keys() -> list[dict[str, Any]]:
    return [
        _sealed_key_json(
            "epoch_1_to_bob", "The first epoch's key, in alice's invitation to bob.", EPOCH_1, BOB
        ),
        _sealed_key_json(
            "epoch_1_to_carol",
            "The same key sealed to carol: another bundle, the same plaintext.",
            EPOCH_1,
            CAROL,
        ),
        _sealed_key_json(
            "epoch_2_to_bob",
            "After carol's removal: the second epoch's key (alice and bob), in a group.key to "
            "bob a second later.",
            EPOCH_2,
            BOB,
            NOW_MS + 1_000,
        ),
        _sealed_key_json(
            "full_epoch",
            f"An epoch of {MAX_MEMBERS} members, the most there are, sealed to bob: within "
            f"the {MAX_SEALED_KEY} bytes a message may carry.",
            FULL_EPOCH,
            BOB,
        ),
    ]


def invalid_sealed_keys() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = []

    def add(
        name: str,
        description: str,
        sealed: bytes,
        error: str,
        *,
        opener: Identity = BOB,
        moderator: Identity = MODERATOR,
    ) -> None:
        _expect(error, lambda: GroupKey.open(opener, sealed, moderator=moderator.peer_id), name)
        vectors.append(
            {
                "name": name,
                "description": description,
                "opener_seed": opener.seed.hex(),
                "moderator": str(moderator.peer_id),
                "sealed": sealed.hex(),
                "error": error,
            }
        )

    good = seal_key("invalid: good", EPOCH_1, BOB)
    members = _members(EPOCH_1.members)

    def sealed(plaintext: bytes, *, content_type: str = KEY_CONTENT_TYPE, to: Identity = BOB):
        return seal(
            MODERATOR,
            to.peer_id,
            plaintext,
            content_type=content_type,
            created_ms=NOW_MS,
            random_bytes=replaying(*_seal_draws(f"invalid: {plaintext.hex()} {content_type}")),
        )

    def key_map(**changes: Any) -> bytes:
        wire = {"group": GROUP, "epoch": 1, "key": EPOCH_1.key, "members": members}
        wire.update(changes)
        return pack_canonical({k: v for k, v in wire.items() if v is not None})

    add("opened_by_another", "Bob's key, opened by carol.", good, "group_malformed", opener=CAROL)
    add(
        "another_moderator",
        "Bob's key, from alice, opened by bob expecting carol as the moderator.",
        good,
        "group_malformed",
        moderator=CAROL,
    )
    tampered = bytearray(good)
    tampered[10] ^= 0x01  # within ct, which starts at byte 7 (89 a2 63 74 c5 nn nn)
    add(
        "bundle_tampered",
        "One bit of the bundle's ciphertext flipped: its signature fails.",
        bytes(tampered),
        "group_malformed",
    )
    add(
        "another_content_type",
        "A valid key map sealed with the content type text/plain.",
        sealed(key_map(), content_type="text/plain"),
        "group_malformed",
    )
    add("not_msgpack", "The plaintext is the byte c1.", sealed(b"\xc1"), "group_malformed")
    add("not_a_map", "The plaintext is an array.", sealed(pack_canonical([1])), "group_malformed")
    add("extra_key", "A fifth key x.", sealed(key_map(x=1)), "group_malformed")
    add("missing_members", "No members key.", sealed(key_map(members=None)), "group_malformed")
    add(
        "members_not_an_array",
        "members is a string.",
        sealed(key_map(members=str(BOB.peer_id))),
        "group_malformed",
    )
    add("no_members", "members is empty.", sealed(key_map(members=[])), "group_malformed")
    too_many = [str(m) for m in FULL_EPOCH.members] + [str(CAROL.peer_id)]
    add(
        "too_many_members",
        f"{MAX_MEMBERS + 1} members.",
        sealed(key_map(members=sorted(too_many))),
        "group_malformed",
    )
    add(
        "member_not_a_peer_id",
        "A member that is not base58.",
        sealed(key_map(members=[*members, "not a peer"])),
        "group_malformed",
    )
    add(
        "member_as_bin",
        "A member written as bin.",
        sealed(key_map(members=[*members[:-1], members[-1].encode()])),
        "group_malformed",
    )
    add("short_key", "A 31-byte key.", sealed(key_map(key=EPOCH_1.key[:31])), "group_malformed")
    add(
        "group_upper_case",
        "The group id in upper-case hex.",
        sealed(key_map(group=GROUP.upper())),
        "group_malformed",
    )
    add("negative_epoch", "epoch is -1.", sealed(key_map(epoch=-1)), "group_malformed")
    add(
        "receiver_not_a_member",
        "A well-formed key of alice and bob, sealed to carol: she is not among its members.",
        sealed(key_map(members=_members(EPOCH_2.members)), to=CAROL),
        "group_not_member",
        opener=CAROL,
    )
    return vectors


# -- messages -------------------------------------------------------------------------------


def _message_json(
    name: str,
    description: str,
    sender: Identity,
    key: GroupKey,
    *,
    seq: int,
    prev: bytes,
    ts: int,
    body: bytes,
    body_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    nonce = DRAWS.random(f"{name}: message nonce", NONCE_SIZE)
    data = write_message(
        sender, key, seq=seq, prev=prev, body=body, ts=ts, random_bytes=replaying(nonce)
    )
    fields = unpack_strict(data)
    signature = fields.pop("s")
    header = {k: v for k, v in fields.items() if k != "ct"}
    inputs: dict[str, Any] = {
        "sender_seed": sender.seed.hex(),
        "group": key.group,
        "epoch": key.epoch,
        "key": key.key.hex(),
        "members": _members(key.members),
        "seq": seq,
        "prev": prev.hex(),
        "ts": ts,
        "nonce": nonce.hex(),
        "body": body.hex(),
    }
    if body_fields is not None:
        inputs["body_fields"] = body_fields
    return {
        "name": name,
        "description": description,
        "inputs": inputs,
        "outputs": {
            "sender_peer_id": str(sender.peer_id),
            "associated_data": pack_canonical(header).hex(),
            "ciphertext": fields["ct"].hex(),
            "signing_bytes": (MESSAGE_CONTEXT + pack_canonical(fields)).hex(),
            "signature": signature.hex(),
            "message": data.hex(),
            "size": len(data),
            "hash": hashlib.sha256(data).hexdigest(),
        },
    }


def _body_fields(body: Body) -> dict[str, Any]:
    """A body's fields as JSON, the absent ones left out (the wire map, decoded)."""
    return unpack_strict(body.encode())


def standalone_messages() -> list[dict[str, Any]]:
    other = GroupKey(
        OTHER_GROUP, 4_294_967_296, DRAWS.random("book club, a late epoch key", KEY_SIZE),
        frozenset({BOB.peer_id}),
    )  # fmt: skip
    return [
        _message_json(
            "opaque_empty_body",
            "The message layer carries any plaintext: here none (ct is the 16-byte tag alone). "
            "A node also reads the plaintext as a body (section 5) and refuses this one.",
            BOB,
            other,
            seq=1,
            prev=GENESIS,
            ts=0,
            body=b"",
        ),
        _message_json(
            "wide_integers",
            "epoch 2^32 (uint 64), seq 2^40 and ts 2^64-1: each in its shortest encoding.",
            BOB,
            other,
            seq=2**40,
            prev=bytes(range(HASH_SIZE)),
            ts=UINT64_MAX,
            body=Body(kind=BodyKind.TURN, text="Bob alone in the book club.").encode(),
            body_fields=_body_fields(Body(kind=BodyKind.TURN, text="Bob alone in the book club.")),
        ),
    ]


# -- the transcript -------------------------------------------------------------------------

REASON_FIRST = "unknown relevance, the highest of 3; has not spoken yet"
SCRIPT: list[tuple[str, Identity, GroupKey, Body]] = [
    (
        "question",
        ALICE,
        EPOCH_1,
        Body(
            kind=BodyKind.QUESTION,
            text="Which trail on Saturday, and who brings what?",
            rounds=2,
            until="rounds",
            budget_s=600,
        ),
    ),
    (
        "turn_bob",
        BOB,
        EPOCH_1,
        Body(
            kind=BodyKind.TURN,
            text="The Sintra ridge: I walked it in May, 11 km, shade most of the way.",
            reason=REASON_FIRST,
            relevance=640,
        ),
    ),
    (
        "turn_carol",
        CAROL,
        EPOCH_1,
        Body(
            kind=BodyKind.TURN,
            text="Arrábida instead: the coast path, and I can drive three of us.",
            reason="relevance 0.41 to the last message, the highest of 2; has not spoken yet",
            relevance=410,
        ),
    ),
    (
        "owner_bob",
        BOB,
        EPOCH_1,
        Body(
            kind=BodyKind.OWNER,
            text="Bob here in person: I'll bring the map and water.",
            reason="its owner asked to speak",
        ),
    ),
    (
        "skip_carol",
        ALICE,
        EPOCH_1,
        Body(
            kind=BodyKind.SKIP,
            about=str(CAROL.peer_id),
            reason="skipped: did not answer within 120 s",
        ),
    ),
    (
        "membership_carol_removed",
        ALICE,
        EPOCH_2,
        Body(
            kind=BodyKind.MEMBERSHIP,
            about=str(CAROL.peer_id),
            reason="removed by the moderator",
        ),
    ),
    (
        "turn_alice",
        ALICE,
        EPOCH_2,
        Body(
            kind=BodyKind.TURN,
            text="Sintra then; I'll bring lunch for both of us.",
            reason="relevance 0.72 to the last message; has not spoken yet",
            relevance=720,
        ),
    ),
    (
        "summary",
        ALICE,
        EPOCH_2,
        Body(
            kind=BodyKind.SUMMARY,
            text="They agreed on the Sintra ridge; bob brings the map and water, alice lunch.",
            positions={
                str(BOB.peer_id): "Bob here in person: I'll bring the map and water.",
                str(ALICE.peer_id): "Sintra then; I'll bring lunch for both of us.",
            },
        ),
    ),
    ("end", ALICE, EPOCH_2, Body(kind=BodyKind.END, reason="round limit reached (2 rounds)")),
    (
        "moderator_bob",
        ALICE,
        EPOCH_2,
        Body(
            kind=BodyKind.MODERATOR,
            about=str(BOB.peer_id),
            reason="handed over by Alice",
            roll={str(ALICE.peer_id): "active", str(BOB.peer_id): "active"},
        ),
    ),
]
DESCRIPTIONS = {
    "question": "Alice (the moderator) asks; two rounds, a budget of 600 s.",
    "turn_bob": "Bob's Second Me speaks in its turn, with the reason the moderator gave.",
    "turn_carol": "Carol's Second Me speaks.",
    "owner_bob": "Bob's owner asked to speak (group.raise) and speaks in person.",
    "skip_carol": "Carol did not answer her next turn: the moderator writes a skip.",
    "membership_carol_removed": "Alice removed carol: the key rotated to epoch 2 (alice and "
    "bob) before this message, the first under the new key.",
    "turn_alice": "The moderator's own Second Me takes a turn (it is a member too).",
    "summary": "The moderator sums up: what was agreed, and each speaker's last position.",
    "end": "The discussion ends, with why.",
    "moderator_bob": "Alice hands moderation to bob (groups.md section 8.12), with the roll he "
    "takes over: from here on bob moderates.",
}


def transcript_messages() -> list[tuple[dict[str, Any], bytes]]:
    """The transcript's messages as vectors, each with its head, and their bytes."""
    transcript = Transcript(GROUP)
    for key in KEYS.values():
        transcript.add_key(key)
    out = []
    for index, (name, sender, key, body) in enumerate(SCRIPT):
        vector = _message_json(
            name,
            DESCRIPTIONS[name],
            sender,
            key,
            seq=transcript.next_seq,
            prev=transcript.head,
            ts=NOW_MS + 1_000 + index * 15_000,
            body=body.encode(),
            body_fields=_body_fields(body),
        )
        data = bytes.fromhex(vector["outputs"]["message"])
        message = transcript.append(data)
        assert Body.decode(message.body) == body
        vector["head"] = transcript.head.hex()
        out.append((vector, data))
    return out


TRANSCRIPT = transcript_messages()
ENCODED = [data for _, data in TRANSCRIPT]
HEADS = [GENESIS] + [hashlib.sha256(data).digest() for data in ENCODED]


def transcript_vectors() -> dict[str, Any]:
    carol = Transcript(GROUP)
    carol.add_key(EPOCH_1)
    for data in ENCODED[:5]:
        carol.append(data)
    _expect("group_unknown_epoch", lambda: carol.append(ENCODED[5]), "carol reads epoch 2")
    return {
        "group": GROUP,
        "moderator": "alice",
        "epochs": [
            {"epoch": key.epoch, "key": key.key.hex(), "members": _members(key.members)}
            for key in KEYS.values()
        ],
        "messages": [vector for vector, _ in TRANSCRIPT],
        "views": [
            {
                "member": "bob",
                "epochs": [1, 2],
                "reads": len(ENCODED),
                "head": HEADS[-1].hex(),
                "description": "Bob holds both keys and keeps every message: his head is alice's.",
            },
            {
                "member": "carol",
                "epochs": [1],
                "reads": 5,
                "head": HEADS[5].hex(),
                "refused": {"seq": 6, "error": "group_unknown_epoch"},
                "description": "Carol was removed: she holds only epoch 1's key and cannot "
                "read message 6 or anything after it.",
            },
        ],
    }


# -- invalid messages -----------------------------------------------------------------------


def invalid_messages() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = []

    def add(
        name: str,
        description: str,
        data: bytes,
        error: str,
        *,
        receiver: Identity = ALICE,
        epochs: tuple[int, ...] = (1, 2),
        preceded_by: int = len(ENCODED),
    ) -> None:
        def receive() -> None:
            transcript = Transcript(GROUP)
            for epoch in epochs:
                transcript.add_key(KEYS[epoch])
            for earlier in ENCODED[:preceded_by]:
                transcript.append(earlier)
            message = transcript.append(data)
            Body.decode(message.body)

        _expect(error, receive, name)
        vectors.append(
            {
                "name": name,
                "description": description,
                "receiver": {
                    "as": NAME_OF[str(receiver.peer_id)],
                    "epochs": list(epochs),
                    "preceded_by": preceded_by,
                },
                "message": data.hex(),
                "error": error,
            }
        )

    def write(
        sender: Identity,
        key: GroupKey,
        *,
        seq: int = len(ENCODED) + 1,
        prev: bytes = HEADS[-1],
        body: bytes | None = None,
        label: str,
    ) -> bytes:
        text = Body(kind=BodyKind.TURN, text="One more thing: bring sun cream.").encode()
        return write_message(
            sender,
            key,
            seq=seq,
            prev=prev,
            body=text if body is None else body,
            ts=NOW_MS + 200_000,
            random_bytes=replaying(DRAWS.random(f"invalid message: {label}", NONCE_SIZE)),
        )

    good = write(BOB, EPOCH_2, label="good")
    fields = unpack_strict(good)
    signature = fields.pop("s")
    # The generator's own check: the base of the vectors below is accepted.
    base = Transcript(GROUP)
    for key in KEYS.values():
        base.add_key(key)
    for data in [*ENCODED, good]:
        base.append(data)

    def resigned(signer: Identity = BOB, **changes: Any) -> bytes:
        """``good`` with some fields changed (``None``: removed), signed again."""
        changed = {**fields, **changes}
        return sign_map(
            signer, MESSAGE_CONTEXT, {k: v for k, v in changed.items() if v is not None}
        )

    def unsigned(**changes: Any) -> bytes:
        """``good`` with some fields changed and its old signature kept."""
        return pack_canonical({**fields, **changes, "s": signature})

    def flipped(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[0] ^= 0x01
        return bytes(changed)

    # Structure: group_malformed
    add("empty", "Zero bytes.", b"", "group_malformed")
    add("not_a_map", "An array.", pack_canonical([1, 2]), "group_malformed")
    add("truncated", "A good message without its last byte.", good[:-1], "group_malformed")
    add("trailing_byte", "A good message and one more byte.", good + b"\x00", "group_malformed")
    order = ("group", "epoch", "seq", "prev", "from", "ts", "n", "ct", "s")
    add(
        "not_canonical",
        "A good message's map with its keys in the order of the field table: the same "
        "values, another encoding.",
        msgpack.packb({k: {**fields, "s": signature}[k] for k in order}, use_bin_type=True),
        "group_malformed",
    )
    add("extra_key", "A tenth key x, signed.", resigned(x=1), "group_malformed")
    add("missing_key", "No ts, signed.", resigned(ts=None), "group_malformed")
    add(
        "missing_signature",
        "No s.",
        pack_canonical(fields),
        "group_malformed",
    )
    add(
        "short_signature",
        "A 63-byte signature.",
        pack_canonical({**fields, "s": signature[:63]}),
        "group_malformed",
    )
    add(
        "group_upper_case",
        "The group id in upper-case hex, signed.",
        resigned(group=GROUP.upper()),
        "group_malformed",
    )
    add(
        "group_short", "A 31-digit group id, signed.", resigned(group=GROUP[:31]), "group_malformed"
    )
    add("negative_epoch", "epoch is -1, signed.", resigned(epoch=-1), "group_malformed")
    add("seq_as_string", 'seq is the string "10", signed.', resigned(seq="10"), "group_malformed")
    add("ts_as_bin", "ts is 8 bytes of bin, signed.", resigned(ts=bytes(8)), "group_malformed")
    add(
        "short_prev",
        "prev is 31 bytes, signed.",
        resigned(prev=HEADS[-1][:31]),
        "group_malformed",
    )
    add("short_nonce", "n is 12 bytes, signed.", resigned(n=fields["n"][:12]), "group_malformed")
    add("ct_as_str", "ct is a string, signed.", resigned(ct="ciphertext"), "group_malformed")
    add(
        "from_not_base58",
        "from is not a peer ID, signed.",
        resigned(**{"from": "not a peer"}),
        "group_malformed",
    )
    sha256_peer = base58.b58encode(b"\x12\x20" + hashlib.sha256(b"an RSA key").digest()).decode()
    add(
        "from_not_ed25519",
        "from is a peer ID of the SHA-256 kind (Qm…), which holds no Ed25519 key; signed.",
        resigned(**{"from": sha256_peer}),
        "group_malformed",
    )

    # Keys: group_unknown_epoch
    epoch_3 = GroupKey(
        GROUP, 3, DRAWS.random("weekend hike, epoch 3 key", KEY_SIZE), EPOCH_2.members
    )
    add(
        "epoch_not_held",
        "Bob writes under an epoch 3 that alice never made: alice holds no key of it.",
        write(BOB, epoch_3, label="epoch 3"),
        "group_unknown_epoch",
    )
    other = GroupKey(OTHER_GROUP, 2, EPOCH_2.key, EPOCH_2.members)
    add(
        "another_group",
        "A message of another group (epoch 2, even the same key bytes): no key of that group.",
        write(BOB, other, label="another group"),
        "group_unknown_epoch",
    )
    add(
        "removed_member_reads_on",
        "Carol, removed, holds only epoch 1 and five messages; message 6 is under epoch 2.",
        ENCODED[5],
        "group_unknown_epoch",
        receiver=CAROL,
        epochs=(1,),
        preceded_by=5,
    )
    add(
        "old_epoch_after_rotation",
        "Bob writes message 10 under epoch 1 after messages of epoch 2: in order, signed and "
        "decryptable, but the epoch went back.",
        write(BOB, EPOCH_1, label="old epoch"),
        "group_unknown_epoch",
    )
    add(
        "removed_member_writes_old_epoch",
        "Carol, removed, writes message 10 under the epoch-1 key she still holds.",
        write(CAROL, EPOCH_1, label="carol old epoch"),
        "group_unknown_epoch",
    )

    # Membership: group_not_member
    dave_key = GroupKey(
        GROUP, 2, DRAWS.random("dave's guess at a key", KEY_SIZE), frozenset({DAVE.peer_id})
    )
    add(
        "outsider",
        "Dave, never a member, writes under epoch 2 (with a key of his own).",
        write(DAVE, dave_key, label="dave"),
        "group_not_member",
    )
    leaked = GroupKey(GROUP, 2, EPOCH_2.key, frozenset({CAROL.peer_id}))
    add(
        "removed_member_writes_new_epoch",
        "Carol, removed, writes under epoch 2 with its real key (leaked to her): epoch 2's "
        "members are alice and bob.",
        write(CAROL, leaked, label="carol leaked key"),
        "group_not_member",
    )
    dave_message = unpack_strict(write(DAVE, dave_key, label="dave"))
    add(
        "outsider_before_signature",
        "Dave's message with a signature of zeros: membership is checked before the signature.",
        pack_canonical({**dave_message, "s": bytes(64)}),
        "group_not_member",
    )

    # Signature: group_forged
    add(
        "signature_flipped",
        "One bit of s flipped.",
        pack_canonical({**fields, "s": flipped(signature)}),
        "group_forged",
    )
    add(
        "sender_changed",
        "Bob's message claims to be from alice, and bob signs it: it is not alice's signature.",
        resigned(BOB, **{"from": str(ALICE.peer_id)}),
        "group_forged",
    )
    add(
        "ciphertext_tampered",
        "One bit of ct flipped after signing.",
        unsigned(ct=flipped(fields["ct"])),
        "group_forged",
    )
    add(
        "header_tampered",
        "ts changed after signing.",
        unsigned(ts=fields["ts"] + 1),
        "group_forged",
    )
    add(
        "another_context",
        "Bob signs the same map under the sealed-bundle context instead.",
        sign_map(BOB, SEALED_CONTEXT, fields),
        "group_forged",
    )
    add(
        "replay_with_bad_signature",
        "Message 1 again with one bit of its signature flipped: the signature is checked "
        "before the order.",
        pack_canonical(
            {
                **unpack_strict(ENCODED[0]),
                "s": flipped(unpack_strict(ENCODED[0])["s"]),
            }
        ),
        "group_forged",
    )

    # Decryption: group_undecryptable
    add(
        "ciphertext_tampered_and_resigned",
        "One bit of ct flipped, then signed again by bob: signed, but the tag fails.",
        resigned(ct=flipped(fields["ct"])),
        "group_undecryptable",
    )
    add(
        "header_changed_and_resigned",
        "ts changed and signed again by bob: the associated data no longer matches.",
        resigned(ts=fields["ts"] + 1),
        "group_undecryptable",
    )
    wrong = GroupKey(GROUP, 2, DRAWS.random("not epoch 2's key", KEY_SIZE), EPOCH_2.members)
    add(
        "wrong_key",
        "Bob encrypts under a key that is not epoch 2's and names epoch 2.",
        write(BOB, wrong, label="wrong key"),
        "group_undecryptable",
    )

    # Order: group_out_of_order
    add("replay_of_first", "Message 1 again, after message 9.", ENCODED[0], "group_out_of_order")
    add("replay_of_last", "Message 9 again.", ENCODED[-1], "group_out_of_order")
    add(
        "gap",
        "Seq 11 after message 9 (prev is the head).",
        write(BOB, EPOCH_2, seq=len(ENCODED) + 2, label="gap"),
        "group_out_of_order",
    )
    add(
        "fork",
        "Seq 10 whose prev is message 8's hash: a fork of the chain.",
        write(BOB, EPOCH_2, prev=HEADS[-2], label="fork"),
        "group_out_of_order",
    )
    add(
        "seq_behind",
        "Seq 9 whose prev is the head.",
        write(BOB, EPOCH_2, seq=len(ENCODED), label="seq behind"),
        "group_out_of_order",
    )
    add(
        "first_without_genesis",
        "An empty transcript receives message 2.",
        ENCODED[1],
        "group_out_of_order",
        preceded_by=0,
    )
    add(
        "first_with_seq_0",
        "An empty transcript receives seq 0 with the genesis prev.",
        write(BOB, EPOCH_1, seq=0, prev=GENESIS, label="seq 0"),
        "group_out_of_order",
        preceded_by=0,
    )

    # The body, read once the message is in order: group_malformed
    add(
        "body_not_a_body",
        "A valid message whose plaintext is the text hello, not a body map.",
        write(BOB, EPOCH_2, body=b"hello", label="hello"),
        "group_malformed",
    )
    add(
        "body_unknown_kind",
        "A valid message whose body's kind is vote.",
        write(BOB, EPOCH_2, body=pack_canonical({"kind": "vote", "text": ""}), label="vote"),
        "group_malformed",
    )
    return vectors


# -- bodies ---------------------------------------------------------------------------------


def body_vectors() -> dict[str, Any]:
    valid = []
    for name, _sender, _key, body in SCRIPT:
        valid.append(
            {
                "name": name,
                "description": DESCRIPTIONS[name],
                "fields": _body_fields(body),
                "encoded": body.encode().hex(),
            }
        )
    edge = [
        ("minimal", "Only the required keys: kind and an empty text.", Body(kind=BodyKind.END)),
        (
            "limits",
            f"Every field at its limit: {MAX_POSITIONS} positions, the first of "
            f"{4 * MAX_REASON} bytes.",
            Body(
                kind=BodyKind.SUMMARY,
                text="t" * MAX_TEXT,
                reason="r" * MAX_REASON,
                about=str(DAVE.peer_id),
                relevance=1000,
                rounds=100_000,
                until="u" * 32,
                budget_s=100_000,
                positions={
                    str(person(f"member {index}").peer_id): (
                        "p" * (4 * MAX_REASON) if index == 0 else f"position {index}"
                    )
                    for index in range(MAX_POSITIONS)
                },
            ),
        ),
    ]
    for name, description, body in edge:
        valid.append(
            {
                "name": name,
                "description": description,
                "fields": _body_fields(body),
                "encoded": body.encode().hex(),
            }
        )
    question = SCRIPT[0][3]
    reordered = msgpack.packb(
        {
            "text": question.text,
            "kind": "question",
            "until": "rounds",
            "rounds": 2,
            "budget_s": 600,
        },
        use_bin_type=True,
    )
    # {"kind": "end", "text": ""} with str 8 headers (d9 nn) where fixstr would do.
    wide = b"\x82\xd9\x04kind\xd9\x03end\xd9\x04text\xd9\x00"
    equivalent = [
        {
            "name": "keys_out_of_order",
            "description": "The question's body with its keys in another order.",
            "same_as": "question",
            "encoded": reordered.hex(),
        },
        {
            "name": "wide_string_headers",
            "description": "The minimal body with str 8 headers where fixstr would do.",
            "same_as": "minimal",
            "encoded": wide.hex(),
        },
    ]
    for vector in equivalent:
        same = next(v for v in valid if v["name"] == vector["same_as"])
        assert Body.decode(bytes.fromhex(vector["encoded"])) == Body.decode(
            bytes.fromhex(same["encoded"])
        )

    invalid: list[dict[str, Any]] = []

    def add(name: str, description: str, data: bytes) -> None:
        _expect("group_malformed", lambda: Body.decode(data), name)
        invalid.append(
            {
                "name": name,
                "description": description,
                "encoded": data.hex(),
                "error": "group_malformed",
            }
        )

    def body(**changes: Any) -> bytes:
        wire = {"kind": "turn", "text": "hi"}
        wire.update(changes)
        return pack_canonical({k: v for k, v in wire.items() if v != "-"})

    add("not_msgpack", "The byte c1.", b"\xc1")
    add("not_a_map", "A string.", pack_canonical("turn"))
    add("trailing_byte", "A good body and one more byte.", body() + b"\x00")
    add(
        "float",
        "relevance as a float 64.",
        msgpack.packb({"kind": "turn", "text": "", "relevance": 0.5}),
    )
    add("no_kind", "Without kind.", body(kind="-"))
    add("no_text", "Without text.", body(text="-"))
    add("unknown_kind", "kind is vote.", body(kind="vote"))
    add("kind_upper_case", "kind is TURN.", body(kind="TURN"))
    add("kind_as_int", "kind is 1.", body(kind=1))
    add("unknown_key", "An extra key votes.", body(votes=3))
    add("nil_optional", "reason is nil: an absent field is left out.", body(reason=None))
    add("text_as_bin", "text is bin.", body(text=b"hi"))
    add("text_too_long", f"text of {MAX_TEXT + 1} bytes.", body(text="t" * (MAX_TEXT + 1)))
    add(
        "reason_too_long", f"reason of {MAX_REASON + 1} bytes.", body(reason="r" * (MAX_REASON + 1))
    )
    add("relevance_over_1000", "relevance 1001.", body(relevance=1001))
    add("relevance_negative", "relevance -1.", body(relevance=-1))
    add("relevance_as_bool", "relevance true.", body(relevance=True))
    add("rounds_too_many", "rounds 100001.", body(rounds=100_001))
    add("budget_too_long", "budget_s 100001.", body(budget_s=100_001))
    add("until_too_long", "until of 33 bytes.", body(until="u" * 33))
    add("about_not_a_peer", "about is not a peer string.", body(about="carol"))
    add(
        "positions_not_a_map",
        "positions is an array.",
        body(positions=[str(BOB.peer_id)]),
    )
    add(
        "positions_key_not_a_peer",
        "positions names bob by name.",
        body(positions={"bob": "the ridge"}),
    )
    add(
        "positions_value_too_long",
        f"A position of {4 * MAX_REASON + 1} bytes.",
        body(positions={str(BOB.peer_id): "p" * (4 * MAX_REASON + 1)}),
    )
    add("roll_status_left", "A roll names a member as left.", body(roll={str(BOB.peer_id): "left"}))
    add("roll_key_not_a_peer", "A roll names bob by name.", body(roll={"bob": "active"}))
    add("roll_not_a_map", "roll is an array.", body(roll=[str(BOB.peer_id)]))
    add(
        "too_many_positions",
        f"{MAX_POSITIONS + 1} positions.",
        body(
            positions={
                str(person(f"member {index}").peer_id): "p" for index in range(MAX_POSITIONS + 1)
            }
        ),
    )
    return {"valid": valid, "equivalent": equivalent, "invalid": invalid}


# -- sync -----------------------------------------------------------------------------------


def sync_answer(asker: Identity, after: int, as_of: int, label: str) -> GroupMessages:
    """What the moderator answers to ``group.sync`` (groups.md section 8.5): the messages after
    ``after`` of the first ``as_of``, at most 64, up to the first of an epoch the asker is not
    a member of, with the keys of their epochs sealed to the asker."""
    pending = list(zip(ENCODED[:as_of], range(1, as_of + 1), strict=True))[after:]
    window = pending[:MAX_SYNC_MESSAGES]
    allowed = []
    for data, seq in window:
        epoch = unpack_strict(data)["epoch"]
        if asker.peer_id not in KEYS[epoch].members:
            break
        allowed.append((data, seq, epoch))
    epochs = sorted({epoch for _, _, epoch in allowed})
    keys = tuple(seal_key(f"{label}: epoch {e}", KEYS[e], asker) for e in epochs)
    more = len(allowed) == len(window) == MAX_SYNC_MESSAGES
    return GroupMessages(messages=tuple(data for data, _, _ in allowed), keys=keys, more=more)


SYNCS = [
    ("bob_from_the_start", "Bob asks for everything: nine messages, both epochs' keys.", BOB, 0, 9),
    ("bob_after_5", "Bob holds five messages: the four after, and epoch 2's key.", BOB, 5, 9),
    ("bob_up_to_date", "Bob holds all nine: nothing, no key, no more.", BOB, 9, 9),
    (
        "carol_before_removal",
        "Carol asked after message 2 when the transcript had five messages (before her "
        "removal, after which the moderator answers her unknown_group): three messages and "
        "epoch 1's key.",
        CAROL,
        2,
        5,
    ),
]


def sync_vectors() -> list[dict[str, Any]]:
    vectors = []
    for name, description, asker, after, as_of in SYNCS:
        answer = sync_answer(asker, after, as_of, name)
        epochs = sorted({unpack_strict(data)["epoch"] for data in answer.messages})
        keys = []
        for epoch, sealed in zip(epochs, answer.keys, strict=True):
            ephemeral_secret, nonce = _seal_draws(f"{name}: epoch {epoch}")
            keys.append(
                {
                    "epoch": epoch,
                    "created_ms": NOW_MS,
                    "ephemeral_secret": ephemeral_secret.hex(),
                    "nonce": nonce.hex(),
                    "sealed": sealed.hex(),
                }
            )
        vectors.append(
            {
                "name": name,
                "description": description,
                "asker": NAME_OF[str(asker.peer_id)],
                "after": after,
                "as_of": as_of,
                "messages": [after + index + 1 for index in range(len(answer.messages))],
                "keys": keys,
                "more": answer.more,
            }
        )
    return vectors


def request_messages() -> list[tuple[str, str, Identity, Identity, Request]]:
    """(name, description, sender, receiver, request)."""
    return [
        (
            "invite",
            "Alice invites bob: the members, alice first, and epoch 1's key sealed to bob.",
            ALICE,
            BOB,
            GroupInvite(
                group=GROUP,
                name=GROUP_NAME,
                topic=TOPIC,
                members=(str(ALICE.peer_id), str(BOB.peer_id), str(CAROL.peer_id)),
                key=seal_key("epoch_1_to_bob", EPOCH_1, BOB),
            ),
        ),
        (
            "key",
            "After carol's removal: epoch 2's key sealed to bob.",
            ALICE,
            BOB,
            GroupKeyUpdate(
                group=GROUP, key=seal_key("epoch_2_to_bob", EPOCH_2, BOB, NOW_MS + 1_000)
            ),
        ),
        (
            "post",
            "Alice delivers message 6 to bob.",
            ALICE,
            BOB,
            GroupPost(group=GROUP, message=ENCODED[5]),
        ),
        (
            "turn",
            "Alice gives bob the turn for message 2.",
            ALICE,
            BOB,
            GroupTurn(group=GROUP, seq=2, prev=HEADS[1], epoch=1, reason=REASON_FIRST),
        ),
        (
            "end",
            "Alice tells carol she was removed.",
            ALICE,
            CAROL,
            GroupEnd(group=GROUP, reason="removed"),
        ),
        (
            "accept",
            "Carol's owner accepts the invitation.",
            CAROL,
            ALICE,
            GroupAccept(group=GROUP, accept=True),
        ),
        ("raise", "Bob's owner asks to speak.", BOB, ALICE, GroupRaise(group=GROUP)),
        ("leave", "Carol leaves.", CAROL, ALICE, GroupLeave(group=GROUP)),
        (
            "sync",
            "Bob holds five messages and asks for the rest.",
            BOB,
            ALICE,
            GroupSync(group=GROUP, after=5),
        ),
    ]


def response_messages() -> list[tuple[str, str, str, Message]]:
    """(name, description, the request it answers, answer); signed by that request's receiver."""
    return [
        (
            "invited",
            "Bob's node holds no group/join grant for alice: its owner decides later.",
            "invite",
            GroupInvited(accepted=False),
        ),
        (
            "ok",
            "The answer to group.key (and to group.end, accept, raise, leave).",
            "key",
            GroupOk(),
        ),
        (
            "posted",
            "Bob kept message 6: his relevance to it, and his head.",
            "post",
            GroupPosted(relevance=0, head=HEADS[6]),
        ),
        ("said", "Bob's turn: message 2.", "turn", GroupSaid(message=ENCODED[1])),
        ("messages", "The answer to bob's sync.", "sync", sync_answer(BOB, 5, 9, "bob_after_5")),
        (
            "error_rate_limited",
            "A second group.raise while bob's first is still waiting.",
            "raise",
            ErrorMessage(
                code="rate_limited",
                message="already 1 requests to speak waiting from this member",
                retry_after_ms=120_000,
            ),
        ),
        (
            "error_out_of_order",
            "Bob is behind and cannot catch up: he refuses the turn.",
            "turn",
            ErrorMessage(code="group_out_of_order", message="this node is at message 0, not 1"),
        ),
        (
            "error_grant_revoked",
            "Bob joined by a group/join grant and revoked it: he refuses the turn (8.1 step 3).",
            "turn",
            ErrorMessage(code="grant_revoked", message="grant 3f1c2a9b0d4e5f67 was revoked"),
        ),
        (
            "error_inbox_full",
            "Three invitations from alice without a grant already wait for bob's owner (8.2).",
            "invite",
            ErrorMessage(
                code="group_inbox_full",
                message="3 invitations from this peer already wait for the owner of this node",
            ),
        ),
        (
            "error_quota",
            "Bob keeps no more of this group (section 10): he refuses message 6.",
            "post",
            ErrorMessage(
                code="group_quota",
                message="this node keeps at most 16777216 bytes of a group",
            ),
        ),
    ]


def envelope_vectors() -> dict[str, Any]:
    requests = []
    by_name: dict[str, tuple[int, Identity, Identity]] = {}
    for index, (name, description, sender, receiver, message) in enumerate(request_messages(), 1):
        request_id = 0x6209_0000_0000_0000 + index
        by_name[name] = (request_id, sender, receiver)
        sent = envelope(message, signer=sender, nonce=DRAWS.nonce(name), request_id=request_id)
        vector = envelope_json(name, description, sent, NAME_OF[str(sender.peer_id)])
        vector["request_id"] = request_id
        vector["receiver"] = NAME_OF[str(receiver.peer_id)]
        requests.append(vector)
    responses = []
    for name, description, answers, message in response_messages():
        request_id, _, receiver = by_name[answers]
        sent = envelope(message, signer=receiver, nonce=DRAWS.nonce(name), request_id=request_id)
        vector = envelope_json(name, description, sent, NAME_OF[str(receiver.peer_id)])
        vector["answers"] = answers
        responses.append(vector)
    return {"now_ms": NOW_MS, "requests": requests, "responses": responses}


# -- the file -------------------------------------------------------------------------------


def document() -> dict[str, Any]:
    return {
        "description": "Group discussions (secondme/group/1): sealed epoch keys, signed and "
        "encrypted messages, a hash-chained transcript across a key rotation, messages to "
        "refuse, bodies, sync answers, and the group.* envelopes.",
        "context": MESSAGE_CONTEXT.hex(),
        "key_content_type": KEY_CONTENT_TYPE,
        "limits": {
            "key_size": KEY_SIZE,
            "nonce_size": NONCE_SIZE,
            "hash_size": HASH_SIZE,
            "max_message_size": MAX_MESSAGE_SIZE,
            "max_members": MAX_MEMBERS,
            "max_text": MAX_TEXT,
            "max_reason": MAX_REASON,
            "max_positions": MAX_POSITIONS,
            "max_group_name": MAX_GROUP_NAME,
            "max_topic": MAX_TOPIC,
            "max_sealed_key": MAX_SEALED_KEY,
            "max_sync_messages": MAX_SYNC_MESSAGES,
            "max_sync_keys": MAX_SYNC_KEYS,
            "end_reasons": list(END_REASONS),
            "relevance_step": RELEVANCE_STEP,
            "body_kinds": [str(kind) for kind in BodyKind],
        },
        "identities": {name: identity_json(identity) for name, identity in IDENTITIES.items()},
        "sealed_keys": {"valid": valid_sealed_keys(), "invalid": invalid_sealed_keys()},
        "messages": standalone_messages(),
        "transcript": transcript_vectors(),
        "invalid_messages": invalid_messages(),
        "bodies": body_vectors(),
        "sync": sync_vectors(),
        "envelopes": envelope_vectors(),
    }


def main(write: Callable[[Path, str], object] = Path.write_text) -> int:
    write(HERE / "groups.json", render(document()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
