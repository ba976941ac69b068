"""Group keys, sealed to members, and the hash-chained transcript of encrypted messages."""

from __future__ import annotations

import pytest

from secondme.protocol.fields import InvalidField
from secondme.protocol.groups import (
    GENESIS,
    Body,
    BodyKind,
    ForgedGroupMessage,
    GroupKey,
    GroupMessageError,
    MalformedGroupMessage,
    NotGroupMember,
    OutOfOrder,
    Transcript,
    UnknownEpoch,
    read_message,
    write_message,
)
from secondme.protocol.identity import Identity
from secondme.protocol.signed import sign_map
from secondme.protocol.wire import pack_canonical, unpack_strict

GROUP = "ab" * 16
NOW = 1_800_000_000_000
MOD, ALICE, BOB, CAROL = (Identity.from_seed(bytes([i]) * 32) for i in range(1, 5))


def everyone() -> frozenset:
    return frozenset(i.peer_id for i in (MOD, ALICE, BOB, CAROL))


def say(who: Identity, transcript: Transcript, key: GroupKey, text: str) -> bytes:
    return write_message(
        who, key, seq=transcript.next_seq, prev=transcript.head, body=text.encode(), ts=NOW
    )


def test_key_is_sealed_to_each_member_and_opens_only_there() -> None:
    key = GroupKey.generate(GROUP, 1, everyone())
    sealed = key.seal_for(MOD, ALICE.peer_id, created_ms=NOW)
    assert GroupKey.open(ALICE, sealed, moderator=MOD.peer_id) == key
    with pytest.raises(MalformedGroupMessage):
        GroupKey.open(BOB, sealed, moderator=MOD.peer_id)  # sealed to Alice
    with pytest.raises(MalformedGroupMessage):
        GroupKey.open(ALICE, sealed, moderator=BOB.peer_id)  # not from that moderator
    outsider = Identity.generate()
    with pytest.raises(ValueError):
        key.seal_for(MOD, outsider.peer_id, created_ms=NOW)


def test_members_keep_identical_transcripts() -> None:
    key = GroupKey.generate(GROUP, 1, everyone())
    copies = {who: Transcript(GROUP) for who in ("mod", "alice", "bob")}
    for transcript in copies.values():
        transcript.add_key(key)
    for speaker, text in ((ALICE, "Saturday: the ridge trail?"), (BOB, "Too long for me.")):
        data = say(speaker, copies["mod"], key, text)
        for transcript in copies.values():
            transcript.append(data)
    heads = {t.head for t in copies.values()}
    assert len(heads) == 1 and heads != {GENESIS}
    assert [m.body for m in copies["bob"].messages] == [
        b"Saturday: the ridge trail?",
        b"Too long for me.",
    ]


def test_gaps_replays_and_forks_are_refused_and_change_nothing() -> None:
    key = GroupKey.generate(GROUP, 1, everyone())
    transcript = Transcript(GROUP)
    transcript.add_key(key)
    first = say(ALICE, transcript, key, "one")
    transcript.append(first)
    head = transcript.head
    gap = write_message(BOB, key, seq=3, prev=head, body=b"three", ts=NOW)
    fork = write_message(BOB, key, seq=2, prev=GENESIS, body=b"two", ts=NOW)
    for data in (first, gap, fork):
        with pytest.raises(OutOfOrder):
            transcript.append(data)
    assert transcript.head == head and len(transcript.messages) == 1


def test_forged_and_non_member_senders_are_refused() -> None:
    key = GroupKey.generate(GROUP, 1, frozenset({MOD.peer_id, ALICE.peer_id, BOB.peer_id}))
    transcript = Transcript(GROUP)
    transcript.add_key(key)
    outsider_key = GroupKey(GROUP, 1, key.key, frozenset({CAROL.peer_id}))
    from_outsider = say(CAROL, transcript, outsider_key, "let me in")
    with pytest.raises(NotGroupMember):
        transcript.append(from_outsider)
    # Alice writes a message and claims Bob sent it: she cannot sign as Bob.
    honest = unpack_strict(say(ALICE, transcript, key, "hi"))
    honest.pop("s")
    honest["from"] = str(BOB.peer_id)
    forged = sign_map(ALICE, b"secondme/group/1 message\x00", honest)
    with pytest.raises(ForgedGroupMessage):
        transcript.append(forged)


def test_every_single_byte_change_is_refused() -> None:
    key = GroupKey.generate(GROUP, 1, everyone())
    transcript = Transcript(GROUP)
    transcript.add_key(key)
    data = say(ALICE, transcript, key, "the hut at 8")
    for index in range(len(data)):
        changed = bytearray(data)
        changed[index] ^= 0x01
        with pytest.raises(GroupMessageError):
            read_message(bytes(changed), transcript.keys)


def test_a_removed_member_cannot_read_after_the_key_rotates() -> None:
    first = GroupKey.generate(GROUP, 1, everyone())
    second = GroupKey.generate(GROUP, 2, everyone() - {CAROL.peer_id})
    with pytest.raises(ValueError):
        second.seal_for(MOD, CAROL.peer_id, created_ms=NOW)
    moderator, carol = Transcript(GROUP), Transcript(GROUP)
    for transcript in (moderator, carol):
        transcript.add_key(first)
    moderator.add_key(second)
    before = say(ALICE, moderator, first, "before Carol left")
    for transcript in (moderator, carol):
        transcript.append(before)
    after = say(ALICE, moderator, second, "after Carol left")
    moderator.append(after)
    with pytest.raises(UnknownEpoch):
        carol.append(after)
    # Carol cannot write under the new epoch either, nor under the old one after it.
    with pytest.raises(NotGroupMember):
        moderator.append(
            write_message(
                CAROL,
                GroupKey(GROUP, 2, second.key, frozenset({CAROL.peer_id})),
                seq=moderator.next_seq,
                prev=moderator.head,
                body=b"still here",
                ts=NOW,
            )
        )
    stale = say(BOB, moderator, first, "under the old key")
    with pytest.raises(UnknownEpoch):
        moderator.append(stale)


# -- the moderator body ------------------------------------------------------------------------


def test_a_moderator_body_with_its_roll_round_trips() -> None:
    roll = {str(ALICE.peer_id): "active", str(BOB.peer_id): "invited"}
    body = Body(kind=BodyKind.MODERATOR, about=str(BOB.peer_id), reason="handed over", roll=roll)
    read = Body.decode(body.encode())
    assert read == body and read.kind is BodyKind.MODERATOR
    assert dict(read.roll or {}) == roll and read.about == str(BOB.peer_id)
    assert unpack_strict(body.encode())["roll"] == roll


@pytest.mark.parametrize(
    "roll",
    [
        {"bob": "active"},  # not a peer
        {str(BOB.peer_id): "left"},  # not a status a roll hands over
        {str(BOB.peer_id): ""},
        {str(Identity.from_seed(bytes([n]) * 32).peer_id): "active" for n in range(65)},
        [str(BOB.peer_id)],  # not a map
    ],
    ids=["key_not_a_peer", "left", "empty_status", "too_many", "array"],
)
def test_a_bad_roll_is_refused(roll: object) -> None:
    with pytest.raises(InvalidField):
        Body(kind=BodyKind.MODERATOR, about=str(BOB.peer_id), roll=roll)  # type: ignore[arg-type]
    wire = pack_canonical({"kind": "moderator", "text": "", "roll": roll})
    with pytest.raises(MalformedGroupMessage):
        Body.decode(wire)
