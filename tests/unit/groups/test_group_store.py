"""The groups store over a real SQLite file: groups resolve by id, id prefix or name the way the
CLI promises, the moderator's roll and the epoch keys persist, and the transcript kept on disk
rebuilds into the same hash chain (and refuses a stored message that was changed)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from secondme.node.core.db import Database
from secondme.node.core.errors import NotFound
from secondme.node.groups.store import Group, GroupStore, StoredMessage
from secondme.protocol.grants import Scope
from secondme.protocol.groups import (
    GENESIS,
    Body,
    BodyKind,
    GroupKey,
    GroupMessageError,
    Transcript,
    write_message,
)
from secondme.protocol.identity import Identity

MODERATOR = Identity.from_seed(bytes([1]) * 32)
ALICE = Identity.from_seed(bytes([2]) * 32)
BOB = Identity.from_seed(bytes([3]) * 32)
MOD = str(MODERATOR.peer_id)

GID = "0123abcd" + "0" * 24
OTHER = "0123abcd" + "1" * 24
THIRD = "fedcba98" + "2" * 24


def group(group_id: str = GID, name: str = "friends", **changes) -> Group:
    base = dict(
        group_id=group_id,
        name=name,
        topic="where to eat",
        moderator=MOD,
        created_ms=1_000,
        status="active",
        scope=None,
        grant_id=None,
    )
    return Group(**{**base, **changes})


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = Database(tmp_path / "node.db")
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> GroupStore:
    return GroupStore(db)


# -- groups ------------------------------------------------------------------------------


def test_add_get_and_list_keep_every_field(store: GroupStore) -> None:
    scope = Scope(tags=("food",), topics=("travel",), layers=("l1",), profile=True)
    first = group(scope=scope, grant_id="grant-1", status="invited", created_ms=5)
    second = group(OTHER, "family", created_ms=2)
    store.add(first)
    store.add(second)
    assert store.get(GID) == first
    assert store.get(OTHER) == second
    assert store.get(THIRD) is None
    assert [g.group_id for g in store.list()] == [OTHER, GID]  # oldest first


def test_add_twice_keeps_the_first(store: GroupStore) -> None:
    store.add(group(name="friends"))
    store.add(group(name="renamed", status="closed"))
    kept = store.get(GID)
    assert kept is not None and (kept.name, kept.status) == ("friends", "active")
    assert len(store.list()) == 1


def test_find_by_id_prefix_or_name(store: GroupStore) -> None:
    store.add(group(GID, "friends"))
    store.add(group(THIRD, "family"))
    assert store.find(GID).name == "friends"
    assert store.find("fedcba98").name == "family"  # 8 hex digits are enough
    assert store.find("fedcba982222").name == "family"
    assert store.find("family").group_id == THIRD
    with pytest.raises(NotFound, match="no group 'fedcba9'"):
        store.find("fedcba9")  # 7 digits are not a prefix
    with pytest.raises(NotFound, match="group list"):
        store.find("work")


def test_a_prefix_shared_by_two_groups_asks_for_the_id(store: GroupStore) -> None:
    store.add(group(GID, "friends"))
    store.add(group(OTHER, "family"))
    with pytest.raises(NotFound, match="'0123abcd' names several groups; use the group id"):
        store.find("0123abcd")
    assert store.find("0123abcd0").group_id == GID
    assert store.find("0123abcd1").group_id == OTHER


def test_one_name_for_several_live_groups_asks_for_the_id(store: GroupStore) -> None:
    store.add(group(GID, "friends", created_ms=1))
    store.add(group(OTHER, "friends", created_ms=2, status="invited"))
    with pytest.raises(NotFound, match="'friends' names several groups; use the group id"):
        store.find("friends")
    assert store.find(OTHER).status == "invited"  # the full id still finds each


def test_a_live_group_wins_over_ended_ones_of_the_same_name(store: GroupStore) -> None:
    store.add(group(GID, "friends", created_ms=1, status="left"))
    store.add(group(OTHER, "friends", created_ms=2, status="closed"))
    store.add(group(THIRD, "friends", created_ms=3, status="active"))
    assert store.find("friends").group_id == THIRD
    store.set_status(THIRD, "declined")
    with pytest.raises(NotFound, match="several groups"):
        store.find("friends")  # only ended ones left, and three of them


def test_an_ended_group_is_found_when_no_live_one_has_the_name(store: GroupStore) -> None:
    store.add(group(GID, "friends", status="removed"))
    store.add(group(OTHER, "family", status="active"))
    found = store.find("friends")
    assert (found.group_id, found.status) == (GID, "removed")


def test_set_status_without_a_scope_leaves_scope_and_grant(store: GroupStore) -> None:
    scope = Scope(tags=("food",))
    store.add(group(status="invited", scope=scope, grant_id="g-1"))
    store.set_status(GID, "left", grant_id="ignored-without-a-scope")
    kept = store.get(GID)
    assert kept is not None
    assert (kept.status, kept.scope, kept.grant_id) == ("left", scope, "g-1")


@pytest.mark.parametrize(
    "scope",
    [
        Scope(),
        Scope(tags=("food", "wine"), topics=("travel",), layers=("l0",), profile=True),
        Scope(profile_only=True, layers=()),
        Scope(layers=("l1", "l0"), tags=("Mixed Case",)),
    ],
)
def test_set_status_with_a_scope_round_trips_it(store: GroupStore, scope: Scope) -> None:
    store.add(group(status="invited"))
    store.set_status(GID, "active", scope=scope, grant_id="g-2")
    kept = store.get(GID)
    assert kept is not None
    assert (kept.status, kept.scope, kept.grant_id) == ("active", scope, "g-2")
    assert kept.scope.profile_only == scope.profile_only
    assert kept.scope.profile == scope.profile


def test_set_status_with_a_scope_and_no_grant_clears_the_grant(store: GroupStore) -> None:
    store.add(group(scope=Scope(), grant_id="old"))
    store.set_status(GID, "active", scope=Scope(profile_only=True))
    kept = store.get(GID)
    assert kept is not None and kept.grant_id is None
    assert kept.scope is not None and kept.scope.profile_only and kept.scope.profile


def test_group_to_json() -> None:
    scope = Scope(tags=("food",), topics=(), layers=("l0", "l1"), profile_only=True)
    shown = group(scope=scope, grant_id="g-3").to_json()
    assert shown == {
        "group_id": GID,
        "name": "friends",
        "topic": "where to eat",
        "moderator": MOD,
        "created_ms": 1_000,
        "status": "active",
        "scope": {
            "tags": ["food"],
            "topics": [],
            "layers": ["l0", "l1"],
            "profile": True,
            "profile_only": True,
        },
        "grant_id": "g-3",
        "share_relevance": False,
    }
    assert group().to_json()["scope"] is None


# -- the moderator's roll ----------------------------------------------------------------


def test_members_upsert_and_keep_the_order_first_seen(store: GroupStore) -> None:
    store.add(group())
    store.add(group(OTHER, "family"))
    assert store.members(GID) == {}
    store.set_member(GID, "peer-c", "invited", 1)
    store.set_member(GID, "peer-a", "invited", 2)
    store.set_member(GID, "peer-b", "active", 3)
    store.set_member(GID, "peer-c", "declined", 4)
    store.set_member(GID, "peer-a", "active", 5)
    store.set_member(OTHER, "peer-z", "removed", 6)
    members = store.members(GID)
    assert list(members) == ["peer-c", "peer-a", "peer-b"]
    assert members == {"peer-c": "declined", "peer-a": "active", "peer-b": "active"}
    assert store.members(OTHER) == {"peer-z": "removed"}
    row = store._db.query_one(
        "SELECT updated_ms FROM group_members WHERE group_id = ? AND peer_id = ?",
        (GID, "peer-a"),
    )
    assert row is not None and row["updated_ms"] == 5


# -- keys --------------------------------------------------------------------------------


def test_keys_are_kept_once_per_epoch_in_order(store: GroupStore) -> None:
    store.add(group())
    with pytest.raises(NotFound, match=f"no key of group {GID}"):
        store.latest_key(GID)
    assert store.keys(GID) == []
    two = GroupKey.generate(GID, 2, [MODERATOR.peer_id, BOB.peer_id])
    one = GroupKey.generate(GID, 1, [MODERATOR.peer_id, ALICE.peer_id, BOB.peer_id])
    store.add_key(two)
    store.add_key(one)
    store.add_key(GroupKey.generate(GID, 1, [MODERATOR.peer_id]))  # a second epoch 1: ignored
    keys = store.keys(GID)
    assert keys == [one, two]
    assert keys[0].key == one.key and keys[0].members == one.members
    assert store.latest_key(GID) == two
    assert store.latest_key(GID).key == two.key


# -- the transcript ----------------------------------------------------------------------


def two_epochs() -> tuple[list[GroupKey], Transcript, list[Body]]:
    """Five messages: three in epoch 1 (moderator, Alice, Bob), two in epoch 2 (Alice left)."""
    keys = [
        GroupKey.generate(GID, 1, [MODERATOR.peer_id, ALICE.peer_id, BOB.peer_id]),
        GroupKey.generate(GID, 2, [MODERATOR.peer_id, BOB.peer_id]),
    ]
    transcript = Transcript(GID)
    for key in keys:
        transcript.add_key(key)
    said = [
        (MODERATOR, keys[0], Body(kind=BodyKind.QUESTION, text="Where?", rounds=2, until="rounds")),
        (ALICE, keys[0], Body(kind=BodyKind.TURN, text="The harbour.", relevance=812)),
        (BOB, keys[0], Body(kind=BodyKind.OWNER, text="Somewhere quiet.")),
        (
            MODERATOR,
            keys[1],
            Body(kind=BodyKind.MEMBERSHIP, about=str(ALICE.peer_id), reason="left"),
        ),
        (
            MODERATOR,
            keys[1],
            Body(
                kind=BodyKind.SUMMARY,
                text="They half agree.",
                positions={str(BOB.peer_id): "quiet", str(ALICE.peer_id): "harbour"},
            ),
        ),
    ]
    bodies = []
    for number, (sender, key, body) in enumerate(said, start=1):
        data = write_message(
            sender,
            key,
            seq=transcript.next_seq,
            prev=transcript.head,
            body=body.encode(),
            ts=10_000 + number,
        )
        transcript.append(data)
        bodies.append(body)
    return keys, transcript, bodies


@pytest.fixture
def stored(store: GroupStore) -> tuple[GroupStore, Transcript, list[Body]]:
    store.add(group())
    store.add(group(OTHER, "family"))
    keys, transcript, bodies = two_epochs()
    for key in keys:
        store.add_key(key)
    for message, body in zip(transcript.messages, bodies, strict=True):
        store.append(message, body)
    return store, transcript, bodies


def test_messages_read_back_in_order_with_after_and_limit(stored) -> None:
    store, transcript, bodies = stored
    everything = store.messages(GID)
    assert [m.seq for m in everything] == [1, 2, 3, 4, 5]
    assert [m.hash for m in everything] == [m.hash for m in transcript.messages]
    assert [m.epoch for m in everything] == [1, 1, 1, 2, 2]
    assert [m.sender for m in everything] == [
        MOD,
        str(ALICE.peer_id),
        str(BOB.peer_id),
        MOD,
        MOD,
    ]
    assert [m.ts for m in everything] == [10_001, 10_002, 10_003, 10_004, 10_005]
    assert [m.body for m in everything] == bodies
    assert [m.seq for m in store.messages(GID, after=1, limit=2)] == [2, 3]
    assert [m.seq for m in store.messages(GID, after=3)] == [4, 5]
    assert store.messages(GID, after=5) == []
    assert store.messages(GID, limit=0) == []
    assert store.messages(OTHER) == []


def test_encoded_gives_the_bytes_as_received(stored) -> None:
    store, transcript, _ = stored
    raw = [m.encoded for m in transcript.messages]
    assert store.encoded(GID, after=0, limit=-1) == raw
    assert store.encoded(GID, after=0, limit=2) == raw[:2]
    assert store.encoded(GID, after=3, limit=10) == raw[3:]
    assert store.encoded(OTHER, after=0, limit=10) == []


def test_message_counts_give_the_count_and_head_of_each_group(stored) -> None:
    store, transcript, _ = stored
    assert store.message_counts([]) == {}
    counts = store.message_counts([GID, OTHER, THIRD])
    assert counts == {GID: (5, transcript.head)}  # groups with no messages are left out
    assert transcript.head == transcript.messages[-1].hash != GENESIS


def test_the_stored_transcript_rebuilds_to_the_same_head(stored) -> None:
    store, transcript, _ = stored
    rebuilt = store.transcript(GID)
    assert rebuilt.head == transcript.head
    assert [m.encoded for m in rebuilt.messages] == [m.encoded for m in transcript.messages]
    assert [m.body for m in rebuilt.messages] == [m.body for m in transcript.messages]
    assert set(rebuilt.keys) == {1, 2}
    assert store.transcript(OTHER).head == GENESIS


def test_a_message_already_in_the_transcript_cannot_be_stored_twice(stored) -> None:
    store, transcript, bodies = stored
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        store.append(transcript.messages[0], bodies[0])
    assert len(store.messages(GID)) == 5


@pytest.mark.parametrize("where", [0, 40, -70, -1])
def test_a_changed_stored_message_is_refused_on_rebuild(stored, db: Database, where) -> None:
    store, transcript, _ = stored
    data = bytearray(transcript.messages[2].encoded)
    data[where] ^= 0x01
    with db.transaction() as conn:
        conn.execute(
            "UPDATE group_messages SET encoded = ? WHERE group_id = ? AND seq = 3",
            (bytes(data), GID),
        )
    assert store.encoded(GID, after=2, limit=1) == [bytes(data)]
    with pytest.raises(GroupMessageError):
        store.transcript(GID)


def test_stored_message_to_json(stored) -> None:
    store, _, _ = stored
    first, turn, _, membership, summary = store.messages(GID)
    assert first.to_json() == {
        "seq": 1,
        "hash": first.hash.hex(),
        "epoch": 1,
        "from": MOD,
        "ts": 10_001,
        "kind": "question",
        "text": "Where?",
        "rounds": 2,
        "until": "rounds",
    }
    assert turn.to_json()["relevance"] == 812
    assert "reason" not in turn.to_json() and "positions" not in turn.to_json()
    shown = membership.to_json()
    assert (shown["kind"], shown["text"], shown["about"], shown["reason"]) == (
        "membership",
        "",
        str(ALICE.peer_id),
        "left",
    )
    assert len(shown["hash"]) == 64
    positions = summary.to_json()["positions"]
    assert type(positions) is dict
    assert positions == {str(BOB.peer_id): "quiet", str(ALICE.peer_id): "harbour"}


def test_stored_message_to_json_leaves_out_what_the_body_does_not_say() -> None:
    message = StoredMessage(7, b"\xab" * 32, 3, "peer", 42, Body(kind=BodyKind.END, text=""))
    assert message.to_json() == {
        "seq": 7,
        "hash": "ab" * 32,
        "epoch": 3,
        "from": "peer",
        "ts": 42,
        "kind": "end",
        "text": "",
    }


def test_a_member_is_owed_the_messages_of_the_epochs_it_is_in(stored) -> None:
    store, _, _ = stored
    assert store.last_seq_for(GID, str(BOB.peer_id)) == 5
    assert store.last_seq_for(GID, str(ALICE.peer_id)) == 3  # she left before epoch 2
    assert store.last_seq_for(GID, str(Identity.from_seed(bytes([9]) * 32).peer_id)) == 0
    assert store.last_seq_for(OTHER, str(BOB.peer_id)) == 0
